"""Images: a folder with one subfolder per class, a table of path,label, IDX files or .npz
arrays -> float32 (N, C, H, W) in [0, 1], resized and converted to the asked channels by the one
decoder (decode.py), as prediction reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from treino.config import ImageConfig
from treino.data.builtin import Images, Table
from treino.data.decode import READ_ERRORS, channels_of, fit_arrays, is_image, pixels, to_nchw, unreadable
from treino.data.idx import read_idx_folder
from treino.data.lazy_images import LazyImages, decoded_bytes, scan
from treino.errors import DataError

# train/ rows are free (-1): the splits a folder lacks (val, or test) are drawn from them, as from any
# source; val/ and test/ rows are fixed there
SPLIT_FOLDERS = {"train": -1, "val": 1, "valid": 1, "validation": 1, "test": 2}


def read_folder(folder: Path, cfg: ImageConfig, budget: int | None = None) -> Images | LazyImages | Table:
    """An IDX folder, a class-per-subfolder image folder (optionally under train/val/test), or
    a class-per-subfolder folder of .txt files (a text table). Images over `budget` bytes
    decoded are left on disk, their headers read (`LazyImages`)."""
    found = read_idx_folder(folder)
    if found is not None:
        x, y, is_test = found
        labels = np.unique(y)  # any label values (1..10, or gaps): class indices 0..K-1, as read_npz does
        images = from_arrays(x, np.searchsorted(labels, y), [str(c) for c in labels], folder)
        images.fixed = np.where(is_test, 2, -1).astype(np.int64)
        return adapt(images, cfg)
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subs and all(p.name.lower() in SPLIT_FOLDERS for p in subs):
        return _split_folders(folder, subs, cfg, budget)
    files = _class_files(subs)
    if not files:
        texts = {p.name: sorted(p.rglob("*.txt")) for p in subs}
        if any(texts.values()):
            return _text_folder(folder, texts)
        raise DataError(
            f"{folder}: no images found; put PNG/JPEG/BMP files in one subfolder per class "
            f"(e.g. {folder}/cats/1.png), or IDX files (train-images-idx3-ubyte...)"
        )
    if len(files) < 2:
        raise DataError(
            f"{folder}: only one class folder ('{next(iter(files))}'); a classifier needs at least two "
            f"subfolders of images"
        )
    classes = list(files)
    paths = [f for c in classes for f in files[c]]
    labels = np.array([k for k, c in enumerate(classes) for _ in files[c]], dtype=np.int64)
    return _images(paths, labels, classes, cfg, str(folder), budget)


def _class_files(subs: list[Path]) -> dict[str, list[Path]]:
    """Class name -> its image files, for the class subfolders that hold any."""
    files = {p.name: sorted(f for f in p.rglob("*") if f.is_file() and is_image(f)) for p in subs}
    return {k: v for k, v in files.items() if v}


def _images(
    paths: list[Path], labels: np.ndarray, classes: list[str], cfg: ImageConfig, where: str,
    budget: int | None,
) -> Images | LazyImages:  # fmt: skip
    """Decoded, or left on disk (headers read) when decoding would take more than `budget` bytes."""
    if budget is not None and decoded_bytes(paths, cfg) > budget:
        return scan(paths, labels, classes, cfg, where)
    return decode(paths, labels, classes, cfg, where)


def _split_folders(
    folder: Path, subs: list[Path], cfg: ImageConfig, budget: int | None
) -> Images | LazyImages:
    """train/ (and val/, test/) subfolders, each with the same class subfolders."""
    lazy = _lazy_split_folders(folder, subs, cfg, budget)
    if lazy is not None:
        return lazy
    parts = [(p, read_folder(p, cfg)) for p in subs]
    if any(not isinstance(raw, Images) for _, raw in parts):
        raise DataError(f"{folder}: train/val/test subfolders must each hold class subfolders of images")
    classes = sorted({c for _, raw in parts for c in raw.classes})  # type: ignore[union-attr]
    xs, ys, fixed = [], [], []
    for path, raw in parts:
        assert isinstance(raw, Images)
        remap = np.array([classes.index(c) for c in raw.classes], dtype=np.int64)
        xs.append(raw.x)
        ys.append(remap[raw.y])
        fixed.append(np.full(len(raw.y), SPLIT_FOLDERS[path.name.lower()], dtype=np.int64))
    if "train" not in {p.name.lower() for p in subs}:
        raise DataError(f"{folder}: has {', '.join(p.name for p in subs)} but no train/ subfolder; add it")
    shapes = {x.shape[1:] for x in xs}
    if len(shapes) > 1:
        raise DataError(
            f"{folder}: the split folders hold images of different sizes; set data.image.size: [H, W]"
        )
    return Images(np.concatenate(xs), np.concatenate(ys), classes, np.concatenate(fixed))


def _lazy_split_folders(
    folder: Path, subs: list[Path], cfg: ImageConfig, budget: int | None
) -> LazyImages | None:
    """train/val/test subfolders of class folders whose images, all together, are over `budget`
    decoded: their headers read; None when they fit (or are not all image folders)."""
    if budget is None:
        return None
    listed = [(p, _class_files(sorted(c for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))))
              for p in subs]  # fmt: skip
    every = [f for _, files in listed for fs in files.values() for f in fs]
    if not all(files for _, files in listed) or decoded_bytes(every, cfg) <= budget:
        return None
    if "train" not in {p.name.lower() for p in subs}:
        raise DataError(f"{folder}: has {', '.join(p.name for p in subs)} but no train/ subfolder; add it")
    classes = sorted({c for _, files in listed for c in files})
    labels = np.array([classes.index(c) for _, files in listed for c, fs in files.items() for _ in fs])
    fixed = np.array(
        [SPLIT_FOLDERS[p.name.lower()] for p, files in listed for fs in files.values() for _ in fs]
    )
    return scan(every, labels.astype(np.int64), classes, cfg, str(folder), fixed.astype(np.int64))


def _text_folder(folder: Path, texts: dict[str, list[Path]]) -> Table:
    """One subfolder per class of .txt files -> a (text, label) table."""
    rows = [
        (f.read_text(encoding="utf-8", errors="replace"), label) for label, fs in texts.items() for f in fs
    ]
    if len({label for _, label in rows}) < 2:
        raise DataError(f"{folder}: only one class folder of .txt files; a classifier needs at least two")
    return Table(pd.DataFrame(rows, columns=["text", "label"]), ["label"])


def decode(paths: list[Path], labels: np.ndarray, classes: list[str], cfg: ImageConfig, where: str) -> Images:
    """Decode image files with Pillow: resized to cfg.size, in cfg.channels, scaled to [0, 1].
    An unreadable file is an error naming it, or skipped (counted) with cfg.skip_bad."""
    from PIL import Image

    arrays, keep, bad, modes = [], [], [], set()
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                img.load()
                modes.add(img.mode)
                arrays.append((i, img.copy()))
        except READ_ERRORS as exc:
            if not cfg.skip_bad:
                raise unreadable(path, exc) from None
            bad.append(path)
    channels = channels_of(modes, cfg.channels)  # auto: known once every file is open
    sizes: dict[tuple[int, int], Path] = {}
    out = []
    for i, img in arrays:
        x = pixels(img, channels, cfg.size)  # (C, H, W)
        height, width = x.shape[1:]
        sizes.setdefault((height, width), paths[i])
        if len(sizes) > 1:
            (h1, w1), first = next(iter(sizes.items()))
            raise DataError(
                f"{where}: images have different sizes ({h1}x{w1} in {first.name}, {height}x{width} "
                f"in {paths[i].name}); set data.image.size: [H, W] to resize them"
            )
        out.append(x)
        keep.append(i)
    if not out:
        raise DataError(f"{where}: none of the {len(paths)} images could be read; check the files")
    notes = [f"skipped {len(bad)} unreadable images (first: {bad[0]})"] if bad else []
    return Images(np.stack(out), labels[keep], classes, None, notes)


def read_image_table(
    frame: pd.DataFrame, column: str, target: str, base: Path, cfg: ImageConfig, budget: int | None = None
) -> Images | LazyImages:
    """A table of image paths (relative to the table's folder) and labels; left on disk (headers
    read) when decoding them would take more than `budget` bytes."""
    labels = frame[target]
    if labels.isna().any():
        row = int(np.argmax(labels.isna().to_numpy()))
        raise DataError(
            f"{base}: label column '{target}' is empty at row {row + 1}; fill it or remove the row"
        )
    classes = sorted(labels.astype(str).unique())
    y = labels.astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    paths = [(base / str(p)).expanduser() for p in frame[column]]
    missing = next((p for p in paths if not p.exists()), None)
    if missing is not None and not cfg.skip_bad:
        raise DataError(
            f"{missing}: no such image (from column '{column}'); fix the path or set data.image.skip_bad: true"
        )
    return _images(paths, y, classes, cfg, str(base), budget)


def read_npz(path: Path, cfg: ImageConfig) -> Images | Table:
    """Arrays x/y (or X/y, images/labels, x_train/y_train + x_test/y_test): 3-D or 4-D x gives
    images, 2-D x a table of features."""
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({str(exc).splitlines()[0]})") from None
    keys = {k.lower(): k for k in arrays}
    pairs = [("x", "y"), ("images", "labels"), ("x_train", "y_train")]
    found = next(((keys[a], keys[b]) for a, b in pairs if a in keys and b in keys), None)
    if found is None:
        raise DataError(
            f"{path}: arrays {', '.join(arrays)}; name them x and y (or x_train, y_train, x_test, y_test)"
        )
    x, y = arrays[found[0]], arrays[found[1]].reshape(len(arrays[found[0]]), -1).squeeze(1)
    fixed = None
    if found[0].lower() == "x_train" and "x_test" in keys and "y_test" in keys:
        xt, yt = arrays[keys["x_test"]], arrays[keys["y_test"]].reshape(-1)
        fixed = np.concatenate([np.full(len(y), -1), np.full(len(yt), 2)]).astype(np.int64)
        x, y = np.concatenate([x, xt]), np.concatenate([y, yt])
    if x.ndim == 2:
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        frame["y"] = y
        return Table(frame, ["y"], "auto", fixed)
    classes = [str(c) for c in np.unique(y)]
    images = from_arrays(x, np.searchsorted(np.unique(y), y), classes, path)
    images.fixed = fixed
    return adapt(images, cfg)


def from_arrays(x: np.ndarray, y: np.ndarray, classes: list[str], where: Path) -> Images:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) arrays -> float32 (N, C, H, W) in [0, 1]."""
    return Images(to_nchw(x, where), y.astype(np.int64), classes)


def adapt(images: Images, cfg: ImageConfig) -> Images:
    """Resize and convert the channels of in-memory images as cfg asks."""
    images.x = fit_arrays(images.x, cfg.channels, cfg.size)
    return images
