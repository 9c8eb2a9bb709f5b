"""Data parallelism inside one process group, as the loop needs it: torchrun (torch.distributed.run)
starts one process per device, DistributedDataParallel averages the gradients, and this module
holds the little treino adds around them: sharding the batches by rank, one reduction of the
losses and metrics per epoch, and agreeing on when to stop. Joining and leaving the process
group is the run's work (treino/run/processes.py); the launcher behind `treino train --devices N`
is treino/run/launch.py.

Equivalence with one process: DDP averages the ranks' gradients, and the mean of per-rank
mean losses is the mean over the global batch only when every rank holds as many rows as the
others. So `train.batch_size` (the global batch) must split evenly over the processes, and
a last batch that does not divide by the process count is padded as DistributedSampler
pads its indices (by repeating its first rows).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from treino.batches.source import EVAL_ROWS, Batch, InMemory, Loader, Source
from treino.engine.callbacks import Callback
from treino.errors import ConfigError

if TYPE_CHECKING:
    from treino.engine.state import TrainState


def current() -> Group | None:
    """The group of an initialized process group with more than one process, else None."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return None
    return Group(dist.get_rank(), dist.get_world_size())


class Group:
    """This process's place among the data-parallel processes, and what the loop asks of them."""

    def __init__(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world
        self.ddp: nn.Module | None = None
        self.owned = False  # True when treino.run.processes.setup() initialized the process group

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DDP around the model; it broadcasts rank 0's weights, then averages every gradient."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        if device.type == "cuda":  # untested here (no GPU)
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.ddp = DDP(model, device_ids=[index])
        else:
            self.ddp = DDP(model)
        return self.ddp

    def shard(self, source: Source, seed: int) -> Source:
        """This rank's share of the training batches; `source.batch_size` stays the global batch."""
        if isinstance(source, InMemory):
            return Shard(source, self.rank, self.world)
        if callable(getattr(source, "shard", None)):  # a series' windows (batches.windows) shard themselves
            return source.shard(self.rank, self.world)  # type: ignore[attr-defined]
        return _sharded_loader(source, self.rank, self.world, seed)

    def reduce_epoch(
        self, step_losses: torch.Tensor, outs: list[torch.Tensor], targets: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """The epoch's one exchange: every step's loss averaged over ranks (equal shards make it
        the global batch mean), and all outputs/targets gathered for the train metrics."""
        losses = step_losses.clone()
        dist.all_reduce(losses)
        losses /= self.world
        if outs:
            outs, targets = [_gather(torch.cat(outs), self.world)], [_gather(torch.cat(targets), self.world)]
        return losses, outs, targets

    def agree_stop(self, state: TrainState) -> None:
        """Stop everywhere when any rank was asked to (a signal) or rank 0's early stopping says so."""
        flag = torch.tensor([float(state.should_stop)], device=_collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        box = [(state.should_stop, state.stop_reason, state.best_epoch, state.best_value)]
        dist.broadcast_object_list(box, src=0)  # rank 0's decision wins: one truth, broadcast
        stop, reason, state.best_epoch, state.best_value = box[0]
        state.should_stop = bool(flag.item()) or stop
        state.stop_reason = reason
        if state.should_stop and not stop:  # rank 0 saw no reason: another rank got a signal
            state.stop_reason = "stopped because another process received a signal"


def _collective_device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def _gather(tensor: torch.Tensor, world: int) -> torch.Tensor:
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


class AgreeOnStop(Callback):
    """Runs last at every epoch end so that all processes leave the loop together."""

    def __init__(self, group: Group) -> None:
        self.group = group

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.group.agree_stop(state)


class Shard:
    """One rank's share of every batch of an in-memory split (or of one that augments its batches).

    Every rank draws the same global batch from the shared generator; rank r keeps its rows
    r, r + W, r + 2W, ..., so its step-k rows are exactly its share of the rows one process
    uses at step k. A last batch that does not divide by W is padded as DistributedSampler
    does, by repeating its first rows.
    """

    def __init__(self, source: InMemory, rank: int, world: int) -> None:
        self.source, self.rank, self.world = source, rank, world
        self.x, self.y = source.x, source.y  # resident on the device, as the loop expects
        batch = source.batch_size
        if batch < len(source.x) and batch % world:
            low, high = max(world, batch // world * world), (batch // world + 1) * world
            raise ConfigError(
                f"train.batch_size {batch} does not split evenly over {world} processes; "
                f"use a multiple of {world} (e.g. {low} or {high}) or 'full'"
            )
        self.batch_size = batch  # global

    def __len__(self) -> int:  # steps per epoch, the same as one process with the global batch
        return len(self.source)

    @property
    def rows(self) -> int:
        return len(self.x)

    def to(self, device: torch.device) -> Shard:
        return Shard(self.source.to(device), self.rank, self.world)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        for x, y in self.source.epoch(generator):
            short = -len(x) % self.world
            if short:
                x, y = torch.cat([x, x[:short]]), torch.cat([y, y[:short]])
            yield x[self.rank :: self.world], y[self.rank :: self.world]

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        return self.source.ordered(rows)


class ShardedLoader(Loader):
    """Lazy data: a DataLoader over a DistributedSampler, reshuffled from the shared generator.
    Its batches go through the source's own epoch(): targets prepared for the task, lazy
    images augmented."""

    def __init__(self, loader: DataLoader, sampler: DistributedSampler, whole: Loader) -> None:
        super().__init__(loader, whole.task)
        self.sampler, self.whole = sampler, whole
        self.inner = copy.copy(whole)  # the source's class and settings, reading this rank's share
        self.inner.loader = loader

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        # The same draw on every rank (same seed, same generator), and it survives a resume.
        self.sampler.set_epoch(int(torch.randint(2**31 - 1, (), generator=generator)))
        yield from self.inner.epoch(generator)

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        return self.whole.ordered(rows)


def _sharded_loader(source: Loader, rank: int, world: int, seed: int) -> ShardedLoader:
    loader = source.loader
    batch = loader.batch_size
    if batch is None or batch % world:
        raise ConfigError(
            f"the DataLoader's batch_size {batch} does not split evenly over {world} processes; "
            f"give a batch_size that is a multiple of {world}"
        )
    sampler = DistributedSampler(loader.dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sharded = DataLoader(
        loader.dataset, batch_size=batch // world, sampler=sampler, num_workers=loader.num_workers,
        collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last,
        persistent_workers=loader.persistent_workers, generator=loader.generator,
        prefetch_factor=loader.prefetch_factor if loader.num_workers else None,
    )  # fmt: skip
    return ShardedLoader(sharded, sampler, source)
