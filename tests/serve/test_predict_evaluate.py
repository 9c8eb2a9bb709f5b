"""`treino evaluate`: the run's own test split reproduces the metrics written at training time;
a new labeled file gets the full metric set and the confusion matrix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

import treino
from treino.errors import DataError
from treino.serve.evaluate import evaluate


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = {"data": {"source": "iris"}, "train": {"epochs": 2}, "log": {"plots": False, "progress": False}}
    return treino.train(cfg, out=tmp_path_factory.mktemp("evaluate") / "run", quiet=True).dir


def test_test_split_reproduces_the_training_metrics(run_dir: Path) -> None:
    result = evaluate(run_dir, quiet=True)
    record = json.loads((run_dir / "metrics.json").read_text())
    assert result.metrics == pytest.approx(record["test"], rel=1e-6, abs=1e-9)
    assert set(result.metrics) == {"loss", "accuracy", "f1_macro", "precision_macro", "recall_macro"}
    rows = record["data"]["sizes"]["test"]
    assert result.rows == rows and sum(map(sum, result.confusion)) == rows
    written = json.loads((run_dir / "evaluation.json").read_text())
    assert written["confusion"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert written["per_class"]["setosa"]["support"] == sum(result.confusion[0])


def test_a_labeled_file_gets_metrics_and_confusion_matrix(run_dir: Path, tmp_path: Path) -> None:
    frame = load_iris(as_frame=True).frame
    frame["target"] = [["setosa", "versicolor", "virginica"][i] for i in frame["target"]]
    path = tmp_path / "flowers.csv"
    frame.to_csv(path, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "treino", "evaluate", str(run_dir), "--data", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0] == f"multiclass model on {path}: 150 rows"
    assert "confusion matrix (rows: true class, columns: predicted class)" in lines
    assert lines[-1] == f"written: {run_dir / 'evaluation-flowers.json'}"
    written = json.loads((run_dir / "evaluation-flowers.json").read_text())
    assert written["rows"] == 150 and sum(map(sum, written["confusion"]["matrix"])) == 150
    labels = treino.load(run_dir, quiet=True).predict(path)
    accuracy = (labels == frame["target"].to_numpy()).mean()
    assert written["metrics"]["accuracy"] == pytest.approx(accuracy)


def test_labels_the_model_never_saw_are_an_error(run_dir: Path, tmp_path: Path) -> None:
    frame = load_iris(as_frame=True).frame.head(3)
    frame["target"] = ["setosa", "rose", "tulip"]
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        evaluate(run_dir, path, quiet=True)
    assert str(caught.value) == (
        f"{path}: labels 'rose', 'tulip' are not among the model's classes (setosa, versicolor, virginica); "
        f"evaluate only on the classes it was trained on"
    )


def test_unlabeled_data_is_an_error(run_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "nolabel.csv"
    load_iris(as_frame=True).frame.drop(columns="target").head(4).to_csv(path, index=False)
    with pytest.raises(DataError) as caught:
        evaluate(run_dir, path, quiet=True)
    assert str(caught.value) == (
        f"{path}: no labels (target); evaluate needs labeled data; to predict without labels use treino predict"
    )
    assert pd.read_csv(path).shape == (4, 4)
