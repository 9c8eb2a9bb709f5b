"""Forecasts relative to a simple forecast (data.series.relative): the model sees the target
columns of its window minus their last value and predicts the correction to the naive forecast
(the last value) or to the seasonal naive one (the value one season before, data.series.anchor),
so its zero output is that forecast and a series that trends past its training range (CO2,
prices) stays inside the range the model was trained on. The output is the level again."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LastValue(nn.Module):
    """core(window relative to its last value) + the reference value, in the target's scaled units.

    Args:
        core: the model, (B, window, F) -> (B, horizon * K).
        shift, scale: the input scaling of the K target columns (the first K inputs).
        mean, std: the target's standardization (K values; 0 and 1 when it is not standardized).
        horizon: steps ahead the core predicts, each K values.
        window, season: with a season, each step's reference is the value one season before it.

    Example:
        >>> m = LastValue(nn.Sequential(nn.Flatten(), nn.Linear(3, 1)), [0.0], [1.0], [0.0], [1.0], 1)
        >>> m(torch.ones(2, 3, 1)).shape
        torch.Size([2, 1])
    """

    def __init__(
        self,
        core: nn.Module,
        shift: list[float],
        scale: list[float],
        mean: list[float],
        std: list[float],
        horizon: int,
        window: int = 0,
        season: int = 0,
    ) -> None:
        super().__init__()
        self.core, self.k, self.horizon = core, len(shift), horizon
        # season: step k's reference is the value one season before it (the seasonal naive
        # forecast), row window - 1 + k - season * ceil(k / season) of the window; else the last row
        ahead = torch.arange(1, horizon + 1)
        at = window - 1 + ahead - season * torch.ceil(ahead / max(season, 1)).long() if season else None
        # derived from window and season (in the bundle's config), so not saved with the weights
        self.register_buffer(
            "at", at if at is not None else torch.zeros(0, dtype=torch.long), persistent=False
        )
        # input units -> the target's standardized units: (x * scale + shift - mean) / std
        self.register_buffer("a", torch.tensor(scale, dtype=torch.float32) / torch.tensor(std))
        self.register_buffer("b", (torch.tensor(shift) - torch.tensor(mean)) / torch.tensor(std))

    def forward(self, x: Tensor) -> Tensor:  # (B, window, F) -> (B, horizon * K)
        k = self.k
        last = x[:, -1, :k]  # (B, K) the window's last target values, in input units
        relative = torch.cat([x[:, :, :k] - last[:, None, :], x[:, :, k:]], dim=2)
        if len(self.at):  # (B, horizon, K) -> (B, horizon * K), step-major
            level = (x[:, self.at, :k] * self.a + self.b).flatten(1)
        else:
            level = (last * self.a + self.b).repeat(1, self.horizon)
        return self.core(relative) + level
