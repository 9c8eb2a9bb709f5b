"""Checkpoints: dicts with named keys and a format version, written atomically, loaded with
weights_only=True (no unpickling of arbitrary objects)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from treino.engine.callbacks import Callback, EarlyStopping
from treino.engine.state import TrainState
from treino.errors import RunError
from treino.files import replacing

FORMAT = 1


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then os.replace: never a half-written file."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())  # the bytes are on disk before the name points at them


def snapshot(state: TrainState) -> dict[str, Any]:
    """The full training state after `state.epoch` epochs, enough to resume bit for bit."""
    rng = {"torch": torch.get_rng_state(), "generator": state.generator.get_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format": FORMAT,
        "epoch": state.epoch,
        "epochs": state.epochs,  # the target then: a larger one on resume extends the run
        "step": state.step,
        "status": state.status,
        # why the loop is stopping after this epoch (early stopping); a signal sets no reason,
        # so an interrupted run resumes while an early-stopped one stays stopped
        "stop_reason": state.stop_reason if state.should_stop else "",
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "schedule": state.schedule.state_dict(),
        "rng": rng,
        "history": state.history,
        "step_losses": torch.tensor(state.step_losses, dtype=torch.float64),
        "step_epochs": torch.tensor(state.step_epochs, dtype=torch.int64),
        "callbacks": {
            key: cb.state_dict() for key, cb in zip(_keys(state.callbacks), state.callbacks, strict=True)
        },
    }


def _keys(callbacks: list[Callback]) -> list[str]:
    """Each callback's key in a checkpoint: its class name, then 'Name#2', 'Name#3' for further
    callbacks of that class, so two of one class keep their own state (the first keeps the bare
    name that checkpoints written before held)."""
    seen: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


def restore(state: TrainState, ckpt: dict[str, Any]) -> None:
    """Put a snapshot back into a freshly built state (same model, optimizer, schedule)."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else None
        raise RunError(
            f"checkpoint format {found} is not {FORMAT}; it was written by another treino version: train anew"
        )
    fresh = [{k: v for k, v in group.items() if k != "params"} for group in state.optimizer.param_groups]
    try:
        state.model.load_state_dict(ckpt["model"])
        state.optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines()] or [type(exc).__name__]
        first = (lines[1] if len(lines) > 1 else lines[0]).rstrip(".")  # torch: a header, then what differs
        raise RunError(
            f"the checkpoint does not fit the model built from the config ({first}); "
            f"resume with the run's own model/optimizer settings or train anew"
        ) from None
    if ckpt.get("new_hyperparameters"):  # the resume changed optimizer settings: they win
        for group, values in zip(state.optimizer.param_groups, fresh, strict=True):
            group.update(values)
    state.schedule.load_state_dict(ckpt["schedule"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    state.generator.set_state(ckpt["rng"]["generator"])
    if "cuda" in ckpt["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    state.epoch, state.step = ckpt["epoch"], ckpt["step"]
    state.history = list(ckpt["history"])
    state.step_losses = ckpt["step_losses"].tolist()
    state.step_epochs = ckpt["step_epochs"].tolist()
    saved = ckpt.get("callbacks", {})
    for key, cb in zip(_keys(state.callbacks), state.callbacks, strict=True):
        if key in saved:
            cb.load_state_dict(saved[key])
    for cb in state.callbacks:  # the best epoch so far, as if the loop had never stopped
        if isinstance(cb, EarlyStopping):
            state.best_epoch, state.best_value = cb.best_epoch, cb.best_value
    # an early-stopped run stays stopped, unless the resume asks for more epochs than it had
    if ckpt.get("stop_reason") and state.epochs <= ckpt.get("epochs", state.epochs):
        state.should_stop, state.stop_reason = True, ckpt["stop_reason"]


def load(path: Path) -> dict[str, Any]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunError(f"{path}: no checkpoint here; was the run started with treino train?") from None
    except Exception:  # a truncated or foreign file
        raise RunError(
            f"{path}: damaged or not a treino checkpoint; delete it (--resume then starts at epoch 1) "
            f"or train anew"
        ) from None
    found = ckpt.get("format") if isinstance(ckpt, dict) else None
    if found != FORMAT:
        raise RunError(
            f"{path}: checkpoint format {found} is not {FORMAT}; it was written by another treino "
            f"version: train anew"
        )
    return ckpt


class Checkpoint(Callback):
    """Writes checkpoints/last.pt after every epoch and best.pt when the best epoch improves."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def on_fit_start(self, state: TrainState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        # best.pt first: a kill between the two leaves last.pt one epoch behind, and the
        # resumed run redoes that epoch and writes the same best.pt again
        if state.best_epoch == state.epoch:
            best = {"format": FORMAT, "epoch": state.epoch, "model": state.model.state_dict()}
            atomic_save(best, self.folder / "best.pt")
        atomic_save(snapshot(state), self.folder / "last.pt")
