"""Config: defaults, YAML files, dotted overrides, and the exact messages of bad input."""

from __future__ import annotations

import pytest
import yaml

from treino import config as C
from treino.errors import ConfigError


def test_defaults_live_in_the_schema():
    cfg = C.load()
    assert cfg.data.source == "digits"
    assert cfg.optimizer.name == "adam"
    assert cfg.train.batch_size == 32
    assert cfg.train.early_stopping is not None and cfg.train.early_stopping.monitor == "val_loss"


def test_overrides_are_parsed_as_yaml():
    cfg = C.load(
        None,
        [
            "optimizer.lr=0.01",
            "train.batch_size=full",
            "model.hidden=[64, 32]",
            "train.early_stopping=null",
            "data.source=my data.csv",
        ],
    )
    assert cfg.optimizer.lr == 0.01
    assert cfg.train.batch_size == "full"
    assert cfg.model.hidden == [64, 32]
    assert cfg.train.early_stopping is None
    assert cfg.data.source == "my data.csv"


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: demo\ntrain:\n  epochs: 3\noptimizer:\n  name: sgd\n")
    cfg = C.load(path, ["train.epochs=5"])
    assert (cfg.name, cfg.train.epochs, cfg.optimizer.name) == ("demo", 5, "sgd")


def test_resolved_config_round_trips(tmp_path):
    cfg = C.load(None, ["model.hidden=[8]", "train.batch_size=full"])
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert C.load(path) == cfg


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["train.epocs=3"],
            "config: unknown key 'train.epocs' (did you mean 'train.epochs'?); valid keys here: "
            "epochs, batch_size, l1, l2, early_stopping, restore_best, clip_grad, device, threads, compile, unfreeze_at",
        ),
        (
            ["optimzer.lr=1"],
            "config: unknown key 'optimzer' (did you mean 'optimizer'?); valid keys here: "
            "name, seed, data, model, loss, optimizer, schedule, train, tune, log",
        ),
        (["train.epochs=0"], "config: train.epochs: input should be greater than 0 (got 0)"),
        (["optimizer.lr=-0.1"], "config: optimizer.lr: input should be greater than 0 (got -0.1)"),
        (
            ["train.batch_size=0"],
            "config: train.batch_size: must be a positive integer or 'full' (got 0)",
        ),
        (
            ["train.batch_size=half"],
            "config: train.batch_size: must be a positive integer or 'full' (got 'half')",
        ),
        (
            ["optimizer.lr=fast"],
            "config: optimizer.lr: input should be a valid number, unable to parse string as a number (got 'fast')",
        ),
        (["train=3"], "config: train: input should be a valid dictionary or instance of TrainConfig (got 3)"),
        (["noequals"], "--set noequals: expected KEY=VALUE, e.g. --set optimizer.lr=0.01"),
        (
            ["train.epochs.x=1"],
            "config: train.epochs: input should be a valid integer (got a section of keys)",
        ),
        # a key of several types: every accepted form, once (was the first type's complaint + '(+1 more)')
        (["data.workers=abc"], "config: data.workers: must be a whole number or 'auto' (got 'abc')"),
        (
            ["data.text.sparse=maybe"],
            "config: data.text.sparse: must be 'auto' or true or false (got 'maybe')",
        ),
        (
            ["data.memory_budget=lots"],
            "config: data.memory_budget: 'lots' is not a size; write e.g. '2GB', '500MB', '512MiB' or auto "
            "(got 'lots')",
        ),
        (
            ["data.memory_budget=[1]"],
            "config: data.memory_budget: must be a size such as '2GB', '500MB', '512MiB', a number of bytes, "
            "or auto (got [1])",
        ),
    ],
)
def test_bad_overrides_say_what_where_and_how(overrides, message):
    with pytest.raises(ConfigError) as err:
        C.load(None, overrides)
    assert str(err.value) == message


def test_bad_yaml_names_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: 3\n  batch_size: [1\n")
    with pytest.raises(ConfigError) as err:
        C.load(path)
    assert str(err.value).startswith(f"{path}: line 4: ")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        C.load(tmp_path / "nope.yaml")
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}: config file not found; check the path"


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError) as err:
        C.load(path)
    assert str(err.value) == f"{path}: the top level must be a mapping of sections (data:, model:, ...)"


def test_memory_budget_takes_sizes_and_bytes():
    from treino.data.core import memory_budget

    assert memory_budget(C.load(None, ["data.memory_budget=2GB"]).data) == 2_000_000_000
    assert memory_budget(C.load(None, ["data.memory_budget=512MiB"]).data) == 512 * 2**20
    assert memory_budget(C.load(None, ["data.memory_budget=1500000"]).data) == 1_500_000  # YAML int: bytes
    assert memory_budget(C.load(None, []).data) > 0  # auto: a quarter of this machine's memory


def test_registry_names_load_as_text_and_are_checked_by_the_run():
    # model.kind/activation/init are checked against their registries by treino.run.names
    cfg = C.load(None, ["model.activation=swish", "model.init=orthogonal"])
    assert (cfg.model.activation, cfg.model.init) == ("swish", "orthogonal")
    with pytest.raises(ConfigError) as caught:
        C.load(None, ["model.activation=1"])
    assert str(caught.value) == "config: model.activation: input should be a valid string (got 1)"


def test_one_override_given_as_a_string_is_one_override():
    """treino.train(cfg, "train.epochs=1") read the string letter by letter as overrides."""
    from treino import config

    assert config.load(None, "train.epochs=3").train.epochs == 3


def test_config_yaml_keeps_accented_column_names_readable():
    """`target: preço` was written escaped as "pre\xe7o" in config.yaml and --print-config."""
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
    """--target "[]" ended in an IndexError traceback; a repeated column trained two identical outputs."""
    result = cli(["train", "--data", "iris", "--target", target, "--print-config"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {message}"
