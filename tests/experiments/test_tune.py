"""treino tune: the search space, pruning through the epoch callback, resuming the SQLite study."""

from __future__ import annotations

import re
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import yaml
from browser_pages import open_page

from treino import config as C
from treino.errors import ConfigError
from treino.experiments.tune import ReportToTrial, space, tune

BASE = {
    "name": "tiny",
    "data": {"source": "breast_cancer"},
    "model": {"kind": "mlp", "hidden": [8]},
    "train": {"epochs": 2, "batch_size": 64},
    "log": {"progress": False},
}


def with_tune(section):
    return C.load({**BASE, "tune": section})


def test_space_reads_every_distribution():
    params = space(with_tune({
        "optimizer.lr": {"log_uniform": [1e-4, 1e-1]},
        "model.hidden": {"choice": [[8], [16, 8]]},
        "train.batch_size": {"choice": [32, "full"]},
        "model.dropout": {"uniform": [0, 0.5]},
        "train.epochs": {"int_uniform": [1, 3]},
    }))  # fmt: skip
    assert [(p.key, p.kind, p.args) for p in params] == [
        ("optimizer.lr", "log_uniform", [1e-4, 1e-1]),
        ("model.hidden", "choice", [[8], [16, 8]]),
        ("train.batch_size", "choice", [32, "full"]),
        ("model.dropout", "uniform", [0, 0.5]),
        ("train.epochs", "int_uniform", [1, 3]),
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"optimizer.lr": {"loguniform": [1e-4, 1e-1]}},
         "config: tune.optimizer.lr: unknown distribution 'loguniform' (did you mean 'log_uniform'?); "
         "use one of: choice, int_uniform, log_uniform, uniform"),
        ({"optimizer.lr": {"log_uniform": [0, 1e-1]}},
         "config: tune.optimizer.lr: log_uniform needs [low, high] with 0 < low < high (got [0, 0.1])"),
        ({"optimizer.lr": [1e-4, 1e-1]},
         "config: tune.optimizer.lr: expected one distribution, e.g. {log_uniform: [0.0001, 0.1]}"),
        ({"model.hidden": {"choice": []}},
         "config: tune.model.hidden: choice needs a non-empty list, e.g. {choice: [32, 128, full]}"),
        ({"optimizer.lrr": {"uniform": [0.1, 0.2]}},
         "config: tune.optimizer.lrr: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?); "
         "valid keys here: name, lr, momentum, betas, weight_decay, eps, backbone_lr_mult"),
        ({"model.dropout": {"uniform": [0, 1.5]}},
         "config: tune.model.dropout: model.dropout: input should be less than 1 (got 1.5)"),
        ({}, "config: no tune section; add one, e.g. tune: {optimizer.lr: {log_uniform: [0.0001, 0.1]}}"),
    ],
)  # fmt: skip
def test_space_errors(section, message):
    with pytest.raises(ConfigError) as err:
        space(with_tune(section))
    assert str(err.value) == message


def test_pruner_verdict_stops_the_run():
    # ThresholdPruner prunes any value above `upper`: a pruner whose verdict is known in advance
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.5))
    trial = study.ask()
    callback = ReportToTrial(trial, "val_loss")
    state = SimpleNamespace(epoch=1, should_stop=False, stop_reason="")
    callback.on_epoch_end(state, {"val_loss": 0.4})
    assert not state.should_stop and callback.pruned_at is None
    state.epoch = 2
    callback.on_epoch_end(state, {"val_loss": 0.9})
    assert state.should_stop and callback.pruned_at == 2
    assert state.stop_reason == "pruned by optuna at epoch 2 (val_loss 0.9)"
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {1: 0.4, 2: 0.9}


def test_second_tune_adds_trials_to_the_same_study(tmp_path, cli):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**BASE, "tune": {
        "optimizer.lr": {"log_uniform": [1e-3, 1e-1]},
        "train.batch_size": {"choice": [64, "full"]},
    }}))  # fmt: skip
    out = tmp_path / "tune"
    first = tune(config, 2, out=out, quiet=True)
    assert first.counts == {"complete": 2}
    assert (out / "study.db").exists()

    result = cli(["tune", config, "--trials", "2", "--out", out, "--jobs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="treino", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 4
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["trial"]) == [0, 1, 2, 3]
    assert set(trials["state"]) == {"complete"}
    # trial 0 is the config as it is (lr null = Adam's 0.001, batch 64): the baseline
    assert trials.loc[0, "note"] == "your config"
    assert (
        trials.loc[0, "param.optimizer.lr"] == 0.001 and str(trials.loc[0, "param.train.batch_size"]) == "64"
    )
    assert sorted(p.name for p in (out / "trials").iterdir()) == [f"trial-{i:04d}" for i in range(4)]

    best = C.load(out / "best.yaml")
    chosen = trials.loc[trials["value"].idxmin()]
    assert best.optimizer.lr == pytest.approx(chosen["param.optimizer.lr"])
    assert best.tune == {}
    page = (out / "tune.html").read_text(encoding="utf-8")
    assert "id='trials'" in page and "Optimization history" in page and "id='importances'" in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    seen = open_page(out / "tune.html")
    assert [alt for alt, _ in seen["images"]] == ["history", "slices"]
    assert all(width > 0 for _, width in seen["images"]) and seen["problems"] == []
    assert seen["requests"] == seen["url"]

    rerun = cli(["train", out / "best.yaml", "--out", tmp_path / "best", "--quiet"])
    assert rerun.exit_code == 0, rerun.output


def test_train_ignores_a_tune_section_with_a_note(tmp_path, cli):
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({**BASE, "train": {"epochs": 1}, "tune": {"optimizer.lr": {"uniform": [0.1, 0.2]}}})
    )
    result = cli(["train", config, "--out", tmp_path / "run"])
    assert result.exit_code == 0, result.output
    assert "note: the config's tune section is used by treino tune only; ignored here" in result.output


def test_tune_metric_must_be_a_validation_metric(tmp_path):
    with pytest.raises(ConfigError) as err:
        tune(
            {**BASE, "tune": {"optimizer.lr": {"uniform": [0.1, 0.2]}}},
            2,
            out=tmp_path,
            metric="val_accuracyy",
        )
    assert str(err.value) == (
        "--metric val_accuracyy: not a validation metric (did you mean 'val_accuracy'?); use val_<metric> with one of: "
        "accuracy, auc, f1_macro, loss, mae, mse, precision_macro, r2, recall_macro, rmse"
    )


def test_cli_tune_names_the_file_and_the_bad_distribution(tmp_path, cli):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**BASE, "tune": {"optimizer.lr": {"loguniform": [1e-4, 0.1]}}}))
    result = cli(["tune", config, "--trials", "2", "--out", tmp_path / "t"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {config}: tune.optimizer.lr: unknown distribution 'loguniform' (did you mean "
        "'log_uniform'?); use one of: choice, int_uniform, log_uniform, uniform"
    )
    assert not (tmp_path / "t").exists()  # nothing was created


def test_tune_with_a_metric_the_task_lacks_prints_the_error_alone(cli, capfd, tmp_path):
    """optuna logged the failed trial's traceback before treino's one-line --metric error."""
    config = tmp_path / "tune.yaml"
    config.write_text(
        "data: {source: iris}\ntrain: {epochs: 1}\nlog: {plots: false}\n"
        "tune:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n"
    )
    result = cli(["tune", config, "--trials", 1, "--metric", "val_r2", "--out", tmp_path / "t", "-q"])
    printed = result.output + capfd.readouterr().err  # optuna's handler may hold the process's stderr
    assert result.exit_code == 2
    assert printed.strip() == (
        "error: --metric val_r2: not measured for this multiclass task; use one of: val_loss, "
        "val_accuracy, val_f1_macro, val_precision_macro, val_recall_macro"
    )


def test_tune_metric_without_val_prefix_suggests_the_val_name(cli, tmp_path):
    """--metric accuracy suggested 'accuracy' itself instead of 'val_accuracy'."""
    config = tmp_path / "t.yaml"
    config.write_text("data: {source: iris}\ntune:\n  optimizer.lr: {log_uniform: [0.001, 0.1]}\n")
    result = cli(["tune", config, "--trials", "1", "--metric", "accuracy", "--out", tmp_path / "t", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: --metric accuracy: not a validation metric (did you mean 'val_accuracy'?); use "
        "val_<metric> with one of: accuracy, auc, f1_macro, loss, mae, mse, precision_macro, r2, "
        "recall_macro, rmse"
    )
