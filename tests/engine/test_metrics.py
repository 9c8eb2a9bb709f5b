"""Metrics match scikit-learn and declare their direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from treino.engine import metrics as M
from treino.errors import ConfigError


def test_multiclass_metrics_match_sklearn():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 4, generator=g)
    y = torch.randint(0, 4, (300,), generator=g)
    pred = logits.argmax(1).numpy()
    got = M.compute(logits, y, "multiclass")
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro"))


def test_binary_metrics_match_sklearn():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(200, 1, generator=g)
    y = (torch.rand(200, generator=g) > 0.4).float().reshape(-1, 1)
    pred = (logits.reshape(-1) > 0).long().numpy()
    got = M.compute(logits, y, "binary")
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y.reshape(-1), pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y.reshape(-1), pred, average="macro"))
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y.reshape(-1), torch.sigmoid(logits).reshape(-1)))


def test_regression_metrics_match_sklearn():
    g = torch.Generator().manual_seed(2)
    y = torch.randn(100, 2, generator=g)
    out = y + 0.3 * torch.randn(100, 2, generator=g)
    got = M.compute(out, y, "regression")
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, out))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, out))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, out)))
    assert got["r2"] == pytest.approx(skm.r2_score(y, out))


def test_metric_directions_are_declared():
    assert M.higher_is_better("val_accuracy") is True
    assert M.higher_is_better("val_loss") is False
    assert M.higher_is_better("train_rmse") is False
    assert M.higher_is_better("val_r2") is True


def test_unknown_monitor_names_the_closest():
    with pytest.raises(ConfigError) as err:
        M.higher_is_better("val_acuracy")
    assert str(err.value) == (
        "train.early_stopping.monitor: unknown metric 'val_acuracy' (did you mean 'val_accuracy'?); use "
        "val_<metric> with one of: accuracy, auc, f1_macro, loss, mae, mse, precision_macro, r2, "
        "recall_macro, rmse"
    )


@pytest.mark.parametrize(
    ("data", "monitor", "measured"),
    [
        ("diabetes", "val_accuracy", "loss, mae, mse, rmse, r2"),
        ("iris", "val_auc", "loss, accuracy, f1_macro, precision_macro, recall_macro"),
    ],
)
def test_a_monitor_the_task_does_not_measure_is_refused(cli, tmp_path, data, monitor, measured):
    """A monitor the task never measures switched early stopping and restore_best off silently."""
    result = cli(["train", "--data", data, "--set", f"train.early_stopping.monitor={monitor}",
                  "--set", "train.epochs=1", "--out", tmp_path / "r", "-q"])  # fmt: skip
    assert result.exit_code == 2
    task = "regression" if data == "diabetes" else "multiclass"
    assert result.output.strip().splitlines()[-1] == (
        f"error: train.early_stopping.monitor: '{monitor}' is not measured on a {task} task, so early "
        f"stopping and restore_best would never act; use val_<metric> with one of: {measured}"
    )


def test_a_monitor_typo_is_matched_against_the_tasks_metrics(cli, tmp_path):
    """val_acc on a multiclass run suggested 'auc', a metric only binary runs have."""
    args = ["--set", "train.epochs=1", "--set", "train.early_stopping.monitor=val_acc"]
    result = cli(["train", "--data", "iris", *args, "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: train.early_stopping.monitor: unknown metric 'val_acc' (did you mean 'val_accuracy'?); "
        "use val_<metric> with one of: loss, accuracy, f1_macro, precision_macro, recall_macro"
    )
