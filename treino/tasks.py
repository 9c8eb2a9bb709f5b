"""The three tasks and what follows from each: target dtype/shape, output units, predictions."""

from __future__ import annotations

from typing import Literal

import torch

TaskName = Literal["regression", "binary", "multiclass"]
TASKS: tuple[TaskName, ...] = ("regression", "binary", "multiclass")


def output_units(task: TaskName, n_classes: int, n_targets: int) -> int:
    """1 logit for binary, K logits for multiclass, one unit per target for regression."""
    return {"binary": 1, "multiclass": n_classes, "regression": n_targets}[task]


def prepare_targets(y: torch.Tensor, task: TaskName) -> torch.Tensor:
    """Targets as the loss wants them: long (N,) for classes, float (N, k) otherwise."""
    if task == "multiclass":
        return y.reshape(-1).long()
    y = y.float()
    return y.reshape(-1, 1) if y.ndim == 1 else y


def predict_labels(outputs: torch.Tensor, task: TaskName) -> torch.Tensor:
    """Class indices (N,) from logits."""
    if task == "binary":
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(dim=1)


def probabilities(outputs: torch.Tensor, task: TaskName) -> torch.Tensor:
    """Class probabilities (N, K) from logits; K = 2 for binary."""
    if task == "binary":
        p = torch.sigmoid(outputs.reshape(-1, 1).float())
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(outputs.float(), dim=1)


def infer_from_loss(loss_name: str) -> TaskName:
    """The task a loss implies, for `treino.fit` on a user's own tensors."""
    if loss_name == "cross_entropy":
        return "multiclass"
    if loss_name == "bce":
        return "binary"
    return "regression"
