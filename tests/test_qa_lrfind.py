"""QA: lr-find writes config.yaml into --out; it must never replace a file of the user's."""

from __future__ import annotations


def test_lr_find_keeps_a_users_own_config_yaml(cli, tmp_path):
    # `treino lr-find config.yaml --out .` replaced the user's config.yaml with the sweep's
    (tmp_path / "config.yaml").write_text("data: {source: iris}\n")
    result = cli(["lr-find", "--data", "iris", "--out", tmp_path, "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --out {tmp_path}: holds a config.yaml that is not from a sweep (it would be replaced); "
        f"give a new folder"
    )
    assert (tmp_path / "config.yaml").read_text() == "data: {source: iris}\n"


def test_lr_find_with_batch_norm_and_batches_of_one_row_is_one_line(cli, tmp_path):
    # treino train refused it; lr-find crashed in torch's batch_norm with a traceback
    result = cli(["lr-find", "--data", "iris", "--set", "model.batch_norm=true", "--set", "train.batch_size=1",
                  "--iterations", "20", "--out", tmp_path / "f", "-q"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: train.batch_size 1 with batch normalization: it needs at least 2 rows per batch; "
        "set train.batch_size to 2 or more, or model.batch_norm: false"
    )


def test_a_refused_lr_find_leaves_no_folder_behind(cli, tmp_path):
    # the sweep's folder was made before the data and the model were checked: an empty folder stayed
    out = tmp_path / "sweep"
    result = cli(["lr-find", "--data", "iris", "--set", "model.kind=mlpp", "--out", out, "-q"])
    assert result.exit_code == 2
    assert not out.exists()
