"""From a raw table or raw images to `Data`: drop unlabeled rows, infer the task, split
(seeded, stratified for classes), fit the preprocessing on the train split, transform all."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.batches.sparse import from_scipy
from treino.config import DataConfig
from treino.data import lazy_images as lazy
from treino.data.builtin import Images, Table
from treino.data.core import Data, Split, check_finite, memory_budget, workers
from treino.data.info import DataInfo
from treino.data.lazy_images import LazyImages
from treino.data.numbers import number_note
from treino.data.preprocess import TablePreprocessor
from treino.data.splits import (
    SPLITS,
    assign_splits,
    check_split_sizes,
    class_counts,
    class_note,
    stratify,
)
from treino.data.tables import (
    check_classes,
    check_target,
    choose_roles,
    describe_roles,
    infer_task,
    numeric_target,
)
from treino.data.text import keep_sparse
from treino.errors import DataError

TEXT_TERMS = 5000  # TF-IDF terms (or token vocabulary) of a text dataset
TABLE_TERMS_MIN, ROWS_PER_TERM = 20, 10  # TF-IDF terms of a text column inside a table


def image_data(raw: Images | LazyImages, cfg: DataConfig, g: torch.Generator, where: str) -> Data:
    """Normalize by the train split's per-channel mean/std; augmentation marks train only.
    Images left on disk (over data.memory_budget) give lazy splits, read by DataLoader workers."""
    y = torch.from_numpy(raw.y)
    k = len(raw.classes)
    if k < 2:
        raise DataError(f"{where}: a single class ({raw.classes[0]!r}); a classifier needs at least two")
    task = "binary" if k == 2 else "multiclass"
    fixed = torch.from_numpy(np.array(raw.fixed, dtype=np.int64)) if raw.fixed is not None else None
    labels = y if stratify(cfg, task) else None
    tr, va, te = assign_splits(fixed, len(y), cfg.split.val, cfg.split.test, g, labels)
    if fixed is None:
        check_split_sizes(cfg, len(y), (tr, va, te), where)
    notes = list(raw.notes or [])
    if isinstance(raw, LazyImages):
        n_workers = workers(cfg)
        mean, std, sampled = lazy.channel_stats(raw, tr, g, n_workers)
        notes += lazy.describe(raw, memory_budget(cfg), cfg.memory_budget, n_workers, sampled, len(tr))
        shape = raw.shape

        def norm(rows: torch.Tensor, augment: bool = False) -> Split:
            return Split(None, y[rows].float(), augment, lazy.rows(raw, rows, mean, std, n_workers))

    else:
        x = torch.from_numpy(raw.x)
        mean = x[tr].mean(dim=(0, 2, 3))  # per channel, train split only
        std = x[tr].std(dim=(0, 2, 3)).clamp(min=1e-6)
        shape = tuple(x.shape[1:])

        def norm(rows: torch.Tensor, augment: bool = False) -> Split:
            return Split((x[rows] - mean[:, None, None]) / std[:, None, None], y[rows].float(), augment)

    counts = {s: class_counts(y[r], k) for s, r in zip(SPLITS, (tr, va, te), strict=True)}
    notes.append(class_note(raw.classes, counts))
    if cfg.image.augment:
        notes.append("augmentation: random flips and shifted crops on the train split")
    info = DataInfo(
        task=task, kind="image", input_shape=shape, classes=raw.classes,
        targets=["label"], source=where, sizes={"train": len(tr), "val": len(va), "test": len(te)},
        class_counts=counts, notes=notes,
    )  # fmt: skip
    prep = {"kind": "image", "mean": mean.tolist(), "std": std.tolist(), "shape": list(shape),
            "channels": int(shape[0]), "size": list(shape[1:])}  # fmt: skip
    return Data(norm(tr, cfg.image.augment), norm(va) if len(va) else None, norm(te) if len(te) else None,
                info, prep)  # fmt: skip


def _encode_target(
    frame: pd.DataFrame, target: list[str], task: str, where: str
) -> tuple[np.ndarray, list[str]]:
    if task == "regression":
        return numeric_target(frame, target, where), []
    labels = frame[target[0]]
    uniques = labels.unique()
    try:
        ordered = sorted(uniques)
    except TypeError:
        ordered = sorted(uniques, key=str)
    index = {v: i for i, v in enumerate(ordered)}
    return labels.map(index).to_numpy(dtype=np.int64, copy=True), [str(v) for v in ordered]


def choose_task(
    cfg: DataConfig, raw: Table, target: list[str], frame: pd.DataFrame
) -> tuple[str, str | None]:
    """The task, and a note when it was inferred from the target's values."""
    if cfg.task != "auto":
        return cfg.task, None
    if raw.task != "auto":
        return raw.task, None
    if len(target) > 1:
        return "regression", f"task: regression ({len(target)} targets)"
    task = infer_task(frame[target[0]])
    n = frame[target[0]].nunique()
    why = f"{n} distinct numbers" if task == "regression" else f"{n} distinct values"
    return task, f"task: {task}, inferred from target '{target[0]}' ({why}); set data.task to change it"


def table_data(raw: Table, cfg: DataConfig, g: torch.Generator, where: str) -> Data:
    """Split the table, fit the preprocessing on its train rows, and transform every split."""
    frame, fixed = raw.frame, raw.fixed
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target or raw.target)
    check_target(frame, target, where)
    check_finite(frame, where)  # before any row is dropped: row numbers match the file
    notes: list[str] = []
    missing = frame[target].isna().any(axis=1).to_numpy()
    if missing.any():
        if not cfg.drop_missing_target:
            raise DataError(
                f"{where}: target has {int(missing.sum())} empty values (first at row "
                f"{int(np.argmax(missing)) + 1}); drop those rows or set data.drop_missing_target: true"
            )
        notes.append(f"dropped {int(missing.sum())} rows with an empty target")
        frame = frame[~missing].reset_index(drop=True)
        fixed = fixed[~missing] if fixed is not None else None
    task, why = choose_task(cfg, raw, target, frame)
    notes += [why] if why else []
    if len(target) > 1 and task != "regression":
        raise DataError(f"data.target: several targets {target} need data.task: regression")
    y, classes = _encode_target(frame, target, task, where)
    check_classes(task, classes, len(frame), bool(why), frame[target[0]], where)
    roles = choose_roles(frame, target, cfg.features, cfg.drop, where)
    if cfg.datetime == "drop":
        roles = {c: ("dropped date" if r == "datetime" else r) for c, r in roles.items()}
    notes += describe_roles(roles)
    every, roles = (
        roles,
        {c: r for c, r in roles.items() if r in ("numeric", "categorical", "text", "datetime")},
    )
    if not roles:
        empty = [c for c, r in every.items() if r == "empty"]
        if empty:
            raise DataError(
                f"{where}: column '{empty[0]}' is empty in every row and no other input column is usable; "
                f"fill it or choose the inputs with data.features"
            )
        raise DataError(f"{where}: no usable input columns besides the target; check data.features/data.drop")
    texts = [c for c, r in roles.items() if r == "text"]
    kind = "text" if texts and len(roles) == 1 else "table"
    if cfg.text.mode == "tokens" and kind != "text":
        raise DataError(
            f"data.text.mode: tokens needs exactly one input column of free text, but {where} has "
            f"{len(texts)} text and {len(roles) - len(texts)} other input columns; use tfidf or data.features"
        )
    labels = torch.from_numpy(y) if task != "regression" and stratify(cfg, task) else None
    fixed_t = torch.from_numpy(np.array(fixed, dtype=np.int64)) if fixed is not None else None
    tr, va, te = assign_splits(fixed_t, len(frame), cfg.split.val, cfg.split.test, g, labels)
    if fixed_t is None:
        check_split_sizes(cfg, len(frame), (tr, va, te), where)
    text = cfg.text.model_dump(exclude={"ngrams", "sparse"}) | {"ngrams": tuple(cfg.text.ngrams)}
    if cfg.text.max_features is None:
        # beside other inputs, a free-text column gets a vocabulary in proportion to the rows,
        # so a few hundred rows do not fit thousands of n-gram weights
        auto = TEXT_TERMS if kind == "text" else max(TABLE_TERMS_MIN, len(tr) // ROWS_PER_TERM)
        text["max_features"] = auto
        if texts and kind == "table":
            notes.append(f"text columns: at most {auto} TF-IDF terms each (set data.text.max_features)")
    prep = TablePreprocessor.fit(frame.iloc[tr.numpy()], roles, cfg.scale, cfg.categorical, text, where)
    notes += [number_note(c["name"], c["format"]) for c in prep.columns if "format" in c]
    state: dict[str, Any] = prep.state()
    state["kind"] = kind
    yt = torch.from_numpy(y)
    if task == "regression":
        yt = yt.reshape(len(frame), -1)
        if cfg.scale_target:
            mean, std = yt[tr].mean(0), yt[tr].std(0, unbiased=False).clamp(min=1e-12)
            state["target"] = {"mean": mean.tolist(), "std": std.tolist()}

    tfidf = any(c["role"] == "text" and c["text"]["mode"] == "tfidf" for c in prep.columns)
    sparse: bool | None = None if tfidf and cfg.text.sparse is not False else False  # None: decide on train

    def part(rows: torch.Tensor) -> Split | None:
        nonlocal sparse
        if len(rows) == 0:
            return None
        x = prep.transform(frame.iloc[rows.numpy()], sparse is not False)
        if sparse is None:
            sparse = keep_sparse(x, cfg.text.sparse, notes)
        if not isinstance(x, np.ndarray):
            return Split(from_scipy(x) if sparse else torch.from_numpy(x.toarray()), yt[rows].float())
        return Split(torch.from_numpy(x), yt[rows].float())

    k = len(classes)
    counts = {s: class_counts(yt[r], k) for s, r in zip(SPLITS, (tr, va, te), strict=True)} if k else {}
    if k:
        notes.append(class_note(classes, counts))
    train = part(tr)
    assert train is not None
    info = DataInfo(
        task=task, kind=kind, input_shape=tuple(train.x.shape[1:]), classes=classes, targets=target,
        features=prep.feature_names, roles={**roles}, source=where, class_counts=counts, notes=notes,
        sizes={"train": len(tr), "val": len(va), "test": len(te)},
    )  # fmt: skip
    if kind == "text":
        encoder = prep.columns[0]["text"]
        info.text_mode = encoder["mode"]
        info.vocab_size = len(encoder["vocabulary"]) + 2 if encoder["mode"] == "tokens" else 0
    return Data(train, part(va), part(te), info, state)
