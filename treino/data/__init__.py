"""Data: read a source, split it (seeded, stratified for classes), fit preprocessing on the
train split only, and hand tensors to the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.config import DataConfig
from treino.data.builtin import DATASETS, Images, Table
from treino.data.core import Data, DataInfo, Split, check_finite, split_indices
from treino.data.tables import TablePreprocessor, check_target, choose_roles, infer_task, read_table
from treino.errors import DataError
from treino.registry import did_you_mean

__all__ = ["Data", "DataInfo", "Split", "load", "resolve"]


def resolve(cfg: DataConfig, seed: int) -> tuple[Table | Images, str]:
    """The raw source: a built-in dataset or a file/folder, and a name for messages."""
    source = cfg.source
    if source in DATASETS:
        return DATASETS.get(source).load(cfg.n_samples, cfg.noise, seed), source
    path = Path(source).expanduser()
    if path.is_file():
        frame = read_table(path)
        if cfg.target is None:
            cols = ", ".join(map(str, frame.columns[:30]))
            raise DataError(f"{path}: which column is the target? pass --target COL (columns: {cols})")
        return Table(frame, [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)), str(path)
    if path.is_dir():
        raise DataError(f"{path}: image folders are not supported yet; give a table file")
    hint = did_you_mean(source, DATASETS.names())
    raise DataError(
        f"data.source: '{source}' is neither a file, a folder nor a built-in dataset{hint}; "
        f"built-in: {', '.join(DATASETS.names())} (see treino datasets)"
    )


def load(cfg: DataConfig, generator: torch.Generator, seed: int = 0) -> Data:
    """Read, split and preprocess the data named by `cfg`."""
    raw, where = resolve(cfg, seed)
    if isinstance(raw, Images):
        return _images(raw, cfg, generator, where)
    return _table(raw, cfg, generator, where)


def _stratify(cfg: DataConfig, task: str) -> bool:
    return task != "regression" if cfg.split.stratify == "auto" else bool(cfg.split.stratify)


def _counts(y: torch.Tensor, k: int) -> list[int]:
    return torch.bincount(y.reshape(-1).long(), minlength=k).tolist()


def _images(raw: Images, cfg: DataConfig, g: torch.Generator, where: str) -> Data:
    x, y = torch.from_numpy(raw.x), torch.from_numpy(raw.y)
    task = "binary" if len(raw.classes) == 2 else "multiclass"
    tr, va, te = split_indices(len(x), cfg.split.val, cfg.split.test, g, y if _stratify(cfg, task) else None)
    # per-channel statistics of the train split only
    mean = x[tr].mean(dim=(0, 2, 3))
    std = x[tr].std(dim=(0, 2, 3)).clamp(min=1e-6)

    def norm(rows: torch.Tensor) -> Split:
        return Split((x[rows] - mean[:, None, None]) / std[:, None, None], y[rows].float())

    k = len(raw.classes)
    info = DataInfo(
        task=task, kind="image", input_shape=tuple(x.shape[1:]), classes=raw.classes,
        targets=["label"], source=where,
        sizes={"train": len(tr), "val": len(va), "test": len(te)},
        class_counts={s: _counts(y[r], k) for s, r in (("train", tr), ("val", va), ("test", te))},
    )  # fmt: skip
    prep = {"kind": "image", "mean": mean.tolist(), "std": std.tolist(), "shape": list(x.shape[1:])}
    return Data(norm(tr), norm(va) if len(va) else None, norm(te) if len(te) else None, info, prep)


def _encode_target(frame: pd.DataFrame, target: list[str], task: str) -> tuple[np.ndarray, list[str]]:
    if task == "regression":
        values = frame[target].apply(pd.to_numeric, errors="coerce")
        bad = values.isna() & frame[target].notna()
        if bad.any().any():
            col = bad.any().idxmax()
            row = int(np.argmax(bad[col].to_numpy()))
            raise DataError(
                f"target column '{col}' has a non-numeric value {frame[col].iloc[row]!r} at row {row + 1}; "
                f"a regression target must be numbers (or set data.task: multiclass)"
            )
        return values.to_numpy(dtype=np.float32, copy=True), []
    labels = frame[target[0]]
    uniques = labels.unique()
    try:
        ordered = sorted(uniques)
    except TypeError:
        ordered = sorted(uniques, key=str)
    classes = [str(v) for v in ordered]
    index = {v: i for i, v in enumerate(ordered)}
    return labels.map(index).to_numpy(dtype=np.int64, copy=True), classes


def _table(raw: Table, cfg: DataConfig, g: torch.Generator, where: str) -> Data:
    frame = raw.frame
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target or raw.target)
    check_target(frame, target, where)
    check_finite(frame, where)  # before any row is dropped: row numbers match the file
    notes: list[str] = []
    missing = frame[target].isna().any(axis=1)
    if missing.any():
        if not cfg.drop_missing_target:
            raise DataError(
                f"{where}: target has {int(missing.sum())} empty values (first at row "
                f"{int(np.argmax(missing.to_numpy())) + 1}); drop those rows or set data.drop_missing_target: true"
            )
        notes.append(f"dropped {int(missing.sum())} rows with an empty target")
        frame = frame[~missing].reset_index(drop=True)
    task = cfg.task if cfg.task != "auto" else (
        raw.task if raw.task != "auto" else ("regression" if len(target) > 1 else infer_task(frame[target[0]]))
    )  # fmt: skip
    if len(target) > 1 and task != "regression":
        raise DataError(f"data.target: several targets {target} need data.task: regression")
    y, classes = _encode_target(frame, target, task)
    if task != "regression" and len(classes) < 2:
        raise DataError(
            f"{where}: target '{target[0]}' has a single class ({classes[0]!r}); a classifier needs at least two"
        )
    if task == "binary" and len(classes) > 2:
        raise DataError(
            f"data.task: binary, but target '{target[0]}' has {len(classes)} classes; use multiclass"
        )
    roles = choose_roles(frame, target, cfg.features, cfg.drop, where)
    for name, role in roles.items():
        if role in ("id", "text", "datetime", "empty"):
            notes.append(f"column '{name}' looks like {role}: dropped (name it in data.features to keep it)")
    roles = {c: r for c, r in roles.items() if r in ("numeric", "categorical")}
    if not roles:
        raise DataError(f"{where}: no usable input columns besides the target; check data.features/data.drop")
    labels = torch.from_numpy(y) if task != "regression" else None
    tr, va, te = split_indices(
        len(frame), cfg.split.val, cfg.split.test, g, labels if _stratify(cfg, task) else None
    )
    prep = TablePreprocessor.fit(frame.iloc[tr.numpy()], roles, cfg.scale)
    state: dict[str, Any] = prep.state()
    yt = torch.from_numpy(y)
    if task == "regression":
        yt = yt.reshape(len(frame), -1)
        if cfg.scale_target:
            mean, std = yt[tr].mean(0), yt[tr].std(0, unbiased=False).clamp(min=1e-12)
            state["target"] = {"mean": mean.tolist(), "std": std.tolist()}

    def part(rows: torch.Tensor) -> Split | None:
        if len(rows) == 0:
            return None
        x = torch.from_numpy(prep.transform(frame.iloc[rows.numpy()]))
        return Split(x, yt[rows].float())

    k = len(classes)
    info = DataInfo(
        task=task, kind="table", input_shape=(len(prep.feature_names),), classes=classes,
        targets=target, features=prep.feature_names, roles={**roles}, source=where,
        sizes={"train": len(tr), "val": len(va), "test": len(te)}, notes=notes,
        class_counts={s: _counts(yt[r], k) for s, r in (("train", tr), ("val", va), ("test", te))} if k else {},
    )  # fmt: skip
    train = part(tr)
    assert train is not None
    return Data(train, part(va), part(te), info, state)
