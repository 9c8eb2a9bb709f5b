"""Built-in datasets: real data shipped inside installed packages, and the course's
synthetic sets. Nothing is downloaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from treino.registry import Registry


@dataclass
class Table:
    """A table with its target column(s) and, if known, the task."""

    frame: pd.DataFrame
    target: list[str]
    task: str = "auto"


@dataclass
class Images:
    """Images (N, C, H, W) in [0, 1] with integer labels and their class names."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    test: tuple[np.ndarray, np.ndarray] | None = None  # a fixed test split, if the source has one


@dataclass
class Builtin:
    name: str
    task: str
    shape: str
    source: str
    load: Callable[[int | None, float | None, int], Table | Images]


DATASETS: Registry[Builtin] = Registry("dataset", key="data.source")


def builtin(name: str, task: str, shape: str, source: str):
    def add(fn: Callable[[int | None, float | None, int], Table | Images]):
        DATASETS.register(name)(Builtin(name, task, shape, source, fn))
        return fn

    return add


def _sklearn_table(loader: str, target: str = "target") -> Table:
    import sklearn.datasets as skd

    bunch = getattr(skd, loader)(as_frame=True)
    frame = bunch.frame.copy()
    if hasattr(bunch, "target_names") and target == "target" and bunch.frame[target].dtype.kind == "i":
        names = list(bunch.target_names)
        frame[target] = [names[i] for i in frame[target]]
    return Table(frame, [target])


@builtin("digits", "multiclass", "1797 x 1x8x8", "scikit-learn (UCI handwritten digits)")
def _digits(n: int | None, noise: float | None, seed: int) -> Images:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8), pixel values 0..16
    return Images(x, d.target.astype(np.int64), [str(c) for c in d.target_names])


@builtin("iris", "multiclass", "150 x 4", "scikit-learn (Fisher's iris)")
def _iris(n: int | None, noise: float | None, seed: int) -> Table:
    return _sklearn_table("load_iris")


@builtin("wine", "multiclass", "178 x 13", "scikit-learn (UCI wine)")
def _wine(n: int | None, noise: float | None, seed: int) -> Table:
    return _sklearn_table("load_wine")


@builtin("breast_cancer", "binary", "569 x 30", "scikit-learn (Wisconsin diagnostic)")
def _breast_cancer(n: int | None, noise: float | None, seed: int) -> Table:
    return _sklearn_table("load_breast_cancer")


@builtin("diabetes", "regression", "442 x 10", "scikit-learn (diabetes progression)")
def _diabetes(n: int | None, noise: float | None, seed: int) -> Table:
    table = _sklearn_table("load_diabetes")
    table.task = "regression"
    return table


@builtin("houses", "regression", "200 x 1 (synthetic)", "the course: rooms -> price, a line")
def _houses(n: int | None, noise: float | None, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    n = n or 200
    rooms = rng.uniform(1, 10, n).round(1)
    # price in thousands of dollars: 3k per room plus 2k, with noise
    price = 3.0 * rooms + 2.0 + rng.normal(0, 1.5 if noise is None else noise, n)
    return Table(pd.DataFrame({"rooms": rooms, "price": price}), ["price"], "regression")
