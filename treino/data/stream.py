"""Parquet tables bigger than data.memory_budget, read by row groups instead of whole. Each
row's split is drawn from the seed and its row group (no index of every row in memory); a
split is a `Rows` that decodes, transforms and batches a few thousand rows at a time, with a
reader thread decoding the next chunk while the model trains on this one. Only the targets
(4 bytes a row) stay in memory. The fitting pass is in `stream_fit.py`; docs/data.md,
"Tables bigger than memory", says what changes for the user."""

from __future__ import annotations

import ctypes
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from treino.batches.source import cpu_cores
from treino.data.core import memory_budget
from treino.data.preprocess import TablePreprocessor
from treino.data.splits import SPLIT_NAMES, TEST, TRAIN, VAL
from treino.data.tables import numeric_target
from treino.errors import DataError

READ_ROWS = (1024, 65_536)  # rows decoded at once, within the budget: the transform's float64
# temporaries take ~32 bytes a column a row, and a sixteenth of the budget goes to them
READ_BUFFER = 1 << 16  # bytes: pages are read through this buffer, not whole column chunks
# (one row group of 1M rows x 21 float64 columns would take 170 MB before its first batch)
SHUFFLE_ROWS = 262_144  # training rows shuffled together (a few row groups), capped by the budget
DROPPED = -1  # code of a row left out: its target is empty (data.drop_missing_target)
PREFETCH = 2  # chunks the reader thread decodes ahead of the loop
SPLIT_SALT = 0x5EED  # keeps the split draw apart from the seed's other uses


def decoded_size(path: Path) -> int:
    """Bytes the table would take read whole, from the Parquet footer alone: the larger of 8
    bytes a cell (pandas' float64 or object pointer) and the row groups' uncompressed sizes."""
    meta = pq.ParquetFile(path).metadata
    stored = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
    return max(meta.num_rows * meta.num_columns * 8, stored)


def over_budget(path: Path, cfg: Any) -> bool:
    """A Parquet file too big for data.memory_budget (an unreadable one is left to the reader,
    whose error names the problem)."""
    if path.suffix.lower() not in (".parquet", ".pq") or path.stat().st_size == 0:
        return False
    try:
        return decoded_size(path) > memory_budget(cfg)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return False


def open_table(path: Path, cfg: Any) -> StreamTable:
    """A Parquet file over the budget, as a table to stream (split by `seed` in stream_fit)."""
    if cfg.target is None:
        cols = ", ".join(pq.ParquetFile(path).schema_arrow.names[:30])
        raise DataError(f"{path}: which column is the target? pass --target COL (columns: {cols})")
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    return StreamTable(path, target, 0, cfg.split.val, cfg.split.test, cfg.split.column, memory_budget(cfg))


def whole_note(source: str, cfg: Any) -> list[str]:
    """A text table bigger than the budget is still read whole: say so, and how to stream it."""
    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq", ".npz") or not path.is_file():
        return []
    size, budget = path.stat().st_size, memory_budget(cfg)
    if size <= budget:
        return []
    return [f"{path.name} ({size_text(size)}) is over data.memory_budget {size_text(budget)} but was read whole: "
            f"only Parquet tables are streamed by row groups; convert it to Parquet to stream it"]  # fmt: skip


def size_text(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


@dataclass
class Chunk:
    """Up to `StreamTable.chunk_rows` consecutive rows of one row group, with each row's split code."""

    group: int
    first: int  # file row (0-based) of the chunk's first row
    batch: pa.RecordBatch
    codes: np.ndarray  # int8: TRAIN, VAL, TEST or DROPPED


@dataclass
class StreamTable:
    """A Parquet file read by row groups, and how its rows are assigned to the splits."""

    path: Path
    target: list[str]
    seed: int
    val: float
    test: float
    split_column: str | None = None
    budget: int = 1 << 30  # data.memory_budget, bytes
    group_rows: list[int] = field(default_factory=list)
    chunk_rows: int = READ_ROWS[1]

    def __post_init__(self) -> None:
        meta = pq.ParquetFile(self.path).metadata
        self.group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.chunk_rows = int(np.clip(self.budget // 16 // (32 * meta.num_columns), *READ_ROWS))

    @property
    def rows(self) -> int:
        return sum(self.group_rows)

    def chunks(self, columns: list[str] | None, groups: Any = None) -> Iterator[Chunk]:
        """The chunks of `groups` (all, in file order, by default), `columns` only (None: all)."""
        handle = pq.ParquetFile(
            self.path, buffer_size=READ_BUFFER, pre_buffer=False
        )  # one per pass: it may run in a thread
        starts = np.concatenate([[0], np.cumsum(self.group_rows)])
        for g in range(len(self.group_rows)) if groups is None else groups:
            g = int(g)
            draw = np.random.default_rng([self.seed, SPLIT_SALT, g]).random(self.group_rows[g])
            start = 0
            for batch in handle.iter_batches(
                self.chunk_rows, row_groups=[g], columns=columns, use_threads=False
            ):
                first = int(starts[g]) + start
                codes = self._codes(draw[start : start + batch.num_rows], batch, first)
                yield Chunk(g, first, batch, codes)
                start += batch.num_rows

    def _codes(self, draw: np.ndarray, batch: pa.RecordBatch, first: int) -> np.ndarray:
        """Split codes: from data.split.column, or a uniform draw against the fractions."""
        if self.split_column is None:
            codes = np.full(len(draw), TRAIN, dtype=np.int8)
            codes[draw < self.test + self.val] = VAL
            codes[draw < self.test] = TEST
        else:
            names = batch.column(self.split_column).to_pandas().astype(str).str.strip().str.lower()
            mapped = names.map(SPLIT_NAMES)
            if mapped.isna().any():
                row = int(np.argmax(mapped.isna().to_numpy()))
                value = batch.column(self.split_column)[row].as_py()
                raise DataError(
                    f"{self.path}: split column '{self.split_column}' has {value!r} at row {first + row + 1}; "
                    f"use train, val or test"
                )
            codes = mapped.to_numpy(dtype=np.int8)
        for name in self.target:
            codes[pc.is_null(batch.column(name), nan_is_null=True).to_numpy(zero_copy_only=False)] = DROPPED
        return codes


class StreamRows:
    """One split of a streamed table: transformed inputs read on demand, in file order or
    shuffled, targets from the split's `y` (kept in memory, in file order)."""

    def __init__(
        self, table: StreamTable, code: int, columns: list[dict[str, Any]], y: torch.Tensor,
        per_group: np.ndarray, budget: int,
    ) -> None:  # fmt: skip
        self.table, self.code, self.y = table, code, y
        self.prep = TablePreprocessor(columns)
        self.width = len(self.prep.feature_names)
        self.read = (
            [c["name"] for c in columns] + table.target + ([table.split_column] if table.split_column else [])
        )
        self.read = list(dict.fromkeys(self.read))
        self.offsets = np.concatenate([[0], np.cumsum(per_group)])  # first y row of each group
        self.budget = budget

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One row (x, y), as a Dataset gives it: the engine's thread choice probes row 0."""
        return self.take(torch.tensor([i]))[0], self.y[i]

    def pieces(self, groups: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(x (n, D) float32, y (n, ...)) of this split's rows, chunk by chunk, groups in order.
        numpy, not torch: torch.cat at 2 threads took 15x numpy's time on a busy machine."""
        targets = self.y.numpy()
        group, seen = -1, 0
        for chunk in self.table.chunks(self.read, groups):
            if chunk.group != group:
                group, seen = chunk.group, 0
            mask = chunk.codes == self.code
            n = int(mask.sum())
            if n == 0:
                continue
            frame = chunk.batch.filter(pa.array(mask)).to_pandas()
            x = self.prep.transform(frame)
            at = int(self.offsets[group]) + seen
            seen += n
            yield x, targets[at : at + n]

    def groups(self) -> np.ndarray:
        """The row groups holding rows of this split."""
        return np.nonzero(np.diff(self.offsets))[0]

    def take(self, index: torch.Tensor) -> torch.Tensor:
        """The inputs of rows at these positions of the split (reads only their row groups, and
        each only as far as the last row wanted)."""
        index = index.numpy()
        group = np.searchsorted(self.offsets, index, side="right") - 1
        out = torch.empty(len(index), self.width)
        for g in np.unique(group):
            at = group == g
            want = index[at] - self.offsets[g]
            got, held = [], 0
            for x, _ in self.pieces([g]):
                got.append(x)
                held += len(x)
                if held > want.max():
                    break
            out[torch.from_numpy(np.nonzero(at)[0])] = torch.from_numpy(np.concatenate(got)[want])
        return out

    def loader(
        self, batch_size: int, shuffle: bool, generator: torch.Generator | None = None
    ) -> StreamLoader:
        """Batches of (x, y); `generator` is unused: see StreamLoader's shuffling."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            raise DataError(
                f"{self.table.path}: a table streamed from disk (bigger than data.memory_budget) trains in "
                f"one process; drop --devices, or raise data.memory_budget to read it whole"
            )
        # rows shuffled together: a quarter of the budget, at most SHUFFLE_ROWS, at least one batch
        fits = self.budget // 4 // max(1, 4 * self.width)
        return StreamLoader(self, batch_size, shuffle, max(batch_size, min(SHUFFLE_ROWS, fits)))


class StreamLoader:
    """Batches of a streamed split: every batch full but the last, so an epoch has exactly
    len(self) steps. Shuffled: row groups in a random order, rows shuffled within a window of
    `window` rows. The order comes from torch's global generator, drawn at the start of each
    epoch: the checkpoint saves that generator, so a resumed run shuffles as an uninterrupted one."""

    sampler = None  # not a DataLoader: nothing for Loader.epoch to hand the loop's generator to

    def __init__(self, rows: StreamRows, batch_size: int, shuffle: bool, window: int) -> None:
        self.dataset, self.batch_size, self.shuffle, self.window = rows, batch_size, shuffle, window

    def __len__(self) -> int:
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rows, rng = self.dataset, None
        groups = rows.groups()
        if self.shuffle:
            rng = np.random.default_rng(int(torch.randint(2**62, (1,)).item()))
            groups = rng.permutation(groups)
        pieces = rows.pieces(groups)
        # a reader thread needs a core of its own: with torch's threads on every core, their
        # OpenMP workers spin while it works (a 2-core eval pass took 15 s, 5.5 s without it)
        if torch.get_num_threads() < cpu_cores():
            pieces = _prefetch(pieces)
        return self._batches(pieces, rng)

    def _batches(self, pieces: Iterator[tuple[np.ndarray, np.ndarray]], rng: Any) -> Iterator[Any]:
        size = self.batch_size
        window = self.window if rng is not None else size
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        held = since = 0  # rows held; rows batched since the heaps were last trimmed
        for x, y in pieces:
            xs.append(x)
            ys.append(y)
            held += len(x)
            if held < window:
                continue
            x, y = _mixed(xs, ys, rng)
            cut = held - held % size
            for start in range(0, cut, size):
                yield torch.from_numpy(x[start : start + size]), torch.from_numpy(y[start : start + size])
            xs, ys, held = [x[cut:]], [y[cut:]], held - cut
            since += cut
            if since >= SHUFFLE_ROWS:
                since = 0
                _release()
        if held:
            x, y = _mixed(xs, ys, rng)
            for start in range(0, held, size):
                yield torch.from_numpy(x[start : start + size]), torch.from_numpy(y[start : start + size])


def _mixed(xs: list[np.ndarray], ys: list[np.ndarray], rng: Any) -> tuple[np.ndarray, np.ndarray]:
    """The held rows as one block, shuffled when training."""
    x, y = np.concatenate(xs), np.concatenate(ys)
    if rng is None:
        return x, y
    order = rng.permutation(len(x))
    return x[order], y[order]


def _release() -> None:
    """Hand freed heap pages back to the OS (glibc; elsewhere a no-op), every SHUFFLE_ROWS rows
    batched. Chunks decoded in the reader thread and freed in the training thread fragment the
    heaps: without this, RSS grew ~23 MB every 100 steps of 4096 rows (a 2 GB table's epoch
    peaked at 1.6 GB instead of staying near the 200 MB table's)."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim(0)
        except (OSError, AttributeError):
            _LIBC = False
            return
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _prefetch(items: Iterator[Any], depth: int = PREFETCH) -> Iterator[Any]:
    """`items` produced by a reader thread, `depth` ahead: pyarrow and numpy release the GIL, so
    decoding the next chunk overlaps the training step on this one. A consumer that stops early
    (early stopping, Ctrl-C) stops the thread."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop, done = threading.Event(), object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as error:  # raised again in the consumer, where it is seen
            put(_Failed(error))

    thread = threading.Thread(target=work, name="treino-parquet-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


def encode_target(frame: pd.DataFrame, target: list[str], classes: dict[Any, int] | None, rows: np.ndarray,
                  where: str) -> np.ndarray:  # fmt: skip
    """Targets of kept rows (file rows `rows`, 0-based): float32 (n, k) numbers, or int64 (n,)
    class indices."""
    if classes is not None:
        return frame[target[0]].map(classes).to_numpy(dtype=np.int64)
    return numeric_target(frame, target, where, rows)
