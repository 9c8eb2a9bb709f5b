"""The baselines a forecast must beat, on the same held-out windows as the model: the naive
forecast (the last value seen), the seasonal naive (the value one season earlier) and a linear
autoregression (least squares from the same window inputs, fitted on the training windows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from treino.data.series_windows import WindowSplit

RIDGE = 1e-8  # of the mean diagonal of X'X: keeps the normal equations solvable when inputs repeat


def naive(part: WindowSplit) -> torch.Tensor:
    """Every step of the horizon forecast as the window's last target value: (N, horizon * K)."""
    w = part.windows
    last = w.targets[w.starts + w.window - 1]  # (N, K)
    return last.repeat(1, w.horizon)


def seasonal_naive(part: WindowSplit, season: int) -> torch.Tensor:
    """Step k forecast as the value of the same position one season earlier (k <= season), two
    seasons earlier (season < k <= 2 seasons), ...; never before the start of the window's series."""
    w = part.windows
    firsts = np.concatenate([np.full(b - a, a) for a, b in part.od.bounds])  # each row's series start
    ahead = torch.arange(1, w.horizon + 1)
    back = season * torch.ceil(ahead / season).long()  # seasons back from step k: 1 for k <= season
    at = (torch.from_numpy(part.first)[:, None] + ahead - 1) - back  # (N, horizon)
    at = torch.maximum(at, torch.from_numpy(firsts[part.first])[:, None])
    return w.targets[at].reshape(len(part), -1)


def fit_linear(train: WindowSplit) -> torch.Tensor:
    """Least squares from the flattened window (and a bias) to the targets, on the training windows,
    by normal equations accumulated batch by batch (no (N, window * F) matrix): (window * F + 1, outputs)."""
    xtx = xty = None
    for x, y in train.windows.ordered():
        a = torch.cat([x.reshape(len(x), -1).double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
        xtx = a.T @ a if xtx is None else xtx + a.T @ a
        xty = a.T @ y.double() if xty is None else xty + a.T @ y.double()
    assert xtx is not None and xty is not None
    ridge = RIDGE * torch.diagonal(xtx).mean() * torch.eye(len(xtx), dtype=torch.float64)
    return torch.linalg.solve(xtx + ridge, xty)


def linear(part: WindowSplit, coef: torch.Tensor) -> torch.Tensor:
    """The linear autoregression's forecasts of `part`'s windows: (N, horizon * K)."""
    out = []
    for x, _ in part.windows.ordered():
        a = torch.cat([x.reshape(len(x), -1).double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
        out.append((a @ coef).float())
    return torch.cat(out)


def errors(pred: torch.Tensor, true: torch.Tensor, horizon: int) -> dict[str, Any]:
    """MAE and RMSE over every step and target (as the model's test metrics), and MAE by step."""
    diff = (pred.double() - true.double()).reshape(len(true), horizon, -1)
    return {
        "mae": float(diff.abs().mean()),
        "rmse": float(diff.pow(2).mean().sqrt()),
        "mae_by_step": [round(float(v), 6) for v in diff.abs().mean(dim=(0, 2))],
    }


def measure(train: WindowSplit, held: WindowSplit, season: int | None, split: str) -> dict[str, Any]:
    """Each baseline's errors on `held` (kept on it, as forecasts, for predictions.csv).

    Example:
        >>> measure(data.train, data.test, 12, "test")["naive"]["mae"]
        0.61
    """
    forecasts = {"naive": naive(held)}
    if season:
        forecasts["seasonal_naive"] = seasonal_naive(held, season)
    forecasts["linear_ar"] = linear(held, fit_linear(train))
    held.baselines = forecasts
    horizon = held.windows.horizon
    return {"split": split, **{name: errors(p, held.y, horizon) for name, p in forecasts.items()}}
