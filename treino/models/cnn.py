"""Convolutional network: conv blocks (convolution, [batch norm], activation, [pooling],
[dropout]), then the last feature map (flattened, averaged down to at most 8x8 first; or its
global average), then a small MLP head. Works for 1 or 3 channels and any image size."""

from __future__ import annotations

from torch import Tensor, nn

from treino.errors import ConfigError
from treino.models.activations import make_activation
from treino.models.mlp import dense_stack

GRID = 8  # head auto: positions kept per side of the last feature map


def conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


class CNN(nn.Module):
    """Conv blocks then a dense head; forward maps (B, C, H, W) to (B, n_outputs) logits/values.

    Example:
        >>> net = CNN((1, 8, 8), 10, channels=[16, 32])
        >>> net(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """

    # the loop may train it in NHWC memory order (engine/speed.py channels_last): its forward
    # flattens with .flatten(1), which takes any memory order
    prefers_channels_last = True

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
        stride: int = 1,
        padding: int | str = "same",
        head: str = "auto",
    ) -> None:
        super().__init__()
        pad = kernel // 2 if padding == "same" else int(padding)
        c_in, h, w = input_shape
        blocks: list[nn.Module] = []
        for i, c_out in enumerate(channels, start=1):
            h, w = conv_size(h, kernel, stride, pad), conv_size(w, kernel, stride, pad)
            if h < 1 or w < 1:
                raise ConfigError(
                    f"model.channels: the {input_shape[1]}x{input_shape[2]} image shrinks to nothing in "
                    f"conv block {i} (kernel {kernel}, stride {stride}, padding {pad}); "
                    f"use fewer blocks, a smaller stride or more padding"
                )
            blocks.append(nn.Conv2d(c_in, c_out, kernel, stride, pad, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm2d(c_out))
            blocks.append(make_activation(activation))
            if pool != "none" and min(h, w) >= 2:  # halve the image while it is at least 2 pixels
                blocks.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            if dropout > 0:
                blocks.append(nn.Dropout2d(dropout))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        if head == "auto":  # flatten a map of at most 8x8 positions; average a bigger one down to 8x8
            grid = (min(h, GRID), min(w, GRID))
            self.pool: nn.Module = nn.AdaptiveAvgPool2d(grid) if grid != (h, w) else nn.Identity()
            n_flat = c_in * grid[0] * grid[1]
        else:
            self.pool = nn.AdaptiveAvgPool2d(1) if head == "global" else nn.Identity()
            n_flat = c_in if head == "global" else c_in * h * w
        self.head, width = dense_stack(n_flat, hidden or [], activation, dropout, False)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.features(x)).flatten(1)  # (B, C, H, W) -> (B, C) or (B, C*H*W)
        return self.out(self.head(x))
