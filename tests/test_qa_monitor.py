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
