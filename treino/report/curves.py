"""Convergence plots from history.csv and steps.csv: the loss per iteration (raw and smoothed)
and per epoch (train vs validation), every metric per epoch, and the learning rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from treino.report.draw import TRAIN, VAL, integer_epochs, save, subplots


def smooth(values: pd.Series) -> tuple[pd.Series, int]:
    """A trailing mean over ~2% of the iterations (at least 5): the trend under the noise."""
    window = max(5, len(values) // 50) if len(values) >= 20 else 1
    return values.rolling(window, min_periods=1).mean(), window


def _log_scale(ax: Any, values: np.ndarray) -> None:
    """A loss that spans more than 3 decades (an explosion) is only readable on a log axis."""
    finite = values[np.isfinite(values) & (values > 0)]
    if len(finite) and finite.max() / max(finite.min(), 1e-300) > 1e3:
        ax.set_yscale("log")


def loss(
    history: pd.DataFrame,
    steps: pd.DataFrame | None,
    findings: list[dict[str, Any]],
    path: Path,
    label: str = "loss",
) -> Path:
    """Left: loss per iteration (raw + smoothed). Right: loss per epoch, train vs validation,
    with the start of overfitting marked. `label` names the loss's scale on the y axes
    ("loss (standardized y)" for a regression trained on a standardized target)."""
    fig, (left, right) = subplots(1, 2, figsize=(11, 4))
    if steps is not None and len(steps):
        clean = steps[np.isfinite(steps["loss"])]
        trend, window = smooth(clean["loss"])
        left.plot(clean["step"], clean["loss"], color="#a9bfd6", lw=0.7, label="each iteration")
        if window > 1:
            left.plot(clean["step"], trend, color=TRAIN, lw=1.6, label=f"smoothed (mean of {window})")
        _log_scale(left, clean["loss"].to_numpy(dtype=float))
        bad = steps.loc[~np.isfinite(steps["loss"]), "step"]
        if len(bad):  # where the loss stopped being a number: the moment of divergence
            left.axvline(
                bad.iloc[0], color="#c92a2a", ls="--", lw=1.2, label=f"loss not finite (step {bad.iloc[0]})"
            )
        left.legend()
        integer_epochs(left)
    else:
        left.text(0.5, 0.5, "no steps.csv (log.steps: false)", ha="center", transform=left.transAxes)
    left.set(title="Training loss per iteration", xlabel="iteration", ylabel=label)
    if len(history) and "train_loss" in history:
        epochs = history["epoch"]
        right.plot(epochs, history["train_loss"], "o-", ms=3, color=TRAIN, label="train")
        if "val_loss" in history:
            right.plot(epochs, history["val_loss"], "s-", ms=3, color=VAL, label="validation")
        for f in findings:
            if f.get("code") == "overfitting" and f.get("epoch") is not None:
                right.axvspan(f["epoch"] - 0.5, epochs.max() + 0.5, color=VAL, alpha=0.08)
                right.annotate("overfitting", (f["epoch"], right.get_ylim()[1]), va="top", color=VAL)
        values = history[[c for c in ("train_loss", "val_loss") if c in history]].to_numpy(dtype=float)
        _log_scale(right, values.ravel())
        right.legend()
        if not np.isfinite(values).any():
            right.text(0.5, 0.5, "no finite loss: the run diverged", ha="center", color="#c92a2a",
                       transform=right.transAxes)  # fmt: skip
            right.set(xticks=[], yticks=[])
            right.get_legend().remove()
    right.set(title="Loss per epoch", xlabel="epoch", ylabel=label)
    integer_epochs(right)
    return save(fig, path)


def metric_names(history: pd.DataFrame) -> list[str]:
    """Metrics with a train_ or val_ column, loss excluded, in the order they were written."""
    names: list[str] = []
    for column in history.columns:
        for prefix in ("train_", "val_"):
            if column.startswith(prefix) and column != prefix + "loss":
                name = column.removeprefix(prefix)
                if name not in names:
                    names.append(name)
    return names


def metrics(history: pd.DataFrame, best_epoch: int | None, path: Path) -> Path | None:
    """One small panel per metric: train vs validation per epoch."""
    names = metric_names(history)
    if not names:
        return None
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = subplots(rows, cols, figsize=(3.8 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for prefix, color, label in (("train_", TRAIN, "train"), ("val_", VAL, "validation")):
            if prefix + name in history:
                ax.plot(history["epoch"], history[prefix + name], "o-", ms=2.5, color=color, label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="#888", ls="--", lw=0.8)
        ax.set(title=name, xlabel="epoch")
        integer_epochs(ax)
    axes.flat[0].legend()
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    return save(fig, path)


def learning_rate(history: pd.DataFrame, path: Path) -> Path | None:
    if "lr" not in history or not len(history):
        return None
    fig, ax = subplots(figsize=(5.5, 3))
    ax.plot(history["epoch"], history["lr"], "o-", ms=3, color=TRAIN)
    lr = history["lr"].to_numpy(dtype=float)
    if lr.min() > 0 and lr.max() / lr.min() > 20:
        ax.set_yscale("log")
    constant = lr.min() == lr.max()
    title = f"Learning rate: constant, {lr[0]:g}" if constant else "Learning rate (at the end of each epoch)"
    ax.set(title=title, xlabel="epoch", ylabel="lr")
    integer_epochs(ax)
    return save(fig, path)


def lr_sweep(sweep: pd.DataFrame, suggested: float, best_lr: float, path: Path) -> Path:
    """treino lr-find: the loss against an exponentially growing learning rate."""
    fig, ax = subplots(figsize=(6.5, 4))
    clean = sweep[np.isfinite(sweep["loss"])]
    ax.plot(clean["lr"], clean["loss"], color="#a9bfd6", lw=0.8, label="each iteration")
    ax.plot(clean["lr"], clean["smoothed"], color=TRAIN, lw=1.8, label="smoothed")
    ax.axvline(best_lr, color="#888", ls=":", lw=1, label=f"lowest loss at {best_lr:.2g}")
    ax.axvline(suggested, color=VAL, ls="--", lw=1.5, label=f"suggested lr {suggested:g}")
    ax.set_xscale("log")
    finite = clean["smoothed"].to_numpy(dtype=float)
    if len(finite):  # the blow-up at the end would squash the useful part of the curve
        ax.set_ylim(top=min(float(finite.max()), 2.5 * float(finite[0])) * 1.05)
    ax.set(title="Learning-rate sweep", xlabel="learning rate (log scale)", ylabel="training loss")
    ax.legend()
    return save(fig, path)
