"""Metrics: pure functions of (outputs, targets), each registered with the tasks it measures and
its direction (higher or lower is better); nothing guesses the direction from a name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from treino.errors import ConfigError
from treino.registry import Registry, closest
from treino.tasks import TaskName, predict_labels, probabilities


def _confusion(pred: torch.Tensor, true: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K) counts, rows = true class, columns = predicted class."""
    return torch.bincount(true * k + pred, minlength=k * k).reshape(k, k)


class Labels:
    """What every classification metric reads, computed once per evaluation: predicted and true
    labels (N,) and the per-class precision/recall/f1 table (3, K'), over the classes seen in
    targets or predictions."""

    def __init__(self, outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> None:
        self.outputs, self.task = outputs, task
        self.pred = predict_labels(outputs, task)
        self.true = targets.reshape(-1).long()
        k = 2 if task == "binary" else outputs.shape[1]
        cm = _confusion(self.pred, self.true, k).double()
        tp = cm.diag()
        predicted, actual = cm.sum(0), cm.sum(1)
        seen = (predicted + actual) > 0
        precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)
        recall = torch.where(actual > 0, tp / actual.clamp(min=1), 0.0)
        denom = precision + recall
        f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), 0.0)
        self.per_class = torch.stack([precision, recall, f1])[:, seen]


def accuracy(labels: Labels) -> float:
    return (labels.pred == labels.true).double().mean().item()


def auc(labels: Labels) -> float:
    """Area under the ROC curve (binary), as scikit-learn's roc_auc_score gives it."""
    from sklearn.metrics import auc as area
    from sklearn.metrics import roc_curve

    true = labels.true
    if len(true) == 0 or bool(true.min() == true.max()):  # one class: AUC is undefined
        return float("nan")
    # roc_auc_score's own path for binary labels, without its input checks (half its time)
    fpr, tpr, _ = roc_curve(
        true.cpu().numpy(), probabilities(labels.outputs, labels.task)[:, 1].cpu().numpy()
    )
    return float(area(fpr, tpr))


def _values(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression outputs and targets as float64 of one shape, as every regression metric reads them."""
    return outputs.double(), targets.double().reshape(outputs.shape)


def _r2(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """R² per output, averaged uniformly (as scikit-learn's default)."""
    ss_res = ((true - pred) ** 2).sum(0)
    ss_tot = ((true - true.mean(0)) ** 2).sum(0)
    r2 = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp(min=1e-300), 0.0)
    return r2.mean()


def _macro(row: int) -> Callable[[Labels], float]:
    def metric(labels: Labels) -> float:
        return labels.per_class[row].mean().item()

    return metric


def _mae(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    return (pred - true).abs().mean()


def _mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    return ((pred - true) ** 2).mean()


def _rmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    return ((pred - true) ** 2).mean().sqrt()


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, the tasks it measures and its direction. A
    classification metric reads `Labels`; a regression one (pred, true) as float64 values."""

    fn: Callable[..., Any]
    tasks: tuple[TaskName, ...]
    higher_is_better: bool


METRICS: Registry[Metric] = Registry("metric", key="metric")
CLASSES: tuple[TaskName, ...] = ("binary", "multiclass")
LOSS_IS_HIGHER_BETTER = False  # 'loss' is a history column of every task, computed by the loop


def register(name: str, fn: Callable[..., Any], *tasks: TaskName, higher_is_better: bool) -> None:
    """Add the metric `name`: fn(Labels) for classification, fn(pred, true) for regression."""
    METRICS.register(name)(Metric(fn, tasks, higher_is_better))


# the order of registration is the order of the history columns
register("accuracy", accuracy, *CLASSES, higher_is_better=True)
register("f1_macro", _macro(2), *CLASSES, higher_is_better=True)
register("precision_macro", _macro(0), *CLASSES, higher_is_better=True)
register("recall_macro", _macro(1), *CLASSES, higher_is_better=True)
register("auc", auc, "binary", higher_is_better=True)
register("mae", _mae, "regression", higher_is_better=False)
register("mse", _mse, "regression", higher_is_better=False)
register("rmse", _rmse, "regression", higher_is_better=False)
register("r2", _r2, "regression", higher_is_better=True)

# every history column's direction, by metric name ('loss' included), as declared above
HIGHER_IS_BETTER = {"loss": LOSS_IS_HIGHER_BETTER} | {
    name: METRICS.get(name).higher_is_better for name in METRICS
}


def _of(task: TaskName) -> dict[str, Metric]:
    """The metrics the task measures, in registration order."""
    return {name: m for name in METRICS if task in (m := METRICS.get(name)).tasks}


def for_task(task: TaskName) -> dict[str, Callable[[torch.Tensor, torch.Tensor], float]]:
    """name -> fn(outputs, targets) for every metric of the task (loss excluded)."""
    if task == "regression":
        return {name: _on_values(m.fn) for name, m in _of(task).items()}
    return {name: _on_labels(m.fn, task) for name, m in _of(task).items()}


def _on_values(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., float]:
    return lambda outputs, targets: fn(*_values(outputs, targets)).item()


def _on_labels(fn: Callable[[Labels], float], task: TaskName) -> Callable[..., float]:
    return lambda outputs, targets: fn(Labels(outputs, targets, task))


def higher_is_better(column: str, task: TaskName | None = None) -> bool:
    """Direction of a history column such as 'val_accuracy' or 'train_loss'; with `task`, the
    column must also be one the task measures."""
    name = column.split("_", 1)[1] if column.startswith(("train_", "val_", "test_")) else column
    if name not in HIGHER_IS_BETTER:
        # with the task known, suggest only what it measures (val_acc on multiclass: not 'auc')
        options = ["loss", *for_task(task)] if task is not None else sorted(HIGHER_IS_BETTER)
        match = closest(name, options)
        prefix = column.removesuffix(name) or "val_"
        hint = f" (did you mean '{prefix}{match}'?)" if match else ""
        raise ConfigError(
            f"train.early_stopping.monitor: unknown metric '{column}'{hint}; "
            f"use val_<metric> with one of: {', '.join(options)}"
        )
    if task is not None and name != "loss" and name not in for_task(task):
        raise ConfigError(
            f"train.early_stopping.monitor: '{column}' is not measured on a {task} task, so early stopping "
            f"and restore_best would never act; use val_<metric> with one of: {', '.join(['loss', *for_task(task)])}"
        )
    return HIGHER_IS_BETTER[name]


def compute(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> dict[str, float]:
    """Every metric of the task (not the loss) on full-split outputs. The labels, the per-class
    table and the float64 values are computed once and shared by the metrics."""
    if task == "regression":
        pred, true = _values(outputs, targets)
        return {name: m.fn(pred, true).item() for name, m in _of(task).items()}
    labels = Labels(outputs, targets, task)
    return {name: m.fn(labels) for name, m in _of(task).items()}
