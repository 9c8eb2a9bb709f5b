"""QA: an early-stopping monitor the task never measures used to switch early stopping and
restore_best off without a word (best_epoch null)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("data", "monitor", "measured"),
    [
        ("diabetes", "val_accuracy", "loss, mae, mse, rmse, r2"),
        ("iris", "val_auc", "loss, accuracy, f1_macro, precision_macro, recall_macro"),
    ],
)
def test_a_monitor_the_task_does_not_measure_is_refused(cli, tmp_path, data, monitor, measured):
    result = cli(["train", "--data", data, "--set", f"train.early_stopping.monitor={monitor}",
                  "--set", "train.epochs=1", "--out", tmp_path / "r", "-q"])  # fmt: skip
    assert result.exit_code == 2
    task = "regression" if data == "diabetes" else "multiclass"
    assert result.output.strip().splitlines()[-1] == (
        f"error: train.early_stopping.monitor: '{monitor}' is not measured on a {task} task, so early "
        f"stopping and restore_best would never act; use val_<metric> with one of: {measured}"
    )


def test_tune_metric_without_val_prefix_suggests_the_val_name(cli, tmp_path):
    # it said "--metric accuracy: not a validation metric (did you mean 'accuracy'?)"
    config = tmp_path / "t.yaml"
    config.write_text("data: {source: iris}\ntune:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n")
    result = cli(["tune", config, "--trials", "1", "--metric", "accuracy", "--out", tmp_path / "t", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: --metric accuracy: not a validation metric (did you mean 'val_accuracy'?); use "
        "val_<metric> with one of: accuracy, auc, f1_macro, loss, mae, mse, precision_macro, r2, "
        "recall_macro, rmse"
    )
