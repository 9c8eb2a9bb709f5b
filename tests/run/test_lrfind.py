"""treino lr-find: the exponential sweep, its plot, and a config with the suggested rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from treino import config as C


def test_lr_find_writes_a_runnable_config_with_the_suggestion(tmp_path: Path, cli) -> None:
    out = tmp_path / "sweep"
    result = cli(["lr-find", "--data", "iris", "--iterations", "80", "--out", out])
    assert result.exit_code == 0, result.output
    assert f"train with: treino train {out / 'config.yaml'}" in result.output
    sweep = pd.read_csv(out / "lr_find.csv")
    assert list(sweep.columns) == ["iteration", "lr", "loss", "smoothed"]
    assert 20 <= len(sweep) <= 80 and np.all(np.diff(sweep["lr"]) > 0)
    assert sweep["lr"].iloc[0] == 1e-7
    cfg = C.load(out / "config.yaml")
    best = sweep.loc[sweep["smoothed"].idxmin(), "lr"]
    assert cfg.optimizer.lr == float(f"{best / 10:.2g}")
    # Adam on standardized iris learns between these rates; far outside them it does not
    assert 1e-4 < cfg.optimizer.lr < 1.0
    assert cfg.data.source == "iris"
    assert (out / "lr_find.png").stat().st_size > 1000


def test_lr_find_refuses_a_sweep_too_short(cli) -> None:
    result = cli(["lr-find", "--iterations", "5"])
    assert result.exit_code == 2
    assert "error: --iterations 5: too few for a sweep; use at least 20 (default 200)" in result.output


def test_lr_find_never_overwrites_a_training_run(tmp_path: Path, cli) -> None:
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    result = cli(["lr-find", "--data", "iris", "--out", tmp_path / "run"])
    assert result.exit_code == 2
    assert (
        f"error: --out {tmp_path / 'run'}: holds a training run (its config.yaml would be replaced); "
        "give a new folder" in result.output
    )


def test_lr_find_keeps_a_users_own_config_yaml(cli, tmp_path):
    """`treino lr-find --out .` replaced the user's config.yaml with the sweep's."""
    (tmp_path / "config.yaml").write_text("data: {source: iris}\n")
    result = cli(["lr-find", "--data", "iris", "--out", tmp_path, "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --out {tmp_path}: holds a config.yaml that is not from a sweep (it would be replaced); "
        f"give a new folder"
    )
    assert (tmp_path / "config.yaml").read_text() == "data: {source: iris}\n"


def test_lr_find_with_batch_norm_and_batches_of_one_row_is_one_line(cli, tmp_path):
    """lr-find with batch norm and 1-row batches crashed in torch's batch_norm with a traceback."""
    result = cli(["lr-find", "--data", "iris", "--set", "model.batch_norm=true", "--set", "train.batch_size=1",
                  "--iterations", "20", "--out", tmp_path / "f", "-q"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: train.batch_size 1 with batch normalization: it needs at least 2 rows per batch; "
        "set train.batch_size to 2 or more, or model.batch_norm: false"
    )


def test_a_refused_lr_find_leaves_no_folder_behind(cli, tmp_path):
    """A refused lr-find left behind the empty folder it made before checking data and model."""
    out = tmp_path / "sweep"
    result = cli(["lr-find", "--data", "iris", "--set", "model.kind=mlpp", "--out", out, "-q"])
    assert result.exit_code == 2
    assert not out.exists()
