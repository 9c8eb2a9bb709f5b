"""Speed for the loop: CPU threads matched to the work of one step, torch.compile, and the
loop's own overhead (time outside forward, backward and the optimizer step), measured with
two clock reads per step and no host sync."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from treino.batches.source import cpu_cores

# Work of one training step (forward + backward, ~3x the forward's matmul/conv FLOPs) below
# which one CPU thread beats several: the threads' fork/join (~10-50 us per op) then costs
# more than it saves. Measured on 2 idle cores (2026-11-22, load < 1; 2 threads / 1 thread,
# per step): a 20x64 MLP at batch 32 (0.3 MFLOP) 1.03, at 256 (2 MFLOP) 1.19; the CNN on 8x8
# digits at batch 64 (32-60 MFLOP) 0.91-0.96; a 784x256 MLP at batch 128 (156 MFLOP) 0.82;
# TF-IDF 5000x64 at 64 (123 MFLOP) 0.80; the mnist CNN at batch 64 (390 MFLOP) 0.70. On a
# machine loaded by other work a second thread loses even there (the mnist CNN was 1.5x
# faster on one thread at load 12): the threshold is set for the idle machine users train on.
# The choice depends on the model, batch and cores alone, never on the load: the thread count
# changes float rounding, and the same config must give the same weights.
PARALLEL_FLOPS = 1e8  # FLOPs per step
PROBE_ROWS = 64  # rows of the forward pass that counts the FLOPs


def step_flops(model: nn.Module, x: torch.Tensor, batch_rows: int) -> float:
    """FLOPs of one training step at `batch_rows` rows, from one counted forward on a few rows.

    The probe runs in eval mode without gradients: no batch-norm statistics move and no
    dropout draws from the random generator, so training is unchanged by it.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from treino.batches.sparse import dense_rows

    probe = dense_rows(x, slice(0, PROBE_ROWS))  # a CSR x (sparse TF-IDF): its rows made dense
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(probe)
    finally:
        model.train(was_training)
    return 3.0 * counter.get_total_flops() * batch_rows / max(1, len(probe))


def choose_threads(model: nn.Module, source: object, device: torch.device) -> int | None:
    """One CPU thread for small steps, every available core for big ones (see PARALLEL_FLOPS).

    None (torch's setting stays) off the CPU, for a DataLoader of the user's, and when the
    probe's forward fails: the first training step then raises it, where the callbacks see it.
    treino's own lazy data (a Loader with a task) is probed with its first row.
    """
    x, rows = getattr(source, "x", None), getattr(source, "batch_size", None)
    if x is None and callable(getattr(source, "take", None)):  # series windows: probed with the first
        x = source.take(torch.arange(min(PROBE_ROWS, source.rows)))[0]  # type: ignore[attr-defined]
    loader = getattr(source, "loader", None)
    if device.type != "cpu" or (x is None and (loader is None or getattr(source, "task", None) is None)):
        return None
    try:
        if x is None:  # lazy rows: a user's dataset may draw random numbers per row, treino's do not
            x, rows = loader.dataset[0][0][None], loader.batch_size  # type: ignore[union-attr]
        flops = step_flops(model, x, rows)  # type: ignore[arg-type]
    except Exception:
        return None
    recurrent = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    if recurrent:
        # a recurrent layer runs one small matmul per time step, not one big one: the threads'
        # fork/join is paid every step. Judged by one time step's work (an LSTM of 64 units at
        # batch 32-64: 2 threads took 10-30x the CPU time of 1 on this loaded 2-core machine)
        weights = sum(
            p.numel() for m in recurrent for n, p in m.named_parameters() if n.startswith("weight_")
        )
        flops = 6.0 * weights * (rows or 1)  # forward + backward of one step, 2 FLOPs per multiply-add
    return 1 if flops < PARALLEL_FLOPS else min(cpu_cores(), torch.get_num_threads())


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `n` for the block, then put back (None: unchanged)."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def channels_last(model: nn.Module, *sources: object) -> Iterator[None]:
    """treino's own CNNs train in NHWC memory order (oneDNN's fast path): the mnist CNN's steps
    take 0.67x the time on CPU. In-memory images follow; the model is NCHW again afterwards
    (safetensors and users expect plain contiguous weights).

    A module says it takes NHWC tensors with a class attribute `prefers_channels_last = True`
    (treino.models.cnn.CNN does). A user's model is never switched: its forward may flatten with
    `x.view(x.size(0), -1)`, which fails on an NHWC tensor.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    marked = [m for m in model.modules() if getattr(m, "prefers_channels_last", False)]
    inside = {id(c) for m in marked for c in m.modules()}
    switch = bool(convs) and all(id(c) in inside for c in convs)  # every conv is in one of treino's CNNs
    if switch:
        model.to(memory_format=torch.channels_last)
        for src in sources:
            x = getattr(src, "x", None)
            if x is not None and x.ndim == 4:
                src.x = x.contiguous(memory_format=torch.channels_last)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if switch:
            model.to(memory_format=torch.contiguous_format)


def compiled(model: nn.Module, enabled: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """The callable the loop trains through: torch.compile(model) or the model itself.

    The state keeps the plain module, so state_dict keys (checkpoints, bundles) are the same
    with and without compile.
    """
    return torch.compile(model) if enabled else model


def grad_reset(optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """What optimizer.zero_grad(set_to_none=True) does, for torch's own optimizers: every
    optimized parameter's grad set to None, without the profiler label torch opens around it
    (~10 us per call on CPU, 2-4% of a small MLP's step). An optimizer with a zero_grad of its
    own keeps it."""
    if type(optimizer).zero_grad is not torch.optim.Optimizer.zero_grad:
        return lambda: optimizer.zero_grad(set_to_none=True)
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def reset() -> None:
        for p in params:
            p.grad = None

    return reset


class Meter:
    """Where training time goes: `busy` = forward, loss, backward, step (plus the wait at the
    epoch's one sync), `wall` = whole training epochs. The rest is the loop's overhead."""

    def __init__(self, keep_steps: bool = False) -> None:
        self.busy = 0.0  # seconds
        self.wall = 0.0  # seconds
        self.keep_steps = keep_steps
        self.steps: list[float] = []  # busy seconds per step, kept when compiling

    def add_step(self, seconds: float) -> None:
        self.busy += seconds
        if self.keep_steps:
            self.steps.append(seconds)

    @property
    def overhead(self) -> float:
        """Fraction of the training time spent outside forward/backward/step (0..1)."""
        return max(0.0, self.wall - self.busy) / self.wall if self.wall > 0 else 0.0

    @property
    def compile_seconds(self) -> float:
        """Time of the steps that compiled (those 10x slower than the median step), less a step."""
        if len(self.steps) < 3:
            return sum(self.steps)
        typical = statistics.median(self.steps)
        return sum(s - typical for s in self.steps if s > 10 * typical)
