"""Batches for the loop. In-memory tensors: one permutation per epoch, gathered whole (narrow
rows) or batch by batch (wide rows); no per-sample __getitem__, no collate. Anything else: a
torch DataLoader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from treino.batches import sparse

Batch = tuple[torch.Tensor, torch.Tensor]
EVAL_ROWS = 1024  # rows per forward pass when evaluating
# Rows up to this many values are shuffled by one gather per epoch, then sliced (the 20-column
# MLP: 0.94x the time of a gather per batch); wider rows are gathered batch by batch, which
# stays in cache for the forward and copies no whole split (TF-IDF 5000 wide: 0.71x).
NARROW_ROW = 256  # values per row


class InMemory:
    """(X, y) resident on one device, shuffled by a seeded generator once per epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int | None) -> None:
        if len(x) != len(y):
            raise ValueError(f"X has {len(x)} rows but y has {len(y)}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size {batch_size}: must be a positive number of rows or 'full'")
        self.x, self.y = x, y
        self.batch_size = min(batch_size or len(x), len(x))

    def __len__(self) -> int:  # batches per epoch
        return -(-len(self.x) // self.batch_size)

    @property
    def rows(self) -> int:
        return len(self.x)

    def to(self, device: torch.device) -> InMemory:
        return InMemory(self.x.to(device), self.y.to(device), self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n, bs = len(self.x), self.batch_size
        if sparse.is_sparse(self.x):  # CSR rows (TF-IDF): densified batch by batch, in the same order
            perm = torch.randperm(n, generator=generator).to(self.x.device) if bs < n else None
            yield from sparse.epoch(self.x, self.y, bs, perm)
            return
        if bs >= n:  # full batch: order does not change the gradient
            yield self.x, self.y
            return
        perm = torch.randperm(n, generator=generator).to(self.x.device)
        if self.x[0].numel() > NARROW_ROW:  # wide rows: one gather per batch
            for start in range(0, n, bs):
                rows = perm[start : start + bs]
                yield self.x[rows], self.y[rows]
            return
        x, y = self.x[perm], self.y[perm]  # narrow rows: one gather per epoch, then views
        for start in range(0, n, bs):
            yield x[start : start + bs], y[start : start + bs]

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        if sparse.is_sparse(self.x):
            yield from sparse.epoch(self.x, self.y, rows, None)
            return
        for start in range(0, len(self.x), rows):
            yield self.x[start : start + rows], self.y[start : start + rows]


class LoopShuffled(Sampler[int]):
    """Row indices in a new random order every epoch, drawn from `generator` as InMemory draws
    its permutation. `Loader.epoch` hands it the loop's generator, so lazy data is shuffled as
    the same data in memory would be, and a resumed run draws the orders of an uninterrupted one."""

    def __init__(self, n: int, generator: torch.Generator | None) -> None:
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


class Loader:
    """A DataLoader the user built, or one built around a Dataset that is not in memory. With a
    `task`, each batch's targets are prepared for it (lazy splits of treino's own data)."""

    def __init__(self, loader: DataLoader, task: str | None = None) -> None:
        self.loader, self.task = loader, task

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def rows(self) -> int:
        return len(self.loader.dataset)  # type: ignore[arg-type]

    def to(self, device: torch.device) -> Loader:
        return self  # batches move as they come

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        sampler = self.loader.sampler
        if isinstance(sampler, LoopShuffled) and generator is not None:
            sampler.generator = generator  # the loop's: saved in checkpoints, so resume draws the same
        return self.ordered()

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        batches = map(_pair, self.loader)
        if self.task is None:
            return batches
        from treino.tasks import prepare_targets

        return ((x, prepare_targets(y, self.task)) for x, y in batches)  # type: ignore[arg-type]


Source = InMemory | Loader


def as_source(data: Any, batch_size: int | None, generator: torch.Generator | None) -> Source:
    """Wrap (X, y) tensors, a Dataset or a DataLoader for the loop."""
    if isinstance(data, InMemory | Loader) or callable(getattr(data, "epoch", None)):
        return data  # ours, or another batch source of the protocol (batches.windows.Windows)
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = (_tensor(v) for v in data)
        return InMemory(x, y, batch_size)
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        return InMemory(data.tensors[0], data.tensors[1], batch_size)
    if isinstance(data, DataLoader):
        return Loader(data)
    if isinstance(data, Dataset):
        size = batch_size or len(data)  # type: ignore[arg-type]
        return Loader(DataLoader(data, batch_size=size, shuffle=True, generator=generator))
    raise TypeError(
        f"train/val data must be (X, y) tensors, a Dataset or a DataLoader, not {type(data).__name__}"
    )


def _tensor(values: Any) -> torch.Tensor:
    """A tensor as given; numpy/pandas/lists as a tensor, their float64 (numpy's default) as
    float32 (torch's), as a model's weights expect."""
    if isinstance(values, torch.Tensor):
        return values
    if hasattr(values, "tocsr"):  # a scipy.sparse matrix (scikit-learn's TF-IDF): held as CSR
        return sparse.from_scipy(values.tocsr())
    out = torch.as_tensor(values.to_numpy(copy=True) if hasattr(values, "to_numpy") else values)
    return out.to(torch.get_default_dtype()) if out.is_floating_point() else out


def _pair(batch: Any) -> Batch:
    """A user's DataLoader batch, which the loop unpacks as (x, y)."""
    if isinstance(batch, tuple | list) and len(batch) == 2:
        return batch[0], batch[1]
    if isinstance(batch, dict):
        got = f"a dict with keys {', '.join(repr(k) for k in batch)}"
    else:
        got = f"a {type(batch).__name__}" + (
            f" of {len(batch)} items" if isinstance(batch, tuple | list) else ""
        )
    raise TypeError(
        f"a DataLoader batch must be (x, y), but it is {got}; make the Dataset return (x, y) pairs "
        f"(or give a collate_fn that does)"
    )


def cpu_cores() -> int:
    """Cores this process may run on (its affinity), not the machine's count: the one count of
    the loop's threads (engine), data workers and the stream's reader thread (data)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1
