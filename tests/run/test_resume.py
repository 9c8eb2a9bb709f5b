"""Exact resume: a run SIGKILLed at any point and resumed ends bit for bit like a run never
interrupted (CPU); --resume with a larger train.epochs extends a finished run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from broken_runs import ARGS, FAULTS, STEPS_PER_EPOCH, assert_same_run, run_cli


def kill_at(point: str, n: int, out: Path, args: list[str] = ARGS) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, str(FAULTS), point, str(n), "--", *args, "--out", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    result = run_cli(["train", *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    ("point", "n", "left"),
    [
        ("step", 3, None),  # in epoch 1, before any checkpoint exists
        ("step", 2 * STEPS_PER_EPOCH + 4, 2),  # mid-epoch 3: epochs 1-2 are kept, 3 is redone
        ("checkpoint", 2, 2),  # right after the checkpoint of epoch 2
        ("checkpoint-write", 3, 2),  # while writing epoch 3's checkpoint: a truncated .tmp
        ("final", 0, 4),  # everything written but metrics.json
    ],
)
def test_sigkill_then_resume_is_bit_identical(
    point: str, n: int, left: int | None, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    killed = kill_at(point, n, out)
    assert killed.returncode == -9, killed.stderr  # it died at the kill point, not before or after
    assert not (out / "metrics.json").exists()  # an unfinished run never looks finished
    last = out / "checkpoints" / "last.pt"
    if left is None:
        assert not last.exists()
    else:
        assert torch.load(last, weights_only=True)["epoch"] == left
    if point == "checkpoint-write":
        assert (out / "checkpoints" / "last.pt.tmp").exists()

    resumed = run_cli(["train", "--resume", str(out), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, reference)


def test_resume_extends_a_finished_run(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    short = [a if a != "train.epochs=4" else "train.epochs=2" for a in ARGS]
    first = run_cli(["train", *short, "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 2

    more = run_cli(["train", "--resume", str(out), "--set", "train.epochs=4", "--quiet"])
    assert more.exit_code == 0, more.output
    assert_same_run(out, reference)  # epoch 3 started from the model of epoch 2
    assert "epochs: 4" in (out / "config.yaml").read_text()


def test_resume_of_a_finished_run_changes_nothing(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    import shutil

    shutil.copytree(reference, out)
    again = run_cli(["train", "--resume", str(out), "--quiet"])
    assert again.exit_code == 0, again.output
    assert_same_run(out, reference)


# early stopping that fires after epoch 2 of 10: no later epoch beats epoch 1 by 10
EARLY = [*ARGS, "--set", "train.epochs=10", "--set", "train.early_stopping={patience: 1, min_delta: 10}"]


@pytest.mark.parametrize("point", ["checkpoint", "final"])
def test_an_early_stopped_run_stays_stopped_on_resume(point: str, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    assert run_cli(["train", *EARLY, "--out", str(ref)]).exit_code == 0
    assert json.loads((ref / "metrics.json").read_text())["status"] == "early_stopped"
    out = tmp_path / "run"
    assert kill_at(point, 2, out, EARLY).returncode == -9  # the stopping epoch's checkpoint is written
    resumed = run_cli(["train", "--resume", str(out), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, ref)
    stop = json.loads((out / "metrics.json").read_text())["stop_reason"]
    assert stop == json.loads((ref / "metrics.json").read_text())["stop_reason"]


def test_resume_with_a_new_learning_rate_uses_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    short = [a if a != "train.epochs=4" else "train.epochs=1" for a in ARGS]
    assert run_cli(["train", *short, "--out", str(out)]).exit_code == 0
    more = run_cli(["train", "--resume", str(out), "--set", "train.epochs=2", "--set", "optimizer.lr=0.125"])
    assert more.exit_code == 0, more.output
    last = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    # epoch 2 ran at the new rate (the step schedule then decayed it once, by 0.8)
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.125 * 0.8)
    assert len(last["optimizer"]["state"]) > 0  # Adam's moments came back from the checkpoint


def test_a_resume_that_fails_leaves_the_runs_config_as_it_was(cli, tmp_path):
    """A --resume that failed had already rewritten RUN/config.yaml, breaking every later --resume."""
    import treino

    run = tmp_path / "run"
    treino.train(None, {"data.source": "iris", "train.epochs": 1}, out=run, quiet=True)
    before = (run / "config.yaml").read_text()
    result = cli(["train", "--resume", run, "--set", "model.hidden=[8]", "--set", "train.epochs=2", "-q"])
    assert result.exit_code == 2
    assert "the checkpoint does not fit the model" in result.output
    assert (run / "config.yaml").read_text() == before
