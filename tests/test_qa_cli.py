"""QA: the command line taken at its word (column names and paths are not YAML)."""

from __future__ import annotations

import pytest
import yaml


@pytest.mark.parametrize("name", ["yes", "no", "2020", "null", "on", "1.5"])
def test_target_flag_is_a_column_name_not_yaml(cli, name):
    # `--target yes` used to become True and `--target 2020` the integer 2020: a config error
    result = cli(["train", "--data", "iris", "--target", name, "--print-config"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["data"]["target"] == name


def test_data_flag_is_a_path_not_yaml(cli):
    result = cli(["train", "--data", "2024", "--print-config"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["data"]["source"] == "2024"


def test_lr_find_target_flag_is_a_column_name(cli, tmp_path):
    result = cli(["lr-find", "--data", "iris", "--target", "yes", "--out", tmp_path / "f", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: iris: no target column 'yes'; columns: sepal length (cm), sepal width (cm), "
        "petal length (cm), petal width (cm), target"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("iris", "iris: config file not found; check the path (to train on data, use --data iris)"),
        (
            "{t}/houses.csv",
            "{t}/houses.csv: is a data file, not a YAML config; train on it with --data {t}/houses.csv",
        ),
        ("{t}", "{t}: is a folder, not a YAML config file (to train on its data, use --data {t})"),
    ],
)
def test_data_given_where_the_config_goes_points_to_data(cli, tmp_path, given, message):
    # `treino train iris` (the --data forgotten) said only "config file not found; check the path"
    (tmp_path / "houses.csv").write_text("rooms,price\n1,2\n")
    result = cli(["train", given.format(t=tmp_path), "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {message.format(t=tmp_path)}"


def test_one_override_given_as_a_string_is_one_override():
    # treino.train(cfg, "train.epochs=1") read the string letter by letter: "--set t: expected KEY=VALUE"
    from treino import config

    assert config.load(None, "train.epochs=3").train.epochs == 3


def test_config_yaml_keeps_accented_column_names_readable():
    # `target: preço` was written as "pre\xE7o" in config.yaml and --print-config
    from treino import config

    text = config.load(None, {"data.target": "preço"}).to_yaml()
    assert "target: preço\n" in text
    assert config.validate(yaml.safe_load(text)).data.target == "preço"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "[]",
            "config: data.target: an empty list; name the target column (several for multi-output regression) (got [])",
        ),
        (
            "[price, price]",
            "config: data.target: names 'price' twice; list each target column once (got ['price', 'price'])",
        ),
    ],
)
def test_a_target_list_that_is_empty_or_repeats_a_column(cli, target, message):
    # --target "[]" ended in an IndexError traceback; a repeated column trained two identical outputs
    result = cli(["train", "--data", "iris", "--target", target, "--print-config"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {message}"


def test_out_holding_only_a_users_config_is_not_called_a_run(cli, tmp_path):
    # `treino train config.yaml --out .` in a project folder: "already holds a run; ... continue it
    # with --resume ." sent the user to resume a run that never existed
    (tmp_path / "config.yaml").write_text("data: {source: iris}\n")
    result = cli(["train", tmp_path / "config.yaml", "--out", tmp_path, "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --out {tmp_path}: the folder is not empty; give a new or empty folder"
    )


def test_a_resume_that_fails_leaves_the_runs_config_as_it_was(cli, tmp_path):
    # --resume RUN --set model.hidden=[8] failed (the checkpoint does not fit) but had already
    # rewritten RUN/config.yaml: every later --resume of the run failed the same way
    import treino

    run = tmp_path / "run"
    treino.train(None, {"data.source": "iris", "train.epochs": 1}, out=run, quiet=True)
    before = (run / "config.yaml").read_text()
    result = cli(["train", "--resume", run, "--set", "model.hidden=[8]", "--set", "train.epochs=2", "-q"])
    assert result.exit_code == 2
    assert "the checkpoint does not fit the model" in result.output
    assert (run / "config.yaml").read_text() == before
