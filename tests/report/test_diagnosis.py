"""Diagnosis: staged runs, each a known way to train badly, must be named; healthy runs must
not raise an alarm. The thresholds in treino/diagnosis.py were tuned on exactly these runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_moons
from torch import nn

import treino
from treino.report.diagnosis import describe, diagnose


def moons(n: int, seed: int, noise: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = make_moons(n, noise=noise, random_state=seed)
    x = (x - x.mean(0)) / x.std(0)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def line(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return x, 3 * x + 0.5 + 0.3 * torch.randn(n, 1, generator=g)


def square(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    return x, x**2 + 0.1 * torch.randn(n, 1, generator=g)


def xor(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g) * 2 - 1
    return x, (x[:, 0] * x[:, 1] > 0).float()


def mlp(d_in: int, hidden: list[int], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU()]
        d_in = h
    return nn.Sequential(*layers, nn.Linear(d_in, 1))


def linear(d_in: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(d_in, 1)


# name: (model, data, fit arguments, the code the diagnosis must name)
STAGED = {
    "lr far too high (NaN)": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="sgd", lr=200.0, epochs=5),
        "diverged",
    ),
    "lr far too high (explodes, then flat)": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="adam", lr=10.0, epochs=10),
        "diverged",
    ),
    "lr far too high on a line": (
        lambda: linear(1, 0),
        line,
        dict(loss="mse", optimizer="sgd", lr=3.0, epochs=5, batch_size=16),
        "diverged",
    ),
    "lr far too low (sgd)": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="sgd", lr=1e-5, epochs=10),
        "plateau_early",
    ),
    "lr far too low (adam)": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="adam", lr=1e-6, epochs=10),
        "plateau_early",
    ),
    "stopped too soon": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="adam", lr=1e-3, epochs=8),
        "not_converged",
    ),
    "a line for a parabola": (
        lambda: linear(1, 0),
        square,
        dict(loss="mse", optimizer="adam", lr=3e-2, epochs=30),
        "underfitting",
    ),
    "one example per step": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="sgd", lr=0.5, epochs=4, batch_size=1),
        "noisy",
    ),
}
HEALTHY = {
    "mlp on moons, mini-batch": (
        lambda: mlp(2, [32], 0),
        moons,
        dict(loss="bce", optimizer="adam", lr=1e-2, epochs=40),
    ),
    "a line, sgd": (
        lambda: linear(1, 0),
        line,
        dict(loss="mse", optimizer="sgd", lr=0.1, epochs=30, batch_size=16),
    ),
    "mlp on moons, full batch": (
        lambda: mlp(2, [16], 0),
        moons,
        dict(loss="bce", optimizer="adam", lr=5e-2, epochs=200, batch_size="full"),
    ),
}


def _staged(build, data, args) -> list[dict]:
    train, val = data(300, 0), data(150, 1)
    kwargs = {"batch_size": 32, **args}
    history = treino.fit(build(), train, val, device="cpu", **kwargs)
    return diagnose(history.frame(), history.steps_frame(), history.status)


@pytest.mark.parametrize("name", list(STAGED))
def test_staged_failure_is_named(name: str) -> None:
    build, data, args, code = STAGED[name]
    findings = _staged(build, data, args)
    assert code in [f["code"] for f in findings], findings
    assert "healthy" not in [f["code"] for f in findings]


@pytest.mark.parametrize("name", list(HEALTHY))
def test_healthy_run_raises_no_alarm(name: str) -> None:
    build, data, args = HEALTHY[name]
    assert [f["code"] for f in _staged(build, data, args)] == ["healthy"]


def test_a_line_for_xor_is_named_stuck_with_both_causes() -> None:
    """A line cannot split XOR: its loss sits at the floor (ln 2) whatever the rate, which from
    the curve alone looks like a rate far too low. Whichever is named, the advice covers both."""
    for seed in (0, 1):
        findings = _staged(lambda s=seed: linear(2, s), lambda n, s, k=seed: xor(n, s + 10 * k),
                           dict(loss="bce", optimizer="adam", lr=1e-2, epochs=30))  # fmt: skip
        (found,) = findings
        assert found["code"] in ("underfitting", "plateau_early"), findings
        assert "model is too simple" in found["message"] or "bigger model" in found["message"]


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


def _history(train: list[float], val: list[float] | None = None, **metrics: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({"epoch": np.arange(1, len(train) + 1), "train_loss": train})
    if val is not None:
        frame["val_loss"] = val
    for name, values in metrics.items():
        frame[name] = values
    return frame


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


def test_a_flat_noisy_validation_curve_is_not_overfitting() -> None:
    train = [1.0, 0.5, 0.3, 0.25, 0.24, 0.235, 0.232, 0.231, 0.230, 0.229]
    val = [1.0, 0.5, 0.31, 0.30, 0.305, 0.302, 0.306, 0.303, 0.307, 0.304]  # +1%: noise
    assert [f["code"] for f in diagnose(_history(train, val))] == ["healthy"]


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


def test_two_epochs_still_falling_are_not_converged() -> None:
    (found,) = diagnose(_history([1.0, 0.5], [0.9, 0.45]))
    assert found["code"] == "not_converged"
    assert found["message"].startswith(
        "the validation loss was still falling at the end (0.9 -> 0.45 in the last 1 epochs)"
    )


def test_one_epoch_is_judged_by_its_iterations() -> None:
    steps = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": np.linspace(2.0, 0.5, 100)})
    (found,) = diagnose(_history([1.2], [0.6]), steps)
    assert found["code"] == "not_converged" and "iterations" in found["message"]


def test_no_history_no_diagnosis() -> None:
    assert diagnose(pd.DataFrame()) == []


def test_a_one_epoch_run_is_too_short_to_judge_not_a_plateau(cli, tmp_path):
    """Every 1-epoch run was diagnosed plateau_early: its one mean loss lies halfway down the curve."""
    import json

    import numpy as np
    import pandas as pd

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


def test_one_epoch_of_many_iterations_is_judged_on_them():
    """One long epoch is judged on its iterations: a flat one is a plateau, a levelled one too short."""
    import numpy as np
    import pandas as pd

    from treino.report.diagnosis import diagnose

    history = pd.DataFrame({"epoch": [1], "train_loss": [0.69], "val_loss": [0.69]})
    flat = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": np.full(100, 0.69)})
    assert [f["code"] for f in diagnose(history, flat)] == ["plateau_early"]
    # it fell and levelled off within the epoch: fine so far, but one epoch shows no more
    level = pd.DataFrame({"step": range(1, 101), "epoch": 1, "loss": 0.3 + 0.7 * np.exp(-np.arange(100) / 5)})
    history = pd.DataFrame({"epoch": [1], "train_loss": [0.4], "val_loss": [0.35]})
    assert [f["code"] for f in diagnose(history, level)] == ["too_few_epochs"]
