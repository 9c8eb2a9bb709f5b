"""Tables: read CSV/TSV/Parquet/JSONL, infer the task and the column roles, and fit the
preprocessing (imputation, scaling, one-hot) on the train split only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from treino.errors import DataError
from treino.registry import did_you_mean

READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}  # fmt: skip
MAX_CATEGORIES = 50  # one-hot columns per categorical feature; rarer values go to "unknown"
CLASS_MAX_INTEGERS = 20  # an integer target with at most this many values is a class label


def read_table(path: Path) -> pd.DataFrame:
    """Read a table file by its suffix; every failure names the file and the fix."""
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown table format '{path.suffix}'; use .csv, .tsv, .parquet or .jsonl")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give a table with a header row and data rows")
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, sep=None, engine="python")  # sniffs , ; tab |
        elif fmt == "tsv":
            frame = pd.read_csv(path, sep="\t")
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True)
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file"
        ) from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise DataError(
            f"{path}: malformed table ({detail}); every row needs the header's number of fields"
        ) from None
    except (ValueError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as {fmt} ({detail})") from None
    if frame.empty:
        raise DataError(f"{path}: the table has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def infer_task(target: pd.Series) -> str:
    """regression for many-valued numbers; binary/multiclass for strings, bools, few integers."""
    values = target.dropna()
    kind = values.dtype.kind
    n_unique = values.nunique()
    if kind == "b" or kind in "OSUc" or isinstance(values.dtype, pd.CategoricalDtype):
        return "binary" if n_unique == 2 else "multiclass"
    if kind in "iu" or (kind == "f" and np.all(np.mod(values, 1) == 0)):
        if n_unique <= CLASS_MAX_INTEGERS and n_unique < max(3, len(values) // 2):
            return "binary" if n_unique == 2 else "multiclass"
    return "regression"


def column_role(series: pd.Series) -> str:
    """numeric, categorical, id (dropped) or text, from the values alone."""
    values = series.dropna()
    kind = values.dtype.kind
    if len(values) == 0:
        return "empty"
    if kind == "b" or isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical"
    if kind in "iuf":
        return "numeric"
    if kind == "M":
        return "datetime"
    as_text = values.astype(str)
    distinct = as_text.nunique() / len(as_text)
    words = as_text.str.split().str.len().mean()
    if distinct > 0.5 and words >= 3:
        return "text"
    if distinct > 0.95 and len(as_text) >= 20:
        return "id"
    return "categorical"


class TablePreprocessor:
    """Imputation (median / most frequent, with an indicator), scaling and one-hot encoding,
    fitted on the train split. Its state is plain numbers and strings (JSON)."""

    def __init__(self, columns: list[dict[str, Any]]) -> None:
        self.columns = columns

    @classmethod
    def fit(cls, frame: pd.DataFrame, roles: dict[str, str], scale: str) -> TablePreprocessor:
        columns = []
        for name, role in roles.items():
            col = frame[name]
            missing = bool(col.isna().any())
            if role == "numeric":
                x = col.astype(float)
                fill = float(x.median()) if x.notna().any() else 0.0
                x = x.fillna(fill)
                if scale == "standard":
                    shift, div = float(x.mean()), float(x.std(ddof=0))
                elif scale == "minmax":
                    shift, div = float(x.min()), float(x.max() - x.min())
                else:
                    shift, div = 0.0, 1.0
                columns.append({"name": name, "role": role, "fill": fill, "shift": shift,
                                "scale": div if div > 0 else 1.0, "indicator": missing})  # fmt: skip
            elif role == "categorical":
                counts = col.dropna().astype(str).value_counts()
                cats = sorted(counts.index[:MAX_CATEGORIES].tolist())
                columns.append({"name": name, "role": role, "categories": cats,
                                "indicator": missing})  # fmt: skip
        return cls(columns)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(N, D) float32 features in the order of `feature_names`."""
        blocks = []
        for c in self.columns:
            col = frame[c["name"]]
            if c["role"] == "numeric":
                x = pd.to_numeric(col, errors="coerce").astype(float)
                blocks.append(((x.fillna(c["fill"]) - c["shift"]) / c["scale"]).to_numpy()[:, None])
            else:
                text = col.astype(str).where(col.notna(), None)
                codes = pd.Categorical(text, categories=c["categories"]).codes  # -1 = unknown
                onehot = np.zeros((len(col), len(c["categories"])), dtype=np.float32)
                rows = np.nonzero(codes >= 0)[0]
                onehot[rows, codes[rows]] = 1.0
                blocks.append(onehot)
            if c["indicator"]:
                blocks.append(col.isna().to_numpy(dtype=np.float32)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for c in self.columns:
            if c["role"] == "numeric":
                names.append(c["name"])
            else:
                names += [f"{c['name']}={v}" for v in c["categories"]]
            if c["indicator"]:
                names.append(f"{c['name']}:missing")
        return names

    def state(self) -> dict[str, Any]:
        return {"kind": "table", "columns": self.columns}


def check_target(frame: pd.DataFrame, target: list[str], where: str) -> None:
    for name in target:
        if name not in frame.columns:
            cols = list(frame.columns)
            raise DataError(
                f"{where}: no target column '{name}'{did_you_mean(name, cols)}; "
                f"columns: {', '.join(cols[:30])}{' ...' if len(cols) > 30 else ''}"
            )
        if frame[name].isna().all():
            raise DataError(f"{where}: target column '{name}' is empty in every row; choose another --target")


def choose_roles(
    frame: pd.DataFrame, target: list[str], features: list[str] | None, drop: list[str], where: str
) -> dict[str, str]:
    """Role of every candidate input column (the target and dropped ones left out)."""
    for name in (features or []) + drop:
        if name not in frame.columns:
            raise DataError(
                f"{where}: data.features/data.drop name '{name}', which is not a column"
                f"{did_you_mean(name, list(frame.columns))}"
            )
    names = features if features is not None else [c for c in frame.columns if c not in drop]
    return {c: column_role(frame[c]) for c in names if c not in target}
