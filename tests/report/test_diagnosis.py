"""Diagnosis rules on hand-made curves: each rule, its message and its epoch, at any loss
scale. The staged benchmark (real tiny runs, test_staged_diagnosis.py) checks them on training."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from treino.report.diagnosis import describe, diagnose

ROTTEN_TRAIN = [0.61, 0.41, 0.31, 0.26, 0.22]  # the rotten-tomatoes run, 5 epochs
ROTTEN_VAL = [0.528, 0.486, 0.510, 0.546, 0.591]


def _history(train: list[float], val: list[float] | None = None, **columns: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({"epoch": np.arange(1, len(train) + 1), "train_loss": train})
    if val is not None:
        frame["val_loss"] = val
    for name, values in columns.items():
        frame[name] = values
    return frame


def _codes(found: list[dict]) -> list[str]:
    return [f["code"] for f in found]


def test_nan_names_the_epoch_it_happened() -> None:
    history = _history([1.0, 0.8, float("nan")], [1.0, 0.9, float("nan")])
    (found,) = diagnose(history, status="diverged")
    assert found["code"] == "diverged" and found["epoch"] == 3
    assert "Lower optimizer.lr" in found["message"]


def test_overfitting_names_the_epoch_after_the_best() -> None:
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05]
    val = [1.0, 0.7, 0.5, 0.45, 0.5, 0.6, 0.7, 0.8]
    codes = {f["code"]: f for f in diagnose(_history(train, val))}
    assert codes["overfitting"]["epoch"] == 5
    assert "early_stopping" in codes["overfitting"]["message"]


def test_a_short_run_whose_validation_loss_turns_up_is_overfitting() -> None:
    """Issue 16: 5 epochs of rotten-tomatoes (val 0.486 -> 0.510 -> 0.546 -> 0.591 while the
    training loss fell) was called healthy, 'no sign of overfitting'."""
    (found,) = diagnose(_history(ROTTEN_TRAIN, ROTTEN_VAL))
    assert found["code"] == "overfitting" and found["epoch"] == 3
    assert found["message"].startswith(
        "the validation loss rose from 0.486 (epoch 2, its best) to 0.591 (epoch 5) while the "
        "training loss fell from 0.41 to 0.22: overfitting began after epoch 2; "
    )


def test_an_early_stopped_run_says_why_it_stopped_and_which_weights_it_kept() -> None:
    (found,) = diagnose(_history(ROTTEN_TRAIN, ROTTEN_VAL), status="early_stopped", best_epoch=2)
    assert found["code"] == "overfitting"
    assert (
        "Early stopping ended the run at epoch 5 and the model keeps the weights of epoch 2."
        in found["message"]
    )


def test_a_flat_noisy_validation_curve_is_not_overfitting() -> None:
    train = [1.0, 0.5, 0.3, 0.25, 0.24, 0.235, 0.232, 0.231, 0.230, 0.229]
    val = [1.0, 0.5, 0.31, 0.30, 0.305, 0.302, 0.306, 0.303, 0.307, 0.304]  # +1%: noise
    assert _codes(diagnose(_history(train, val))) == ["healthy"]


@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e4])
def test_still_falling_is_caught_at_any_loss_level(scale: float) -> None:
    """Issue 16: a line whose validation loss still halves over the last fifth, best epoch the
    last, was 'healthy' (the rule compared drops on a linear scale)."""
    epochs = np.arange(80)
    val = scale * (1.3 * np.exp(-epochs / 25) + 0.01)
    (found,) = diagnose(_history(list(val * 1.02), list(val)))
    assert found["code"] == "not_converged"
    assert "per epoch over the last 16 epochs" in found["message"]
    assert "best at epoch 80 of 80: train longer, e.g. --set train.epochs=160" in found["message"]


def test_a_curve_levelled_within_its_noise_is_healthy() -> None:
    rng = np.random.default_rng(0)
    val = 0.2 + 0.8 * np.exp(-np.arange(40) / 4) + rng.normal(0, 0.004, 40)
    (found,) = diagnose(_history(list(val + 0.01), list(val)))
    assert found["code"] == "healthy"
    assert found["message"].startswith("the validation loss fell from")
    assert "levelled off (over the last 8 epochs it moved" in found["message"]


def test_two_epochs_still_falling_are_not_converged() -> None:
    (found,) = diagnose(_history([1.0, 0.5], [0.9, 0.45]))
    assert found["code"] == "not_converged"
    assert found["message"] == (
        "the validation loss still fell 50% per epoch over the last 2 epochs (0.9 -> 0.45); best at "
        "epoch 2 of 2: train longer, e.g. --set train.epochs=4, or raise optimizer.lr."
    )


def test_probe_columns_name_their_failures() -> None:
    """Each probe column over its threshold gives its finding, with the fix to try."""
    base = [1.0, 0.7, 0.6, 0.55, 0.52, 0.5]
    n = len(base)
    cases = {
        "dead_units": dict(dead_relu=[0.1, 0.3, 0.6, 0.8, 0.9, 0.9]),
        "saturated": dict(saturated=[0.9] * n),
        "vanishing_gradients": dict(grad_norm_first=[1e-7] * n, grad_norm_last=[0.5] * n),
        "exploding_gradients": dict(grad_norm=[1.0, 10.0, 1e3, 1e4, 1e4, 1e4]),
    }
    for code, columns in cases.items():
        found = diagnose(_history(base, base, **columns))
        assert found[0]["code"] == code, found
    dead = diagnose(_history(base, base, dead_relu=[0.1, 0.3, 0.6, 0.8, 0.9, 0.9]))[0]
    assert (
        dead["epoch"] == 3 and "90% of the ReLU units" in dead["message"] and "leaky_relu" in dead["message"]
    )


def test_weights_that_barely_move_mean_a_rate_too_low() -> None:
    flat = [0.693, 0.6929, 0.6928, 0.6927, 0.6926, 0.6925]
    (found,) = diagnose(_history(flat, flat, update_ratio=[1e-5] * 6))
    assert found["code"] == "lr_too_low" and "Raise optimizer.lr" in found["message"]
    (found,) = diagnose(_history(flat, flat, update_ratio=[0.1] * 6))  # they move: a plateau
    assert found["code"] == "plateau_early"


def test_a_bouncing_training_loss_means_a_rate_too_high() -> None:
    train = [1.0, 0.5, 0.8, 0.4, 0.7, 0.35, 0.6, 0.4]
    found = diagnose(_history(train, train, update_ratio=[0.3] * 8))
    assert found[0]["code"] == "lr_too_high" and found[0]["epoch"] == 3
    assert "Lower optimizer.lr" in found[0]["message"]


def test_a_history_without_probe_columns_gets_curve_findings_only() -> None:
    assert _codes(diagnose(_history(ROTTEN_TRAIN, ROTTEN_VAL))) == ["overfitting"]


def test_describe_prints_one_line_per_finding() -> None:
    out = io.StringIO()
    describe(
        [
            {"code": "overfitting", "message": "m.", "epoch": 4},
            {"code": "noisy", "message": "n.", "epoch": None},
        ],
        out,
    )
    assert out.getvalue() == "diagnosis: overfitting (epoch 4): m.\ndiagnosis: noisy: n.\n"


def test_one_epoch_is_judged_by_its_iterations() -> None:
    steps = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": np.linspace(2.0, 0.5, 100)})
    (found,) = diagnose(_history([1.2], [0.6]), steps)
    assert found["code"] == "not_converged" and "iterations" in found["message"]


def test_no_history_no_diagnosis() -> None:
    assert diagnose(pd.DataFrame()) == []


def test_one_epoch_of_many_iterations_is_judged_on_them() -> None:
    """One long epoch is judged on its iterations: a flat one is a plateau, a levelled one too short."""
    history = pd.DataFrame({"epoch": [1], "train_loss": [0.69], "val_loss": [0.69]})
    flat = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": np.full(100, 0.69)})
    assert _codes(diagnose(history, flat)) == ["plateau_early"]
    # it fell and levelled off within the epoch: fine so far, but one epoch shows no more
    level = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": 0.3 + 0.7 * np.exp(-np.arange(100) / 5)})
    history = pd.DataFrame({"epoch": [1], "train_loss": [0.4], "val_loss": [0.35]})
    assert _codes(diagnose(history, level)) == ["too_few_epochs"]


def test_big_mlp_on_tiny_data_without_early_stopping_overfits(tmp_path: Path, cli) -> None:
    """The staged run through the CLI: the finding is printed, recorded and dated."""
    result = cli([
        "train", "--data", "diabetes", "--out", tmp_path / "run",
        "--set", "model.hidden=[256,256]", "--set", "train.epochs=30", "--set", "train.batch_size=16",
        "--set", "train.early_stopping=null", "--set", "optimizer.lr=0.01",
        "--set", "log.progress=false", "--set", "log.plots=false",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    (found,) = [f for f in metrics["diagnosis"] if f["code"] == "overfitting"]
    assert found["epoch"] == int(history["val_loss"].idxmin()) + 2  # the epoch after the best
    assert f"diagnosis: overfitting (epoch {found['epoch']}): the validation loss rose" in result.output
    assert {"grad_norm", "grad_norm_first", "grad_norm_last", "update_ratio", "dead_relu"} <= set(
        history.columns
    )


def test_a_one_epoch_run_is_too_short_to_judge_not_a_plateau(cli, tmp_path):
    """Every 1-epoch run was diagnosed plateau_early: its one mean loss lies halfway down the curve."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    path = tmp_path / "plain.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)}).to_csv(path, index=False)
    out = tmp_path / "r"
    args = ["--set", "train.epochs=1", "--set", "train.batch_size=16", "--set", "log.plots=false"]
    result = cli(["train", "--data", path, "--target", "y", *args, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    (found,) = json.loads((out / "metrics.json").read_text())["diagnosis"]
    assert found["code"] == "too_few_epochs"
    assert found["message"] == (
        "one epoch (3 iterations) is too few to judge the training curve (plateau, overfitting, "
        "convergence): train more epochs (e.g. train.epochs: 10) for a diagnosis."
    )
