"""Metrics: pure functions of (outputs, targets) that declare their direction."""

from __future__ import annotations

from collections.abc import Callable

import torch

from treino.tasks import TaskName, predict_labels, probabilities


def _confusion(pred: torch.Tensor, true: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K) counts, rows = true class, columns = predicted class."""
    return torch.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def _per_class(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> torch.Tensor:
    """(3, K') precision, recall, f1 per class, over the classes seen in targets or predictions."""
    pred = predict_labels(outputs, task)
    true = targets.reshape(-1).long()
    k = 2 if task == "binary" else outputs.shape[1]
    cm = _confusion(pred, true, k).double()
    tp = cm.diag()
    predicted, actual = cm.sum(0), cm.sum(1)
    seen = (predicted + actual) > 0
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), 0.0)
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), 0.0)
    return torch.stack([precision, recall, f1])[:, seen]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> float:
    pred = predict_labels(outputs, task)
    return (pred == targets.reshape(-1).long()).double().mean().item()


def auc(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> float:
    """Area under the ROC curve (binary), by ranks with ties averaged."""
    from sklearn.metrics import roc_auc_score

    true = targets.reshape(-1).cpu().numpy()
    if len(set(true.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(true, probabilities(outputs, task)[:, 1].cpu().numpy()))


def _regression(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    def metric(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> float:
        return fn(outputs.double(), targets.double().reshape(outputs.shape)).item()

    return metric


def _r2(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """R² per output, averaged uniformly (as scikit-learn's default)."""
    ss_res = ((true - pred) ** 2).sum(0)
    ss_tot = ((true - true.mean(0)) ** 2).sum(0)
    r2 = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp(min=1e-300), 0.0)
    return r2.mean()


def _macro(row: int):
    def metric(outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> float:
        return _per_class(outputs, targets, task)[row].mean().item()

    return metric


CLASSIFICATION = {
    "accuracy": (accuracy, True),
    "f1_macro": (_macro(2), True),
    "precision_macro": (_macro(0), True),
    "recall_macro": (_macro(1), True),
}
REGRESSION = {
    "mae": (_regression(lambda p, t: (p - t).abs().mean()), False),
    "mse": (_regression(lambda p, t: ((p - t) ** 2).mean()), False),
    "rmse": (_regression(lambda p, t: ((p - t) ** 2).mean().sqrt()), False),
    "r2": (_regression(_r2), True),
}
HIGHER_IS_BETTER = {"loss": False, "auc": True} | {
    name: up for name, (_, up) in (CLASSIFICATION | REGRESSION).items()
}


def for_task(task: TaskName) -> dict[str, Callable[[torch.Tensor, torch.Tensor], float]]:
    """name -> fn(outputs, targets) for every metric of the task (loss excluded)."""
    table = REGRESSION if task == "regression" else CLASSIFICATION
    out = {name: _bind(fn, task) for name, (fn, _) in table.items()}
    if task == "binary":
        out["auc"] = _bind(auc, task)
    return out


def _bind(fn, task: TaskName) -> Callable[[torch.Tensor, torch.Tensor], float]:
    return lambda outputs, targets: fn(outputs, targets, task)


def higher_is_better(column: str, task: TaskName | None = None) -> bool:
    """Direction of a history column such as 'val_accuracy' or 'train_loss'; with `task`, the
    column must also be one the task measures."""
    name = column.split("_", 1)[1] if column.startswith(("train_", "val_", "test_")) else column
    if name not in HIGHER_IS_BETTER:
        from treino.errors import ConfigError
        from treino.registry import did_you_mean

        options = sorted(HIGHER_IS_BETTER)
        raise ConfigError(
            f"train.early_stopping.monitor: unknown metric '{column}'{did_you_mean(name, options)}; "
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
    """Every metric of the task (not the loss) on full-split outputs."""
    return {name: fn(outputs, targets) for name, fn in for_task(task).items()}
