"""What the loop and the callbacks share while training (TrainState), and what fit() returns
(History)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from treino.engine import speed
from treino.engine.schedules import Schedule
from treino.tasks import TaskName


@dataclass
class TrainState:
    """Everything the loop and the callbacks share. `epoch` and `step` count what is done."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    schedule: Schedule
    generator: torch.Generator
    task: TaskName
    epochs: int
    steps_per_epoch: int
    device: torch.device
    callbacks: list[Any] = field(default_factory=list)  # treino.engine.callbacks.Callback (it imports this)
    l1: float = 0.0
    l2: float = 0.0
    clip_grad: float | None = None
    train_metrics: bool = True
    epoch: int = 0
    step: int = 0
    should_stop: bool = False
    stop_reason: str = ""
    status: str = "running"
    history: list[dict[str, float]] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    step_epochs: list[int] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    dist: Any = None  # treino.engine.parallel.Group when data-parallel: DDP forward, epoch reduce
    forward: Any = None  # what the loop trains through: the model or torch.compile(model)
    meter: speed.Meter = field(default_factory=speed.Meter)  # busy vs wall time: the overhead report


@dataclass
class History:
    """What fit() returns: one row per epoch, one loss per iteration, and how it ended."""

    epochs: list[dict[str, float]]
    step_losses: list[float]
    step_epochs: list[int]
    status: str
    stop_reason: str
    best_epoch: int | None
    overhead: float = 0.0  # fraction of training time outside forward/backward/step
    compile_seconds: float | None = None  # torch.compile's time, when train.compile is on
    threads: int | None = None  # CPU threads the loop ran with

    def frame(self) -> Any:
        """The epochs as a pandas DataFrame (pandas is loaded here, not with the engine)."""
        import pandas as pd

        return pd.DataFrame(self.epochs)

    def steps_frame(self) -> Any:
        """The per-iteration losses as a DataFrame: step, epoch, loss."""
        import pandas as pd

        n = len(self.step_losses)
        return pd.DataFrame({"step": range(1, n + 1), "epoch": self.step_epochs, "loss": self.step_losses})
