"""The command line taken at its word: column names and paths are not YAML, and a misplaced argument is pointed to its flag."""

from __future__ import annotations

import pytest
import yaml


@pytest.mark.parametrize("name", ["yes", "no", "2020", "null", "on", "1.5"])
def test_target_flag_is_a_column_name_not_yaml(cli, name):
    """--target yes became True and --target 2020 an integer: a column name is taken as text."""
    result = cli(["train", "--data", "iris", "--target", name, "--print-config"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["data"]["target"] == name


def test_data_flag_is_a_path_not_yaml(cli):
    """--data 2024 is a path, not the YAML integer 2024."""
    result = cli(["train", "--data", "2024", "--print-config"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["data"]["source"] == "2024"


def test_lr_find_target_flag_is_a_column_name(cli, tmp_path):
    """lr-find's --target yes is a column name too, not YAML's True."""
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
    """`treino train iris` (the --data forgotten) said only 'config file not found; check the path'."""
    (tmp_path / "houses.csv").write_text("rooms,price\n1,2\n")
    result = cli(["train", given.format(t=tmp_path), "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {message.format(t=tmp_path)}"
