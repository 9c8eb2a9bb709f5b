"""Forecasting from a table: the rows of one or more time series, ordered by `data.series.time`,
become windows of the past `window` steps (every input column: the targets and the other numeric
columns) that predict the next `horizon` steps of the target(s).

The split is chronological (train, then validation, then test, by time), the scaling is fitted on
the training part only, windows are sliced from the ordered series by index (batches.windows), no
window crosses two series of `data.series.group`, and the naive, seasonal naive and linear
autoregression baselines are measured on the same test windows (series_baselines.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.config import DataConfig
from treino.config.series import SeriesConfig
from treino.data import series_time as T
from treino.data.builtin import Table
from treino.data.core import Data, check_finite
from treino.data.info import DataInfo
from treino.data.series_baselines import measure, naive, seasonal_naive
from treino.data.series_windows import Ordered, cut, scale_columns, window_split
from treino.errors import DataError
from treino.registry import did_you_mean

AUTO_WINDOW, AUTO_SEASONS = 24, 2  # window auto: 2 seasons when the season is known, else 24 steps
AUTO_SHARE = 4  # ... and at most a quarter of the training part
TREND_SHARE = 0.5  # level auto: a trend explaining more of a target's variance hides the level


def settings(cfg: DataConfig, raw: Table) -> SeriesConfig:
    """data.series, its keys left at their defaults taken from a built-in series' (time, season):
    a run's saved config.yaml spells every key out, so 'set' cannot mean 'written'."""
    given = cfg.series or SeriesConfig()
    defaults = dict(raw.series or {})
    return SeriesConfig(**(defaults | given.model_dump(exclude_defaults=True)))


def is_series(cfg: DataConfig, raw: Any) -> bool:
    return isinstance(raw, Table) and (cfg.series is not None or raw.series is not None)


def series_data(raw: Table, cfg: DataConfig, where: str) -> Data:
    """Order, split (by time), scale (on the training part) and window the series in `raw`.

    Example:
        >>> data = series_data(Table(frame, ["sales"]), DataConfig(series={"time": "month"}), "sales.csv")
        >>> data.info.input_shape, data.info.horizon
        ((24, 1), 1)
    """
    s = settings(cfg, raw)
    if cfg.val is not None or cfg.test is not None or cfg.split.column is not None:
        raise DataError(
            "data.series: the split of a series is by time (train, then val, then test); remove "
            "data.val, data.test and data.split.column, and set data.split.val/test fractions"
        )
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target or raw.target)
    frame = raw.frame
    inputs, notes = _columns(frame, target, s, cfg, where)
    check_finite(frame[inputs], where)
    od = order(frame, s, inputs, where, notes)
    codes, cuts = cut(od.times, cfg.split.val, cfg.split.test)
    if s.relative and _level(s, od, codes, len(target), notes):  # targets twice: change and level
        inputs = [*target, *inputs]
        od.values = np.concatenate([od.values[:, : len(target)], od.values], axis=1)
    window = _window(s, od, codes, notes)
    horizon = s.horizon
    scaled, columns = scale_columns(od.values, codes == 0, inputs, cfg.scale)
    series = torch.from_numpy(scaled.astype(np.float32))  # (T, F), the one copy the windows slice
    targets = torch.from_numpy(od.values[:, : len(target)].astype(np.float32))  # (T, K) in their units
    splits = [window_split(series, targets, od, codes, code, window, horizon) for code in (0, 1, 2)]
    train, val, test = splits
    if train is None:
        longest = max(int((codes[a:b] == 0).sum()) for a, b in od.bounds)
        raise DataError(
            f"{where}: data.series.window {window} + horizon {horizon} = {window + horizon} steps, but the "
            f"training part of the series is {longest} steps long (the first {1 - cfg.split.val - cfg.split.test:.0%} "
            f"of its {len(od.times)} rows); use a window of at most {max(1, longest - horizon)}"
            f"{' and a shorter horizon' if longest - horizon < 1 else ''}, or a longer series"
        )
    for name, part, share in (("val", val, cfg.split.val), ("test", test, cfg.split.test)):
        if part is None and share > 0:
            notes.append(f"no {name} windows: the {name} part is shorter than the horizon ({horizon} steps)")
    state: dict[str, Any] = {
        "kind": "series", "time": s.time, "time_kind": od.kind, "group": s.group, "step": od.step,
        "window": window, "horizon": horizon, "season": s.season, "inputs": inputs, "targets": target,
        "columns": columns, "last": [T.show(od.times[b - 1], od.kind) for _, b in od.bounds],
    }  # fmt: skip
    state["target"] = _target_scale(od.values[codes == 0][:, : len(target)], columns, horizon, cfg, s)
    if s.relative:
        season = _anchor(s, train, window, notes)
        state["target"]["anchor"] |= {"window": window, "season": season}
    held = test if test is not None else val
    if held is not None:
        state["baselines"] = measure(train, held, s.season, "test" if test is not None else "val")
    notes.insert(0, _describe(od, s, window, horizon, cuts))
    info = DataInfo(
        task="regression", kind="series", input_shape=(window, len(inputs)), targets=target,
        features=[f"{c} - last" for c in target] + inputs[len(target) :] if s.relative else inputs,
        roles={c: "target" if c in target else "covariate" for c in inputs},
        source=where, notes=notes, window=window, horizon=horizon,
        sizes={n: len(p) if p is not None else 0 for n, p in zip(("train", "val", "test"), splits, strict=True)},
    )  # fmt: skip
    return Data(train, val, test, info, state)  # type: ignore[arg-type]


def _anchor(s: SeriesConfig, train: Any, window: int, notes: list[str]) -> int:
    """data.series.anchor: the season whose seasonal naive forecast the model corrects, or 0 for
    the naive one (the last value); auto = the one with the smaller MAE on the training windows."""
    if s.anchor == "last" or not s.season or (s.anchor == "auto" and s.season > window):
        return 0
    if s.season > window:
        raise DataError(
            f"data.series.anchor: season needs a window of at least one season ({s.season} steps), "
            f"but data.series.window is {window}; widen the window or use anchor: last"
        )
    if s.anchor == "season":
        return s.season
    last = float((naive(train) - train.y).abs().mean())
    seasonal = float((seasonal_naive(train, s.season) - train.y).abs().mean())
    chosen = "season" if seasonal < last else "last"
    notes.append(f"data.series.anchor auto: {chosen} (MAE on the training windows: seasonal naive "
                 f"{seasonal:.4g}, naive {last:.4g})")  # fmt: skip
    return s.season if seasonal < last else 0


def _target_scale(
    y: np.ndarray, columns: list[dict[str, Any]], horizon: int, cfg: DataConfig, s: SeriesConfig
) -> dict[str, Any] | None:
    """The model's output scaling (models.Rescale): the training part's mean and std of each
    target, tiled over the horizon; with data.series.relative, what models.anchor.LastValue needs."""
    mean, std = (
        (y.mean(0), y.std(0).clip(min=1e-12))
        if cfg.scale_target
        else (np.zeros(y.shape[1]), np.ones(y.shape[1]))
    )
    if not cfg.scale_target and not s.relative:
        return None
    out: dict[str, Any] = {"mean": np.tile(mean, horizon).tolist(), "std": np.tile(std, horizon).tolist()}
    if s.relative:
        k = y.shape[1]
        out["anchor"] = {"shift": [c["shift"] for c in columns[:k]], "scale": [c["scale"] for c in columns[:k]],
                         "mean": mean.tolist(), "std": std.tolist(), "horizon": horizon}  # fmt: skip
    return out


def _columns(
    frame: pd.DataFrame, target: list[str], s: SeriesConfig, cfg: DataConfig, where: str
) -> tuple[list[str], list[str]]:
    """The input columns, targets first, then the numeric covariates; and notes."""
    columns = list(frame.columns)
    for key, name in (("time", s.time), ("group", s.group)):
        if name is not None and name not in columns:
            raise DataError(
                f"{where}: data.series.{key} '{name}' is not a column{did_you_mean(name, columns)}; "
                f"columns: {', '.join(map(str, columns[:30]))}"
            )
    for name in target:
        if name not in columns:
            raise DataError(
                f"{where}: no target column '{name}'{did_you_mean(name, columns)}; "
                f"columns: {', '.join(map(str, columns[:30]))}"
            )
        if name in (s.time, s.group):
            raise DataError(
                f"{where}: '{name}' is both the target and data.series time/group; choose another"
            )
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = (values.isna() & frame[name].notna()).to_numpy()
        if bad.any() or frame[name].dtype == bool:
            row = int(np.argmax(bad))
            raise DataError(
                f"{where}: target column '{name}' has a non-numeric value {frame[name].iloc[row]!r} at row "
                f"{row + 1}; a forecast needs numbers (fix the value, or forecast another column)"
            )
    for name in (cfg.features or []) + cfg.drop:
        if name not in columns:
            raise DataError(
                f"{where}: data.features/data.drop name '{name}', which is not a column{did_you_mean(name, columns)}"
            )
    candidates = cfg.features if cfg.features is not None else [c for c in columns if c not in cfg.drop]
    candidates = [c for c in candidates if c not in (*target, s.time, s.group)]
    covariates = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    skipped = [c for c in candidates if c not in covariates]
    notes = [f"covariates (inputs beside the target): {', '.join(covariates)}"] if covariates else []
    if skipped:
        notes.append(f"not numeric, left out of the inputs: {', '.join(map(str, skipped[:10]))}")
    return [*target, *covariates], notes


def order(frame: pd.DataFrame, s: SeriesConfig, inputs: list[str], where: str, notes: list[str]) -> Ordered:
    """Parse the time column, group the rows by series, check each series' order and step, and
    fill empty values by interpolation within each series (said in a note)."""
    if s.time is not None:
        times, kind = T.parse(frame[s.time], s.time, where)
    else:
        times, kind = np.arange(len(frame), dtype=np.float64), "number"
    column = s.time or "the row order"
    if s.group is not None:
        labels = frame[s.group].astype(str).where(frame[s.group].notna(), "")
        groups = list(dict.fromkeys(labels))  # in order of first appearance
        members = [np.flatnonzero((labels == g).to_numpy()) for g in groups]
    else:
        groups, members = [""], [np.arange(len(frame))]
    pieces, bounds, step, reversed_ = [], [], None, 0
    for name, rows in zip(groups, members, strict=True):
        label = f"{s.group} '{name}'" if s.group else ""
        if T.check_order(times[rows], rows, kind, column, where, label):
            rows, reversed_ = rows[::-1], reversed_ + 1
        own = T.step_of(times[rows], rows, kind, column, where, label)
        if step is None or len(rows) > len(pieces[0]):
            step = own
        bounds.append((sum(map(len, pieces)), sum(map(len, pieces)) + len(rows)))
        pieces.append(rows)
    if reversed_:
        notes.append(f"the rows are newest first: read in reverse, oldest first ({column})")
    index = np.concatenate(pieces)
    values = frame[inputs].iloc[index].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    empty = values.isna().to_numpy()
    if empty.any():
        filled = [values.iloc[a:b].interpolate(limit_direction="both") for a, b in bounds]
        values = pd.concat(filled)
        still = values.isna().all().to_numpy()
        if still.any():
            name = inputs[int(np.argmax(still))]
            raise DataError(f"{where}: column '{name}' is empty in every row of a series; fill it or drop it")
        col, first = inputs[int(np.argmax(empty.any(0)))], int(index[np.argmax(empty.any(1))]) + 1
        notes.append(f"{int(empty.sum())} empty values filled by linear interpolation within each series "
                     f"(first in '{col}' at row {first})")  # fmt: skip
    return Ordered(times[index], kind, index, bounds, groups, values.to_numpy(), step or {"number": 1.0})


def _level(s: SeriesConfig, od: Ordered, codes: np.ndarray, k: int, notes: list[str]) -> bool:
    """data.series.level: whether the model also sees the targets' level beside their change.
    auto: when the training part does not trend (a straight line through time explains less than
    TREND_SHARE of any target's variance in any series): then the level says how far the series
    is from its usual values (it reverts); a trending series' future levels lie outside every
    training window, where a network extrapolates badly, so it sees the changes only."""
    if s.level != "auto":
        return bool(s.level)
    share = 0.0
    for a, b in od.bounds:
        rows = np.flatnonzero(codes[a:b] == 0)
        for j in range(k):
            y = od.values[a:b][rows, j]
            if len(rows) > 2 and y.std() > 0:
                share = max(share, float(np.corrcoef(rows, y)[0, 1] ** 2))
    level = share < TREND_SHARE
    said = (
        "an input too (the training part does not trend"
        if level
        else "not an input (the training part trends"
    )
    notes.append(f"data.series.level auto: the target's level is {said}: a straight line through time explains "
                 f"{share:.0%} of its variance)")  # fmt: skip
    return level


def _window(s: SeriesConfig, od: Ordered, codes: np.ndarray, notes: list[str]) -> int:
    """data.series.window, `auto` resolved from the season and the training part's length."""
    if s.window != "auto":
        return int(s.window)
    longest = max(int((codes[a:b] == 0).sum()) for a, b in od.bounds)
    wanted = AUTO_SEASONS * s.season if s.season else AUTO_WINDOW
    window = max(1, min(wanted, (longest - s.horizon) // AUTO_SHARE or 1))
    why = f"{AUTO_SEASONS} seasons of {s.season}" if s.season else f"{AUTO_WINDOW} steps"
    if window < wanted:
        why += f", cut to a quarter of the {longest}-step training part"
    notes.append(f"data.series.window auto: {window} ({why})")
    return window


def _describe(od: Ordered, s: SeriesConfig, window: int, horizon: int, cuts: list[Any]) -> str:
    """One line: how many series, their length and step, the window, and where the splits begin."""
    many = f"{len(od.bounds)} series by '{s.group}'" if s.group else "1 series"
    span = f"{T.show(od.times.min(), od.kind)} .. {T.show(od.times.max(), od.kind)}"
    begins = ", ".join(f"{name} from {T.show(t, od.kind)}" for name, t in zip(("val", "test"), cuts, strict=True)
                       if t is not None)  # fmt: skip
    return (
        f"series: {many}, {len(od.times)} steps of {T.describe(od.step)} ({span}); window {window}, "
        f"horizon {horizon}; split by time: {begins or 'all train'}"
    )
