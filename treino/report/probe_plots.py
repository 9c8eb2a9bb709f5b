"""The probes per epoch (treino.engine.probes' history columns), drawn beside the loss: what
the diagnosis reads when it names vanishing or exploding gradients, dead or saturated units,
or weights that barely move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from treino.report.draw import TEST, TRAIN, VAL, integer_epochs, save, subplots

PROBES = ("grad_norm", "grad_norm_first", "grad_norm_last", "dead_relu", "saturated", "update_ratio")


def _positive(values: pd.Series) -> np.ndarray:
    """Values for a log axis: zeros and non-finite values become gaps."""
    out = values.to_numpy(dtype=float).copy()
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def probes(history: pd.DataFrame, path: Path, loss_label: str = "loss") -> Path | None:
    """Four panels per epoch: the loss, the gradient norms (all, first and last layer), the
    shares of dead ReLU and saturated units, and how far the weights moved. None when the
    history has no probe columns (a run from before the probes, a custom loop)."""
    if not any(c in history for c in PROBES) or not len(history):
        return None
    epochs = history["epoch"]
    fig, axes = subplots(1, 4, figsize=(15, 3.4))
    loss, grads, units, moved = axes
    loss.plot(epochs, history["train_loss"], "o-", ms=2.5, color=TRAIN, label="train")
    if "val_loss" in history:
        loss.plot(epochs, history["val_loss"], "s-", ms=2.5, color=VAL, label="validation")
    loss.set(title="Loss per epoch", xlabel="epoch", ylabel=loss_label)
    loss.legend()
    for column, color, label in (("grad_norm", "#888", "all"), ("grad_norm_first", TEST, "first layer"),
                                 ("grad_norm_last", TRAIN, "last layer")):  # fmt: skip
        if column in history and np.isfinite(_positive(history[column])).any():
            grads.plot(epochs, _positive(history[column]), "o-", ms=2.5, color=color, label=label)
    grads.set_yscale("log")
    grads.set(title="Gradient norm (last step)", xlabel="epoch")
    for column, color, label in (
        ("dead_relu", VAL, "dead ReLU units"),
        ("saturated", TEST, "saturated sigmoid/tanh"),
    ):
        if column in history:
            units.plot(epochs, history[column], "o-", ms=2.5, color=color, label=label)
    units.axhline(0.5, color="#888", ls="--", lw=0.8)
    units.set(title="Units that cannot learn", xlabel="epoch", ylim=(-0.03, 1.03))
    if "update_ratio" in history:
        moved.plot(epochs, _positive(history["update_ratio"]), "o-", ms=2.5, color=TRAIN)
        moved.set_yscale("log")
    moved.set(title="Weights moved per epoch (‖ΔW‖/‖W‖)", xlabel="epoch")
    for ax in axes:
        integer_epochs(ax)
        if ax.get_legend_handles_labels()[0] and ax is not loss:
            ax.legend(fontsize=8)
    return save(fig, path)
