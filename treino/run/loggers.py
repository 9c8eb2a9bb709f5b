"""Optional loggers, as callbacks: TensorBoard (`log.tensorboard: true`) and MLflow
(`log.mlflow: {tracking_uri, experiment}`). Each needs its extra (pip install
'treino[tensorboard]' / 'treino[mlflow]'); asking for one without it is a one-line error.

They log once per epoch (the epoch's metrics, its iteration losses, the learning rate), so
they add no host sync to the training steps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from treino.config import Config, MlflowConfig
from treino.engine.callbacks import Callback
from treino.engine.state import TrainState
from treino.errors import ConfigError


def build(cfg: Config, run_dir: Path) -> list[Callback]:
    """The loggers the config asks for (none on ranks other than 0 of a distributed run)."""
    from treino.run import processes

    if not processes.is_main():
        return []
    out: list[Callback] = []
    if cfg.log.tensorboard:
        out.append(TensorBoard(run_dir / "tensorboard"))
    if cfg.log.mlflow is not None:
        out.append(MLflow(cfg.log.mlflow, run_dir, cfg.to_dict()))
    return out


def finish(callbacks: list[Any], metrics: dict[str, Any], run_dir: Path) -> None:
    """After the run folder is complete: hand the test metrics and the report to the loggers."""
    for cb in callbacks:
        if isinstance(cb, TensorBoard | MLflow):
            cb.finish(metrics, run_dir)


def _require(module: str, extra: str, key: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{key}: needs the {extra} extra, which is not installed; run pip install 'treino[{extra}]' "
            f"or turn {key} off"
        ) from None


def _finite(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if isinstance(v, int | float) and math.isfinite(v)}


class TensorBoard(Callback):
    """Event files in <run>/tensorboard: loss per iteration, and per epoch every history column
    grouped as metric/train and metric/val so that TensorBoard draws them on one chart."""

    def __init__(self, folder: Path) -> None:
        _require("tensorboard", "tensorboard", "log.tensorboard")
        self.folder = folder
        self.writer: Any = None
        self._logged_steps = 0

    def on_fit_start(self, state: TrainState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.folder))
        self._logged_steps = len(state.step_losses)  # a resumed run logged the earlier ones

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        for i, loss in enumerate(state.step_losses[self._logged_steps :], start=self._logged_steps + 1):
            if math.isfinite(loss):
                self.writer.add_scalar("loss/iteration", loss, i)
        self._logged_steps = len(state.step_losses)
        for key, value in _finite(logs).items():
            if key.startswith(("train_", "val_")):
                split, name = key.split("_", 1)
                self.writer.add_scalars(name, {split: value}, state.epoch)
            elif key == "lr":
                self.writer.add_scalar("lr", value, state.epoch)
        self.writer.flush()

    def finish(self, metrics: dict[str, Any], run_dir: Path) -> None:
        if self.writer is None:
            return
        for name, value in _finite(metrics.get("test") or {}).items():
            self.writer.add_scalar(f"test/{name}", value, metrics.get("epochs_run", 0))
        self._close()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._close()


class MLflow(Callback):
    """One MLflow run per treino run: the flattened config as params, every history column per
    epoch, then the test metrics, the diagnosis codes as tags and report.html as an artifact."""

    def __init__(self, cfg: MlflowConfig, run_dir: Path, config: dict[str, Any]) -> None:
        self.mlflow = _require("mlflow", "mlflow", "log.mlflow")
        self.cfg, self.run_dir, self.config = cfg, run_dir, config
        self.run: Any = None

    @property
    def tracking_uri(self) -> str:
        # a local SQLite store next to the run folders, shared by them: one MLflow UI for all runs
        return self.cfg.tracking_uri or f"sqlite:///{self.run_dir.resolve().parent / 'mlflow.db'}"

    def on_fit_start(self, state: TrainState) -> None:
        uri = self.tracking_uri
        self.mlflow.set_tracking_uri(uri)
        if uri.startswith("sqlite:///") and self.mlflow.get_experiment_by_name(self.cfg.experiment) is None:
            # artifacts beside the database; left alone, MLflow writes ./mlruns in the working directory
            root = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
            self.mlflow.create_experiment(self.cfg.experiment, artifact_location=root.resolve().as_uri())
        self.mlflow.set_experiment(self.cfg.experiment)
        # inside a user's own active MLflow run, this run nests under it
        nested = self.mlflow.active_run() is not None
        self.run = self.mlflow.start_run(run_name=self.run_dir.name, nested=nested)
        params = _flatten(self.config)
        self.mlflow.log_params({k: str(v)[:500] for k, v in params.items()})  # MLflow's value limit
        self.mlflow.set_tag("treino.run_dir", str(self.run_dir.resolve()))

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        values = {k: v for k, v in _finite(logs).items() if k != "epoch"}
        self.mlflow.log_metrics(values, step=state.epoch)

    def finish(self, metrics: dict[str, Any], run_dir: Path) -> None:
        if self.run is None:
            return
        self.mlflow.log_metrics({f"test_{k}": v for k, v in _finite(metrics.get("test") or {}).items()})
        self.mlflow.set_tag("treino.status", metrics.get("status", ""))
        codes = ",".join(f.get("code", "") for f in metrics.get("diagnosis") or [])
        self.mlflow.set_tag("treino.report.diagnosis", codes)
        for name in ("report.html", "metrics.json", "history.csv"):
            if (run_dir / name).exists():
                self.mlflow.log_artifact(str(run_dir / name))
        self._end("FINISHED")

    def _end(self, status: str) -> None:
        if self.run is not None:
            self.mlflow.end_run(status=status)
            self.run = None

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._end("FAILED")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out
