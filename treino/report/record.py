"""What the report reads from a run folder, and only from there: a finished run's files, or
what an interrupted run left (its last checkpoint's history when history.csv is missing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from treino.errors import RunError
from treino.files import read_json


@dataclass
class Record:
    """One run, as read from its folder."""

    dir: Path
    metrics: dict[str, Any]
    history: pd.DataFrame
    steps: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    curve: pd.DataFrame | None = None  # the fitted line of a one-feature regression
    misclassified: dict[str, np.ndarray] | None = None
    config: str = ""
    notes: list[str] = field(default_factory=list)  # what was missing, said in the report

    @property
    def task(self) -> str:
        return self.metrics.get("task", "")

    @property
    def data(self) -> dict[str, Any]:
        return self.metrics.get("data") or {}

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.data.get("classes") or []]


def load(run_dir: Path) -> Record:
    """Read everything the report can use; raise RunError when the folder is not a run."""
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder; give the folder that treino train wrote")
    if not (run_dir / "config.yaml").exists():
        raise RunError(f"{run_dir}: not a treino run folder (no config.yaml); give a run folder")
    notes: list[str] = []
    if (run_dir / "metrics.json").exists():
        metrics = read_json(run_dir / "metrics.json")
    else:
        metrics = {"status": "unfinished"}
        notes.append("no metrics.json: the run stopped before it finished (no test metrics).")
    history = _csv(run_dir / "history.csv")
    steps = _csv(run_dir / "steps.csv")
    if history is None:
        history, steps = _from_checkpoint(run_dir / "checkpoints" / "last.pt", notes)
    misclassified = None
    if (run_dir / "misclassified.npz").exists():
        with np.load(run_dir / "misclassified.npz") as npz:
            misclassified = {k: npz[k] for k in npz.files}
    return Record(
        dir=run_dir,
        metrics=metrics,
        history=history,
        steps=steps,
        predictions=_csv(run_dir / "predictions.csv", labels=metrics.get("task") != "regression"),
        curve=_csv(run_dir / "curve.csv"),
        misclassified=misclassified,
        config=(run_dir / "config.yaml").read_text(encoding="utf-8"),
        notes=notes,
    )


def _csv(path: Path, labels: bool = False) -> pd.DataFrame | None:
    """A CSV of the run, or None when absent; class labels stay strings ('01' is not 1)."""
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, dtype={"y_true": str, "y_pred": str} if labels else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise RunError(f"{path}: not a readable CSV; the run folder is damaged (delete the file)") from None


def _from_checkpoint(path: Path, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The epochs an interrupted run completed, from its last checkpoint (read without unpickling)."""
    if not path.exists():
        notes.append("no history: the run did not complete an epoch.")
        return pd.DataFrame(), None
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: report without curves
        notes.append(f"checkpoints/last.pt is unreadable ({type(exc).__name__}): no curves.")
        return pd.DataFrame(), None
    notes.append(f"history read from checkpoints/last.pt ({len(ckpt.get('history', []))} epochs).")
    history = pd.DataFrame(list(ckpt.get("history", [])))
    losses = ckpt.get("step_losses")
    if losses is None or len(losses) == 0:
        return history, None
    steps = pd.DataFrame(
        {
            "step": np.arange(1, len(losses) + 1),
            "epoch": ckpt["step_epochs"].numpy(),
            "loss": losses.numpy(),
        }
    )
    return history, steps
