"""Diagnosis: read a run's history (one row per epoch, with the probes' columns when the run
had them) and its iteration losses, and say in plain words what the curves show, with the fix.

Codes, in the order they are reported: diverged, exploding_gradients, lr_too_high, saturated,
vanishing_gradients, noisy, dead_units, lr_too_low, plateau_early, overfitting, underfitting,
not_converged; healthy when none applies, too_few_epochs for one short epoch.
The curves are read on a log scale (a relative change means the same at any loss level) and
against their own noise. The thresholds here and in probe_findings.py were tuned on the "tune"
part of the staged benchmark (tests/report/staged.py); its "held-out" part checks them. Change
them only together with that benchmark (`python -m tests.report.staged --table`).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pandas as pd

from treino.report import probe_findings as P
from treino.report.curve_stats import logs, noise, trend, window

EXPLODE = 3.0  # diverged: the training loss ends above 3x its starting value ...
SPIKE = 10.0  # ... or the smoothed iteration loss ever went above 10x it (then fell back)
JUMP = math.log(1.3)  # lr_too_high: the epoch's training loss jumped 30% above the epoch before ...
LEAP = 0.02  # ... and by >= 2% of the first epoch's loss ...
JUMPS = 2  # ... at least twice after the first epoch
PLATEAU = 0.05  # the training loss moved less than 5% (log scale) from its start
SLOW = 0.25  # lr_too_low: the whole run moved the loss less than 25% (log) while the weights crawl
GAIN = (
    0.08  # not_converged: at the rate of its last fifth, as many epochs again would lower the loss >= 8% ...
)
Z = 3.0  # ... and over that fifth the fitted log(loss) fell >= 3x the curve's epoch-to-epoch noise
RISE = 0.03  # overfitting: the validation loss >= 3% (log) above its best over the last 2 epochs ...
RISE_Z = 2.5  # ... and >= 2.5x its noise ...
SHARE = 0.2  # ... and >= 20% of its fall from the start to the best, or >= BIG ...
BIG = math.log(1.5)  # ... (50% above its best is overfitting however far it fell first),
FELL = 0.05  # ... while the training loss fell >= 5% (log) since that best
POOR = {"accuracy": 0.75, "r2": 0.5}  # underfitting: the training metric ends below this ...
FLAT = 0.02  # ... and the training loss of the last third of epochs fell <2% from the third before
NOISY = 0.4  # noisy: iteration losses swing (std) by 40% of the curve's drop or of its final level
ONE_EPOCH_STEPS = 20  # a one-epoch run is judged on its iterations when it has at least this many
NAMES = {"val_loss": "validation loss", "train_loss": "training loss"}
STUCK = ("lr_too_low", "plateau_early")


def finding(code: str, message: str, epoch: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "epoch": epoch}


def diagnose(
    history: pd.DataFrame,
    steps: pd.DataFrame | None = None,
    status: str = "completed",
    best_epoch: int | None = None,
) -> list[dict[str, Any]]:
    """What the curves say: a list of {code, message, epoch}, `healthy` when nothing is wrong.

    Args:
        history: one row per epoch (epoch, train_loss, val_loss, train_/val_ metrics, and the
            probes' grad_norm*, dead_relu, saturated, update_ratio when recorded), as in history.csv.
        steps: one row per iteration (step, epoch, loss), as in steps.csv; optional.
        status: how the run ended (completed, early_stopped, interrupted, diverged).
        best_epoch: the epoch whose weights the run kept (metrics.json's best_epoch); optional.

    Example:
        >>> diagnose(pd.read_csv("runs/x/history.csv"), pd.read_csv("runs/x/steps.csv"))
        [{'code': 'overfitting', 'message': 'the validation loss rose ...', 'epoch': 12}]
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
    # the order a learner should act in: steps that explode or bounce, units that cannot learn
    # whatever the step (saturated, vanishing), noisy steps, then ReLUs they killed
    noisy = _noisy(steps) if steps is not None else None
    causes = P.causes(history)
    dead = [f for f in causes if f["code"] == "dead_units"]
    found = [f for f in (P.exploding(history), _lr_too_high(history)) if f]
    found += [f for f in causes if f["code"] != "dead_units"] + ([noisy] if noisy else []) + dead
    stuck = None if causes else _stuck(history, steps)
    if stuck:
        found.append(stuck)
    if not stuck:
        for check in (_overfitting(history, status, best_epoch), _underfitting(history)):
            if check:
                found.append(check)
    codes = {f["code"] for f in found}
    if not stuck and status != "early_stopped" and "overfitting" not in codes and "lr_too_high" not in codes:
        result = _not_converged(history, steps)
        if result:
            found.append(result)
    if one_epoch and not found:  # one epoch cannot show overfitting, underfitting or a level curve
        return [_too_few(steps)]
    return found or [finding("healthy", _healthy_text(history))]


def describe(findings: list[dict[str, Any]], file: Any = None) -> None:
    """Print the findings, one plain sentence each (to stderr by default)."""
    out = file or sys.stderr
    for f in findings:
        where = f" (epoch {f['epoch']})" if f.get("epoch") is not None else ""
        print(f"diagnosis: {f['code']}{where}: {f['message']}", file=out)


def _monitored(history: pd.DataFrame) -> str:
    """The validation loss when the run has a finite one, else the training loss."""
    if "val_loss" in history and np.isfinite(history["val_loss"].to_numpy(dtype=float)).all():
        return "val_loss"
    return "train_loss"


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
    grads = P.column(history, "grad_norm")
    grew = (
        f" The gradient norm grew from {grads[0]:.3g} to {grads[-1]:.3g} before that."
        if grads is not None and len(grads) > 1 and grads[-1] > 100 * grads[0]
        else ""
    )
    if status == "diverged" or len(bad_rows):
        epoch = int(history["epoch"].iloc[bad_rows[0]]) if len(bad_rows) else int(history["epoch"].iloc[-1])
        return finding(
            "diverged",
            "the loss became infinite or NaN: the steps were too big. Lower optimizer.lr "
            "(try 10x lower), check that the inputs are scaled, or set train.clip_grad." + grew,
            epoch,
        )
    start = _start_loss(history, steps)
    if steps is not None:
        losses = steps["loss"].to_numpy(dtype=float)
        width = max(5, len(losses) // 50)
        smooth = pd.Series(losses).rolling(width, min_periods=1).mean().to_numpy()
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


def _lr_too_high(history: pd.DataFrame) -> dict[str, Any] | None:
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


def _stuck(history: pd.DataFrame, steps: pd.DataFrame | None) -> dict[str, Any] | None:
    """The loss barely moved, or crawled: a rate far too low when the weights barely move,
    a plateau (a model stuck at chance) when they do."""
    start = _start_loss(history, steps)
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


def _too_few(steps: pd.DataFrame | None) -> dict[str, Any]:
    n = 0 if steps is None else len(steps)
    return finding(
        "too_few_epochs",
        f"one epoch ({n} iterations) is too few to judge the training curve (plateau, overfitting, "
        "convergence): train more epochs (e.g. train.epochs: 10) for a diagnosis.",
    )


def _overfitting(history: pd.DataFrame, status: str, best_epoch: int | None) -> dict[str, Any] | None:
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


def _underfitting(history: pd.DataFrame) -> dict[str, Any] | None:
    """A poor training metric on a training loss that levelled off (or crawls): the model
    cannot fit even the data it sees."""
    if len(history) < 3:
        return None
    third = max(1, len(history) // 3)
    loss = history["train_loss"].to_numpy(dtype=float)
    before, last = float(loss[-2 * third : -third].mean()), float(loss[-third:].mean())
    falling = _falling(trend(loss, window(len(loss))), len(loss))
    if before <= 0 or ((before - last) / before >= FLAT and falling):  # the training loss still falls
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
    column = _monitored(history)
    loss, unit = history[column].to_numpy(dtype=float), "epochs"
    if len(loss) < 2 and steps is not None and len(steps) >= 20:
        # a single epoch: judge by the smoothed iteration losses instead
        column, unit = "train_loss", "iterations"
        width = max(5, len(steps) // 20)
        loss = steps["loss"].rolling(width, min_periods=1).mean().to_numpy(dtype=float)[width - 1 :]
    if len(loss) < 2:
        return None
    t = trend(loss, window(len(loss)))
    if t.best < len(loss) - t.k or not _falling(t, len(loss)):
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


def _falling(t: Any, n: int) -> bool:
    """Still clearly falling: at the end's rate, n more epochs would gain >= GAIN, and the end's
    fall stands out of the curve's noise."""
    return -t.slope * n >= GAIN and t.fall >= Z * t.noise and t.fall > 0


def _noisy(steps: pd.DataFrame) -> dict[str, Any] | None:
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


def _healthy_text(history: pd.DataFrame) -> str:
    column = _monitored(history)
    loss = history[column].to_numpy(dtype=float)
    t = trend(loss, window(len(loss)))
    best = int(history["epoch"].iloc[t.best])
    return (
        f"the {NAMES[column]} fell from {loss[0]:.3g} to {loss.min():.3g} (best at epoch {best} of "
        f"{len(loss)}) and levelled off ({t.percent_per_epoch:+.2g}% per epoch over the last {t.k} "
        "epochs); no sign of divergence, overfitting or underfitting."
    )
