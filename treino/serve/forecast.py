"""Forecasting the next steps after the end of a series with a trained series model.

The model reads the last `window` steps of each series and predicts `horizon` steps at once.
Up to the horizon the forecast is direct (one forward pass); past it, recursive: the forecasts
are appended to the window as if observed and the model is run again, so errors compound (a
model with covariates cannot do that: their future values are unknown)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.config.series import SeriesConfig
from treino.data import series_time as T
from treino.data.series import order
from treino.errors import DataError


def _frame(data: Any) -> tuple[pd.DataFrame, str]:
    """The series as a DataFrame, and a name for messages."""
    if isinstance(data, pd.DataFrame):
        return data, "forecast"
    if isinstance(data, str | Path):
        from treino.data.tables import check_numbers, read_table

        path = Path(data).expanduser()
        if not path.is_file():
            raise DataError(f"{path}: no such file; give the series as a table file (CSV, Parquet, ...)")
        return check_numbers(read_table(path), str(path)), str(path)
    raise DataError(f"forecast: give the series as a DataFrame or a table file, not {type(data).__name__}")


def forecast(predictor: Any, data: Any, steps: int) -> tuple[pd.DataFrame, str]:
    """The next `steps` steps of each series in `data` (a DataFrame or a table file, its rows
    ordered as in training), and one line that says how they were made (direct or recursive).

    Returns a frame with the time stamp of each step, the group (when the model has one), the
    step (1 = the next), one column per target, and `method`.

    Example:
        >>> frame, how = forecast(treino.load("runs/co2"), "co2.csv", 12)
        >>> how
        'forecast: 12 steps after 2001-12-01, recursive (the model predicts 1 step at a time; ...)'
    """
    state = predictor.preprocessing
    if state.get("kind") != "series":
        raise DataError(
            f"forecast: the model was trained on {predictor.info.kind} data, not a series (data.series); "
            f"use predict"
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise DataError(f"--steps {steps}: give the number of steps to forecast, 1 or more")
    frame, where = _frame(data)
    inputs, targets = list(state["inputs"]), list(state["targets"])
    window, horizon, k = int(state["window"]), int(state["horizon"]), len(targets)
    needed = [c for c in dict.fromkeys([*inputs, state["time"], state["group"]]) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: lacks column(s) {', '.join(map(repr, missing))}; the model reads "
            f"{', '.join(map(repr, needed))}"
        )
    recursive = steps > horizon
    covariates = [c for c in inputs if c not in targets]
    if recursive and covariates:
        raise DataError(
            f"--steps {steps} is more than the model's horizon ({horizon}), so its forecasts would be fed back as "
            f"inputs, but it also reads {', '.join(map(repr, covariates))}, whose future values are unknown; "
            f"use --steps {horizon} or fewer"
        )
    s = SeriesConfig(time=state["time"], group=state["group"])
    od = order(frame, s, inputs, where, [])
    for (a, b), name in zip(od.bounds, od.names, strict=True):
        if b - a < window:
            subject = f"series '{name}'" if name else "the series"
            raise DataError(
                f"{where}: {subject} has {b - a} steps but the model reads the last {window} "
                f"(data.series.window); give at least {window} rows"
            )
    shift = np.array([c["shift"] for c in state["columns"]])
    scale = np.array([c["scale"] for c in state["columns"]])
    scaled = (od.values - shift) / scale
    windows = torch.from_numpy(np.stack([scaled[b - window : b] for _, b in od.bounds]).astype(np.float32))
    made: list[np.ndarray] = []  # (G, horizon, K) per pass, in the targets' units
    while sum(m.shape[1] for m in made) < steps:
        out = predictor.outputs(windows).float().numpy().reshape(len(windows), horizon, k)
        made.append(out)
        if recursive:  # fed back as inputs (only targets: covariates were refused above)
            source = [targets.index(c) for c in inputs]  # the target each input column repeats
            new = torch.from_numpy(((out[:, :, source] - shift) / scale).astype(np.float32))
            windows = torch.cat([windows, new], dim=1)[:, -window:]
    values = np.concatenate(made, axis=1)[:, :steps]  # (G, steps, K)
    parts = []
    for g, ((_, b), name) in enumerate(zip(od.bounds, od.names, strict=True)):
        part = pd.DataFrame({"time": T.ahead(od.times[b - 1], od.step, steps)})
        if od.kind == "number" and np.all(np.mod(part["time"], 1) == 0):
            part["time"] = part["time"].astype(np.int64)
        if s.group is not None:
            part["group"] = name
        part["step"] = np.arange(1, steps + 1)
        for j, target in enumerate(targets):
            part[target] = values[g, :, j]
        part["method"] = "recursive" if recursive else "direct"
        parts.append(part)
    out_frame = pd.concat(parts, ignore_index=True).rename(columns={"time": s.time or "time"})
    if s.group is not None:
        out_frame = out_frame.rename(columns={"group": s.group})
    last = ", ".join(T.show(od.times[b - 1], od.kind) for _, b in od.bounds[:3])
    how = (
        f"recursive (the model predicts {horizon} step{'s' * (horizon > 1)} at a time; each forecast is fed back "
        f"as an input, so errors add up)"
        if recursive
        else f"direct (the model predicts {horizon} step{'s' * (horizon > 1)} at once)"
    )
    return out_frame, f"forecast: {steps} step{'s' * (steps > 1)} after {last}, {how}"


def write(
    predictor: Any, data: Any, steps: int | None, output: str | Path | None, quiet: bool = False
) -> int:
    """`treino predict RUN SERIES --steps N`: the forecast to a file (stdout when None); rows
    written. Without `steps`, the model's horizon."""
    import sys

    from treino.serve.inputs import ChunkWriter

    frame = predictor.forecast(data, steps if steps is not None else int(predictor.info.horizon))
    with ChunkWriter(Path(output) if output is not None else None, sys.stdout) as writer:
        writer.write(frame)
        return writer.rows
