"""Optimizer and schedule registries: config names to torch objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from treino.config import OptimizerConfig, ScheduleConfig
from treino.registry import Registry

OptimizerBuilder = Callable[[Iterable[nn.Parameter], OptimizerConfig], torch.optim.Optimizer]
OPTIMIZERS: Registry[OptimizerBuilder] = Registry("optimizer", key="optimizer.name")

# The learning rate each optimizer uses when `optimizer.lr` is null ("in doubt, Adam").
DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adam": 1e-3,
    "adamw": 1e-3,
    "rmsprop": 1e-3,
    "adagrad": 0.01,
}


# One fused kernel per step (SGD, Adam, AdamW, Adagrad have one on CPU and CUDA) instead of a
# Python loop over the parameters: 1.4x faster steps for a 20x64 MLP at batch 32 on CPU. The
# `foreach` path is slower than the plain loop on CPU, so RMSprop keeps torch's default.
FUSED = {"fused": True}


def learning_rate(cfg: OptimizerConfig) -> float:
    return cfg.lr if cfg.lr is not None else DEFAULT_LR.get(cfg.name, 1e-3)


def _sgd(momentum: float, nesterov: bool = False) -> OptimizerBuilder:
    def build(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
        m = cfg.momentum if cfg.momentum is not None else momentum
        return torch.optim.SGD(
            params,
            lr=learning_rate(cfg),
            momentum=m,
            nesterov=nesterov and m > 0,
            weight_decay=cfg.weight_decay,
            **FUSED,
        )

    return build


OPTIMIZERS.register("sgd")(_sgd(0.0))
OPTIMIZERS.register("momentum")(_sgd(0.9))
OPTIMIZERS.register("nesterov")(_sgd(0.9, nesterov=True))


@OPTIMIZERS.register("adam")
def _adam(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        params, lr=learning_rate(cfg), betas=cfg.betas, eps=cfg.eps,
        weight_decay=cfg.weight_decay, **FUSED,
    )  # fmt: skip


@OPTIMIZERS.register("adamw")
def _adamw(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    decay = cfg.weight_decay if cfg.weight_decay > 0 else 0.01
    return torch.optim.AdamW(
        params, lr=learning_rate(cfg), betas=cfg.betas, eps=cfg.eps, weight_decay=decay,
        **FUSED,
    )  # fmt: skip


@OPTIMIZERS.register("rmsprop")
def _rmsprop(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(
        params, lr=learning_rate(cfg), momentum=cfg.momentum or 0.0, eps=cfg.eps,
        weight_decay=cfg.weight_decay,
    )  # fmt: skip


@OPTIMIZERS.register("adagrad")
def _adagrad(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(
        params, lr=learning_rate(cfg), eps=cfg.eps, weight_decay=cfg.weight_decay, **FUSED
    )


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(cfg.name)(model.parameters(), cfg)


class Schedule:
    """A learning-rate schedule stepped per batch (onecycle) or per epoch (the others)."""

    def __init__(self, scheduler: Any | None, per_batch: bool, needs_metric: bool) -> None:
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.needs_metric = needs_metric

    def batch_end(self) -> None:
        if self.scheduler is not None and self.per_batch:
            self.scheduler.step()

    def epoch_end(self, val_loss: float | None) -> None:
        if self.scheduler is None or self.per_batch:
            return
        if self.needs_metric:
            if val_loss is not None:
                self.scheduler.step(val_loss)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, epochs: int, steps_per_epoch: int
) -> Schedule:
    """The schedule named by `schedule.name` ('none' keeps the rate constant)."""
    lrs = torch.optim.lr_scheduler
    lr = optimizer.param_groups[0]["lr"]
    if cfg.name == "none":
        return Schedule(None, per_batch=False, needs_metric=False)
    if cfg.name == "step":
        return Schedule(lrs.StepLR(optimizer, cfg.step_size, cfg.gamma), False, False)
    if cfg.name == "exponential":
        return Schedule(lrs.ExponentialLR(optimizer, cfg.gamma), False, False)
    if cfg.name == "cosine":
        return Schedule(lrs.CosineAnnealingLR(optimizer, epochs, cfg.min_lr), False, False)
    if cfg.name == "plateau":
        s = lrs.ReduceLROnPlateau(optimizer, factor=cfg.factor, patience=cfg.patience)
        return Schedule(s, per_batch=False, needs_metric=True)
    max_lr = cfg.max_lr or lr * 10
    # the momentum cycles too, where the optimizer has one (adagrad has none: torch would refuse)
    cycles = any(k in optimizer.defaults for k in ("momentum", "betas"))
    s = lrs.OneCycleLR(
        optimizer, max_lr, epochs=epochs, steps_per_epoch=max(1, steps_per_epoch), cycle_momentum=cycles
    )
    return Schedule(s, per_batch=True, needs_metric=False)
