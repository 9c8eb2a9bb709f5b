"""A forecast beside its baselines: the findings when the model does not beat the naive forecast
or the linear autoregression, the summary line, and the report's plots (the series with the
forecasts on the held-out part, and the error by horizon step of the model and the baselines).

Reads metrics.json's `baselines` and the long predictions.csv of a series (one row per window,
step and target: time, step, target, y_true, y_pred and one column per baseline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from treino.report.draw import TRAIN, VAL, save, subplots

NAMES = {"naive": "naive (last value)", "seasonal_naive": "seasonal naive", "linear_ar": "linear AR"}
COLOURS = {"naive": "#888888", "seasonal_naive": "#b08900", "linear_ar": VAL}
MAX_TARGETS = 4  # panels of the series plot
MAX_POINTS = 600  # time steps drawn of the held-out part (the last ones)


def _model_mae(metrics: dict[str, Any]) -> float | None:
    split = (metrics.get("baselines") or {}).get("split", "test")
    return (metrics.get(split) or {}).get("mae")


def findings(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """`worse_than_naive` / `worse_than_linear` when a baseline's MAE on the same held-out windows
    is at or below the model's; `beats_baselines` when the model is below all of them.

    Example:
        >>> findings({"test": {"mae": 2.0}, "baselines": {"split": "test", "naive": {"mae": 1.5}}})[0]["code"]
        'worse_than_naive'
    """
    base, mae = metrics.get("baselines") or {}, _model_mae(metrics)
    scores = {k: v["mae"] for k, v in base.items() if isinstance(v, dict) and "mae" in v}
    if mae is None or not scores:
        return []
    split = base.get("split", "test")
    found = []
    naive = {k: v for k, v in scores.items() if k != "linear_ar" and v <= mae}
    if naive:
        best = min(naive, key=naive.__getitem__)
        found.append({"code": "worse_than_naive", "epoch": None, "message": (
            f"the model's {split} MAE {mae:.4g} is no better than the {NAMES[best]} forecast's {naive[best]:.4g} "
            f"on the same windows: it has learned nothing a repeated past value does not know; try a longer "
            f"data.series.window (a season or two), more epochs, or another optimizer.lr")})  # fmt: skip
    if "linear_ar" in scores and scores["linear_ar"] <= mae:
        found.append({"code": "worse_than_linear", "epoch": None, "message": (
            f"the model's {split} MAE {mae:.4g} is no better than a linear autoregression's "
            f"{scores['linear_ar']:.4g} on the same windows (least squares on the training windows): a straight "
            f"line through the window does as well; more epochs, a smaller model.hidden or more data may help")})  # fmt: skip
    if not found:
        best = min(scores, key=scores.__getitem__)
        found.append({"code": "beats_baselines", "epoch": None, "message": (
            f"the model's {split} MAE {mae:.4g} is below every baseline's on the same windows (best: "
            f"{NAMES[best]}, {scores[best]:.4g}; {1 - mae / scores[best]:.0%} lower)")})  # fmt: skip
    return found


def summary_line(metrics: dict[str, Any]) -> str:
    """One line for the end of `treino train`: the model's MAE beside each baseline's."""
    base, mae = metrics.get("baselines") or {}, _model_mae(metrics)
    parts = [f"model {mae:.4g}" if mae is not None else "model -"]
    parts += [f"{NAMES[k]} {v['mae']:.4g}" for k, v in base.items() if isinstance(v, dict) and "mae" in v]
    return f"{base.get('split', 'test')} MAE against the baselines: " + " | ".join(parts)


def _times(values: pd.Series) -> pd.Series:
    """predictions.csv's time column as numbers or dates, as the plot's axis."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    return pd.to_datetime(values, errors="coerce", format="ISO8601")


def series_plot(pred: pd.DataFrame, path: Path) -> Path | None:
    """The held-out part of the series (the first group's) with the one-step-ahead forecasts of
    the model and of each baseline: where the model tracks the truth and where it lags."""
    if pred is None or "step" not in pred or not len(pred):
        return None
    first = pred[pred["step"] == 1]
    if "group" in first:
        group = first["group"].iloc[0]
        first = first[first["group"] == group]
    targets = list(dict.fromkeys(first["target"]))[:MAX_TARGETS]
    fig, axes = subplots(len(targets), 1, figsize=(9, 3.2 * len(targets)), squeeze=False)
    baselines = [c for c in NAMES if c in first]
    for ax, name in zip(axes[:, 0], targets, strict=True):
        rows = first[first["target"] == name].tail(MAX_POINTS)
        t = _times(rows["time"])
        ax.plot(t, rows["y_true"], color="#222222", lw=1.6, label="actual")
        ax.plot(t, rows["y_pred"], color=TRAIN, lw=1.4, label="model")
        for b in baselines:
            ax.plot(t, rows[b], color=COLOURS[b], lw=1, ls="--", label=NAMES[b])
        where = f", {first['group'].iloc[0]}" if "group" in first else ""
        split = str(rows["split"].iloc[0]) if len(rows) else "test"
        ax.set(title=f"{name}: one step ahead on the {split} part{where}", ylabel=name)
        ax.legend(loc="best", fontsize=8)
    return save(fig, path)


def by_step(pred: pd.DataFrame) -> pd.DataFrame:
    """MAE of the model and of each baseline at each step of the horizon (rows: step)."""
    columns = ["y_pred"] + [c for c in NAMES if c in pred]
    errors = {c: (pred[c] - pred["y_true"]).abs() for c in columns}
    return pd.DataFrame(errors).groupby(pred["step"]).mean().rename(columns={"y_pred": "model"})


def error_plot(pred: pd.DataFrame, path: Path) -> Path | None:
    """The MAE of the model and of each baseline: by step of the horizon (a bar each when the
    horizon is one step)."""
    if pred is None or "step" not in pred or not len(pred):
        return None
    table = by_step(pred)
    fig, ax = subplots(figsize=(6.4, 3.8))
    colours = {"model": TRAIN, **COLOURS}
    if len(table) == 1:
        names = list(table.columns)
        values = table.iloc[0].to_numpy(dtype=float)
        ax.bar([NAMES.get(n, n) for n in names], values, color=[colours[n] for n in names])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=9)
        ax.set(title="MAE on the held-out windows", ylabel="mean absolute error")
    else:
        for name in table.columns:
            ax.plot(table.index, table[name], marker="o", color=colours[name], label=NAMES.get(name, name))
        ax.set(title="MAE by step of the horizon", xlabel="steps ahead", ylabel="mean absolute error")
        ax.set_xticks(np.asarray(table.index))
        ax.legend(loc="best", fontsize=8)
    return save(fig, path)


def plots(pred: pd.DataFrame | None, folder: Path) -> list[Path]:
    """The forecast plots a series run's predictions.csv allows (none for other runs)."""
    if pred is None or "step" not in pred or "target" not in pred:
        return []
    drawn = [series_plot(pred, folder / "forecast.png"), error_plot(pred, folder / "forecast_errors.png")]
    return [p for p in drawn if p is not None]
