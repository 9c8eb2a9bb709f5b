"""A linear regression's equation in the data's units: the arithmetic, and a real run whose
equation reproduces its own predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import treino
from treino.report.equation import linear_equation, loss_label

SCALED_X = {"columns": [{"name": "x", "role": "numeric", "shift": 5.0, "scale": 2.0}]}


def test_input_and_target_scaling_are_undone() -> None:
    # z = 0.9 * (x - 5) / 2 + 0.1 on a target standardized with mean 16, std 6
    found = linear_equation(
        np.array([[0.9]]),
        np.array([0.1]),
        SCALED_X | {"target": {"mean": [16.0], "std": [6.0]}},
        ["x"],
        ["y"],
    )
    assert found == {"text": "y = 2.7·x + 3.1", "coefficients": {"x": 2.7}, "intercept": 3.1}


def test_several_features_and_targets_each_get_their_coefficients() -> None:
    prep = {"columns": [{"name": "x", "role": "numeric", "shift": 0.0, "scale": 1.0},
                        {"name": "city", "role": "categorical"}]}  # fmt: skip
    found = linear_equation(np.array([[2.0, -1.0], [0.5, 0.25]]), np.array([1.0, -2.0]), prep,
                            ["x", "city=Porto"], ["price", "rent"])  # fmt: skip
    assert found["text"] == "price = 2·x - 1·[city=Porto] + 1; rent = 0.5·x + 0.25·[city=Porto] - 2"
    assert [t["coefficients"] for t in found["targets"]] == [
        {"x": 2.0, "city=Porto": -1.0},
        {"x": 0.5, "city=Porto": 0.25},
    ]


def test_inputs_that_are_not_columns_get_no_equation() -> None:
    assert linear_equation(np.ones((1, 3)), np.zeros(1), {"kind": "image"}, ["a", "b", "c"], ["y"]) is None
    assert linear_equation(np.ones((1, 2)), np.zeros(1), SCALED_X, ["x"], ["y"]) is None  # shapes disagree


def test_the_loss_label_names_a_standardized_target() -> None:
    assert loss_label("regression", {"target": {"mean": [1.0], "std": [2.0]}}) == "loss (standardized y)"
    assert loss_label("regression", {}) == "loss" and loss_label("binary", {"target": {}}) == "loss"


def test_a_linear_regression_run_reports_its_line_in_data_units(tmp_path) -> None:
    """Issue 16: the course's final project fits a line, and its slope and intercept appeared nowhere."""
    overrides = [
        "data.source=houses",
        "model.kind=linear",
        "optimizer.lr=0.05",
        "train.epochs=40",
        "log.progress=false",
    ]
    run = treino.train(None, overrides, out=tmp_path / "r", quiet=True)
    metrics = json.loads((run.dir / "metrics.json").read_text())
    eq = metrics["equation"]
    assert eq["text"].startswith("price = ") and "·rooms" in eq["text"]
    assert 2.6 < eq["coefficients"]["rooms"] < 3.4 and 0.5 < eq["intercept"] < 4.0  # houses: 3 per room + 2
    pred = pd.read_csv(run.dir / "predictions.csv")  # x and y_pred in the data's units
    line = eq["coefficients"]["rooms"] * pred["x"] + eq["intercept"]
    np.testing.assert_allclose(pred["y_pred"], line, rtol=1e-4, atol=1e-3)
    assert metrics["loss_label"] == "loss (standardized y)"
    page = (run.dir / "report.html").read_text()
    assert eq["text"] in page and "loss (standardized y)" in page
