"""The split of a series by time, the scaling fitted on its training part, and its windows as a
split that the run reads like any other (`source`, `ordered`, `take`), held as index ranges into
the one ordered series tensor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.batches.windows import EVAL_ROWS, Windows
from treino.data.series_time import Step


@dataclass
class Ordered:
    """The series after parsing: rows sorted by (series, time), as arrays."""

    times: np.ndarray  # (T,) float64 numbers or datetime64[ns]
    kind: str  # "number" or "date"
    rows: np.ndarray  # (T,) the file's 0-based row of each
    bounds: list[tuple[int, int]]  # [first, end) rows of each series
    names: list[str]  # each series' group value ("" without a group)
    values: np.ndarray  # (T, F) float64 inputs: targets first, then covariates
    step: Step


def cut(times: np.ndarray, val: float, test: float) -> tuple[np.ndarray, list[Any]]:
    """Each row's split by time (0 train, 1 val, 2 test) and the first time of val and test: the
    cuts are the time stamps at the 1 - val - test and 1 - test quantiles of all rows, so with
    several series no test time stamp comes before a training one."""
    ordered = np.sort(times)
    n = len(ordered)
    cuts = []
    for share in (val + test, test):
        at = round(n * (1 - share))
        cuts.append(ordered[at] if share > 0 and at < n else None)
    codes = np.zeros(n, dtype=np.int64)
    for code, t in ((1, cuts[0]), (2, cuts[1])):
        if t is not None:
            codes[times >= t] = code
    if cuts[0] is not None and cuts[1] is not None and cuts[0] == cuts[1]:
        cuts[0] = None  # a val part too small to hold a time stamp of its own
    return codes, cuts


def scale_columns(
    values: np.ndarray, train: np.ndarray, names: list[str], how: str
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(values - shift) / scale per column, both fitted on the training rows only."""
    fit = values[train]
    if how == "standard":
        shift, scale = fit.mean(0), fit.std(0)
    elif how == "minmax":
        shift, scale = fit.min(0), fit.max(0) - fit.min(0)
    else:
        shift, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
    scale = np.where(scale > 1e-12, scale, 1.0)  # a constant column stays centred, not divided by 0
    columns = [
        {"name": n, "shift": float(a), "scale": float(b)} for n, a, b in zip(names, shift, scale, strict=True)
    ]
    return (values - shift) / scale, columns


@dataclass
class WindowSplit:
    """One split of a series: the windows whose targets fall in it. Inputs are read on demand
    from the shared series tensor (`x` is None, as for lazy rows); targets `y` are held,
    (N, horizon * targets), step-major."""

    windows: Windows
    y: torch.Tensor
    first: np.ndarray  # (N,) row of each window's first target step in the ordered series
    od: Ordered
    baselines: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> (N, horizon * K)
    x: None = None
    rows: None = None
    augment: bool = False

    def __len__(self) -> int:
        return len(self.y)

    @property
    def lazy(self) -> bool:
        return True

    def source(
        self, batch_size: int, generator: torch.Generator | None = None, task: str | None = None
    ) -> Windows:
        w = self.windows
        return Windows(w.series, w.targets, w.starts, w.window, w.horizon, batch_size)

    def ordered(self, device: torch.device, task: str) -> Windows:
        return self.windows.to(device)

    def take(self, index: torch.Tensor | slice) -> torch.Tensor:
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        return self.windows.take(torch.as_tensor(index, dtype=torch.long))[0]


def window_split(
    series: torch.Tensor, targets: torch.Tensor, od: Ordered, codes: np.ndarray, code: int, window: int,
    horizon: int,
) -> WindowSplit | None:  # fmt: skip
    """The windows of split `code`: all their target steps in it, inside one series; None if none.
    Their inputs may reach back into earlier splits: the past is known when forecasting."""
    starts = []
    for a, b in od.bounds:
        s = np.arange(a, b - window - horizon + 1)  # every window inside this series
        if not len(s):
            continue
        first, last = codes[s + window], codes[s + window + horizon - 1]
        starts.append(s[(first == code) & (last == code)])
    index = torch.from_numpy(np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64))
    if not len(index):
        return None
    windows = Windows(series, targets, index, window, horizon)
    y = torch.cat([windows.take(torch.arange(i, min(i + EVAL_ROWS, len(index))))[1]
                   for i in range(0, len(index), EVAL_ROWS)])  # fmt: skip
    return WindowSplit(windows, y, index.numpy() + window, od)


def forecast_frame(part: WindowSplit, outputs: np.ndarray, info: Any, split: str) -> pd.DataFrame:
    """The held-out forecasts, long: one row per window, step and target, with the time stamp of
    that step, the truth, the model's forecast and each baseline's (predictions.csv of a series)."""
    n, h, k = len(part), info.horizon, len(info.targets)
    od = part.od
    step = np.tile(np.repeat(np.arange(1, h + 1), k), n)
    at = np.repeat(part.first, h * k) + step - 1  # row of the forecast step in the ordered series
    times = od.times[at]
    if od.kind == "number" and np.all(np.mod(times, 1) == 0):
        times = times.astype(np.int64)  # years and step counts: 1956, not 1956.0
    frame = pd.DataFrame({"row": np.repeat(np.arange(n), h * k), "split": split, "time": times})
    if len(od.bounds) > 1:
        group = np.repeat(np.arange(len(od.bounds)), [b - a for a, b in od.bounds])
        frame["group"] = np.asarray(od.names, dtype=object)[group[at]]
    frame["step"], frame["target"] = step, np.tile(info.targets, n * h)
    frame["y_true"] = part.y.reshape(-1).numpy()
    frame["y_pred"] = outputs.reshape(-1)
    for name, pred in part.baselines.items():
        frame[name] = pred.reshape(-1).numpy()
    return frame
