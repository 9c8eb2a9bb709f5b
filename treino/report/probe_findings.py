"""Findings from the probes (treino.engine.probes: history columns grad_norm, grad_norm_first,
grad_norm_last, dead_relu, saturated, update_ratio): what the loss curve alone cannot show.
A history without these columns (an older run, a custom loop) gets none of these findings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

EXPLODING = 100.0  # gradient norm over sqrt(max(loss, 1)): O(1) on scaled data, > 100 explodes
VANISHING = 1e-3  # the first weight layer's gradient norm below 1/1000 of the last layer's
DEAD = 0.5  # dead_units: more than half of the ReLU units output zero for every example
SATURATED = 0.5  # saturated: more than half of the sigmoid/tanh outputs sit at their bounds
TINY_UPDATE = 0.01  # the weights move less than 1% per epoch (median over the last third)


def column(history: pd.DataFrame, name: str) -> np.ndarray | None:
    """The finite values of a probe column, or None when the run has none."""
    if name not in history:
        return None
    values = history[name].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return values if len(values) else None


def update_ratio(history: pd.DataFrame) -> float | None:
    """How far the weights moved per epoch, ||W_t - W_t-1|| / ||W_t-1||: the median of the last
    third of the epochs (the first epochs move the most)."""
    values = column(history, "update_ratio")
    if values is None:
        return None
    return float(np.median(values[-max(1, len(values) // 3) :]))


def exploding(history: pd.DataFrame) -> dict[str, Any] | None:
    grads, loss = column(history, "grad_norm"), history["train_loss"].to_numpy(dtype=float)
    if grads is None or "grad_norm" not in history:
        return None
    scale = np.sqrt(np.maximum(loss[: len(history)], 1.0))
    ratio = history["grad_norm"].to_numpy(dtype=float) / scale
    ratio[~np.isfinite(ratio)] = 0.0
    if ratio.max() <= EXPLODING:
        return None
    at = int(np.argmax(ratio))
    return {
        "code": "exploding_gradients",
        "message": (
            f"the gradients are huge (norm {history['grad_norm'].iloc[at]:.3g} at epoch "
            f"{int(history['epoch'].iloc[at])}, against a loss of {loss[at]:.3g}; on scaled data they are "
            "about 1): the signal grows layer after layer. Use a smaller initialization (model.init: "
            "kaiming_normal or xavier_normal), set train.clip_grad (e.g. 1.0), add model.batch_norm, "
            "and keep data.scale: standard."
        ),
        "epoch": int(history["epoch"].iloc[at]),
    }


def vanishing(history: pd.DataFrame) -> dict[str, Any] | None:
    first, last = column(history, "grad_norm_first"), column(history, "grad_norm_last")
    if first is None or last is None or len(first) != len(last):
        return None
    keep = last > 0
    if not keep.any():
        return None
    ratio = float(np.median(first[keep] / last[keep]))
    if ratio >= VANISHING:
        return None
    return {
        "code": "vanishing_gradients",
        "message": (
            f"the first layer's gradients are {_orders(ratio)} smaller than the last layer's "
            f"(median ratio {ratio:.1e}): the early layers barely learn. Use model.activation: relu "
            "(or gelu) instead of sigmoid/tanh, fewer layers, model.batch_norm, or "
            "model.init: kaiming_normal."
        ),
        "epoch": None,
    }


def dead_units(history: pd.DataFrame) -> dict[str, Any] | None:
    dead = column(history, "dead_relu")
    if dead is None or dead[-1] <= DEAD:
        return None
    began = int(history["epoch"].iloc[int(np.argmax(history["dead_relu"].to_numpy(dtype=float) > DEAD))])
    return {
        "code": "dead_units",
        "message": (
            f"{dead[-1]:.0%} of the ReLU units output zero for every example (from epoch {began}): "
            "they get no gradient and stop learning. Lower optimizer.lr, use model.activation: "
            "leaky_relu or gelu, or model.init: kaiming_normal."
        ),
        "epoch": began,
    }


def saturated(history: pd.DataFrame) -> dict[str, Any] | None:
    share = column(history, "saturated")
    if share is None or share[-1] <= SATURATED:
        return None
    return {
        "code": "saturated",
        "message": (
            f"{share[-1]:.0%} of the sigmoid/tanh outputs sit at their bounds, where their slope is "
            "almost zero: those units barely learn. Use a smaller initialization (model.init: "
            "xavier_normal), keep data.scale: standard, add model.batch_norm, or use "
            "model.activation: relu."
        ),
        "epoch": None,
    }


def causes(history: pd.DataFrame) -> list[dict[str, Any]]:
    """The probe findings that explain a stuck or slow curve, most specific first."""
    found = [check(history) for check in (saturated, vanishing, dead_units)]
    return [f for f in found if f]


def _orders(ratio: float) -> str:
    """'4 orders of magnitude' for a ratio of 1e-4."""
    n = round(-math.log10(ratio))
    return f"{n} orders of magnitude"
