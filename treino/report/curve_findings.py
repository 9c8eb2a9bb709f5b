"""The findings a loss curve shows by itself (no probes): a rate too high (a bouncing loss) or
too low (a loss that crawls while the weights barely move), a plateau, overfitting,
underfitting, a run stopped too soon, noisy iterations. diagnosis.diagnose() orders them.
Thresholds tuned on the staged benchmark (tests/report/staged.py); change them with it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from treino.report import probe_findings as P
from treino.report.curve_stats import logs, noise, trend, window

JUMP = math.log(1.3)  # lr_too_high: the epoch's training loss jumped 30% above the epoch before ...
LEAP = 0.02  # ... and by >= 2% of the first epoch's loss ...
JUMPS = 2  # ... at least twice after the first epoch
PLATEAU = 0.05  # the training loss moved less than 5% (log scale) from its start
SLOW = 0.25  # lr_too_low: the whole run moved the loss less than 25% (log) while the weights crawl
GAIN = 0.08  # not_converged: at the end's rate, as many epochs again would lower the loss >= 8% ...
Z = 3.0  # ... and over that fifth the fitted log(loss) fell >= 3x the curve's epoch-to-epoch noise,
FALL = 0.03  # ... and by >= 3% (a long run's last fifth), or ...
RATE = 0.005  # ... at >= 0.5% per epoch (a short run's)
RISE = 0.03  # overfitting: the validation loss >= 3% (log) above its best over the last 2 epochs ...
RISE_Z = 2.5  # ... and >= 2.5x its noise ...
SHARE = 0.2  # ... and >= 20% of its fall from the start to the best, or >= BIG ...
BIG = math.log(1.5)  # ... (50% above its best is overfitting however far it fell first),
FELL = 0.05  # ... while the training loss fell >= 5% (log) since that best
POOR = {"accuracy": 0.75, "r2": 0.5}  # underfitting: the training metric ends below this ...
FLAT = 0.02  # ... and the training loss of the last third of epochs fell <2% from the third before
NOISY = 0.4  # noisy: iteration losses swing (std) by 40% of the curve's drop or of its final level
NAMES = {"val_loss": "validation loss", "train_loss": "training loss"}


def finding(code: str, message: str, epoch: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "epoch": epoch}


def monitored(history: pd.DataFrame) -> str:
    """The validation loss when the run has a finite one, else the training loss."""
    if "val_loss" in history and np.isfinite(history["val_loss"].to_numpy(dtype=float)).all():
        return "val_loss"
    return "train_loss"


def start_loss(history: pd.DataFrame, steps: pd.DataFrame | None) -> float:
    """The loss at the very start: the first few iterations, else the first epoch."""
    if steps is not None:
        losses = steps["loss"].to_numpy(dtype=float)
        head = losses[: max(1, min(5, len(losses) // 50))]
        if np.all(np.isfinite(head)):
            return float(head.mean())
    return float(history["train_loss"].iloc[0])


def lr_too_high(history: pd.DataFrame) -> dict[str, Any] | None:
    """The epoch's training loss jumps up, again and again: each step overshoots the valley."""
    loss = history["train_loss"].to_numpy(dtype=float)
    y = logs(loss)
    if len(y) < 4:
        return None
    # a jump counts when it is big relative to the loss (log) and to the problem (the first epoch's
    # loss): near a perfect fit, 0.001 -> 0.002 doubles the loss and means nothing
    up = (np.diff(y[1:]) > JUMP) & (np.diff(loss[1:]) > LEAP * loss[0])
    jumps = np.nonzero(up)[0] + 2  # indices of the epochs that jumped
    if len(jumps) < JUMPS:
        return None
    first = int(history["epoch"].iloc[jumps[0]])
    moved = P.update_ratio(history)
    moving = f"; the weights still move {moved:.0%} per epoch" if moved is not None else ""
    return finding(
        "lr_too_high",
        f"the training loss jumped up {len(jumps)} times (by 30% or more from one epoch to the next, "
        f"first at epoch {first}){moving}: the steps overshoot. Lower optimizer.lr (try 3-10x lower) "
        "or use a schedule (schedule.name: cosine or plateau).",
        first,
    )


def stuck(history: pd.DataFrame, steps: pd.DataFrame | None) -> dict[str, Any] | None:
    """The loss barely moved, or crawled: a rate far too low when the weights barely move,
    a plateau (a model stuck at chance) when they do."""
    start = start_loss(history, steps)
    end = float(history["train_loss"].iloc[-1])
    if len(history) < 2 and steps is not None:  # one epoch's mean loss lies halfway down its curve
        losses = steps["loss"].to_numpy(dtype=float)
        end = float(losses[-max(5, len(losses) // 50) :].mean())
    if start <= 0 or end <= 0:
        return None
    moved = math.log(start / end)
    ratio = P.update_ratio(history)
    crawling = ratio is not None and ratio < P.TINY_UPDATE
    where = f"({start:.3g} -> {end:.3g}, {100 * -math.expm1(-moved):.1f}% in {len(history)} epochs)"
    if crawling and moved < SLOW:
        return finding(
            "lr_too_low",
            f"the training loss barely moved {where} and the weights move only {ratio:.2g} of their "
            "size per epoch: the steps are too small. Raise optimizer.lr (try 10x higher, or run "
            "treino lr-find), and keep data.scale: standard.",
        )
    if moved >= PLATEAU:
        return None
    return finding(
        "plateau_early",
        f"the training loss barely moved {where} although the weights do move: the model sits on a "
        "plateau at its starting level (chance). A deep model with a tiny initialization can stay "
        "there for many epochs (use model.init: kaiming_normal); else the model may be too simple "
        "for the data (model.kind: mlp, more model.hidden units) or the inputs may not carry the signal.",
    )


def overfitting(history: pd.DataFrame, status: str, best_epoch: int | None) -> dict[str, Any] | None:
    """The validation loss turned up after its best epoch, beyond its noise, while the training
    loss kept falling; early stopping or not."""
    if "val_loss" not in history or len(history) < 4:
        return None
    val, train = history["val_loss"].to_numpy(dtype=float), history["train_loss"].to_numpy(dtype=float)
    yv, yt = logs(val), logs(train)
    best = int(np.argmin(yv))
    after = len(yv) - 1 - best
    if after < 2:
        return None
    rise = float(np.min(yv[-2:])) - yv[best]  # sustained over the last two epochs, not one noisy epoch
    drop = yv[0] - yv[best]
    fell = yt[best] - float(np.min(yt[-2:]))
    if rise < RISE or rise < RISE_Z * noise(yv) or fell < FELL or (rise < SHARE * drop and rise < BIG):
        return None
    epochs = history["epoch"].to_numpy()
    best_no, began, last = int(epochs[best]), int(epochs[best]) + 1, int(epochs[-1])
    rose = (
        f"the validation loss rose from {val[best]:.3g} (epoch {best_no}, its best) to {val[-1]:.3g} "
        f"(epoch {last}) while the training loss fell from {train[best]:.3g} to {train[-1]:.3g}: "
        f"overfitting began after epoch {best_no}"
    )
    if status == "early_stopped":
        kept = best_epoch if best_epoch is not None else best_no
        text = (
            f"{rose}. Early stopping ended the run at epoch {last} and the model keeps the weights of "
            f"epoch {kept}. To go further: add model.dropout or train.l2, use a smaller model or more data."
        )
    else:
        text = (
            f"{rose}; the model memorizes the training set. Keep train.early_stopping on (it keeps "
            "the best epoch's weights), add model.dropout or train.l2, use a smaller model or more data."
        )
    return finding("overfitting", text, began)


def underfitting(history: pd.DataFrame) -> dict[str, Any] | None:
    """A poor training metric on a training loss that levelled off (or crawls): the model
    cannot fit even the data it sees."""
    if len(history) < 3:
        return None
    third = max(1, len(history) // 3)
    loss = history["train_loss"].to_numpy(dtype=float)
    before, last = float(loss[-2 * third : -third].mean()), float(loss[-third:].mean())
    still = falling(trend(loss, window(len(loss))), len(loss))
    if before <= 0 or ((before - last) / before >= FLAT and still):  # the training loss still falls
        return None
    for metric, poor in POOR.items():
        column = f"train_{metric}"
        if column not in history:
            continue
        # the mean of the last third: a metric measured during training jitters from batch to batch
        level = float(history[column].iloc[-third:].mean())
        if level < poor:
            return finding(
                "underfitting",
                f"the training {metric} levelled off at {level:.3g}, poor: the model cannot fit even "
                "the training data. Use a bigger model (model.kind: mlp, more model.hidden units or "
                "layers), train longer, or check that the inputs carry the signal.",
            )
    return None


def not_converged(history: pd.DataFrame, steps: pd.DataFrame | None) -> dict[str, Any] | None:
    column = monitored(history)
    loss, unit = history[column].to_numpy(dtype=float), "epochs"
    if len(loss) < 2 and steps is not None and len(steps) >= 20:
        # a single epoch: judge by the smoothed iteration losses instead
        column, unit = "train_loss", "iterations"
        width = max(5, len(steps) // 20)
        loss = steps["loss"].rolling(width, min_periods=1).mean().to_numpy(dtype=float)[width - 1 :]
    if len(loss) < 2:
        return None
    t = trend(loss, window(len(loss)))
    if t.best < len(loss) - t.k or not falling(t, len(loss)):
        return None
    n = len(loss)
    if unit == "iterations":
        return finding(
            "not_converged",
            f"the training loss was still falling at the end of the epoch ({t.first:.3g} -> {t.last:.3g} "
            f"over the last {t.k} iterations): train more epochs (e.g. train.epochs: 10).",
        )
    epochs = int(history["epoch"].iloc[-1])
    return finding(
        "not_converged",
        f"the {NAMES[column]} still fell {-t.percent_per_epoch:.2g}% per epoch over the last {t.k} "
        f"epochs ({t.first:.3g} -> {t.last:.3g}); best at epoch {int(history['epoch'].iloc[t.best])} "
        f"of {n}: train longer, e.g. --set train.epochs={2 * epochs}, or raise optimizer.lr.",
    )


def falling(t: Any, n: int) -> bool:
    """Still clearly falling: at the end's rate, n more epochs would gain >= GAIN; the end's fall
    stands out of the curve's noise; and it is material: >= FALL over the last fifth (200 epochs
    that gained 1.7% in their last 40 have levelled off) or >= RATE per epoch."""
    material = t.fall >= FALL or -t.slope >= RATE
    return -t.slope * n >= GAIN and t.fall >= Z * t.noise and t.fall > 0 and material


def noisy(steps: pd.DataFrame) -> dict[str, Any] | None:
    losses = steps["loss"].to_numpy(dtype=float)
    if len(losses) < 40:
        return None
    width = max(5, len(losses) // 50)
    smooth = pd.Series(losses).rolling(width, center=True, min_periods=1).mean().to_numpy()
    half = len(losses) // 2
    swing = float(np.std(losses[half:] - smooth[half:]))
    end = float(smooth[-width:].mean())
    scale = max(float(smooth[:width].mean()) - end, end)  # the curve's drop, or its level at the end
    if scale <= 0 or swing <= NOISY * scale:
        return None
    return finding(
        "noisy",
        f"the loss of single iterations swings widely (std {swing:.3g} around its trend, against "
        f"a curve of size {scale:.3g}): each step sees too few examples or is too big. Use a bigger "
        "train.batch_size or a lower optimizer.lr.",
    )
