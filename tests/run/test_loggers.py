"""Optional loggers, for real when their extra is installed: TensorBoard event files and an
MLflow run in a local SQLite store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import treino
from treino.errors import ConfigError
from treino.run.loggers import _require

TINY = {"data": {"source": "iris"}, "train": {"epochs": 2}, "log": {"progress": False, "plots": True}}


def test_tensorboard_gets_every_iteration_and_epoch(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = treino.train(
        {**TINY, "log": {**TINY["log"], "tensorboard": True}}, out=tmp_path / "run", quiet=True
    )
    events = EventAccumulator(str(run.dir / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"loss/iteration", "lr", "test/accuracy"} <= set(tags)
    steps = [e.step for e in events.Scalars("loss/iteration")]
    assert steps == list(range(1, len(steps) + 1))
    assert len(steps) == len(pd.read_csv(run.dir / "steps.csv"))
    # train and validation of each metric on one chart: one event folder per split
    val = EventAccumulator(str(run.dir / "tensorboard" / "accuracy_val"))
    val.Reload()
    (tag,) = val.Tags()["scalars"]
    assert [e.value for e in val.Scalars(tag)] == pytest.approx(list(run.history["val_accuracy"]))


@pytest.mark.filterwarnings("ignore:.*noload.*")  # inside mlflow's own SQLAlchemy store
def test_mlflow_run_in_a_local_sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = {**TINY, "log": {**TINY["log"], "mlflow": {"tracking_uri": uri, "experiment": "tests"}}}
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    (found,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == "run"
    assert found.data.params["optimizer.name"] == "adam" and found.data.params["data.source"] == "iris"
    history = client.get_metric_history(found.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx(list(run.history["val_loss"]))
    assert found.data.metrics["test_accuracy"] == pytest.approx(run.metrics["test"]["accuracy"])
    assert found.data.tags["treino.report.diagnosis"] == ",".join(f["code"] for f in run.metrics["diagnosis"])
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"report.html", "metrics.json", "history.csv"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir()
    assert not (tmp_path / "mlruns").exists()  # regression: artifacts once landed in ./mlruns of the cwd


def test_a_logger_without_its_extra_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError) as err:
        _require("treino_no_such_module", "tensorboard", "log.tensorboard")
    assert str(err.value) == (
        "log.tensorboard: needs the tensorboard extra, which is not installed; "
        "run pip install 'treino[tensorboard]' or turn log.tensorboard off"
    )
