"""The training loop on plain torch objects: fit() -> epochs -> train_one_epoch() -> steps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from treino.batches.source import Source, as_source
from treino.batches.sparse import dense_rows
from treino.engine import checks, freeze, losses, optimizers, parallel, speed
from treino.engine import metrics as M
from treino.engine.callbacks import Callback, hooks
from treino.engine.checkpoint import restore
from treino.engine.schedules import Schedule
from treino.engine.state import History, TrainState
from treino.errors import ConfigError
from treino.registry import did_you_mean
from treino.tasks import TaskName

DIVERGENCE_EVERY = 32  # steps between two looks at the loss (a host sync) for a NaN/inf


def resolve_device(
    device: str | torch.device = "auto",
    *,
    caller: str = "",
    fix: str = "use train.device auto or cpu (treino.fit: device='cpu')",
) -> torch.device:
    """'auto' = the GPU when one is visible, else the CPU; a GPU asked for must be visible.

    The one device resolution of training, lr-find and treino.load: `caller` begins its
    one-line errors ("treino.load: ") and `fix` says what to ask for instead of a missing GPU.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:  # torch's own text lists every backend it was built to know
        raise ConfigError(
            f"{caller}device '{device}' is not a device; use device='cpu', 'cuda' or 'auto'"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():  # else torch fails deep in model.to()
        raise ConfigError(f"{caller}device '{device}': no GPU is visible here; {fix}")
    return dev


def _penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor:
    """L1/L2 penalty on the weights (matrices and kernels; biases and norms are left out)."""
    weights = [p for p in model.parameters() if p.ndim > 1 and p.requires_grad]
    total = weights[0].new_zeros(())
    if l1:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2:
        total = total + l2 * sum(w.pow(2).sum() for w in weights)
    return total


def train_one_epoch(state: TrainState, batches: Source) -> dict[str, float] | None:
    """One pass over the training data; None when stopped mid-epoch (the epoch is discarded)."""
    model, opt, loss_fn, device = state.model, state.optimizer, state.loss_fn, state.device
    penalized = bool(state.l1 or state.l2)
    resident = getattr(batches, "x", None) is not None  # InMemory: already on the device
    forward = state.forward if state.forward is not None else model  # compiled or plain
    forward = state.dist.ddp if state.dist else forward  # DDP averages the gradients
    meter, clock = state.meter, time.perf_counter
    # opt.zero_grad(set_to_none=True) without its profiler label; no-op batch hooks are not called
    zero_grad, on_batch_end = speed.grad_reset(opt), hooks(state.callbacks, "on_batch_end")
    per_batch = state.schedule.per_batch or type(state.schedule).batch_end is not Schedule.batch_end
    model.train()
    freeze.keep_frozen(model)  # frozen batch norms stay in eval mode: their statistics are fixed
    losses, sizes, outs, targets = [], [], [], []
    epoch_start = clock()
    for x, y in batches.epoch(state.generator):
        if not resident:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        busy_start = clock()  # two clock reads per step, no sync: what counts as work
        out = forward(x)
        loss = loss_fn(out, y)
        objective = loss + _penalty(model, state.l1, state.l2) if penalized else loss
        zero_grad()
        objective.backward()
        if state.clip_grad:
            nn.utils.clip_grad_norm_(model.parameters(), state.clip_grad)
        opt.step()
        meter.add_step(clock() - busy_start)
        if per_batch:
            state.schedule.batch_end()
        state.step += 1
        losses.append(loss.detach())  # stays on the device: no host sync per step
        sizes.append(len(y))
        if state.train_metrics:
            outs.append(out.detach())
            targets.append(y)
        for hook in on_batch_end:
            hook(state, loss)
        if state.should_stop and not state.dist:  # data-parallel ranks stop together, at epoch end
            return None
        if len(losses) % DIVERGENCE_EVERY == 0 and not state.dist and not torch.isfinite(loss):
            break  # diverged: end the epoch now; run_epochs finds the first bad step
    stacked = torch.stack(losses).float()
    if state.dist:  # one collective per epoch: global step losses, all outputs for the metrics
        stacked, outs, targets = state.dist.reduce_epoch(stacked, outs, targets)
    sync_start = clock()
    step_losses = stacked.cpu().tolist()  # the one sync of the epoch (waiting here is work)
    meter.busy += clock() - sync_start
    state.step_losses.extend(step_losses)
    state.step_epochs.extend([state.epoch + 1] * len(step_losses))
    logs = {"train_loss": sum(v * n for v, n in zip(step_losses, sizes, strict=False)) / sum(sizes)}
    if state.train_metrics and all(map(math.isfinite, step_losses)):
        scores = M.compute(torch.cat(outs), torch.cat(targets), state.task)
        logs |= {f"train_{k}": v for k, v in scores.items()}
    meter.wall += clock() - epoch_start
    return logs


@torch.inference_mode()
def forward_batches(
    model: nn.Module, inputs: Iterable[torch.Tensor], device: torch.device
) -> Iterator[torch.Tensor]:
    """The model's outputs in eval mode, one input batch at a time (moved to `device`): the one
    forward pass of validation, test metrics, held-out predictions and treino.load."""
    model.eval()
    for x in inputs:
        yield model(x.to(device, non_blocking=True))


@torch.inference_mode()
def predict(model: nn.Module, source: Source, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Outputs and targets of a whole split, in order, in eval mode."""
    targets = []

    def inputs() -> Iterator[torch.Tensor]:
        for x, y in source.ordered():
            targets.append(y.to(device, non_blocking=True))
            yield x

    outs = list(forward_batches(model, inputs(), device))
    return torch.cat(outs), torch.cat(targets)


def forward_rows(
    model: nn.Module,
    x: Any,
    device: torch.device,
    rows: int,
    as_tensor: Callable[[Any], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Outputs (float32, on the CPU) for the rows of `x`, `rows` at a time, in eval mode.

    `x` is a tensor (a CSR one is made dense a slice at a time) or anything that slices by
    rows, which `as_tensor` turns into a batch (numpy arrays, scipy rows). The row count of
    a pass is the caller's: float results may depend on it, so each caller keeps its own.
    """
    parts = (dense_rows(x, slice(start, start + rows)) for start in range(0, x.shape[0], rows))
    batches = map(as_tensor, parts) if as_tensor is not None else parts
    outs = [out.float().cpu() for out in forward_batches(model, batches, device)]
    return torch.cat(outs) if outs else torch.empty(0)


def evaluate(
    model: nn.Module,
    source: Source,
    loss_fn: nn.Module,
    task: TaskName,
    device: torch.device,
    prefix: str = "val",
) -> dict[str, float]:
    """Loss and every metric of the task on a split: {'val_loss': ..., 'val_accuracy': ...}."""
    outputs, targets = predict(model, source, device)
    with torch.inference_mode():
        scores = {"loss": loss_fn(outputs, targets).item()}
    scores |= M.compute(outputs, targets, task)
    return {f"{prefix}_{k}": v for k, v in scores.items()}


def _first_bad_step(state: TrainState, logs: dict[str, float]) -> int | None:
    n = state.steps_per_epoch
    recent = state.step_losses[-n:] if n else []
    for i, value in enumerate(recent):
        if not math.isfinite(value):
            return state.step - len(recent) + i + 1
    return None if math.isfinite(logs["train_loss"]) else state.step


def run_epochs(state: TrainState, train: Source, val: Source | None) -> None:
    """Epoch after epoch until `epochs`, a stop flag, or a non-finite loss."""
    while state.epoch < state.epochs and not state.should_stop:
        for cb in state.callbacks:
            cb.on_epoch_start(state)
        start = time.perf_counter()
        logs = train_one_epoch(state, train)
        if logs is None:  # stopped mid-epoch: the last complete epoch stands
            state.status = "interrupted"
            return
        bad = _first_bad_step(state, logs)
        if val is not None and bad is None:
            logs |= evaluate(state.model, val, state.loss_fn, state.task, state.device)
        state.epoch += 1
        logs = {"epoch": state.epoch, **logs, "lr": state.optimizer.param_groups[0]["lr"]}
        logs["seconds"] = time.perf_counter() - start
        state.history.append(logs)
        if bad is not None:
            state.status, state.should_stop = "diverged", True
            state.stop_reason = f"the loss became {logs['train_loss']} at epoch {state.epoch}, step {bad}"
            return
        state.schedule.epoch_end(logs.get("val_loss"))
        for cb in state.callbacks:
            cb.on_epoch_end(state, logs)
    state.status = "early_stopped" if state.should_stop else "completed"


def fit(
    model: nn.Module,
    train: Any,
    val: Any = None,
    *,
    loss: str | nn.Module = "auto",
    optimizer: str | torch.optim.Optimizer = "adam",
    epochs: int = 10,
    batch_size: int | str = 32,
    callbacks: Sequence[Callback] = (),
    task: TaskName | None = None,
    lr: float | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    clip_grad: float | None = None,
    schedule: Schedule | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    train_metrics: bool = True,
    resume: dict[str, Any] | None = None,
    threads: int | None = None,
    compile: bool = False,
) -> History:
    """Train `model` on `train`, validating on `val` after every epoch.

    Args:
        model: any nn.Module; its forward returns logits or values.
        train, val: (X, y) tensors, a Dataset or a DataLoader.
        loss: a loss name (auto, mse, l1, huber, bce, cross_entropy) or a torch loss module;
            auto: cross-entropy for integer labels and K > 1 outputs, bce for 0/1 labels and
            1 output, mse for float targets.
        optimizer: a name (adam, sgd, momentum, ...) or a torch optimizer over model's params.
        batch_size: 1 (stochastic), N (mini-batch) or "full" (the whole training set).
        task: regression, binary or multiclass; when None, from the loss (for auto: from the
            labels and the model's output).
        threads: CPU threads while training; None = 1 for small steps, all cores for big ones.
        compile: train through torch.compile(model); its compile time is reported apart.

    Example:
        >>> history = treino.fit(net, (X, y), (Xv, yv), loss="mse", epochs=50, batch_size=16)
    """
    dev = resolve_device(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rows = _rows(batch_size)
    train_src, val_src = (as_source(d, rows, generator) if d is not None else None for d in (train, val))
    task = task or checks.task_of(loss, model, train_src)  # "auto": from the labels and the output
    loss_fn = _loss_module(loss, task)
    model.to(dev)
    loss_fn.to(dev)
    optimizer = _optimizer(optimizer, model, lr)
    train_src = checks.prepared(train_src, task, model).to(dev)
    val_src = checks.prepared(val_src, task, model).to(dev) if val_src is not None else None
    if isinstance(loss, str) or type(loss).__module__.startswith("torch.nn"):  # a loss of its own may differ
        checks.output(model, train_src, task)
    if threads is None:
        threads = speed.choose_threads(model, train_src, dev)
    _check_finite(train_src, val_src, threads)
    group, train_src = _data_parallel(model, train_src, dev, seed)
    state = TrainState(
        model=model, optimizer=optimizer, loss_fn=loss_fn,
        schedule=schedule or Schedule(None, False, False), generator=generator, task=task,
        epochs=epochs, steps_per_epoch=len(train_src), device=dev, dist=group,
        callbacks=[*callbacks, *([parallel.AgreeOnStop(group)] if group else [])],  # last: ranks stop together
        l1=l1, l2=l2, clip_grad=clip_grad, train_metrics=train_metrics,
    )  # fmt: skip
    if resume is not None:
        restore(state, resume)
    state.forward, state.meter = speed.compiled(model, compile), speed.Meter(keep_steps=compile)
    _run(state, train_src, val_src, threads)
    return History(
        state.history, state.step_losses, state.step_epochs, state.status, state.stop_reason,
        state.best_epoch, state.meter.overhead,
        state.meter.compile_seconds if compile else None, threads or torch.get_num_threads(),
    )  # fmt: skip


def _loss_module(loss: str | nn.Module, task: TaskName) -> nn.Module:
    """A loss name built through the loss registry; a torch loss module as it is."""
    if not isinstance(loss, str):
        return loss
    if loss not in losses.LOSSES:
        names = losses.LOSSES.names()
        raise ValueError(
            f"loss '{loss}': unknown{did_you_mean(loss, names)}; use one of {', '.join(names)}, or a torch loss module"
        )
    return losses.build(loss, task)


def _optimizer(
    optimizer: str | torch.optim.Optimizer, model: nn.Module, lr: float | None
) -> torch.optim.Optimizer:
    """An optimizer name built over the model's parameters; a torch optimizer checked to hold them."""
    if lr is not None and not lr > 0:  # torch would say only "Invalid learning rate"
        raise ValueError(f"lr {lr}: must be a positive number, e.g. 0.001")
    if isinstance(optimizer, str):
        return optimizers.build(optimizer, model, lr=lr)
    own = {id(p) for p in model.parameters()}
    if own and not own & {id(p) for g in optimizer.param_groups for p in g["params"]}:
        raise ValueError(  # it would step other tensors: the model would silently never learn
            "optimizer: it holds none of the model's parameters; build it from this model, e.g. "
            "torch.optim.SGD(model.parameters(), lr=0.01)"
        )
    return optimizer


def _rows(batch_size: int | str) -> int | None:
    """Rows per batch: a positive number, or None for "full" (the whole training set)."""
    if isinstance(batch_size, str) and batch_size != "full":
        raise ValueError(f"batch_size {batch_size!r}: must be a positive number of rows or 'full'")
    return None if batch_size == "full" else int(batch_size)


def batch_source(
    data: Any, size: int | None, generator: torch.Generator, task: TaskName, model: nn.Module
) -> Source:
    """Tensors, a Dataset or a DataLoader as the batch source fit() trains on: batches of `size`
    rows (None: all), targets as the loss takes them, inputs as the model's first layer takes them."""
    return checks.prepared(as_source(data, size, generator), task, model)


def _check_finite(train: Source, val: Source | None, threads: int | None) -> None:
    """No NaN or inf in the inputs, looked at with the loop's thread count (it sets the rounding)."""
    with speed.threads(threads):
        for split, src in (("train", train), ("val", val)):
            checks.finite(src, split)


def _data_parallel(
    model: nn.Module, train: Source, device: torch.device, seed: int
) -> tuple[parallel.Group | None, Source]:
    """Under torchrun: DDP around the model and this rank's share of the batches; else as is."""
    group = parallel.current()  # started by torchrun: data-parallel over its processes
    if group is not None:
        group.wrap(model, device)
        train = group.shard(train, seed)
    return group, train


def _run(state: TrainState, train: Source, val: Source | None, threads: int | None) -> None:
    """run_epochs() between the fit start and end hooks; on an error, the exception hook first."""
    for cb in state.callbacks:
        cb.on_fit_start(state)
    try:
        with speed.threads(threads), speed.channels_last(state.model, train, val):
            run_epochs(state, train, val)
    except BaseException as error:
        for cb in state.callbacks:
            cb.on_exception(state, error)
        raise
    for cb in state.callbacks:
        cb.on_fit_end(state)
