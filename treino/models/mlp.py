"""Multilayer perceptron: shallow (one hidden layer) or deep, with dropout and batch norm."""

from __future__ import annotations

import math

from torch import Tensor, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}


def dense_stack(
    n_in: int, hidden: list[int], activation: str, dropout: float, batch_norm: bool
) -> tuple[nn.Sequential, int]:
    """Linear -> [BatchNorm] -> activation -> [Dropout] per hidden size; returns the width out."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(n_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return nn.Sequential(*layers), n_in


class MLP(nn.Module):
    """Dense layers on the flattened input, then a linear output layer; `hidden=[]` is linear.

    Example:
        >>> MLP((64,), 10, hidden=[128, 64], activation="tanh", dropout=0.2)(torch.zeros(2, 64)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        hidden: list[int],
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.body, width = dense_stack(math.prod(input_shape), hidden, activation, dropout, batch_norm)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x.flatten(1)))  # (B, in) -> (B, out)
