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


def test_load_on_cuda_without_a_gpu_names_the_fix(tmp_path):
    # torch's "AssertionError: Torch not compiled with CUDA enabled" came out of model.to()
    import pytest
    import torch

    import treino
    from treino.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: cuda is a valid device here")
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="cuda")
    assert str(info.value) == (
        "treino.load: device 'cuda': no GPU is visible here; use device='cpu' "
        "(or 'auto': the GPU when there is one)"
    )
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="gpu")
    assert str(info.value) == "treino.load: device 'gpu' is not a device; use device='cpu', 'cuda' or 'auto'"
