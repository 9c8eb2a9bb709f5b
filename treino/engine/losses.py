"""Loss registry: names to torch loss modules. Each entry declares the tasks it fits; `auto`
follows the task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from treino.errors import ConfigError
from treino.registry import Registry
from treino.tasks import TaskName


@dataclass(frozen=True)
class Options:
    """The settings a loss may read (the loss section of the config, by the same names)."""

    label_smoothing: float = 0.0  # cross_entropy
    delta: float = 1.0  # huber: where the loss turns from square to linear


# (task, per-class weights or None, options) -> loss module
LossBuilder = Callable[[TaskName, torch.Tensor | None, Options], nn.Module]


@dataclass(frozen=True)
class Loss:
    """A registered loss: the tasks it fits and how to build its module."""

    tasks: tuple[TaskName, ...]
    make: LossBuilder


LOSSES: Registry[Loss] = Registry("loss", key="loss.name")
AUTO: dict[TaskName, str] = {"regression": "mse", "binary": "bce", "multiclass": "cross_entropy"}


def register(name: str, *tasks: TaskName) -> Callable[[LossBuilder], LossBuilder]:
    """Register the builder of the loss `name`, which fits `tasks`."""

    def add(make: LossBuilder) -> LossBuilder:
        LOSSES.register(name)(Loss(tasks, make))
        return make

    return add


@register("auto", "regression", "binary", "multiclass")
def _auto(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    return LOSSES.get(AUTO[task]).make(task, weights, options)


@register("mse", "regression", "binary", "multiclass")
def _mse(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    return nn.MSELoss() if task == "regression" else OnProbabilities(nn.MSELoss(), task)


@register("l1", "regression", "binary", "multiclass")
def _l1(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    return nn.L1Loss() if task == "regression" else OnProbabilities(nn.L1Loss(), task)


class OnProbabilities(nn.Module):
    """A regression loss on a classifier: between the predicted probabilities (sigmoid of the
    logit, or softmax of the logits) and the 0/1 label (one-hot for several classes), as in
    the course's "logistic regression trained with MSE". Cross-entropy is the better choice
    (see `note`); this is here to show why."""

    def __init__(self, base: nn.Module, task: TaskName) -> None:
        super().__init__()
        self.base, self.task = base, task

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.task == "binary":
            probs = torch.sigmoid(outputs)
            return self.base(probs, targets.to(probs.dtype).reshape(probs.shape))
        probs = torch.softmax(outputs, dim=-1)
        onehot = nn.functional.one_hot(targets.long().reshape(-1), probs.shape[-1]).to(probs.dtype)
        return self.base(probs, onehot)


def note(name: str, task: TaskName) -> str | None:
    """Why cross-entropy is preferred, when a regression loss trains a classifier; else None."""
    if task == "regression" or name not in ("mse", "l1"):
        return None
    on = "sigmoid" if task == "binary" else "softmax"
    return (
        f"loss.name {name} on a {task} task: the {name} of the predicted probabilities ({on}) against the "
        f"{'0/1 labels' if task == 'binary' else 'one-hot labels'}; {AUTO[task]} is preferred: through the "
        f"{on}, {name}'s gradient vanishes when a prediction is confidently wrong (it learns slowest where it "
        f"is most wrong) and the loss is not convex in the weights"
    )


@register("huber", "regression")
def _huber(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    return nn.HuberLoss(delta=options.delta)


@register("bce", "binary")
def _bce(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    # weights (2,) per class -> pos_weight = w1 / w0 scales the positive term
    pos_weight = None if weights is None else (weights[1] / weights[0]).reshape(1)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


@register("cross_entropy", "multiclass")
def _cross_entropy(task: TaskName, weights: torch.Tensor | None, options: Options) -> nn.Module:
    return nn.CrossEntropyLoss(weight=weights, label_smoothing=options.label_smoothing)


def check_task(name: str, task: TaskName) -> Loss:
    """The registered loss `name`; an unknown name or one that does not fit the task is an error."""
    loss = LOSSES.get(name)  # an unknown name: the registry lists the names
    if task not in loss.tasks:
        raise ConfigError(
            f"loss.name: '{name}' is a {' or '.join(loss.tasks)} loss but the data is a {task} task; "
            f"use loss.name: {AUTO[task]} (or auto), or set data.task"
        )
    return loss


def weights_per_class(
    weights: Literal["balanced"] | list[float] | None, task: TaskName, counts: list[int] | None
) -> torch.Tensor | None:
    """Per-class weights from `loss.class_weights`: 'balanced' = N / (K * count_k)."""
    if weights is None or task == "regression":
        return None
    k = len(counts) if counts else 0
    if weights == "balanced":
        if not counts or min(counts) == 0:
            raise ConfigError("loss.class_weights: 'balanced' needs every class in the train split")
        total = sum(counts)
        return torch.tensor([total / (k * c) for c in counts], dtype=torch.float32)
    if len(weights) != k:
        raise ConfigError(
            f"loss.class_weights: {len(weights)} weights given for {k} classes; "
            f"give one weight per class, or 'balanced'"
        )
    return torch.tensor(weights, dtype=torch.float32)


def build(
    name: str,
    task: TaskName,
    counts: list[int] | None = None,
    *,
    class_weights: Literal["balanced"] | list[float] | None = None,
    label_smoothing: float = 0.0,
    delta: float = 1.0,
) -> nn.Module:
    """The loss module `name` for the task (`auto` resolved, class weights applied).

    Args:
        name: one of LOSSES.names(): auto, mse, l1, huber, bce, cross_entropy.
        task: regression, binary or multiclass; an explicit name must fit it.
        counts: rows per class in the train split, for class_weights='balanced'.
        class_weights: one weight per class, or 'balanced'.

    Example:
        >>> loss_fn = losses.build("cross_entropy", "multiclass", label_smoothing=0.1)
    """
    loss = check_task(name, task)
    weights = weights_per_class(class_weights, task, counts)
    return loss.make(task, weights, Options(label_smoothing, delta))


class ScaledLoss(nn.Module):
    """The loss on standardized targets for a model whose outputs are in the target's units."""

    def __init__(self, base: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.base = base
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.base((outputs - self.mean) / self.std, (targets - self.mean) / self.std)
