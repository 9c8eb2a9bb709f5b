"""IDX files, the MNIST / Fashion-MNIST format (gzipped or not): a magic number naming the
element type and the number of dimensions, the sizes as big-endian int32, then the values."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from treino.errors import DataError

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def is_idx(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return ("idx" in name and name.split("idx")[-1][:1].isdigit()) or name.endswith(".idx")


def read_idx(path: Path) -> np.ndarray:
    """The array stored in one IDX file.

    Example:
        >>> read_idx(Path("train-labels-idx1-ubyte.gz")).shape
        (60000,)
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read this IDX file ({exc}); check the file is complete") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number); give MNIST-format files")
    dtype, ndim = np.dtype(DTYPES[raw[2]]), raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    body = 4 + 4 * ndim
    if len(raw) - body != int(np.prod(shape)) * dtype.itemsize:
        raise DataError(
            f"{path}: IDX header says shape {shape} but the file holds {len(raw) - body} bytes of data; "
            f"the file is truncated or damaged"
        )
    return np.frombuffer(raw, dtype=dtype, offset=body).reshape(shape).astype(dtype.newbyteorder("="))


def _pair(folder: Path, prefix: str) -> tuple[Path, Path] | None:
    """The images and labels files of one split (train or t10k) in `folder`, if both exist."""
    files = sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and is_idx(p))
    images = [p for p in files if "images" in p.name or "idx3" in p.name]
    labels = [p for p in files if "labels" in p.name or "idx1" in p.name]
    if not images and not labels:
        return None
    if not images or not labels:
        missing = "images" if not images else "labels"
        raise DataError(f"{folder}: has {prefix}* IDX files but no {prefix} {missing} file; add it")
    return images[0], labels[0]


def read_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(images (N, H, W) uint8, labels (N,), is_test (N,) bool) from train-* and t10k-* files;
    None when the folder holds no IDX files."""
    train = _pair(folder, "train")
    test = _pair(folder, "t10k")
    if train is None and test is None:
        return None
    if train is None:
        raise DataError(f"{folder}: has t10k-* IDX files but no train-* ones; add the training files")
    xs, ys, flags = [], [], []
    for pair, is_test in ((train, False), (test, True)):
        if pair is None:
            continue
        x, y = read_idx(pair[0]), read_idx(pair[1])
        if len(x) != len(y):
            raise DataError(
                f"{pair[0]}: {len(x)} images but {pair[1].name} has {len(y)} labels; use matching files"
            )
        xs.append(x)
        ys.append(y)
        flags.append(np.full(len(y), is_test))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(flags)
