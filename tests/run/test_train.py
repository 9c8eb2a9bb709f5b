"""End-to-end `treino train` on every built-in dataset of the foundation, 2 epochs each."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

import treino

RUN_FILES = {"config.yaml", "history.csv", "steps.csv", "metrics.json", "model", "checkpoints", "report.html"}


@pytest.mark.parametrize(
    ("dataset", "task", "metric"),
    [
        ("digits", "multiclass", "accuracy"),
        ("iris", "multiclass", "accuracy"),
        ("wine", "multiclass", "accuracy"),
        ("breast_cancer", "binary", "auc"),
        ("diabetes", "regression", "rmse"),
        ("houses", "regression", "r2"),
    ],
)
def test_train_each_builtin_for_two_epochs(cli, tmp_path, dataset, task, metric):
    out = tmp_path / dataset
    result = cli(["train", "--data", dataset, "--set", "train.epochs=2", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["task"] == task
    assert metrics["epochs_run"] == 2
    assert metric in metrics["test"]
    assert (out / "model" / "weights.safetensors").exists()
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,train_loss,")
    assert len(history) == 3


def test_same_config_and_seed_give_identical_results(tmp_path):
    runs = [
        treino.train(
            None,
            ["data.source=iris", "train.epochs=3", "model.dropout=0.2"],
            out=tmp_path / str(i),
            quiet=True,
        )
        for i in range(2)
    ]
    assert runs[0].metrics["test"] == runs[1].metrics["test"]
    a, b = (load_file(str(r.dir / "model" / "weights.safetensors")) for r in runs)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_default_run_reaches_97_percent_on_digits(tmp_path):
    run = treino.train(None, out=tmp_path / "default", quiet=True)
    assert run.metrics["data"]["source"] == "digits"
    assert run.metrics["model"]["kind"] == "cnn"
    assert run.metrics["test"]["accuracy"] >= 0.97


def test_print_config_shows_the_resolved_config(cli):
    result = cli(["train", "--print-config", "--set", "optimizer.lr=0.5"])
    assert result.exit_code == 0
    assert "  lr: 0.5\n" in result.output
    assert "epochs: auto" in result.output  # the default, sized from the data at run time


def test_batch_larger_than_train_split_is_clamped(tmp_path):
    run = treino.train(
        None,
        ["data.source=iris", "train.epochs=1", "train.batch_size=100000"],
        out=tmp_path / "r",
        quiet=True,
    )
    assert any("larger than the" in n for n in run.metrics["data"]["notes"])
    steps = (run.dir / "steps.csv").read_text().splitlines()
    assert len(steps) == 2  # header + one full-batch iteration


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "train.epochs=0"],
            "error: config: train.epochs: input should be greater than 0 (got 0)\n",
        ),
        (
            ["--data", "irsi"],
            "error: data.source: 'irsi' is neither a file, a folder nor a built-in dataset (did you mean 'iris'?); ",
        ),
        (
            ["--set", "optimizer.name=adma"],
            "error: optimizer.name: unknown optimizer 'adma' (did you mean 'adam'?); choose one of: sgd, momentum, "
            "nesterov, adam, adamw, rmsprop, adagrad\n",
        ),
        (
            ["--data", "iris", "--set", "loss.name=huber"],
            "error: loss.name: 'huber' is a regression loss but the data is a multiclass task; use loss.name: "
            "cross_entropy (or auto), or set data.task\n",
        ),
        (
            ["--set", "model.kind=transformer"],
            "error: model.kind: unknown model 'transformer'",
        ),
    ],
)
def test_user_errors_are_one_line_with_exit_2(cli, tmp_path, args, message):
    result = cli(["train", *args, "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_out_that_is_a_file_is_refused(cli, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = cli(["train", "--out", target, "-q"])
    assert result.exit_code == 2
    assert result.output == f"error: --out {target}: is a file; give a folder path for the run\n"


def test_out_holding_only_a_users_config_is_not_called_a_run(cli, tmp_path):
    """--out holding only the user's config.yaml was called a run to continue with --resume."""
    (tmp_path / "config.yaml").write_text("data: {source: iris}\n")
    result = cli(["train", tmp_path / "config.yaml", "--out", tmp_path, "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --out {tmp_path}: the folder is not empty; give a new or empty folder"
    )
