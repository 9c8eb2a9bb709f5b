"""Windows of an ordered series, sliced by index batch by batch: the series is held once, as one
(T, F) tensor, and a batch gathers only its own windows (never an (N, window, F) copy of them all).

Window i starts at row `starts[i]`: its input is rows starts[i] .. starts[i] + window - 1 and its
targets are the `horizon` rows after that, flattened step-major to (horizon * targets,).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from treino.batches.source import EVAL_ROWS, Batch


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
        return Windows(*moved, self.window, self.horizon, self.batch_size)  # type: ignore[arg-type]

    def take(self, index: torch.Tensor) -> Batch:
        """Inputs (B, window, F) and targets (B, horizon * K) of windows `index`."""
        start = self.starts[index.to(self.starts.device)][:, None]  # (B, 1)
        x = self.series[start + self._past]  # (B, window, F)
        y = self.targets[start + self._ahead]  # (B, horizon, K)
        return x, y.reshape(len(start), -1)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n, bs = len(self.starts), self.batch_size
        if bs >= n:  # full batch: order does not change the gradient
            yield self.take(torch.arange(n))
            return
        perm = torch.randperm(n, generator=generator)
        for first in range(0, n, bs):
            yield self.take(perm[first : first + bs])

    def ordered(self, rows: int = EVAL_ROWS) -> Iterator[Batch]:
        for first in range(0, len(self.starts), rows):
            yield self.take(torch.arange(first, min(first + rows, len(self.starts))))
