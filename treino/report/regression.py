"""Test-set plots of a regression, from predictions.csv and curve.csv: predicted vs actual,
the residuals, and for a single input feature the data points with the fitted line or curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from treino.report.draw import TEST, TRAIN, VAL, save, subplots

MAX_TARGETS = 4  # panels drawn for a multi-output regression


def _pairs(pred: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(target name, actual, predicted) for each target in predictions.csv."""
    if "y_true" in pred:
        return [("", pred["y_true"].to_numpy(dtype=float), pred["y_pred"].to_numpy(dtype=float))]
    names = [c.removeprefix("y_true_") for c in pred.columns if c.startswith("y_true_")]
    return [(n, pred[f"y_true_{n}"].to_numpy(dtype=float), pred[f"y_pred_{n}"].to_numpy(dtype=float))
            for n in names[:MAX_TARGETS]]  # fmt: skip


def predicted_vs_actual(pred: pd.DataFrame, path: Path, split: str = "test") -> Path | None:
    """Each test example as a point; on the diagonal, the prediction is exact."""
    pairs = _pairs(pred)
    if not pairs:
        return None
    fig, axes = subplots(1, len(pairs), figsize=(4.4 * len(pairs), 4.2), squeeze=False)
    for ax, (name, true, guess) in zip(axes.flat, pairs, strict=True):
        ax.scatter(true, guess, s=12, alpha=0.7, color=TRAIN)
        finite = np.concatenate([true, guess])
        finite = finite[np.isfinite(finite)]
        if len(finite):
            low, high = finite.min(), finite.max()
            ax.plot([low, high], [low, high], ls="--", color="#888", lw=1, label="exact")
            ax.legend(loc="upper left")
        ax.set(
            title=f"Predicted vs actual {name}".strip() + f" ({split} set)",
            xlabel="actual",
            ylabel="predicted",
        )
    return save(fig, path)


def residuals(pred: pd.DataFrame, path: Path) -> Path | None:
    """Residual (actual - predicted) against the prediction, and their histogram: a pattern on
    the left, or a skewed histogram, is structure the model missed."""
    pairs = _pairs(pred)
    if not pairs:
        return None
    name, true, guess = pairs[0]
    error = true - guess
    keep = np.isfinite(error)
    fig, (left, right) = subplots(1, 2, figsize=(10, 3.6))
    left.scatter(guess[keep], error[keep], s=12, alpha=0.7, color=TRAIN)
    left.axhline(0, color="#888", ls="--", lw=1)
    left.set(title=f"Residuals {name}".strip(), xlabel="predicted", ylabel="actual - predicted")
    right.hist(error[keep], bins=min(30, max(5, keep.sum() // 5)), color=VAL, alpha=0.8)
    right.set(title="Residual distribution", xlabel="actual - predicted", ylabel="examples")
    return save(fig, path)


def fitted(
    pred: pd.DataFrame,
    curve: pd.DataFrame,
    feature: str,
    target: str,
    path: Path,
    equation: str | None = None,
) -> Path | None:
    """The course's picture: the data points and the function the network learned; a linear
    regression's line is labelled with its equation in the data's units."""
    if "x" not in pred or "y_true" not in pred:
        return None
    fig, ax = subplots(figsize=(6.5, 4.2))
    ax.scatter(pred["x"], pred["y_true"], s=14, alpha=0.7, color=TEST, label=f"{pred['split'].iloc[0]} data")
    ax.plot(curve["x"], curve["y_pred"], color=VAL, lw=2.2, label=equation or "the model")
    ax.set(title=f"{target} as a function of {feature}", xlabel=feature, ylabel=target)
    ax.legend()
    return save(fig, path)
