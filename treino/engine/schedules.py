"""Learning-rate schedules: names to torch schedulers, stepped per batch or per epoch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from treino.registry import Registry


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


@dataclass(frozen=True)
class Args:
    """The settings a schedule may read (the schedule section of the config, by the same names)."""

    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step/exponential: decay factor
    factor: float = 0.1  # plateau: decay factor
    patience: int = 3  # plateau: epochs without improvement
    max_lr: float | None = None  # onecycle: peak rate (default 10x the optimizer's lr)
    min_lr: float = 0.0  # cosine: final learning rate


# (optimizer, epochs, steps_per_epoch, args) -> Schedule
ScheduleBuilder = Callable[[torch.optim.Optimizer, int, int, Args], Schedule]
SCHEDULES: Registry[ScheduleBuilder] = Registry("schedule", key="schedule.name")
lrs = torch.optim.lr_scheduler


@SCHEDULES.register("none")
def _none(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    return Schedule(None, per_batch=False, needs_metric=False)


@SCHEDULES.register("step")
def _step(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    return Schedule(lrs.StepLR(optimizer, args.step_size, args.gamma), False, False)


@SCHEDULES.register("exponential")
def _exponential(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    return Schedule(lrs.ExponentialLR(optimizer, args.gamma), False, False)


@SCHEDULES.register("cosine")
def _cosine(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    return Schedule(lrs.CosineAnnealingLR(optimizer, epochs, args.min_lr), False, False)


@SCHEDULES.register("onecycle")
def _onecycle(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    first = optimizer.param_groups[0]["lr"]
    peak = args.max_lr or first * 10
    # the parameter groups keep their ratio (optimizer.backbone_lr_mult)
    max_lr = [peak * g["lr"] / first for g in optimizer.param_groups]
    # the momentum cycles too, where the optimizer has one (adagrad has none: torch would refuse)
    cycles = any(k in optimizer.defaults for k in ("momentum", "betas"))
    s = lrs.OneCycleLR(optimizer, max_lr, epochs=epochs, steps_per_epoch=max(1, steps), cycle_momentum=cycles)
    return Schedule(s, per_batch=True, needs_metric=False)


@SCHEDULES.register("plateau")
def _plateau(optimizer: torch.optim.Optimizer, epochs: int, steps: int, args: Args) -> Schedule:
    s = lrs.ReduceLROnPlateau(optimizer, factor=args.factor, patience=args.patience)
    return Schedule(s, per_batch=False, needs_metric=True)


def build(
    name: str, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int, **args: Any
) -> Schedule:
    """The schedule `name` over `epochs` of `steps_per_epoch` ('none' keeps the rate constant).

    Args:
        name: one of SCHEDULES.names(): none, step, exponential, cosine, onecycle, plateau.
        args: step_size, gamma, factor, patience, max_lr, min_lr (see `Args`).

    Example:
        >>> schedule = schedules.build("step", optimizer, 20, 8, step_size=5, gamma=0.5)
    """
    return SCHEDULES.get(name)(optimizer, epochs, steps_per_epoch, Args(**args))
