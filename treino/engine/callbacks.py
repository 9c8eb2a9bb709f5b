"""Callbacks: six hooks, each a no-op by default. Stopping is a flag (state.should_stop).

The progress display is a callback family of its own: treino.engine.display."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from treino.engine.state import TrainState


class Callback:
    """Override the hooks you need; keep `state_dict` for what must survive a resume."""

    def on_fit_start(self, state: TrainState) -> None: ...
    def on_epoch_start(self, state: TrainState) -> None: ...
    def on_batch_end(self, state: TrainState, loss: torch.Tensor) -> None: ...
    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None: ...
    def on_fit_end(self, state: TrainState) -> None: ...
    def on_exception(self, state: TrainState, error: BaseException) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def hooks(callbacks: Sequence[Callback], name: str) -> list[Callable[..., None]]:
    """The bound `name` hooks of the callbacks that override it, in order: the loop calls these
    alone (a no-op hook costs a Python call per step for nothing)."""
    default = getattr(Callback, name)
    bound = [getattr(cb, name) for cb in callbacks]  # an instance attribute counts as an override
    return [hook for hook in bound if getattr(hook, "__func__", None) is not default]


class EarlyStopping(Callback):
    """Tracks the best epoch by `monitor`; stops after `patience` epochs without improvement.

    The best weights are kept in memory and restored at the end when `restore_best`.
    `patience=None` never stops (only tracks the best epoch).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int | None = 5,
        min_delta: float = 0.0,
        higher_is_better: bool = False,
        restore_best: bool = True,
    ) -> None:
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.sign = 1.0 if higher_is_better else -1.0
        self.restore_best = restore_best
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor)
        if value is None or math.isnan(value):
            return
        improved = self.best_value is None or self.sign * (value - self.best_value) > self.min_delta
        if improved:
            self.best_value, self.best_epoch = value, state.epoch
            self.best_weights = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
        state.best_epoch, state.best_value = self.best_epoch, self.best_value
        waited = state.epoch - (self.best_epoch or 0)
        if self.patience is not None and waited >= self.patience:
            state.should_stop = True
            state.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"(best {self.best_value:.4g} at epoch {self.best_epoch})"
            )

    def on_fit_end(self, state: TrainState) -> None:
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_value = state.get("best_value")
        self.best_epoch = state.get("best_epoch")
        self.best_weights = state.get("best_weights")
