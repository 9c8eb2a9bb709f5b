"""Loss registry: config names to torch loss modules. `auto` follows the task."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from treino.config import LossConfig
from treino.errors import ConfigError
from treino.registry import Registry
from treino.tasks import TaskName

LossBuilder = Callable[[LossConfig, torch.Tensor | None], nn.Module]
LOSSES: Registry[LossBuilder] = Registry("loss", key="loss.name")
AUTO: dict[TaskName, str] = {"regression": "mse", "binary": "bce", "multiclass": "cross_entropy"}
FITS: dict[str, tuple[TaskName, ...]] = {
    "mse": ("regression",),
    "l1": ("regression",),
    "huber": ("regression",),
    "bce": ("binary",),
    "cross_entropy": ("multiclass",),
}


@LOSSES.register("mse")
def _mse(cfg: LossConfig, weights: torch.Tensor | None) -> nn.Module:
    return nn.MSELoss()


@LOSSES.register("l1")
def _l1(cfg: LossConfig, weights: torch.Tensor | None) -> nn.Module:
    return nn.L1Loss()


@LOSSES.register("huber")
def _huber(cfg: LossConfig, weights: torch.Tensor | None) -> nn.Module:
    return nn.HuberLoss(delta=cfg.delta)


@LOSSES.register("bce")
def _bce(cfg: LossConfig, weights: torch.Tensor | None) -> nn.Module:
    # weights (2,) per class -> pos_weight = w1 / w0 scales the positive term
    pos_weight = None if weights is None else (weights[1] / weights[0]).reshape(1)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


@LOSSES.register("cross_entropy")
def _cross_entropy(cfg: LossConfig, weights: torch.Tensor | None) -> nn.Module:
    return nn.CrossEntropyLoss(weight=weights, label_smoothing=cfg.label_smoothing)


def resolve_name(cfg: LossConfig, task: TaskName) -> str:
    """The loss name for this task; an explicit name that does not fit the task is an error."""
    if cfg.name == "auto":
        return AUTO[task]
    if task not in FITS[cfg.name]:
        fits = " or ".join(FITS[cfg.name])
        raise ConfigError(
            f"loss.name: '{cfg.name}' is a {fits} loss but the data is a {task} task; "
            f"use loss.name: {AUTO[task]} (or auto), or set data.task"
        )
    return cfg.name


def class_weights(cfg: LossConfig, task: TaskName, counts: list[int] | None) -> torch.Tensor | None:
    """Per-class weights from `loss.class_weights`: 'balanced' = N / (K * count_k)."""
    if cfg.class_weights is None or task == "regression":
        return None
    k = len(counts) if counts else 0
    if cfg.class_weights == "balanced":
        if not counts or min(counts) == 0:
            raise ConfigError("loss.class_weights: 'balanced' needs every class in the train split")
        total = sum(counts)
        return torch.tensor([total / (k * c) for c in counts], dtype=torch.float32)
    if len(cfg.class_weights) != k:
        raise ConfigError(
            f"loss.class_weights: {len(cfg.class_weights)} weights given for {k} classes; "
            f"give one weight per class, or 'balanced'"
        )
    return torch.tensor(cfg.class_weights, dtype=torch.float32)


def build(cfg: LossConfig, task: TaskName, counts: list[int] | None = None) -> nn.Module:
    """The loss module for the task (`auto` resolved, class weights applied)."""
    name = resolve_name(cfg, task)
    return LOSSES.get(name)(cfg, class_weights(cfg, task, counts))


class ScaledLoss(nn.Module):
    """The loss on standardized targets for a model whose outputs are in the target's units."""

    def __init__(self, base: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.base = base
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.base((outputs - self.mean) / self.std, (targets - self.mean) / self.std)
