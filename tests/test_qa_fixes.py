"""QA: misuse bugs found by the QA pass, each reproduced, then fixed."""

from __future__ import annotations

import subprocess
import sys


def _treino(*args: object) -> subprocess.CompletedProcess:
    """The real CLI in its own process: optuna's logging writes to the process's stderr."""
    return subprocess.run(
        [sys.executable, "-m", "treino", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_tune_with_a_metric_the_task_lacks_prints_the_error_alone(tmp_path):
    # optuna logged the failed trial with its traceback before treino's one-line error
    config = tmp_path / "tune.yaml"
    config.write_text(
        "data: {source: iris}\ntrain: {epochs: 1}\ntune:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n"
    )
    result = _treino("tune", config, "--trials", 1, "--metric", "val_r2", "--out", tmp_path / "t", "-q")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --metric val_r2: not measured for this multiclass task; use one of: val_loss, "
        "val_accuracy, val_f1_macro, val_precision_macro, val_recall_macro"
    )
