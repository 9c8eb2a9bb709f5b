"""Loading data: read a source (a built-in dataset, a table, an image/IDX/text folder, .npz arrays),
split it (seeded, stratified for classes), fit the preprocessing on the train split only, and
hand tensors to the loop. See docs/data.md for the formats and the inference rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from treino.config import DataConfig
from treino.data import own
from treino.data.build import image_data, table_data
from treino.data.builtin import DATASETS, Images, Table, subsample
from treino.data.core import Data, memory_budget
from treino.data.decode import IMAGE_SUFFIXES
from treino.data.idx import is_idx
from treino.data.images import read_folder, read_image_table, read_npz
from treino.data.lazy_images import LazyImages, concat
from treino.data.sequences import Sequences, read_sequences, sequence_data
from treino.data.series import is_series, series_data
from treino.data.splits import SPLIT_NAMES
from treino.data.stream import StreamTable, open_table, over_budget, whole_note
from treino.data.stream_fit import stream_data
from treino.data.tables import check_numbers, read_table
from treino.errors import DataError
from treino.registry import did_you_mean

SPLITS = {1: "val", 2: "test"}


def load(cfg: DataConfig, generator: torch.Generator, seed: int = 0) -> Data:
    """Read, split and preprocess the data named by `cfg`.

    Example:
        >>> data = load(DataConfig(source="iris"), torch.Generator().manual_seed(0))
        >>> data.train.x.shape, data.info.task
        (torch.Size([102, 4]), 'multiclass')
    """
    raw, where = resolve(cfg, seed)
    if is_series(cfg, raw):  # data.series, or a built-in series: windows split by time
        return series_data(raw, cfg, where)
    if isinstance(raw, StreamTable):  # a Parquet table over data.memory_budget
        return stream_data(raw, cfg, where, seed)
    for code, extra in ((1, cfg.val), (2, cfg.test)):
        if extra is not None:
            name = SPLITS[code]
            if Path(extra).expanduser().resolve() == Path(cfg.source).expanduser().resolve():
                raise DataError(
                    f"data.{name}: {extra} is data.source itself, so its rows would be in train and {name} "
                    f"(leakage); give a separate file, or leave data.{name} out to split data.source"
                )
            raw = _append(raw, _read_path(Path(extra).expanduser(), cfg, f"data.{SPLITS[code]}"), code, extra)
    if isinstance(raw, Images | LazyImages):
        return image_data(raw, cfg, generator, where)
    if isinstance(raw, Sequences):  # an .npz of x (N, T, F)
        return sequence_data(raw, cfg, generator, where)
    data = table_data(raw, cfg, generator, where)
    data.info.notes += whole_note(where, cfg)
    return data


def resolve(cfg: DataConfig, seed: int) -> tuple[Table | Images | LazyImages | StreamTable | Sequences, str]:
    """The raw source: a built-in dataset or a file/folder, and a name for messages."""
    source = cfg.source
    if source in DATASETS:
        entry = DATASETS.get(source)
        if entry.synthetic:
            return entry.load(cfg.n_samples, cfg.noise, seed), source
        if cfg.noise is not None:
            raise DataError(
                f"data.noise: '{source}' is real data; noise applies to the synthetic datasets "
                f"({', '.join(n for n in DATASETS if DATASETS.get(n).synthetic)}); remove it"
            )
        return subsample(entry.load(None, None, seed), cfg.n_samples, seed), source
    path = Path(source).expanduser()
    if own.is_own(source) and not path.exists():  # your own Dataset class, built with data.args
        return own.read(source, cfg.args, lambda npz: _read_path(npz, cfg, "data.source")), source
    if path.exists():
        return _read_path(path, cfg, "data.source"), str(path)
    hint = did_you_mean(source, DATASETS.names())
    looks_like_path = "/" in source or "\\" in source or Path(source).suffix != ""
    if looks_like_path and not hint:
        raise DataError(f"{path}: no such file or folder; check the path (or name a built-in dataset)")
    raise DataError(
        f"data.source: '{source}' is neither a file, a folder nor a built-in dataset{hint}; "
        f"built-in: {', '.join(DATASETS.names())} (see treino datasets)"
    )


def _read_path(
    path: Path, cfg: DataConfig, key: str
) -> Table | Images | LazyImages | StreamTable | Sequences:
    """A file or folder as a raw table or raw images."""
    if not path.exists():
        raise DataError(f"{key}: {path}: no such file or folder; check the path")
    if path.is_dir():
        return read_folder(path, cfg.image, memory_budget(cfg))
    if path.suffix.lower() == ".npz":
        return read_sequences(path, cfg.sequence) or read_npz(path, cfg.image)
    if is_idx(path):
        raise DataError(
            f"{path}: one IDX file; give the folder holding the train-*/t10k-* images and labels files"
        )
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError(f"{path}: a single image; give a folder with one subfolder of images per class")
    if key == "data.source" and over_budget(path, cfg):
        return open_table(path, cfg)
    frame = check_numbers(read_table(path), str(path))
    if cfg.target is None:
        cols = ", ".join(map(str, frame.columns[:30]))
        raise DataError(f"{path}: which column is the target? pass --target COL (columns: {cols})")
    target = [cfg.target] if isinstance(cfg.target, str) else list(cfg.target)
    images = _image_column(frame, target)
    if images is not None and len(target) == 1 and target[0] in frame.columns:
        return read_image_table(frame, images, target[0], path.parent, cfg.image, memory_budget(cfg))
    fixed = None
    if cfg.split.column is not None:
        frame, fixed = _split_column(frame, cfg.split.column, str(path))
    return Table(frame, target, "auto", fixed)


def _image_column(frame: pd.DataFrame, target: list[str]) -> str | None:
    """The column of image paths in a path,label table, if there is one."""
    for name in frame.columns:
        col = frame[name].dropna()
        if (
            name in target
            or len(col) == 0
            or (col.dtype.kind not in "OSU" and not pd.api.types.is_string_dtype(col))
        ):
            continue
        suffixes = col.astype(str).str.lower().str.extract(r"(\.[a-z]+)$")[0]
        if suffixes.isin(IMAGE_SUFFIXES).mean() >= 0.9:
            return str(name)
    return None


def _split_column(frame: pd.DataFrame, column: str, where: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows assigned to train/val/test by a column's values; the column is not an input."""
    if column not in frame.columns:
        raise DataError(
            f"{where}: data.split.column '{column}' is not a column{did_you_mean(column, list(frame.columns))}"
        )
    names = frame[column].astype(str).str.strip().str.lower()
    codes = names.map(SPLIT_NAMES)
    if codes.isna().any():
        row = int(np.argmax(codes.isna().to_numpy()))
        raise DataError(
            f"{where}: split column '{column}' has {frame[column].iloc[row]!r} at row {row + 1}; "
            f"use train, val or test"
        )
    return frame.drop(columns=[column]), codes.to_numpy(dtype=np.int64)


Raw = Table | Images | LazyImages | Sequences


def _append(raw: Raw, extra: Raw, code: int, where: str) -> Raw:
    """Add a separate val/test source to the main one, its rows fixed to that split."""
    if isinstance(raw, Sequences) and isinstance(extra, Sequences):
        return raw.append(extra, code, where)
    n_raw = len(raw.frame) if isinstance(raw, Table) else len(raw.y)
    n_extra = len(extra.frame) if isinstance(extra, Table) else len(extra.y)
    fixed = raw.fixed if raw.fixed is not None else np.full(n_raw, -1, dtype=np.int64)
    fixed = np.concatenate([fixed, np.full(n_extra, code, dtype=np.int64)])
    if (
        isinstance(raw, Images | LazyImages)
        and isinstance(extra, Images | LazyImages)
        and (isinstance(raw, LazyImages) or isinstance(extra, LazyImages))
    ):
        return concat(raw, extra, fixed, where)
    if isinstance(raw, Table) and isinstance(extra, Table):
        absent = [c for c in raw.frame.columns if c not in extra.frame.columns]
        if absent:
            raise DataError(
                f"{where}: lacks column(s) {', '.join(absent[:10])} of the training data; add them"
            )
        frame = pd.concat([raw.frame, extra.frame[list(raw.frame.columns)]], ignore_index=True)
        return Table(frame, raw.target, raw.task, fixed)
    if isinstance(raw, Images) and isinstance(extra, Images):
        if raw.x.shape[1:] != extra.x.shape[1:]:
            raise DataError(
                f"{where}: images of shape {extra.x.shape[1:]} but training has {raw.x.shape[1:]}; "
                f"set data.image.size: [H, W]"
            )
        classes = sorted(set(raw.classes) | set(extra.classes))
        remap = [np.array([classes.index(c) for c in r.classes], dtype=np.int64) for r in (raw, extra)]
        y = np.concatenate([remap[0][raw.y], remap[1][extra.y]])
        return Images(np.concatenate([raw.x, extra.x]), y, classes, fixed, raw.notes)
    raise DataError(f"{where}: is not the same kind of data (table or images) as data.source")
