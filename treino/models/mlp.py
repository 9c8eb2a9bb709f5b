"""Multilayer perceptron: shallow (one hidden layer) or deep, with dropout and batch norm."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from treino.models.activations import make_activation


def dense_stack(
    n_in: int, hidden: list[int], activation: str, dropout: float, batch_norm: bool
) -> tuple[nn.Sequential, int]:
    """Linear -> [BatchNorm] -> activation -> [Dropout] per hidden size; returns the width out."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(n_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(make_activation(activation))
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
        bounded: bool = False,
    ) -> None:
        super().__init__()
        n_in = math.prod(input_shape)
        self.body, width = dense_stack(n_in, hidden, activation, dropout, batch_norm)
        self.out = nn.Linear(width, n_outputs)
        self.bounded = bounded
        if bounded:  # the train split's range of each input, set by fit_range (unbounded until then)
            self.register_buffer("low", torch.full((n_in,), -math.inf))
            self.register_buffer("high", torch.full((n_in,), math.inf))

    def fit_range(self, x: Tensor) -> None:
        """Remember the range of each input over the training rows `x` (dense, or a CSR matrix
        of sparse TF-IDF features, whose unstored entries are zeros)."""
        if x.layout == torch.strided:
            flat = x.flatten(1).float()
            self.low.copy_(flat.amin(0))
            self.high.copy_(flat.amax(0))
            return
        rows, width = x.shape
        cols, values = x.col_indices(), x.values().float()
        stored = torch.bincount(cols, minlength=width)
        low = torch.full((width,), math.inf).scatter_reduce(0, cols, values, "amin")
        high = torch.full((width,), -math.inf).scatter_reduce(0, cols, values, "amax")
        some_zero = stored < rows  # a column with an unstored entry holds a zero too
        self.low.copy_(torch.where(some_zero, low.clamp(max=0.0), low))
        self.high.copy_(torch.where(some_zero, high.clamp(min=0.0), high))

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)  # (B, in)
        if self.bounded:  # a value far outside training (a typo, a unit error) stays at its edge
            x = torch.clamp(x, self.low, self.high)
        return self.out(self.body(x))  # (B, out)
