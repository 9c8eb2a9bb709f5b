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
