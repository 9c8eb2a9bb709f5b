"""Linear models: regression (1..k outputs), logistic (binary) and softmax (multiclass) are
all one affine map; the task decides the output units and the loss."""

from __future__ import annotations

import math

from torch import Tensor, nn


class Linear(nn.Module):
    """One affine map of the flattened input: (B, *input_shape) -> (B, n_outputs).

    Example:
        >>> Linear((4,), 3)(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
    """

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int) -> None:
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))  # (B, in) -> (B, out)
