"""What the data layer hands on: tensors per split, a description, the fitted preprocessing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from treino.data.info import DataInfo
from treino.errors import DataError


class Rows(Protocol):
    """Rows read on demand instead of held as tensors (an image folder bigger than
    data.memory_budget, a table streamed from disk): what a lazy `Split` holds."""

    def __len__(self) -> int: ...

    def take(self, index: torch.Tensor) -> torch.Tensor:
        """The preprocessed inputs of these rows, in this order."""
        ...

    def loader(self, batch_size: int, shuffle: bool, generator: torch.Generator | None) -> Any:
        """A DataLoader of (x, y) batches, y as stored in the split (encoded, not task-prepared)."""
        ...


@dataclass
class Split:
    """One split: inputs `x` and encoded targets `y` as tensors, or, for data too big for
    memory, `rows` that read inputs on demand (then `x` is None; `y` stays in memory).

    Consumers go through `source` (training), `ordered` (evaluation) and `take` (a few rows),
    so that both kinds serve every command."""

    x: torch.Tensor | None  # dense, or a CSR tensor (sparse TF-IDF) that batches densify
    y: torch.Tensor
    augment: bool = False  # images: random flips and crops in every training batch
    rows: Rows | None = None

    def __len__(self) -> int:
        return len(self.y)

    @property
    def lazy(self) -> bool:
        return self.x is None

    def source(
        self, batch_size: int, generator: torch.Generator | None = None, task: str | None = None
    ) -> Any:
        """What `engine.fit` takes for this split: (x, y), augmenting batches of images, or a
        loader of lazy rows whose targets are prepared for `task` batch by batch."""
        if self.x is None:
            from treino.batches.source import Loader

            assert self.rows is not None and task is not None
            loader = Loader(self.rows.loader(batch_size, True, generator), task)
            if not self.augment:
                return loader
            from treino.batches.augment import AugmentedLoader

            return AugmentedLoader(loader)
        if not self.augment:
            return self.x, self.y
        from treino.batches.augment import Augmented

        return Augmented(self.x, self.y, batch_size)

    def ordered(self, device: torch.device, task: str) -> Any:
        """The split in row order, for evaluation: resident tensors, or a loader of lazy rows."""
        from treino.batches.source import EVAL_ROWS, InMemory, Loader
        from treino.tasks import prepare_targets

        if self.x is None:
            assert self.rows is not None
            return Loader(self.rows.loader(EVAL_ROWS, False, None), task)
        return InMemory(self.x.to(device), prepare_targets(self.y, task).to(device), None)  # type: ignore[arg-type]

    def take(self, index: torch.Tensor | slice) -> torch.Tensor:
        """The inputs of some rows (a shape probe, the report's misclassified images)."""
        if self.x is not None:
            from treino.batches.sparse import dense_rows

            return dense_rows(self.x, index)  # a CSR x (TF-IDF) gives dense rows
        assert self.rows is not None
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        return self.rows.take(torch.as_tensor(index, dtype=torch.long))


@dataclass
class Data:
    train: Split
    val: Split | None
    test: Split | None
    info: DataInfo
    preprocessing: dict[str, Any]  # JSON-able state of the fitted preprocessing


def check_finite(frame: Any, where: str) -> None:
    """Refuse ±inf in any numeric column before training (NaN is a missing value, imputed)."""
    import numpy as np

    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind not in "fc":
            continue
        bad = np.isinf(column.to_numpy())
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"{where}: column '{name}' has {int(bad.sum())} infinite values (first {column.iloc[row]} at "
                f"row {row + 1}); replace them with finite numbers, or empty cells to be imputed"
            )


def memory_budget(cfg: Any) -> int:
    """data.memory_budget in bytes; auto = a quarter of the machine's physical memory."""
    import os

    from treino.config.schema import parse_bytes

    given = parse_bytes(cfg.memory_budget)
    if given is not None:
        return given
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest machine
        total = 8 * 2**30
    return total // 4


def workers(cfg: Any) -> int:
    """data.workers: auto = CPU cores - 1 (the training process keeps one), at most 4."""
    if cfg.workers != "auto":
        return int(cfg.workers)
    from treino.batches.source import cpu_cores

    return max(0, min(4, cpu_cores() - 1))
