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

import sys
from typing import Any

import numpy as np
import pandas as pd

from treino.report import curve_findings as C
from treino.report import probe_findings as P
from treino.report.curve_stats import trend, window

EXPLODE = 3.0  # diverged: the training loss ends above 3x its starting value ...
SPIKE = 10.0  # ... or the smoothed iteration loss ever went above 10x it (then fell back)
ONE_EPOCH_STEPS = 20  # a one-epoch run is judged on its iterations when it has at least this many


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
    noisy = C.noisy(steps) if steps is not None else None
    causes = P.causes(history)
    dead = [f for f in causes if f["code"] == "dead_units"]
    found = [f for f in (P.exploding(history), C.lr_too_high(history)) if f]
    found += [f for f in causes if f["code"] != "dead_units"] + ([noisy] if noisy else []) + dead
    stuck = None if causes else C.stuck(history, steps)
    if stuck:
        found.append(stuck)
    if not stuck:
        for check in (C.overfitting(history, status, best_epoch), C.underfitting(history)):
            if check:
                found.append(check)
    codes = {f["code"] for f in found}
    if not stuck and status != "early_stopped" and "overfitting" not in codes and "lr_too_high" not in codes:
        result = C.not_converged(history, steps)
        if result:
            found.append(result)
    if one_epoch and not found:  # one epoch cannot show overfitting, underfitting or a level curve
        return [_too_few(steps)]
    return found or [C.finding("healthy", _healthy_text(history, status))]


def describe(findings: list[dict[str, Any]], file: Any = None) -> None:
    """Print the findings, one plain sentence each (to stderr by default)."""
    out = file or sys.stderr
    for f in findings:
        where = f" (epoch {f['epoch']})" if f.get("epoch") is not None else ""
        print(f"diagnosis: {f['code']}{where}: {f['message']}", file=out)


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
        return C.finding(
            "diverged",
            "the loss became infinite or NaN: the steps were too big. Lower optimizer.lr "
            "(try 10x lower), check that the inputs are scaled, or set train.clip_grad." + grew,
            epoch,
        )
    start = C.start_loss(history, steps)
    if steps is not None:
        losses = steps["loss"].to_numpy(dtype=float)
        width = max(5, len(losses) // 50)
        smooth = pd.Series(losses).rolling(width, min_periods=1).mean().to_numpy()
        # against the very first iteration (the model as initialized) or the final level
        reference = max(losses[0], float(smooth[-1]))
        peak = int(np.argmax(smooth))
        if reference > 0 and smooth[peak] > SPIKE * reference:
            return C.finding(
                "diverged",
                f"the training loss exploded from {losses[0]:.3g} to {smooth[peak]:.3g} (iterations "
                "averaged): the steps overshoot. Lower optimizer.lr (try 10x lower) or set "
                "train.clip_grad.",
                int(steps["epoch"].iloc[peak]),
            )
    if start > 0 and train[-1] > EXPLODE * start:
        above = np.nonzero(train > EXPLODE * start)[0]
        return C.finding(
            "diverged",
            f"the training loss grew from {start:.3g} to {train[-1]:.3g} instead of falling: the "
            "steps overshoot. Lower optimizer.lr (try 10x lower) or set train.clip_grad.",
            int(history["epoch"].iloc[above[0]]),
        )
    return None


def _too_few(steps: pd.DataFrame | None) -> dict[str, Any]:
    n = 0 if steps is None else len(steps)
    return C.finding(
        "too_few_epochs",
        f"one epoch ({n} iterations) is too few to judge the training curve (plateau, overfitting, "
        "convergence): train more epochs (e.g. train.epochs: 10) for a diagnosis.",
    )


def _healthy_text(history: pd.DataFrame, status: str) -> str:
    column = C.monitored(history)
    loss = history[column].to_numpy(dtype=float)
    t = trend(loss, window(len(loss)))
    best, n = int(history["epoch"].iloc[t.best]), len(loss)
    if status == "early_stopped":
        end = f"stopped improving: early stopping ended the run {n - t.best - 1} epochs after its best"
    else:
        end = f"levelled off (over the last {t.k} epochs it moved {t.percent_per_epoch:+.2g}% per epoch)"
    return (
        f"the {C.NAMES[column]} fell from {loss[0]:.3g} to {loss.min():.3g} (best at epoch {best} of {n}) "
        f"and {end}; no sign of divergence, overfitting or underfitting."
    )
