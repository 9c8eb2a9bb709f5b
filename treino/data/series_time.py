"""Time stamps of a series: parsed (dates or numbers), checked to be in order, unique and evenly
spaced, and extended past the end (the time stamps of a forecast)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from treino.errors import DataError

Step = dict[str, Any]  # JSON-able: {"freq": "MS"}, {"months": 3}, {"ns": 86400e9} or {"number": 1.0}


def parse(values: pd.Series, column: str, where: str) -> tuple[np.ndarray, str]:
    """The time column as numbers (float64) or dates (datetime64[ns]), and which ("number"/"date")."""
    empty = values.isna().to_numpy()
    if empty.any():
        row = int(np.argmax(empty))
        raise DataError(
            f"{where}: time column '{column}' is empty at row {row + 1}; fill it or drop that row"
        )
    if pd.api.types.is_bool_dtype(values):
        raise DataError(f"{where}: time column '{column}' holds true/false; give dates or numbers")
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64), "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return _naive(pd.DatetimeIndex(values)), "date"
    text = values.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64), "number"
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if dates.isna().any():  # not ISO: day/month orders of other locales, month names
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns that it parses element by element
            dates = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{where}: time column '{column}' has {values.iloc[row]!r} at row {row + 1}, which is neither "
            f"a date nor a number; fix that value (dates as 2024-01-31)"
        )
    return _naive(pd.DatetimeIndex(dates)), "date"


def _naive(index: pd.DatetimeIndex) -> np.ndarray:
    """Dates as naive datetime64[ns] (UTC when they carry a time zone)."""
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").to_numpy()


def show(value: Any, kind: str) -> str:
    """A time stamp as a user reads it: 2024-01-31 (a time of day only when there is one), or 1871."""
    if kind == "number":
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:g}"
    stamp = pd.Timestamp(value)
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)


def check_order(times: np.ndarray, rows: np.ndarray, kind: str, column: str, where: str, group: str) -> bool:
    """Refuse time stamps that go back or repeat within one series (`rows`: the file's rows);
    True when the whole series is in reverse order (newest first), which the caller reverses."""
    if len(times) < 2:
        return False
    diff = np.diff(times.astype(np.float64) if kind == "number" else times.astype(np.int64))
    if (diff < 0).all():
        return True
    within = f" in {group}" if group else ""
    several = "" if group else ", or name the column that tells the series apart in data.series.group"
    back = np.flatnonzero(diff < 0)
    if len(back):
        i = int(back[0])
        raise DataError(
            f"{where}: time column '{column}' goes back from {show(times[i], kind)} (row {rows[i] + 1}) to "
            f"{show(times[i + 1], kind)} (row {rows[i + 1] + 1}){within}; sort the file by '{column}'{several}"
        )
    same = np.flatnonzero(diff == 0)
    if len(same):
        i = int(same[0])
        raise DataError(
            f"{where}: time {show(times[i], kind)} appears twice in '{column}' (rows {rows[i] + 1} and "
            f"{rows[i + 1] + 1}){within}; drop the duplicate rows{several}"
        )
    return False


def step_of(times: np.ndarray, rows: np.ndarray, kind: str, column: str, where: str, group: str) -> Step:
    """The series' regular step; a gap or an uneven step is an error that says where."""
    if kind == "number":
        diff = np.diff(times)
        if not len(diff):
            return {"number": 1.0}
        step = float(np.median(diff))
        bad = np.abs(diff - step) > 1e-9 * max(1.0, abs(step))
        return _checked({"number": step}, bad, times, rows, kind, column, where, group)
    index = pd.DatetimeIndex(times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset object instead of its name
        freq = pd.infer_freq(index) if len(index) >= 3 else None
    freq = getattr(freq, "freqstr", freq)
    if freq is not None:
        return {"freq": freq}
    if len(index) < 2:
        return {"ns": 86_400 * 10**9}
    months = np.asarray(index.year * 12 + index.month)
    same_day = len(set(index.day)) == 1 or bool(np.all(index.is_month_end))
    if same_day and (np.diff(months) > 0).all():  # a calendar step: months, quarters, years
        diff = np.diff(months)
        step_m = int(np.bincount(diff).argmax())
        return _checked({"months": step_m}, diff != step_m, times, rows, kind, column, where, group)
    diff = np.diff(times.astype(np.int64))
    values, counts = np.unique(diff, return_counts=True)
    step_ns = int(values[counts.argmax()])
    return _checked({"ns": step_ns}, diff != step_ns, times, rows, kind, column, where, group)


def _checked(
    step: Step, bad: np.ndarray, times: np.ndarray, rows: np.ndarray, kind: str, column: str, where: str,
    group: str,
) -> Step:  # fmt: skip
    if not bad.any():
        return step
    i = int(np.argmax(bad))
    within = f" in {group}" if group else ""
    raise DataError(
        f"{where}: time column '{column}' jumps from {show(times[i], kind)} (row {rows[i] + 1}) to "
        f"{show(times[i + 1], kind)} (row {rows[i + 1] + 1}){within}, but the series steps by {describe(step)}; "
        f"add the missing rows (empty values are interpolated) or resample the series to one step"
    )


def describe(step: Step) -> str:
    """A step in words: '1 month', '7 days', 'MS' (pandas' name for month starts), '0.5'."""
    if "number" in step:
        return show(step["number"], "number")
    if "months" in step:
        return f"{step['months']} month{'s' * (step['months'] != 1)}"
    if "ns" in step:
        return str(pd.Timedelta(step["ns"]))
    names = {"MS": "1 month", "ME": "1 month", "M": "1 month", "D": "1 day", "h": "1 hour", "H": "1 hour",
             "B": "1 business day", "W": "1 week", "QS": "3 months", "QE": "3 months", "YS": "1 year",
             "YE": "1 year", "AS": "1 year", "min": "1 minute"}  # fmt: skip
    freq = str(step["freq"])
    return names.get(freq.split("-")[0], freq)


def ahead(last: Any, step: Step, n: int) -> np.ndarray:
    """The `n` time stamps after `last`, one step apart (a forecast's time stamps)."""
    if "number" in step:
        return float(last) + step["number"] * np.arange(1, n + 1)
    start = pd.Timestamp(last)
    if "freq" in step:
        return pd.date_range(start, periods=n + 1, freq=step["freq"]).as_unit("ns").to_numpy()[1:]
    if "months" in step:
        return np.array([start + pd.DateOffset(months=step["months"] * k) for k in range(1, n + 1)],
                        dtype="datetime64[ns]")  # fmt: skip
    return (start + pd.to_timedelta(step["ns"] * np.arange(1, n + 1), unit="ns")).as_unit("ns").to_numpy()
