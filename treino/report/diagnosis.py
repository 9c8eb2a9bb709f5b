"""Diagnosis: read a run's history (one row per epoch) and iteration losses, and say in plain
words what the convergence curve shows, with the fix to try.

Codes: diverged, plateau_early, overfitting, underfitting, not_converged, noisy, healthy, and
too_few_epochs (one epoch with too few iterations to read a curve from).
The thresholds below were tuned on the staged runs in tests/report/test_diagnosis.py (learning rate
far too high and far too low, a big MLP on a tiny dataset, a linear model on curved data,
stochastic batches, and healthy runs); change them only together with those tests.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pandas as pd

EXPLODE = 3.0  # diverged: the training loss ends above 3x its starting value ...
SPIKE = 10.0  # ... or the smoothed iteration loss ever went above 10x it (then fell back)
PLATEAU = 0.05  # plateau_early: the loss moved less than 5% of its starting value
OVERFIT_RISE = 0.10  # overfitting: val loss ends 10% (of its drop from the start) above its best
OVERFIT_REL = 0.05  # ... and 5% above its best value (tiny rises on a flat curve are noise)
OVERFIT_EPOCHS = 3  # ... and has been above its best for at least 3 epochs
STILL_IMPROVING = 0.10  # not_converged: the last fifth of the epochs made >10% of the total drop
POOR = {"accuracy": 0.75, "r2": 0.5}  # underfitting: the training metric ends below this ...
FLAT = 0.02  # ... and the training loss of the last third of epochs fell <2% from the third before
NOISY = 0.4  # noisy: iteration losses swing (std) by 40% of the curve's drop or of its final level
ONE_EPOCH_STEPS = 20  # a one-epoch run is judged on its iterations when it has at least this many
NAMES = {"val_loss": "validation loss", "train_loss": "training loss"}


def finding(code: str, message: str, epoch: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "epoch": epoch}


def diagnose(
    history: pd.DataFrame,
    steps: pd.DataFrame | None = None,
    status: str = "completed",
) -> list[dict[str, Any]]:
    """What the curves say: a list of {code, message, epoch}, `healthy` when nothing is wrong.

    Args:
        history: one row per epoch (epoch, train_loss, val_loss, train_/val_ metrics), as in
            history.csv.
        steps: one row per iteration (step, epoch, loss), as in steps.csv; optional.
        status: how the run ended (completed, early_stopped, interrupted, diverged).

    Example:
        >>> diagnose(pd.read_csv("runs/x/history.csv"), pd.read_csv("runs/x/steps.csv"))
        [{'code': 'overfitting', 'message': 'the validation loss ...', 'epoch': 12}]
    """
    if len(history) == 0 or "train_loss" not in history:
        return []
    steps = steps if steps is not None and len(steps) else None
    blowup = _diverged(history, steps, status)
    if blowup:
        return [blowup]
    one_epoch = len(history) < 2
    if one_epoch and (steps is None or len(steps) < ONE_EPOCH_STEPS):
        return [_too_few(steps)]
    found: list[dict[str, Any]] = []
    plateau = _plateau(history, steps)
    if plateau:
        found.append(plateau)
    for result in (_overfitting(history, status), _underfitting(history)):
        if result and not plateau:
            found.append(result)
    if not plateau and status != "early_stopped" and not any(f["code"] == "overfitting" for f in found):
        result = _not_converged(history, steps)
        if result:
            found.append(result)
    noisy = _noisy(steps) if steps is not None else None
    if noisy:
        found.append(noisy)
    if one_epoch and not found:  # one epoch cannot show overfitting, underfitting or a level curve
        return [_too_few(steps)]
    return found or [finding("healthy", _healthy_text(history))]


def describe(findings: list[dict[str, Any]], file: Any = None) -> None:
    """Print the findings, one plain sentence each (to stderr by default)."""
    out = file or sys.stderr
    for f in findings:
        where = f" (epoch {f['epoch']})" if f.get("epoch") is not None else ""
        print(f"diagnosis: {f['code']}{where}: {f['message']}", file=out)


def _start_loss(history: pd.DataFrame, steps: pd.DataFrame | None) -> float:
    """The loss at the very start: the first few iterations, else the first epoch."""
    if steps is not None:
        losses = steps["loss"].to_numpy(dtype=float)
        head = losses[: max(1, min(5, len(losses) // 50))]
        if np.all(np.isfinite(head)):
            return float(head.mean())
    return float(history["train_loss"].iloc[0])


def _diverged(history: pd.DataFrame, steps: pd.DataFrame | None, status: str) -> dict[str, Any] | None:
    train = history["train_loss"].to_numpy(dtype=float)
    columns = [history[c].to_numpy(dtype=float) for c in ("train_loss", "val_loss") if c in history]
    bad_rows = np.nonzero(~np.all(np.isfinite(np.stack(columns)), axis=0))[0]
    if status == "diverged" or len(bad_rows):
        epoch = int(history["epoch"].iloc[bad_rows[0]]) if len(bad_rows) else int(history["epoch"].iloc[-1])
        return finding(
            "diverged",
            "the loss became infinite or NaN: the steps were too big. Lower optimizer.lr "
            "(try 10x lower), check that the inputs are scaled, or set train.clip_grad.",
            epoch,
        )
    start = _start_loss(history, steps)
    if steps is not None:
        losses = steps["loss"].to_numpy(dtype=float)
        window = max(5, len(losses) // 50)
        smooth = pd.Series(losses).rolling(window, min_periods=1).mean().to_numpy()
        # against the very first iteration (the model as initialized) or the final level
        reference = max(losses[0], float(smooth[-1]))
        peak = int(np.argmax(smooth))
        if reference > 0 and smooth[peak] > SPIKE * reference:
            return finding(
                "diverged",
                f"the training loss exploded from {losses[0]:.3g} to {smooth[peak]:.3g} (iterations "
                "averaged): the steps overshoot. Lower optimizer.lr (try 10x lower) or set "
                "train.clip_grad.",
                int(steps["epoch"].iloc[peak]),
            )
    if start > 0 and train[-1] > EXPLODE * start:
        above = np.nonzero(train > EXPLODE * start)[0]
        return finding(
            "diverged",
            f"the training loss grew from {start:.3g} to {train[-1]:.3g} instead of falling: the "
            "steps overshoot. Lower optimizer.lr (try 10x lower) or set train.clip_grad.",
            int(history["epoch"].iloc[above[0]]),
        )
    return None


def _plateau(history: pd.DataFrame, steps: pd.DataFrame | None) -> dict[str, Any] | None:
    start = _start_loss(history, steps)
    end = float(history["train_loss"].iloc[-1])
    if len(history) < 2 and steps is not None:  # one epoch's mean loss lies halfway down its curve
        losses = steps["loss"].to_numpy(dtype=float)
        end = float(losses[-max(5, len(losses) // 50) :].mean())
    if start <= 0 or (start - end) / start >= PLATEAU:
        return None
    moved = 100 * (start - end) / start
    # a loss stuck at the floor of a too-simple model looks the same: say so when the metric is poor
    simple = any(f"train_{m}" in history and history[f"train_{m}"].iloc[-1] < p for m, p in POOR.items())
    return finding(
        "plateau_early",
        f"the training loss barely moved ({start:.3g} -> {end:.3g}, {moved:.1f}%): the steps are "
        "too small or the inputs are unscaled. Raise optimizer.lr (try 10x higher, or run "
        "treino lr-find), and keep data.scale: standard."
        + (
            " If a higher rate does not help, the model is too simple for the data (underfitting)."
            if simple
            else ""
        ),
    )


def _too_few(steps: pd.DataFrame | None) -> dict[str, Any]:
    n = 0 if steps is None else len(steps)
    return finding(
        "too_few_epochs",
        f"one epoch ({n} iterations) is too few to judge the training curve (plateau, overfitting, "
        "convergence): train more epochs (e.g. train.epochs: 10) for a diagnosis.",
    )


def _overfitting(history: pd.DataFrame, status: str) -> dict[str, Any] | None:
    if "val_loss" not in history or len(history) < OVERFIT_EPOCHS + 2:
        return None
    val = history["val_loss"].to_numpy(dtype=float)
    train = history["train_loss"].to_numpy(dtype=float)
    best = int(np.argmin(val))
    after = val[best + 1 :]
    drop = val[0] - val[best]
    if len(after) < OVERFIT_EPOCHS or drop <= 0:
        return None
    rise = float(np.min(after[-OVERFIT_EPOCHS:])) - val[best]  # sustained, not one noisy epoch
    if rise <= OVERFIT_RISE * drop or rise <= OVERFIT_REL * abs(val[best]) or train[-1] >= train[best]:
        return None
    began = int(history["epoch"].iloc[best]) + 1
    fix = (
        "Early stopping caught it; to go further, add model.dropout or train.l2, use a smaller model or more data."
        if status == "early_stopped"
        else "Keep train.early_stopping on, add model.dropout or train.l2, use a smaller model or more data."
    )
    return finding(
        "overfitting",
        f"the validation loss rose from {val[best]:.3g} (its best, epoch {began - 1}) to "
        f"{val[-1]:.3g} while the training loss kept falling: the model memorizes the training set. {fix}",
        began,
    )


def _underfitting(history: pd.DataFrame) -> dict[str, Any] | None:
    if len(history) < 3:
        return None
    third = max(1, len(history) // 3)
    loss = history["train_loss"].to_numpy(dtype=float)
    before, last = float(loss[-2 * third : -third].mean()), float(loss[-third:].mean())
    if before <= 0 or (before - last) / before >= FLAT:  # the training loss is still falling
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


def _not_converged(history: pd.DataFrame, steps: pd.DataFrame | None) -> dict[str, Any] | None:
    column = "val_loss" if "val_loss" in history else "train_loss"
    loss, unit = history[column].to_numpy(dtype=float), "epochs"
    if len(loss) < 2 and steps is not None and len(steps) >= 20:
        # a single epoch: judge by the smoothed iteration losses instead
        column, unit = "train_loss", "iterations"
        window = max(5, len(steps) // 20)
        loss = steps["loss"].rolling(window, min_periods=1).mean().to_numpy(dtype=float)[window - 1 :]
    if len(loss) < 2:
        return None
    k = min(max(2, math.ceil(len(loss) / 5)), len(loss) - 1)
    total = loss[0] - loss.min()
    recent = loss[-k - 1] - loss[-1]
    if total <= 0 or recent <= STILL_IMPROVING * total or loss[-1] > loss.min() + 1e-12:
        return None
    return finding(
        "not_converged",
        f"the {NAMES[column]} was still falling at the end ({loss[-k - 1]:.3g} -> "
        f"{loss[-1]:.3g} in the last {k} {unit}): training stopped too soon. Raise train.epochs "
        "or optimizer.lr.",
    )


def _noisy(steps: pd.DataFrame) -> dict[str, Any] | None:
    losses = steps["loss"].to_numpy(dtype=float)
    if len(losses) < 40:
        return None
    window = max(5, len(losses) // 50)
    smooth = pd.Series(losses).rolling(window, center=True, min_periods=1).mean().to_numpy()
    half = len(losses) // 2
    swing = float(np.std(losses[half:] - smooth[half:]))
    end = float(smooth[-window:].mean())
    scale = max(float(smooth[:window].mean()) - end, end)  # the curve's drop, or its level at the end
    if scale <= 0 or swing <= NOISY * scale:
        return None
    return finding(
        "noisy",
        f"the loss of single iterations swings widely (std {swing:.3g} around its trend, against "
        f"a curve of size {scale:.3g}): each step sees too few examples or is too big. Use a bigger "
        "train.batch_size or a lower optimizer.lr.",
    )


def _healthy_text(history: pd.DataFrame) -> str:
    column = "val_loss" if "val_loss" in history else "train_loss"
    loss = history[column].to_numpy(dtype=float)
    return (
        f"the {NAMES[column]} fell from {loss[0]:.3g} to {loss.min():.3g} and levelled "
        "off; no sign of divergence, overfitting or underfitting."
    )
