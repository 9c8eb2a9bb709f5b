"""run/names.py: every registry-backed name of a config is checked when the config is loaded,
before any data is read, with the registry's one line (the names and the closest one)."""

from __future__ import annotations

import pytest
from torch import nn

from treino import config, models
from treino.data.info import DataInfo
from treino.engine.losses import LOSSES
from treino.engine.optimizers import OPTIMIZERS
from treino.engine.schedules import SCHEDULES
from treino.errors import ConfigError
from treino.models import ACTIVATIONS, INITS, MODELS
from treino.run.names import available, check_names


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.kind=cnnn",
            "model.kind: unknown model 'cnnn' (did you mean 'cnn'?); choose one of: linear, logistic, "
            "softmax, mlp, cnn, text, rnn, or your own as 'package.module:Class'",
        ),
        (
            "model.activation=rellu",
            "model.activation: unknown activation 'rellu' (did you mean 'relu'?); choose one of: relu, "
            "tanh, sigmoid, gelu, leaky_relu, elu",
        ),
        (
            "model.init=xavier_unifrom",
            "model.init: unknown initialization 'xavier_unifrom' (did you mean 'xavier_uniform'?); choose one of: "
            "default, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, normal",
        ),
        (
            "loss.name=crossentropy",
            "loss.name: unknown loss 'crossentropy' (did you mean 'cross_entropy'?); choose one of: auto, "
            "mse, l1, huber, bce, cross_entropy",
        ),
        (
            "optimizer.name=adamm",
            "optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); choose one of: sgd, "
            "momentum, nesterov, adam, adamw, rmsprop, adagrad",
        ),
        (
            "schedule.name=cosin",
            "schedule.name: unknown schedule 'cosin' (did you mean 'cosine'?); choose one of: none, step, "
            "exponential, cosine, onecycle, plateau",
        ),
    ],
)
def test_an_unknown_name_lists_the_names_and_the_closest(override, message):
    cfg = config.load(None, [override])  # the schema keeps names as text: loading succeeds
    with pytest.raises(ConfigError) as caught:
        check_names(cfg)
    assert str(caught.value) == message


def test_a_name_far_from_every_other_lists_them_without_a_guess():
    with pytest.raises(ConfigError) as caught:
        check_names(config.load(None, ["optimizer.name=lbfgs"]))
    assert str(caught.value) == (
        "optimizer.name: unknown optimizer 'lbfgs'; choose one of: sgd, momentum, nesterov, adam, "
        "adamw, rmsprop, adagrad"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        [],  # every default
        ["model.kind=mynets:SmallNet"],  # your own model: imported when built, not here
        ["model.kind=linear", "loss.name=mse", "schedule.name=onecycle", "optimizer.name=sgd"],
        ["model.activation=elu", "model.init=kaiming_normal"],
    ],
)
def test_registered_names_auto_and_a_custom_model_pass(overrides):
    check_names(config.load(None, overrides))


def test_the_first_wrong_name_in_config_order_is_named():
    cfg = config.load(None, ["schedule.name=cosin", "model.activation=rellu"])
    with pytest.raises(ConfigError, match=r"^model\.activation: "):
        check_names(cfg)


def test_available_lists_every_registry():
    assert available() == {
        "model.kind": ["auto", *MODELS.names()],
        "model.activation": ACTIVATIONS.names(),
        "model.init": INITS.names(),
        "model.cell": ["lstm", "gru", "rnn"],
        "loss.name": LOSSES.names(),
        "optimizer.name": OPTIMIZERS.names(),
        "schedule.name": SCHEDULES.names(),
    }


@pytest.mark.parametrize("command", ["train", "lr-find"])
def test_an_unknown_optimizer_is_refused_before_any_data_is_read(cli, tmp_path, command):
    # the name used to fail only once the optimizer was built, after the data had loaded
    missing = tmp_path / "missing.csv"
    result = cli([command, "--data", missing, "--set", "optimizer.name=adamm", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output == (
        "error: optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); choose one of: sgd, "
        "momentum, nesterov, adam, adamw, rmsprop, adagrad\n"
    )


def test_adding_a_model_is_one_registration(monkeypatch):
    # the newcomer's path: a builder registered under a name is accepted and built
    def tiny(cfg: config.ModelConfig, info: DataInfo) -> nn.Module:
        return nn.Linear(info.input_shape[0], info.n_outputs)

    monkeypatch.setitem(MODELS._items, "tiny", tiny)
    cfg = config.load(None, ["model.kind=tiny"])
    check_names(cfg)
    info = DataInfo(task="regression", kind="table", input_shape=(3,), targets=["y"])
    assert isinstance(models.build(cfg.model, info), nn.Linear)


@pytest.mark.parametrize(
    "args", [["compare", "--vary", "optimizer.name=adam,adamm"], ["tune", "--trials", "1"]]
)
def test_compare_and_tune_check_every_name_before_the_first_run(cli, tmp_path, args):
    """compare trained the good variants first and failed on a wrong name only when its turn came."""
    cfg = tmp_path / "cfg.yaml"
    tune = "tune: {optimizer.name: {choice: [adam, adamm]}}\n" if args[0] == "tune" else ""
    cfg.write_text(f"data: {{source: {tmp_path / 'missing.csv'}}}\n{tune}", encoding="utf-8")
    result = cli([args[0], cfg, *args[1:], "--out", tmp_path / "out"])
    assert result.exit_code == 2, result.output
    assert "unknown optimizer 'adamm' (did you mean 'adam'?)" in result.output
    assert not (tmp_path / "out").exists()
