"""Inputs and outputs of prediction: tables read in chunks (CSV/TSV/Parquet/JSONL), images read
with Pillow, each turned into model features with the saved preprocessing; predictions
written chunk by chunk. Memory stays flat however long the input is."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import torch

from treino.data.decode import IMAGE_SUFFIXES, fit_arrays, read_image, to_nchw
from treino.data.tables import (
    READ_ERRORS,
    READERS,
    extra_field,
    flatten_objects,
    read_error,
    separator,
    shifted,
    text_head,
)
from treino.errors import DataError

IMAGE_CHUNK = 256  # images decoded at a time
Say = Callable[[str], None]


@dataclass
class Chunk:
    """Consecutive inputs: their ids, their model features, and any target values they carry."""

    ids: pd.DataFrame  # "row" (position in the input) or "file", plus an id column if asked
    features: Any  # (n, D) float32, a scipy sparse (n, D), or images (n, C, H, W)
    targets: pd.DataFrame | None = None  # target column(s) present in the input (for evaluate)


def transform_table(state: dict[str, Any], frame: pd.DataFrame, where: str, sparse: bool = False) -> Any:
    """Features of raw table rows from the saved preprocessing state: the data layer's own
    transform, the one training used, so the two can never drift apart."""
    from treino.data.preprocess import transform_frame

    return transform_frame(state, frame, where, sparse)


def input_columns(state: dict[str, Any]) -> list[str]:
    """The raw input columns a table model needs (before encoding), from its preprocessing state."""
    return [c["name"] for c in state.get("columns", [])]


# ---- tables ----------------------------------------------------------------------------


def table_chunks(
    data: Any,
    state: dict[str, Any],
    targets: list[str],
    id_column: str | None,
    rows: int,
    say: Say,
    sparse: bool = False,
) -> Iterator[Chunk]:
    """Preprocessed chunks of a DataFrame, a table file, or an array of raw column values, by
    the saved preprocessing `state` (with `sparse`, TF-IDF features as a scipy CSR matrix)."""
    needed = input_columns(state)
    if isinstance(data, str | Path):
        where, frames = str(data), _file_frames(Path(data).expanduser(), rows)
    elif isinstance(data, pd.DataFrame):
        where = str(data.attrs.get("source", "input"))  # evaluate sets it to a built-in's name
        frames = (data.iloc[i : i + rows] for i in range(0, max(len(data), 1), rows))
    elif isinstance(data, np.ndarray | torch.Tensor):
        where, frames = "input array", iter([_array_frame(data, needed)])
    else:
        raise DataError(
            f"predict: cannot read a {type(data).__name__}; give a DataFrame, a table file path or an array"
        )
    targets = list(targets)
    categorical = [c for c in state.get("columns", []) if c["role"] == "categorical"]
    unseen: dict[str, list[Any]] = {}  # column -> [count, first value]
    start = 0
    for i, frame in enumerate(frames):
        features = transform_table(state, frame, where, sparse)  # a missing model column fails here
        if i == 0:
            _check_columns(list(frame.columns), needed, targets, id_column, where, say)
        for c in categorical:
            values = frame[c["name"]].dropna().astype(str)
            new = values[~values.isin(c["categories"])]
            if len(new):
                seen = unseen.setdefault(c["name"], [0, new.iloc[0]])
                seen[0] += len(new)
        ids = pd.DataFrame({"row": np.arange(start, start + len(frame))})
        if id_column is not None:
            ids.insert(0, id_column, frame[id_column].to_numpy())
        present = [t for t in targets if t in frame.columns]
        start += len(frame)
        yield Chunk(ids, features, frame[present] if present else None)
    for name, (count, example) in unseen.items():
        say(f"note: {where}: {count} values of column '{name}' were not seen in training "
            f"(e.g. {example!r}): encoded as unknown")  # fmt: skip


def _check_columns(
    columns: list[str], needed: list[str], targets: list[str], id_column: str | None, where: str, say: Say
) -> None:
    """An unknown --id column is an error; extra columns are ignored, and said once."""
    if id_column is not None and id_column not in columns:
        raise DataError(f"--id {id_column}: no such column in {where}; columns: {', '.join(columns[:30])}")
    extra = [c for c in columns if c not in needed and c not in targets and c != id_column]
    if extra:
        say(f"note: {where}: ignoring {len(extra)} column(s) the model does not use: {', '.join(extra[:20])}"
            f"{' ...' if len(extra) > 20 else ''}")  # fmt: skip


def _array_frame(data: np.ndarray | torch.Tensor, needed: list[str]) -> pd.DataFrame:
    values = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != len(needed):
        raise DataError(
            f"input array: shape {tuple(values.shape)}, but the model takes rows of {len(needed)} raw "
            f"columns ({', '.join(needed)}); pass (N, {len(needed)}) or a DataFrame"
        )
    return pd.DataFrame(values, columns=needed)


def _file_frames(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """A table file, `rows` rows at a time, column names stripped as training strips them."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder, but this model takes a table file (CSV/TSV/Parquet/JSONL)")
    if not path.is_file():
        raise DataError(f"{path}: no such file; give a table file (CSV/TSV/Parquet/JSONL) or an image")
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown table format '{path.suffix}'; use .csv, .tsv, .parquet or .jsonl")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give a table with a header row and data rows")
    head, encoding = text_head(path) if fmt != "parquet" else (b"", "utf-8")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            chunks: Iterator[pd.DataFrame] = (
                b.to_pandas() for b in pq.ParquetFile(path).iter_batches(batch_size=rows)
            )
        elif fmt == "jsonl":
            reader = pd.read_json(path, lines=True, chunksize=rows, encoding=encoding)
            chunks = map(flatten_objects, reader)  # nested objects as training flattens them
        else:  # the separator, and one ending every row, found as training's reader finds them
            sep = "\t" if fmt == "tsv" else separator(head, encoding)
            extra = extra_field(head, sep, encoding) and shifted(
                path, pd.read_csv(path, sep=sep, nrows=1000, encoding=encoding)
            )
            chunks = iter(pd.read_csv(path, sep=sep, chunksize=rows, index_col=False if extra else None,
                                      encoding=encoding))  # fmt: skip
        empty = True
        for frame in chunks:
            frame.columns = [str(c).strip() for c in frame.columns]
            empty = empty and frame.empty
            yield frame
        if empty:
            raise DataError(f"{path}: the table has a header but no data rows; nothing to predict")
    except READ_ERRORS as exc:
        raise read_error(path, fmt, exc) from None


# ---- .npz arrays -----------------------------------------------------------------------


NPZ_INPUTS = ("x", "images", "x_test")  # the first present is the input; labels are ignored


def npz_inputs(path: Path, state: dict[str, Any], kind: str) -> np.ndarray | pd.DataFrame:
    """The inputs of an .npz file, read as training reads one: for a table model a DataFrame of
    its raw columns in order; for an image model (`kind` image) (N, C, H, W) in [0, 1], at the
    model's size (the saved preprocessing `state`)."""
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({str(exc).splitlines()[0]})") from None
    keys = {k.lower(): k for k in arrays}
    name = next((keys[k] for k in NPZ_INPUTS if k in keys), None)
    if name is None:
        raise DataError(f"{path}: arrays {', '.join(arrays) or '(none)'}; name the input array x (or images)")
    x = arrays[name]
    if kind == "image":
        shape = tuple(state["shape"])  # (C, H, W)
        return fit_arrays(to_nchw(x, path), shape[0], shape[1:])
    needed = input_columns(state)
    x = x[:, None] if x.ndim == 1 and len(needed) == 1 else x
    if x.ndim != 2 or x.shape[1] != len(needed):
        raise DataError(
            f"{path}: array '{name}' has shape {tuple(x.shape)}, but the model takes rows of {len(needed)} "
            f"raw columns ({', '.join(needed[:20])}); save (N, {len(needed)}) as x"
        )
    frame = pd.DataFrame(x, columns=needed)
    frame.attrs["source"] = str(path)  # messages name the file
    return frame


# ---- images ----------------------------------------------------------------------------


def image_chunks(
    data: Any, state: dict[str, Any], targets: list[str], rows: int, say: Say
) -> Iterator[Chunk]:
    """Normalized image batches (n, C, H, W) from a folder, one image file, a table of image
    paths (relative to the table's folder), or an array in [0, 1]."""
    mean = np.asarray(state["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(state["std"], dtype=np.float32)[:, None, None]
    shape = tuple(state["shape"])  # (C, H, W)
    if isinstance(data, np.ndarray | torch.Tensor):
        x = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
        x = x.astype(np.float32, copy=False)
        x = x[:, None] if x.ndim == 3 and shape[0] == 1 and x.shape[1:] == shape[1:] else x
        x = x[None] if x.ndim == 3 else x
        if x.shape[1:] != shape:
            raise DataError(
                f"input array: images of shape {tuple(x.shape[1:])}, but the model takes {shape} (C, H, W) "
                f"with values in [0, 1]; resize them, or pass image files (resized for you)"
            )
        for start in range(0, len(x), rows):
            part = x[start : start + rows]
            yield Chunk(pd.DataFrame({"row": np.arange(start, start + len(part))}), (part - mean) / std)
        return
    if not isinstance(data, str | Path):
        raise DataError(
            f"predict: cannot read a {type(data).__name__}; give an image folder, an image file or an array"
        )
    root = Path(data).expanduser()
    if root.is_file() and root.suffix.lower() in READERS:
        files, ids, labels = _image_table(root, targets)
    else:
        files = _image_files(root)
        rel = [f.relative_to(root).as_posix() if root.is_dir() else f.name for f in files]
        ids = pd.DataFrame({"file": rel})
        first = [r.split("/")[0] if "/" in r else None for r in rel]  # class subfolders: the labels
        labels = pd.DataFrame({"label": first}) if all(first) else None
    step = min(rows, IMAGE_CHUNK)
    resized = 0
    for start in range(0, len(files), step):
        read = [_read_image(f, shape) for f in files[start : start + step]]
        resized += sum(changed for _, changed in read)
        x = np.stack([image for image, _ in read])
        part = slice(start, start + len(read))
        yield Chunk(ids.iloc[part].reset_index(drop=True), (x - mean) / std,
                    labels.iloc[part].reset_index(drop=True) if labels is not None else None)  # fmt: skip
    if resized:
        say(
            f"note: {root}: {resized} of {len(files)} images resized to {shape[1]}x{shape[2]}, the model's size"
        )


def _image_table(path: Path, targets: list[str]) -> tuple[list[Path], pd.DataFrame, pd.DataFrame | None]:
    """The image paths of a path,label table (its first column of image file names), the
    column itself as ids, and the label column(s) when present."""
    from treino.data.tables import read_table

    frame = read_table(path)
    for name in frame.columns:
        names = frame[name].dropna().astype(str).str.lower()
        if len(names) and names.str.extract(r"(\.[a-z]+)$")[0].isin(IMAGE_SUFFIXES).mean() >= 0.9:
            break
    else:
        raise DataError(
            f"{path}: no column of image file names ({', '.join(sorted(IMAGE_SUFFIXES))}); the model takes "
            f"images: give a table of paths, an image folder or an image file"
        )
    if frame[name].isna().any():
        row = int(np.argmax(frame[name].isna().to_numpy()))
        raise DataError(
            f"{path}: column '{name}' has no image path at row {row + 1}; fill it or remove the row"
        )
    files = [(path.parent / str(p)).expanduser() for p in frame[name]]
    present = [t for t in targets if t in frame.columns and t != name]
    return files, frame[[name]], frame[present] if present else None


def _image_files(root: Path) -> list[Path]:
    if root.is_file():
        if root.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(
                f"{root}: not an image file ({', '.join(sorted(IMAGE_SUFFIXES))}); the model takes images"
            )
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder; give an image folder or an image file")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(
            f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder or below"
        )
    return files


def _read_image(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """(C, H, W) float32 in [0, 1], decoded as training decodes (converted to the model's
    channels, resized bilinearly to its size); and whether it was resized."""
    channels, height, width = shape
    try:
        return read_image(path, channels, (height, width))
    except OSError as exc:
        raise DataError(f"{path}: cannot read the image ({exc}); remove or replace the file") from None


# ---- output ----------------------------------------------------------------------------


class ChunkWriter:
    """Appends frames to a CSV/TSV/Parquet/JSONL file (written to a temporary, then renamed),
    or CSV to a stream."""

    def __init__(self, path: Path | None, stream: IO[str]) -> None:
        self.path, self.stream, self.rows = path, stream, 0
        # the suffixes training reads; .json is written as JSON lines, as it is read
        self.fmt = "csv" if path is None else READERS.get(path.suffix.lower())
        if self.fmt is None and path is not None:
            raise DataError(
                f"--output {path}: unknown format '{path.suffix}'; use .csv, .tsv, .parquet or .jsonl"
            )
        self.tmp = path.with_name(path.name + ".tmp") if path is not None else None
        self._file: IO[str] | None = None
        self._parquet: Any = None

    def __enter__(self) -> ChunkWriter:
        if self.tmp is not None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            if self.fmt != "parquet":
                self._file = self.tmp.open("w", encoding="utf-8", newline="")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            self._parquet.write_table(table)
        else:
            out = self._file or self.stream
            if self.fmt == "jsonl":
                frame.to_json(out, orient="records", lines=True)
            else:
                frame.to_csv(out, sep="\t" if self.fmt == "tsv" else ",", header=self.rows == 0, index=False)
        self.rows += len(frame)

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._file is not None:
            self._file.close()
        if self.tmp is not None and self.path is not None:
            if error is None and self.tmp.exists():
                os.replace(self.tmp, self.path)
            else:
                self.tmp.unlink(missing_ok=True)
