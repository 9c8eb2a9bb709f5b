"""`data.source: package.module:Class`: your own torch Dataset (built with `data.args`) as a
source of the whole pipeline. Its items, (input, target) pairs, are read once into arrays and
then treated as an .npz file of the same arrays would be: 1-D inputs are a table of features
x0, x1, ...; (H, W), (C, H, W) or (H, W, C) inputs are images; (steps, features) inputs are
sequences (data.sequence). Integer targets are classes, named by the class's `classes` list
(torchvision's convention) when it has one; float targets are a regression."""

from __future__ import annotations

import importlib
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from treino.errors import DataError

OWN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # package.module:Class (not C:\path, not a URL)


def is_own(source: object) -> bool:
    """Whether data.source names a class: 'package.module:Class'."""
    return isinstance(source, str) and OWN.fullmatch(source) is not None


def build(source: str, args: dict[str, Any], key: str = "data.source") -> Any:
    """The Dataset object: `Class(**args)`, its module imported from the working directory."""
    module_name, _, name = source.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's file may fail in any way: say how, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(
            f"{key}: cannot import '{source}' ({type(exc).__name__}: {first}); give 'package.module:Class' "
            f"importable from the working directory"
        ) from None
    cls = getattr(module, name, None)
    if cls is None:
        found = sorted(
            k for k, v in vars(module).items() if _is_dataset(v) and v.__module__ == module.__name__
        )
        listed = f"; Dataset classes there: {', '.join(found)}" if found else ""
        raise DataError(f"{key}: module '{module_name}' has no '{name}'{listed}")
    if not _is_dataset(cls):
        raise DataError(f"{key}: '{source}' is not a Dataset class; give a class with __len__ and "
                        f"__getitem__ returning (input, target)")  # fmt: skip
    try:
        return cls(**args)
    except TypeError as exc:
        raise DataError(f"{key}: {source}(**data.args) failed ({exc}); fix data.args") from None


def _is_dataset(obj: object) -> bool:
    return isinstance(obj, type) and hasattr(obj, "__getitem__") and hasattr(obj, "__len__")


def arrays(dataset: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Every item's input and target, stacked: (N, ...) float32 inputs and (N,) targets (class
    names when the dataset has `classes` and gives integer targets)."""
    n = len(dataset)
    if n == 0:
        raise DataError(f"data.source: {source} holds no items (len 0)")
    xs, ys = [], []
    for i in range(n):
        item = dataset[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise DataError(f"data.source: {source}[{i}] is a {type(item).__name__}, not an (input, target) "
                            f"pair; return (x, y) from __getitem__")  # fmt: skip
        x, y = (np.asarray(_numpy(v)) for v in item)
        if xs and x.shape != xs[0].shape:
            raise DataError(f"data.source: {source}[{i}] has an input of shape {x.shape} but item 0 has "
                            f"{xs[0].shape}; give inputs of one shape")  # fmt: skip
        if y.size != 1:
            raise DataError(f"data.source: {source}[{i}] has a target of shape {y.shape}; give one number "
                            f"(a class index, or a value) per item")  # fmt: skip
        xs.append(x)
        ys.append(y.reshape(()))
    x, y = np.stack(xs).astype(np.float32), np.stack(ys)
    names = getattr(dataset, "classes", None)
    if y.dtype.kind in "iub" and isinstance(names, list | tuple) and len(names) > int(y.max()):
        y = np.asarray([str(names[int(v)]) for v in y])
    return x, y


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def read(source: str, args: dict[str, Any], read_npz: Callable[[Path], Any]) -> Any:
    """The raw data of the Dataset class `source`, through `read_npz` (the .npz reader, so that
    tables, images and sequences follow the same rules); errors name `source`."""
    x, y = arrays(build(source, args), source)
    with tempfile.TemporaryDirectory(prefix="treino-") as folder:
        path = Path(folder) / "dataset.npz"
        np.savez(path, x=x, y=y)
        try:
            return read_npz(path)
        except DataError as exc:
            raise DataError(str(exc).replace(str(path), f"data.source {source}")) from None


def readable(data: object) -> bool:
    """Whether predict's input is a Dataset: an object with __len__ and __getitem__ (not a path,
    table, array or list), or 'package.module:Class' naming one."""
    if isinstance(data, str):
        return is_own(data) and not Path(data).expanduser().exists()
    plain = (Path, dict, list, tuple, np.ndarray, bytes)
    return not isinstance(data, plain) and type(data).__module__.split(".")[0] not in ("pandas", "torch") \
        and hasattr(data, "__getitem__") and hasattr(data, "__len__")  # fmt: skip


@contextmanager
def npz(data: Any, args: dict[str, Any]) -> Iterator[Path]:
    """A temporary .npz of the dataset's inputs and targets (`data`: the object, or its class
    built with `args`, the run's data.args), for predict's .npz reader."""
    source = data if isinstance(data, str) else f"{type(data).__module__}:{type(data).__qualname__}"
    x, y = arrays(build(data, args) if isinstance(data, str) else data, source)
    with tempfile.TemporaryDirectory(prefix="treino-") as folder:
        path = Path(folder) / "dataset.npz"
        np.savez(path, x=x, y=y)
        yield path
