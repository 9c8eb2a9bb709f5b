"""Convolutional network: conv blocks (convolution, [batch norm], activation, pooling), global
average pooling, then a small MLP head. Works for 1 or 3 channels and any image size."""

from __future__ import annotations

from torch import Tensor, nn

from treino.models.mlp import ACTIVATIONS, dense_stack


class CNN(nn.Module):
    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        channels: list[int],
        kernel: int = 3,
        pool: str = "max",
        hidden: list[int] | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        c_in, size = input_shape[0], min(input_shape[1:])
        blocks: list[nn.Module] = []
        for c_out in channels:
            blocks.append(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(c_out))
            blocks.append(ACTIVATIONS[activation]())
            if pool != "none" and size >= 2:  # halve the image while it is at least 2 pixels
                blocks.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                size //= 2
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head, width = dense_stack(c_in, hidden or [], activation, dropout, False)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.features(x)).flatten(1)  # (B, C, H, W) -> (B, C)
        return self.out(self.head(x))
