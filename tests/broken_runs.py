"""Shared by the tests that break a run on purpose (run/test_resume.py, run/test_signals.py):
the run they break, the fault injector that breaks it, and the check that a resumed run is the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch

FAULTS = Path(__file__).parent / "faults.py"
# dropout (global RNG), mini-batches (shuffling generator), a step schedule and Adam state:
# everything a resume must put back
ARGS = [
    "--data", "iris", "--set", "model.kind=mlp", "--set", "model.hidden=[16]",
    "--set", "model.dropout=0.2", "--set", "train.batch_size=16", "--set", "train.epochs=4",
    "--set", "schedule.name=step", "--set", "schedule.step_size=1", "--set", "schedule.gamma=0.8",
    "--set", "train.restore_best=false", "--set", "log.plots=false", "--set", "log.progress=false",
    "--quiet",
]  # fmt: skip
STEPS_PER_EPOCH = 7  # iris: 150 rows, 70% train = 104 rows, batches of 16


def run_cli(args: list[str]) -> Any:
    """The real CLI in this process: the killed runs are real processes, the rest need not be."""
    from typer.testing import CliRunner

    from treino.cli import app

    return CliRunner().invoke(app, args)


def assert_same_run(run: Path, ref: Path) -> None:
    """Same final weights (bytes), same history and per-step losses, same metrics."""
    a, b = (run / "model" / "weights.safetensors").read_bytes(), (ref / "model" / "weights.safetensors")
    assert a == b.read_bytes()
    history, expected = pd.read_csv(run / "history.csv"), pd.read_csv(ref / "history.csv")
    pd.testing.assert_frame_equal(history.drop(columns="seconds"), expected.drop(columns="seconds"))
    assert (run / "steps.csv").read_bytes() == (ref / "steps.csv").read_bytes()
    got, want = json.loads((run / "metrics.json").read_text()), json.loads((ref / "metrics.json").read_text())
    for key in ("status", "epochs_run", "best_epoch", "train", "val", "test"):
        assert got[key] == want[key], key
    last, ref_last = (torch.load(p / "checkpoints" / "last.pt", weights_only=True) for p in (run, ref))
    assert last["epoch"] == ref_last["epoch"]
    for name, tensor in ref_last["model"].items():
        assert torch.equal(last["model"][name], tensor), name
