"""Table preprocessing fitted on the train split only: imputation (median / most frequent, with
a missing-value indicator), scaling, one-hot or index encoding, date parts and TF-IDF. Its
state is plain numbers and strings (JSON); `transform_frame` applies it to a raw DataFrame,
for training and for prediction alike."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from treino.data.numbers import number_format, parse_numbers
from treino.data.tables import check_numbers
from treino.data.text import TextEncoder
from treino.errors import DataError

MAX_CATEGORIES = 50  # categories kept per column; rarer values count as unknown
DATE_PARTS = ("year", "month", "day", "day_of_week", "hour")


def numeric_matrix(
    frame: pd.DataFrame, names: list[str], formats: dict[str, dict] | None = None
) -> np.ndarray:
    """float64 (N, k) values of the named columns, those in `formats` read in their format
    ('12%', '1,234'); anything that is not a number is NaN."""
    part = frame[names]
    if formats:
        part = part.assign(**{n: parse_numbers(part[n], f) for n, f in formats.items()})
    if any(dtype.kind not in "iufb" for dtype in part.dtypes):
        part = part.apply(pd.to_numeric, errors="coerce")
    return part.to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric_stats(values: np.ndarray, scale: str) -> list[dict[str, float]]:
    """Per column of values (N, k): fill (the median), then shift and divisor of `scale`
    (standard, minmax or none) computed on the filled values. All columns at once: a table
    of 784 pixel columns costs one pass, not 784."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-empty column: its fill is 0
        fill = np.nan_to_num(np.nanmedian(values, axis=0), nan=0.0)
    filled = np.where(np.isnan(values), fill, values)
    if scale == "standard":
        shift, div = filled.mean(axis=0), filled.std(axis=0)
    elif scale == "minmax":
        shift = filled.min(axis=0)
        div = filled.max(axis=0) - shift
    else:
        shift, div = np.zeros(values.shape[1]), np.ones(values.shape[1])
    div = np.where((div > 0) & np.isfinite(div), div, 1.0)
    return [
        {"fill": float(f), "shift": float(m), "scale": float(d)}
        for f, m, d in zip(fill, shift, div, strict=True)
    ]


def _dates(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col, errors="coerce", format="mixed") if col.dtype.kind != "M" else col


class TablePreprocessor:
    """Fitted on the train split; `transform` gives (N, D) float32 features in the order of
    `feature_names` (or (N, L) int64 token ids for a single text column in tokens mode).

    Example:
        >>> prep = TablePreprocessor.fit(train_frame, {"age": "numeric", "city": "categorical"})
        >>> x = TablePreprocessor(prep.state()["columns"]).transform(new_frame)
    """

    def __init__(self, columns: list[dict[str, Any]]) -> None:
        self.columns = columns

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        roles: dict[str, str],
        scale: str = "standard",
        categorical: str = "onehot",
        text: dict[str, Any] | None = None,
        where: str = "data",
    ) -> TablePreprocessor:
        columns = []
        numeric = [name for name, role in roles.items() if role == "numeric"]
        written = [n for n in numeric if frame[n].dtype.kind not in "iufb"]  # numbers as text: '12%'
        formats = {n: f for n in written if (f := number_format(frame[n])) is not None}
        stats = dict(
            zip(numeric, _numeric_stats(numeric_matrix(frame, numeric, formats), scale), strict=True)
        )
        gaps = frame[list(roles)].isna().any()  # one pass for every column's indicator
        for name, role in roles.items():
            entry: dict[str, Any] = {"name": name, "role": role, "indicator": bool(gaps[name])}
            if role == "numeric":
                how = {"format": formats[name]} if name in formats else {}  # read as written: 12%, 1,234
                columns.append({**entry, **stats[name], **how})
                continue
            col = frame[name]
            if role == "categorical":
                counts = col.dropna().astype(str).value_counts()
                kept = counts.index[:MAX_CATEGORIES].tolist()
                entry["categories"] = sorted(kept)
                entry["fill"] = str(counts.index[0]) if len(counts) else None  # most frequent
                entry["encoding"] = categorical
            elif role == "datetime":
                stamps = _dates(col)
                parts = [p for p in DATE_PARTS if getattr(stamps.dt, p).nunique() > 1]
                entry["indicator"] = bool(stamps.isna().any())
                values = np.stack([getattr(stamps.dt, p).to_numpy(dtype=np.float64, na_value=np.nan)
                                   for p in parts], axis=1) if parts else np.zeros((len(col), 0))  # fmt: skip
                entry["parts"] = [
                    {"part": p, **st} for p, st in zip(parts, _numeric_stats(values, scale), strict=True)
                ]
            elif role == "text":
                entry["indicator"] = False  # an empty text is already all-zero TF-IDF
                entry["text"] = TextEncoder.fit(col, where=where, **(text or {})).state
            else:
                continue
            columns.append(entry)
        return cls(columns)

    def transform(self, frame: pd.DataFrame, sparse: bool = False) -> Any:
        """(N, D) float32 features, or (N, L) int64 token ids for a lone text column. With
        `sparse` and a TF-IDF column, a scipy CSR matrix (the other columns stored sparse too)."""
        blocks = []
        numeric = [c for c in self.columns if c["role"] == "numeric"]
        formats = {c["name"]: c["format"] for c in numeric if "format" in c}
        # (N, k), every numeric column at once
        values = numeric_matrix(frame, [c["name"] for c in numeric], formats)
        missing = np.isnan(values)
        fill, shift, div = (
            np.array([c[key] for c in numeric], dtype=np.float64) for key in ("fill", "shift", "scale")
        )
        scaled = (np.where(missing, fill, values) - shift) / div
        position = {c["name"]: i for i, c in enumerate(numeric)}
        run: list[int] = []  # consecutive numeric columns without an indicator: one slice
        for c in self.columns:
            role = c["role"]
            if role == "numeric" and not c["indicator"] and (not run or position[c["name"]] == run[-1] + 1):
                run.append(position[c["name"]])
                continue
            if run:
                blocks.append(scaled[:, run[0] : run[-1] + 1])
                run = []
            if role == "numeric":
                i = position[c["name"]]
                if not c["indicator"]:
                    run = [i]
                    continue
                blocks += [scaled[:, i : i + 1], missing[:, i : i + 1]]
                continue
            col = frame[c["name"]]
            if role == "categorical":
                text = col.astype(str).where(col.notna(), c["fill"])
                index = {v: i for i, v in enumerate(c["categories"])}
                codes = text.map(index).fillna(-1).to_numpy(dtype=np.int64)  # -1 = unknown
                if c["encoding"] == "index":
                    blocks.append((codes + 1).astype(np.float32)[:, None])  # 0 = unknown
                else:
                    onehot = np.zeros((len(col), len(c["categories"])), dtype=np.float32)
                    rows = np.nonzero(codes >= 0)[0]
                    onehot[rows, codes[rows]] = 1.0
                    blocks.append(onehot)
            elif role == "datetime":
                stamps = _dates(col)
                for p in c["parts"]:
                    x = getattr(stamps.dt, p["part"]).astype(float).fillna(p["fill"])
                    blocks.append(((x - p["shift"]) / p["scale"]).to_numpy()[:, None])
                col = stamps
            else:
                encoded = TextEncoder(c["text"]).transform(col, sparse)
                if encoded.dtype == np.int64:
                    return encoded  # tokens mode: the one input is the id sequence
                blocks.append(encoded)
            if c["indicator"]:
                blocks.append(col.isna().to_numpy(dtype=np.float32)[:, None])
        if run:
            blocks.append(scaled[:, run[0] : run[-1] + 1])
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        if sparse and any(not isinstance(b, np.ndarray) for b in blocks):
            from scipy.sparse import hstack

            return hstack(blocks, format="csr", dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for c in self.columns:
            if c["role"] == "numeric":
                names.append(c["name"])
            elif c["role"] == "categorical":
                cats = c["categories"]
                names += [c["name"]] if c["encoding"] == "index" else [f"{c['name']}={v}" for v in cats]
            elif c["role"] == "datetime":
                names += [f"{c['name']}.{p['part']}" for p in c["parts"]]
            else:
                names += TextEncoder(c["text"]).feature_names(c["name"])
            if c["indicator"]:
                names.append(f"{c['name']}:missing")
        return names

    def state(self) -> dict[str, Any]:
        return {"kind": "table", "columns": self.columns}


def transform_frame(
    state: dict[str, Any], frame: pd.DataFrame, where: str = "input", sparse: bool = False
) -> Any:
    """Model inputs for a raw DataFrame, from a saved preprocessing state (table or text kind);
    with `sparse`, TF-IDF features come as a scipy CSR matrix (see `TablePreprocessor.transform`).

    The frame needs the columns the model was trained on (extra ones, such as an id or the
    target, are ignored); a missing column, or garbage in a numeric one, is a DataError.

    Example:
        >>> state = json.loads(Path("runs/x/model/preprocessing.json").read_text())
        >>> x = torch.from_numpy(transform_frame(state, pd.read_csv("new.csv"), "new.csv"))
    """
    if state.get("kind") not in ("table", "text"):
        raise DataError(f"{where}: this model was trained on {state.get('kind')} data, not a table")
    names = [c["name"] for c in state["columns"]]
    absent = [n for n in names if n not in frame.columns]
    if absent:
        shown = ", ".join(f"'{n}'" for n in absent[:10])
        raise DataError(
            f"{where}: missing input column(s) {shown} that the model was trained on; "
            f"add them (empty cells are imputed)"
        )
    numeric = [c["name"] for c in state["columns"] if c["role"] == "numeric"]
    formats = {c["name"]: c["format"] for c in state["columns"] if "format" in c}
    checked = check_numbers(frame[numeric], where, strict=True, formats=formats)
    return TablePreprocessor(state["columns"]).transform(frame.assign(**dict(checked.items())), sparse)
