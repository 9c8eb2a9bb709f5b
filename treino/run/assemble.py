"""The one wiring of a run: Config -> data, model, loss, optimizer, schedule and batch sources.

`treino train` and `treino lr-find` both call assemble(), so the sweep tries the very model
that training trains: the same initial weights, pretrained weights, input range and augmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from treino import config as C
from treino.engine import losses as L
from treino.engine import optimizers, schedules
from treino.engine.schedules import Schedule
from treino.errors import ConfigError
from treino.run import own_code, transfer
from treino.run.names import check_names
from treino.tasks import TaskName

Say = Callable[[str], None]


@dataclass
class Assembled:
    """Everything one run trains with, built from its Config in a fixed order (seeded)."""

    data: Any  # treino.data.core.Data: splits, info, fitted preprocessing
    task: TaskName
    generator: torch.Generator  # drives split, init and shuffling
    batch: int  # rows per optimizer step (`full` resolved, clamped to the train split)
    steps: int  # optimizer steps per epoch
    epochs: int  # `auto` resolved
    patience: int | None  # early stopping's, `auto` resolved
    example: Any  # 2 dense train rows, for shape checks and the model summary
    model: nn.Module
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    train: Any  # the training batch source (augmented images, lazy rows, sparse rows)
    val: Any  # the validation source (ordered, on the CPU) or None

    @property
    def info(self) -> Any:
        return self.data.info


def assemble(
    cfg: C.Config, ckpt: dict[str, Any] | None = None, say: Say | None = None, model: nn.Module | None = None
) -> Assembled:
    """Build a run's data and training objects from `cfg`; `say` receives what is worth telling
    (the data, its notes, a clamped batch, pretrained weights), in the order it happens.
    `model`: the user's own nn.Module object (treino.train(model=net)), trained as it is instead
    of one built from `model.kind`; its output is checked against the task first.

    Example:
        >>> parts = assemble(config.load(None, ["data.source=iris"]))
        >>> parts.model, parts.optimizer, parts.batch
    """
    from treino import models
    from treino.data.load import load as load_data

    check_names(cfg)  # a wrong name fails here, before any data is read
    say = say or (lambda message: None)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    data = load_data(cfg.data, generator, cfg.seed)
    info = data.info
    if cfg.loss.name == "cross_entropy" and info.task == "binary":
        info.task = "multiclass"  # two logits, as asked for by the loss
    task: TaskName = info.task
    batch = batch_size(cfg, len(data.train), info, say)
    steps = -(-len(data.train) // batch)
    epochs, patience = cfg.train.planned(steps)  # auto: sized by the optimizer steps of an epoch
    info.notes += _auto_note(cfg, epochs, patience, steps)
    for line in describe(info):
        say(line)
    target_scale = data.preprocessing.get("target") if task == "regression" else None
    example = data.train.take(slice(0, 2))  # 2 dense rows (of any split kind), for shape checks
    model = (
        _own(model, example, info, target_scale)
        if model is not None
        else models.build(cfg.model, info, target_scale, example=example)
    )
    check_batch_norm(model, len(data.train), batch)
    # model.weights (a resumed run takes its weights from the checkpoint), .reset, .freeze
    params = transfer.prepare(model, cfg, info, say, resumed=ckpt is not None)
    if data.train.x is not None:
        models.fit_input_range(model, data.train.x)  # model.clip_inputs: the train split's range
    counts = info.class_counts.get("train") if task != "regression" else None
    loss_fn = build_loss(cfg.loss, task, counts, target_scale)
    if (why := L.note(cfg.loss.name, task)) is not None:  # mse or l1 on a classifier: allowed, with why not
        info.notes.append(why)
        say(f"note: {why}")
    settings = cfg.optimizer.model_dump(exclude={"name", "backbone_lr_mult"})  # the mult: in params
    optimizer = optimizers.build(cfg.optimizer.name, params, **settings)
    schedule = schedules.build(
        cfg.schedule.name, optimizer, epochs, steps, **cfg.schedule.model_dump(exclude={"name"})
    )
    train = data.train.source(batch, generator, task)  # (x, y), augmenting images, lazy rows
    val = data.val.ordered(torch.device("cpu"), task) if data.val is not None else None  # fit moves it
    return Assembled(
        data, task, generator, batch, steps, epochs, patience, example,
        model, loss_fn, optimizer, schedule, train, val,
    )  # fmt: skip


def _own(model: nn.Module, example: Any, info: Any, target_scale: dict[str, Any] | None) -> nn.Module:
    """The user's model object, its output checked on 2 rows; outputs in the target's units when
    the targets are standardized (as models.build does for its own)."""
    from treino import models
    from treino.models.custom import check_output

    kind = f"{type(model).__module__}:{type(model).__qualname__}"
    check_output(model, example[:2], info.task, info.n_outputs, kind)
    if target_scale is not None:
        return models.WithRescale(model, models.Rescale(target_scale["mean"], target_scale["std"]))
    return model


def build_loss(
    cfg: C.LossConfig, task: TaskName, counts: list[int] | None, target_scale: dict[str, Any] | None = None
) -> nn.Module:
    """The loss section's loss for the task; on standardized targets when the model outputs the
    target's own units (`target_scale`: the fitted mean and std)."""
    if own_code.is_own(cfg.name):  # your own loss class, with loss.args
        loss_fn = own_code.own_loss(cfg.name, cfg.args)
    else:
        loss_fn = L.build(cfg.name, task, counts, **cfg.model_dump(exclude={"name", "args"}))
    if target_scale is not None:
        loss_fn = L.ScaledLoss(loss_fn, target_scale["mean"], target_scale["std"])
    return loss_fn


def batch_size(cfg: C.Config, n_train: int, info: Any, say: Say) -> int:
    """`full` = every training row; a batch larger than the train split is clamped (said)."""
    size = cfg.train.batch_size
    if size == "full":
        return n_train
    if size > n_train:
        note = f"train.batch_size {size} is larger than the {n_train} training rows: using {n_train} (full batch)"
        info.notes.append(note)
        say(f"warning: {note}")
        return n_train
    return int(size)


def check_batch_norm(model: nn.Module, rows: int, batch: int) -> None:
    """Batch normalization cannot train on a batch of one row: refuse before the first step
    rather than crash in the middle of an epoch."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    if batch == 1:
        raise ConfigError(
            "train.batch_size 1 with batch normalization: it needs at least 2 rows per batch; "
            "set train.batch_size to 2 or more, or model.batch_norm: false"
        )
    if rows % batch == 1:
        raise ConfigError(
            f"train.batch_size {batch} leaves a last batch of 1 row ({rows} training rows), which batch "
            f"normalization cannot train on; choose another train.batch_size or model.batch_norm: false"
        )


def describe(info: Any) -> list[str]:
    """The data's one-line description and its notes."""
    sizes = ", ".join(f"{k} {v}" for k, v in info.sizes.items())
    classes = f", {len(info.classes)} classes" if info.classes else ""
    return [f"data: {info.source} ({info.kind}, {info.task}{classes}); {sizes}"] + [
        f"  {note}" for note in info.notes
    ]


def _auto_note(cfg: C.Config, epochs: int, patience: int | None, steps: int) -> list[str]:
    """What the auto epochs and patience came to, for the data notes."""
    said = []
    if cfg.train.epochs == "auto":
        said.append(f"train.epochs auto: {epochs} ({steps} steps per epoch; at least {C.AUTO_MIN_STEPS} "
                    f"steps, {C.AUTO_EPOCHS[0]} to {C.AUTO_EPOCHS[1]} epochs)")  # fmt: skip
    if cfg.train.early_stopping and cfg.train.early_stopping.patience == "auto":
        said.append(f"early stopping patience auto: {patience} epochs")
    return ["; ".join(said)] if said else []
