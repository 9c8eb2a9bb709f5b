"""Metrics: pure functions of (outputs, targets) that declare their direction."""

from __future__ import annotations

from collections.abc import Callable

import torch

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


CLASSIFICATION = {
    "accuracy": (accuracy, True),
    "f1_macro": (_macro(2), True),
    "precision_macro": (_macro(0), True),
    "recall_macro": (_macro(1), True),
}
REGRESSION = {  # fn(pred, true) on float64 values
    "mae": (lambda p, t: (p - t).abs().mean(), False),
    "mse": (lambda p, t: ((p - t) ** 2).mean(), False),
    "rmse": (lambda p, t: ((p - t) ** 2).mean().sqrt(), False),
    "r2": (_r2, True),
}
HIGHER_IS_BETTER = {"loss": False, "auc": True} | {
    name: up for name, (_, up) in (CLASSIFICATION | REGRESSION).items()
}


def _classification(task: TaskName) -> dict[str, Callable[[Labels], float]]:
    table = {name: fn for name, (fn, _) in CLASSIFICATION.items()}
    return table | {"auc": auc} if task == "binary" else table


def for_task(task: TaskName) -> dict[str, Callable[[torch.Tensor, torch.Tensor], float]]:
    """name -> fn(outputs, targets) for every metric of the task (loss excluded)."""
    if task == "regression":
        return {name: _on_values(fn) for name, (fn, _) in REGRESSION.items()}
    return {name: _on_labels(fn, task) for name, fn in _classification(task).items()}


def _on_values(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., float]:
    return lambda outputs, targets: fn(*_values(outputs, targets)).item()


def _on_labels(fn: Callable[[Labels], float], task: TaskName) -> Callable[..., float]:
    return lambda outputs, targets: fn(Labels(outputs, targets, task))


def higher_is_better(column: str, task: TaskName | None = None) -> bool:
    """Direction of a history column such as 'val_accuracy' or 'train_loss'; with `task`, the
    column must also be one the task measures."""
    name = column.split("_", 1)[1] if column.startswith(("train_", "val_", "test_")) else column
    if name not in HIGHER_IS_BETTER:
        from treino.errors import ConfigError
        from treino.registry import closest

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
        from treino.errors import ConfigError

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
        return {name: fn(pred, true).item() for name, (fn, _) in REGRESSION.items()}
    labels = Labels(outputs, targets, task)
    return {name: fn(labels) for name, fn in _classification(task).items()}
