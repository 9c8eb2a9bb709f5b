"""SIGINT / SIGTERM stop at a step boundary with complete files and exit 130 / 143; a signal
before training leaves nothing behind; a second trainer on a busy folder is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from broken_runs import ARGS, FAULTS, STEPS_PER_EPOCH, assert_same_run, run_cli
from safetensors.torch import load_file

ENV = {**os.environ, "MPLBACKEND": "Agg"}


def fault(
    point: str, n: int, sig: str, out: Path, args: list[str] = ARGS
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(FAULTS), point, str(n), sig, "--", *args, "--out", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


def setting(args: list[str], key: str, value: str) -> list[str]:
    """ARGS with `--set key=value` replaced (or added)."""
    kept = [a for a in args if not a.startswith(f"{key}=")]
    kept = [a for i, a in enumerate(kept) if not (a == "--set" and kept[i + 1 : i + 2] == ["--set"])]
    return [*kept, "--set", f"{key}={value}"]


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def assert_complete(out: Path, epochs: int) -> dict[str, Any]:
    """Every file of a stopped run is there, whole, and agrees on how many epochs ran."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == epochs
    assert len(pd.read_csv(out / "history.csv")) == epochs
    assert len(pd.read_csv(out / "steps.csv")) == epochs * STEPS_PER_EPOCH
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["epoch"] == epochs
    assert load_file(str(out / "model" / "weights.safetensors"))
    assert not list(out.rglob("*.tmp"))
    return metrics


def test_sigint_mid_epoch_keeps_the_last_complete_epoch_and_resumes_exactly(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    assert run_cli(["train", *ARGS, "--out", str(ref)]).exit_code == 0
    out = tmp_path / "run"
    stopped = fault("step", 2 * STEPS_PER_EPOCH + 4, "INT", out)  # Ctrl-C in the middle of epoch 3
    assert stopped.returncode == 130, stopped.stderr
    metrics = assert_complete(out, 2)
    assert metrics["status"] == "interrupted"
    assert metrics["signal"] == "SIGINT"
    assert metrics["stop_reason"] == (
        f"interrupted by SIGINT after epoch 2; continue with: treino train --resume {out}"
    )
    # the partial epoch 3 is dropped: the saved model is the one of epoch 2 (restore_best is off)
    weights = load_file(str(out / "model" / "weights.safetensors"))
    last = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(weights[k], v) for k, v in last.items())

    resumed = run_cli(["train", "--resume", str(out), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(out, ref)


def test_signal_in_the_first_epoch_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    stopped = fault("step", 2, "INT", out)
    assert stopped.returncode == 130
    assert last_line(stopped.stderr) == (
        "error: interrupted by SIGINT before the first epoch ended; nothing was saved"
    )
    assert not out.exists()


def test_sigterm_while_loading_data_leaves_no_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    stopped = fault("data", 0, "TERM", out)
    assert stopped.returncode == 143
    assert last_line(stopped.stderr) == "error: interrupted by SIGTERM before training started"
    assert "Traceback" not in stopped.stderr
    assert not out.exists()


def test_second_trainer_is_refused_and_sigterm_stops_the_first(tmp_path: Path) -> None:
    out = tmp_path / "run"
    forever = setting(setting(ARGS, "train.epochs", "100000"), "train.early_stopping", "null")
    first = subprocess.Popen(
        [sys.executable, "-m", "treino", "train", *forever, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoints" / "last.pt").exists():
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the first run never wrote a checkpoint"
            time.sleep(0.2)
        pid = first.pid
        busy = f"another treino process (pid {pid}) is training into this run folder; wait for it to end or choose another --out"
        second = run_cli(["train", *ARGS, "--out", str(out)])
        assert second.exit_code == 2
        assert last_line(second.output) == f"error: --out {out}: {busy}"
        third = run_cli(["train", "--resume", str(out)])
        assert third.exit_code == 2
        assert last_line(third.output) == f"error: --resume {out}: {busy}"

        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 143, stderr
    assert "Traceback" not in stderr
    epochs = json.loads((out / "metrics.json").read_text())["epochs_run"]
    metrics = assert_complete(out, epochs)
    assert (metrics["status"], metrics["signal"]) == ("interrupted", "SIGTERM")

    # the lock died with the process: the run continues, one more epoch
    more = run_cli(["train", "--resume", str(out), "--set", f"train.epochs={epochs + 1}", "--quiet"])
    assert more.exit_code == 0, more.output
    metrics = assert_complete(out, epochs + 1)
    assert metrics["status"] == "completed"
    assert "signal" not in metrics


@pytest.mark.parametrize("restore_best", ["true", "false"])
def test_divergence_exits_3_and_keeps_the_last_good_epoch(restore_best: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = setting(ARGS, "train.restore_best", restore_best)
    diverged = fault("poison", 3, "KILL", out, args)  # a weight becomes inf as epoch 3 starts
    assert diverged.returncode == 3, diverged.stderr
    step = 2 * STEPS_PER_EPOCH + 1
    assert last_line(diverged.stderr) == (
        f"error: training diverged: the loss became nan at epoch 3, step {step}; lower optimizer.lr "
        f"(or check the inputs are scaled); the run folder is {out}"
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert metrics["epochs_run"] == 3  # the non-finite epoch is in the history, for the record
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 2
    weights = load_file(str(out / "model" / "weights.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())
    assert all(map(lambda v: v == v, metrics["test"].values()))  # scores of a finite model


def test_divergence_in_the_first_epoch_saves_no_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--data", "diabetes", "--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e12"]
    args += ["--set", "train.epochs=2", "--set", "log.plots=false", "--set", "log.progress=false", "-q"]
    result = run_cli(["train", *args, "--out", str(out)])
    assert result.exit_code == 3, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert metrics["stop_reason"].startswith("the loss became ")
    assert " at epoch 1, step " in metrics["stop_reason"]
    assert last_line(result.output) == (
        f"error: training diverged: {metrics['stop_reason']}; lower optimizer.lr "
        f"(or check the inputs are scaled); the run folder is {out}"
    )
    assert not (out / "model" / "weights.safetensors").exists()
    assert not (out / "checkpoints" / "last.pt").exists()


def test_divergence_ends_a_long_epoch_within_32_steps(tmp_path: Path) -> None:
    import treino
    from treino.engine.callbacks import Callback
    from treino.engine.loop import DIVERGENCE_EVERY

    class Poison(Callback):  # a weight becomes inf as epoch 2 starts
        def on_epoch_start(self, state: Any) -> None:
            if state.epoch == 1:
                with torch.no_grad():
                    next(state.model.parameters()).view(-1)[0] = float("inf")

    overrides = {"data.source": "iris", "model.kind": "mlp", "train.batch_size": 1, "train.epochs": 3}
    overrides |= {"log.plots": False, "log.progress": False}
    run = treino.train(None, overrides, out=tmp_path / "run", quiet=True, callbacks=[Poison()])
    rows = run.metrics["data"]["sizes"]["train"]  # one step per row in epoch 1
    assert run.status == "diverged"
    assert run.metrics["stop_reason"] == f"the loss became nan at epoch 2, step {rows + 1}"
    steps = pd.read_csv(tmp_path / "run" / "steps.csv")
    assert len(steps) == rows + DIVERGENCE_EVERY  # epoch 2 ended at the first look, not after `rows` steps


def test_signal_guard_stops_gracefully_once_then_aborts() -> None:
    from treino.run.signals import Interrupted, SignalGuard

    previous = signal.getsignal(signal.SIGTERM)
    with SignalGuard() as guard:
        with pytest.raises(Interrupted) as before:  # before training: nothing to save, abort
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert before.value.exit_code == 143
        assert before.value.message == "interrupted by SIGTERM before training started"

        guard.started = True
        os.kill(os.getpid(), signal.SIGINT)  # training: only a flag, the loop stops by itself
        time.sleep(0.1)
        assert (guard.received, guard.name) == (signal.SIGINT, "SIGINT")
        with pytest.raises(Interrupted) as second:  # impatience: a second signal aborts at once
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert (second.value.exit_code, second.value.message) == (130, "interrupted by a second SIGINT")
    assert signal.getsignal(signal.SIGTERM) == previous  # the handlers are given back
