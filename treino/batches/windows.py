"""Windows of an ordered series, sliced by index batch by batch: the series is held once, as one
(T, F) tensor, and a batch gathers only its own windows (never an (N, window, F) copy of them all).

Window i starts at row `starts[i]`: its input is rows starts[i] .. starts[i] + window - 1 and its
targets are the `horizon` rows after that, flattened step-major to (horizon * targets,).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from treino.batches.source import EVAL_ROWS, Batch
from treino.errors import ConfigError


class Windows:
    """A batch source of windows over `series` (T, F) with targets from `targets` (T, K).

    Example:
        >>> s = torch.arange(10.0)[:, None]
        >>> src = Windows(s, s, torch.tensor([0, 1, 2]), window=3, horizon=2, batch_size=2)
        >>> next(src.ordered())[0].shape, next(src.ordered())[1][0].tolist()
        (torch.Size([3, 3, 1]), [3.0, 4.0])
    """

    def __init__(
        self,
        series: torch.Tensor,
        targets: torch.Tensor,
        starts: torch.Tensor,
        window: int,
        horizon: int,
        batch_size: int | None = None,
    ) -> None:
        self.series, self.targets, self.starts = series, targets, starts.long()
        self.window, self.horizon = window, horizon
        self.batch_size = min(batch_size or len(starts), max(1, len(starts)))
        self.rank, self.world = 0, 1  # data parallel: this process keeps rows rank::world of a batch
        # offsets of one window's input rows and target rows from its start
        self._past = torch.arange(window, device=series.device)
        self._ahead = torch.arange(window, window + horizon, device=series.device)

    def __len__(self) -> int:  # batches per epoch
        return -(-len(self.starts) // self.batch_size)

    @property
    def rows(self) -> int:
        return len(self.starts)

    def to(self, device: torch.device) -> Windows:
        moved = [t.to(device) for t in (self.series, self.targets, self.starts)]
        out = Windows(*moved, self.window, self.horizon, self.batch_size)  # type: ignore[arg-type]
        out.rank, out.world = self.rank, self.world
        return out

    def shard(self, rank: int, world: int) -> Windows:
        """This process's share of every training batch under data parallelism, as engine.parallel's
        Shard does for tensors: every process draws the same global batch and keeps its rows
        rank, rank + world, ...; a last batch that does not divide is padded with its first rows."""
        if self.batch_size < len(self.starts) and self.batch_size % world:
            low, high = max(world, self.batch_size // world * world), (self.batch_size // world + 1) * world
            raise ConfigError(
                f"train.batch_size {self.batch_size} does not split evenly over {world} processes; "
                f"use a multiple of {world} (e.g. {low} or {high}) or 'full'"
            )
        out = self.to(self.series.device)
        out.rank, out.world = rank, world
        return out

    def _mine(self, index: torch.Tensor) -> torch.Tensor:
        if self.world == 1:
            return index
        short = -len(index) % self.world
        if short:
            index = torch.cat([index, index[:short]])
        return index[self.rank :: self.world]

    def take(self, index: torch.Tensor) -> Batch:
        """Inputs (B, window, F) and targets (B, horizon * K) of windows `index`."""
        start = self.starts[index.to(self.starts.device)][:, None]  # (B, 1)
        x = self.series[start + self._past]  # (B, window, F)
        y = self.targets[start + self._ahead]  # (B, horizon, K)
        return x, y.reshape(len(start), -1)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n, bs = len(self.starts), self.batch_size
        if bs >= n:  # full batch: order does not change the gradient
            yield self.take(self._mine(torch.arange(n)))
            return
        perm = torch.randperm(n, generator=generator)
        for first in range(0, n, bs):
            yield self.take(self._mine(perm[first : first + bs]))

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        for first in range(0, len(self.starts), rows):
            yield self.take(torch.arange(first, min(first + rows, len(self.starts))))
