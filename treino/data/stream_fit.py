"""The fitting pass of a streamed Parquet table (see stream.py): task and roles from a sample
of the first rows, classes and empty targets from the target column alone, then one pass over
every row that keeps each split's targets and fits the preprocessing on the train rows
(running mean/variance, min/max, category counts). The preprocessing state has the in-memory
path's form, so predict and export work unchanged."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from treino.config import DataConfig
from treino.data.build import choose_task
from treino.data.builtin import Table
from treino.data.core import Data, Split, memory_budget
from treino.data.info import DataInfo
from treino.data.preprocess import MAX_CATEGORIES, TablePreprocessor, numeric_matrix
from treino.data.splits import (
    SPLITS,
    TEST,
    TRAIN,
    VAL,
    check_split_sizes,
    class_counts,
    class_note,
    stratify,
)
from treino.data.stream import (
    DROPPED,
    READ_BUFFER,
    StreamRows,
    StreamTable,
    decoded_size,
    encode_target,
    size_text,
)
from treino.data.tables import check_classes, check_numbers, check_target, choose_roles, describe_roles
from treino.errors import DataError
from treino.registry import did_you_mean

SAMPLE_ROWS = (10_000, 200_000)  # first rows read whole to infer the task and roles and fit the
# fills: a quarter of the budget at 8 bytes a cell, within these bounds
CATEGORY_CAP = 10_000  # distinct values counted per categorical column; past it the rarest are forgotten


def stream_data(table: StreamTable, cfg: DataConfig, where: str, seed: int) -> Data:
    """Split, fit and describe a Parquet table too big for data.memory_budget, reading it by
    row groups; the splits read their rows on demand."""
    for name, extra in (("val", cfg.val), ("test", cfg.test)):
        if extra is not None:
            raise DataError(
                f"data.{name}: a separate file cannot join a table streamed from disk (bigger than "
                f"data.memory_budget); mark its rows in data.source with data.split.column, or raise "
                f"data.memory_budget"
            )
    table = replace(table, seed=seed)
    names = pq.ParquetFile(table.path).schema_arrow.names
    absent = [t for t in table.target if t not in names]
    if absent:
        check_target(pd.DataFrame(columns=names), absent, where)  # its message for an absent column
    if table.split_column is not None and table.split_column not in names:
        raise DataError(f"{where}: data.split.column '{table.split_column}' is not a column"
                        f"{did_you_mean(table.split_column, names)}")  # fmt: skip
    budget = memory_budget(cfg)
    notes = [f"streamed by row groups ({len(table.group_rows)} of them): {table.rows} rows would take "
             f"{size_text(decoded_size(table.path))} read whole, over data.memory_budget {size_text(budget)}"]  # fmt: skip
    wide = 8 * len(names)
    sample, codes = _sample(table, int(np.clip(budget // 4 // wide, *SAMPLE_ROWS)), where)
    target = table.target
    check_target(sample, target, where)
    kept = sample[codes != DROPPED]
    task, why = choose_task(cfg, Table(kept, target), target, kept)
    notes += [why] if why else []
    if len(target) > 1 and task != "regression":
        raise DataError(f"data.target: several targets {target} need data.task: regression")
    values, n_rows = _target_pass(table, task, cfg, where)
    check_classes(task, values, n_rows, bool(why), kept[target[0]], where)
    classes = [str(v) for v in values] if task != "regression" else []
    if n_rows < table.rows:
        notes.append(f"dropped {table.rows - n_rows} rows with an empty target")
    roles = _roles(kept, cfg, where, notes)
    train_sample = kept[codes[codes != DROPPED] == TRAIN]
    if len(train_sample) == 0:
        raise DataError(f"{where}: no training rows among the first {len(sample)}; lower data.split.val/test")
    prep = TablePreprocessor.fit(train_sample, roles, cfg.scale, cfg.categorical, None, where)
    index = {v: i for i, v in enumerate(values)} if task != "regression" else None
    ys, per_group, columns = _fit_pass(table, roles, prep.columns, index, cfg.scale, where)
    if table.split_column is None:
        check_split_sizes(cfg, n_rows, tuple(ys[c] for c in (TRAIN, VAL, TEST)), where)  # type: ignore[arg-type]
    notes.append(f"streamed: task, roles, numeric fills (medians) and date parts from the first {len(sample)} "
                 f"rows; means, scales and categories from every train row")  # fmt: skip
    if table.split_column is None:
        strat = (
            " (not stratified by class when streamed)" if task != "regression" and stratify(cfg, task) else ""
        )
        notes.append(f"split: each row drawn by itself from the seed{strat}; sizes near the fractions")
    state: dict[str, Any] = {"kind": "table", "columns": columns}
    if task == "regression" and cfg.scale_target and len(ys[TRAIN]):
        mean, std = ys[TRAIN].mean(0), ys[TRAIN].std(0, unbiased=False).clamp(min=1e-12)
        state["target"] = {"mean": mean.tolist(), "std": std.tolist()}
    k = len(classes)
    counts = {s: class_counts(ys[c], k) for s, c in zip(SPLITS, (TRAIN, VAL, TEST), strict=True)} if k else {}
    if k:
        notes.append(class_note(classes, counts))

    def part(code: int) -> Split | None:
        y = ys[code]
        if len(y) == 0:
            return None
        return Split(None, y, rows=StreamRows(table, code, columns, y, per_group[code], budget))

    features = TablePreprocessor(columns).feature_names
    info = DataInfo(
        task=task, kind="table", input_shape=(len(features),), classes=classes, targets=target,  # type: ignore[arg-type]
        features=features, roles={**roles}, source=where, class_counts=counts, notes=notes,
        sizes={s: len(ys[c]) for s, c in zip(SPLITS, (TRAIN, VAL, TEST), strict=True)},
    )  # fmt: skip
    train = part(TRAIN)
    assert train is not None
    return Data(train, part(VAL), part(TEST), info, state)


def _sample(table: StreamTable, rows: int, where: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The first `rows` rows (whole chunks, at least one), with their split codes."""
    batches, codes, held = [], [], 0
    for chunk in table.chunks(None):
        batches.append(chunk.batch)
        codes.append(chunk.codes)
        held += chunk.batch.num_rows
        if held >= rows:
            break
    frame = pa.Table.from_batches(batches).to_pandas()
    return check_numbers(frame, where), np.concatenate(codes)


def _target_pass(table: StreamTable, task: str, cfg: DataConfig, where: str) -> tuple[list[Any], int]:
    """Read the target column(s) alone: refuse empty targets (unless dropped), gather the
    classes of every row. Returns the class values (in index order) and the rows kept."""
    handle = pq.ParquetFile(table.path, buffer_size=READ_BUFFER, pre_buffer=False)
    missing, first, seen, rows = 0, None, set(), 0
    for g in range(len(table.group_rows)):
        part = handle.read_row_group(g, columns=table.target)
        empty = np.zeros(part.num_rows, dtype=bool)
        for name in table.target:
            empty |= pc.is_null(part.column(name), nan_is_null=True).to_numpy(zero_copy_only=False)
        if empty.any() and first is None:
            first = rows + int(np.argmax(empty))
        missing += int(empty.sum())
        rows += part.num_rows
        if task != "regression":
            seen.update(v for v in pc.unique(part.column(table.target[0])).to_pylist() if v is not None)
    if missing and not cfg.drop_missing_target:
        raise DataError(
            f"{where}: target has {missing} empty values (first at row {(first or 0) + 1}); "
            f"drop those rows or set data.drop_missing_target: true"
        )
    seen = {v for v in seen if not (isinstance(v, float) and np.isnan(v))}
    try:
        ordered = sorted(seen)
    except TypeError:
        ordered = sorted(seen, key=str)
    return ordered, rows - missing


def _roles(sample: pd.DataFrame, cfg: DataConfig, where: str, notes: list[str]) -> dict[str, str]:
    """The input columns' roles, from the sample; free text is refused (TF-IDF needs every row)."""
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target or [])
    frame = sample.drop(columns=[cfg.split.column]) if cfg.split.column else sample
    roles = choose_roles(frame, target, cfg.features, cfg.drop, where)
    if cfg.datetime == "drop":
        roles = {c: ("dropped date" if r == "datetime" else r) for c, r in roles.items()}
    notes += describe_roles(roles)
    used = {c: r for c, r in roles.items() if r in ("numeric", "categorical", "text", "datetime")}
    texts = [c for c, r in used.items() if r == "text"]
    if texts:
        raise DataError(
            f"{where}: column '{texts[0]}' holds free text, which a table streamed from disk (bigger than "
            f"data.memory_budget) cannot encode; drop it with data.drop, or raise data.memory_budget"
        )
    if not used:
        raise DataError(f"{where}: no usable input columns besides the target; check data.features/data.drop")
    return used


class Moments:
    """Running count, mean, sum of squared deviations, min and max per column (Chan et al.'s
    pairwise update: chunks combine without the cancellation of a plain sum of squares)."""

    def __init__(self, k: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(k), np.zeros(k)
        self.low, self.high = np.full(k, np.inf), np.full(k, -np.inf)

    def add(self, values: np.ndarray) -> None:  # (n, k), no NaN
        n = len(values)
        if n == 0:
            return
        mean = values.mean(axis=0)
        delta, total = mean - self.mean, self.n + n
        self.m2 += ((values - mean) ** 2).sum(axis=0) + delta**2 * self.n * n / total
        self.mean += delta * n / total
        self.n = total
        self.low, self.high = (
            np.minimum(self.low, values.min(axis=0)),
            np.maximum(self.high, values.max(axis=0)),
        )

    def scaling(self, scale: str) -> tuple[np.ndarray, np.ndarray]:
        """Shift and divisor of `scale` (standard, minmax, none), as `_numeric_stats` gives them."""
        k = len(self.mean)
        if scale == "standard":
            shift, div = self.mean, np.sqrt(self.m2 / max(self.n, 1))
        elif scale == "minmax":
            shift, div = self.low, self.high - self.low
        else:
            shift, div = np.zeros(k), np.ones(k)
        return shift, np.where((div > 0) & np.isfinite(div), div, 1.0)


def _fit_pass(
    table: StreamTable, roles: dict[str, str], sampled: list[dict[str, Any]], index: dict[Any, int] | None,
    scale: str, where: str,
) -> tuple[dict[int, torch.Tensor], dict[int, np.ndarray], list[dict[str, Any]]]:  # fmt: skip
    """Every row once: the targets of each split (file order), the rows of each split per row
    group, and the preprocessing refitted on all train rows (`sampled` gives fills and dates)."""
    numeric = [c["name"] for c in sampled if c["role"] == "numeric"]
    formats = {c["name"]: c["format"] for c in sampled if "format" in c}  # '12%', '1,234' as the sample
    fill = np.array([c["fill"] for c in sampled if c["role"] == "numeric"], dtype=np.float64)
    moments = Moments(len(numeric))
    gaps = dict.fromkeys(roles, False)
    counts: dict[str, Counter[str]] = {c: Counter() for c, r in roles.items() if r == "categorical"}
    ys: dict[int, list[np.ndarray]] = {TRAIN: [], VAL: [], TEST: []}
    per_group = {code: np.zeros(len(table.group_rows), dtype=np.int64) for code in ys}
    read = list(dict.fromkeys([*roles, *table.target] + ([table.split_column] if table.split_column else [])))
    for chunk in table.chunks(read):
        frame = chunk.batch.to_pandas()
        _check_finite(frame, chunk.first, where)
        kept = chunk.codes != DROPPED
        y = encode_target(frame[kept], table.target, index, chunk.first + np.nonzero(kept)[0], where)
        for code, found in ys.items():
            mine = chunk.codes[kept] == code
            found.append(y[mine])
            per_group[code][chunk.group] += int(mine.sum())
        train = frame[chunk.codes == TRAIN]
        if len(train) == 0:
            continue
        values = numeric_matrix(train, numeric, formats)  # (n, k)
        moments.add(np.where(np.isnan(values), fill, values))
        for name, gap in train[list(roles)].isna().any().items():
            gaps[str(name)] |= bool(gap)
        for name, counter in counts.items():
            counter.update(train[name].dropna().astype(str).value_counts().to_dict())
            if len(counter) > CATEGORY_CAP:
                counts[name] = Counter(dict(counter.most_common(CATEGORY_CAP)))
    shift, div = moments.scaling(scale)
    position = {name: i for i, name in enumerate(numeric)}
    columns = []
    for entry in sampled:
        name, entry = entry["name"], dict(entry)
        if entry["role"] != "text":
            entry["indicator"] = bool(entry["indicator"] or gaps[name])
        if entry["role"] == "numeric":
            entry["shift"], entry["scale"] = float(shift[position[name]]), float(div[position[name]])
        elif entry["role"] == "categorical":
            ranked = sorted(counts[name].items(), key=lambda kv: (-kv[1], kv[0]))
            entry["categories"] = sorted(v for v, _ in ranked[:MAX_CATEGORIES])
            entry["fill"] = ranked[0][0] if ranked else None
        columns.append(entry)
    out = {}
    for code, found in ys.items():
        joined = torch.from_numpy(np.concatenate(found)) if found else torch.empty(0)
        out[code] = joined.float()
    return out, per_group, columns


def _check_finite(frame: pd.DataFrame, first: int, where: str) -> None:
    """±inf refused as `core.check_finite` does, with the row numbers of the file."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind != "f":
            continue
        bad = np.isinf(column.to_numpy())
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"{where}: column '{name}' has infinite values (first {column.iloc[row]} at row "
                f"{first + row + 1}); replace them with finite numbers, or empty cells to be imputed"
            )
