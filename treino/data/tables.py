"""Tables: read CSV/TSV/Parquet/JSONL, check the values, infer the task and the role of every
column. The preprocessing fitted from these roles lives in `preprocess.py`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from treino.data.numbers import best_format, number_format, parse_numbers
from treino.errors import DataError
from treino.registry import did_you_mean

READERS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".tab": "tsv", ".parquet": "parquet",
           ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}  # fmt: skip
CLASS_MAX_INTEGERS = 20  # an integer target with at most this many values is a class label
NUMERIC_SHARE = 0.9  # a text column whose values are at least this share numbers is numeric
DATE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$")
ID_NAMES = {"id", "ids", "index", "idx", "rownames", "rowname", "rowid", "rownumber", "rownum", "unnamed0"}
RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
# byte-order marks: Excel's "Unicode text" is UTF-16 LE with a BOM, its "CSV UTF-8" has one too
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def read_table(path: Path) -> pd.DataFrame:
    """Read a table file by its suffix; every failure names the file and the fix.

    Example:
        >>> frame = read_table(Path("houses.csv"))
    """
    fmt = READERS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unknown table format '{path.suffix}'; use .csv, .tsv, .parquet, .jsonl or .npz"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give a table with a header row and data rows")
    head, encoding = text_head(path) if fmt != "parquet" else (b"", "utf-8")
    try:
        if fmt in ("csv", "tsv"):
            sep = separator(head, encoding) if fmt == "csv" else "\t"
            frame = pd.read_csv(path, sep=sep, encoding=encoding)
            if extra_field(head, sep, encoding) and shifted(path, frame):
                frame = pd.read_csv(path, sep=sep, index_col=False, encoding=encoding)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = flatten_objects(pd.read_json(path, lines=True, encoding=encoding))
    except READ_ERRORS as exc:
        raise read_error(path, fmt, exc) from None
    if frame.empty:
        raise DataError(f"{path}: the table has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def flatten_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """JSON objects nested in cells become columns 'a.b' (pandas.json_normalize), in place of
    their column; other values of such a column stay under its name. Lists stay (column_role
    drops them, said in the notes)."""
    nested = {}
    for name in frame.columns:
        if frame[name].dtype == object:
            is_dict = frame[name].map(lambda v: isinstance(v, dict)).to_numpy(dtype=bool)
            if is_dict.any():
                nested[name] = is_dict
    if not nested:
        return frame
    parts = []
    for name in frame.columns:
        if name not in nested:
            parts.append(frame[[name]])
            continue
        rest = frame[name].mask(nested[name])
        if rest.notna().any():
            parts.append(rest.to_frame(name))
        objects = [v if d else {} for v, d in zip(frame[name], nested[name], strict=True)]
        inner = pd.json_normalize(objects).add_prefix(f"{name}.")
        parts.append(inner.set_axis(frame.index))
    return pd.concat(parts, axis=1)


def text_head(path: Path) -> tuple[bytes, str]:
    """The first 64 KiB of a text table and its encoding: UTF-16 or UTF-8 as its byte-order mark
    says, else UTF-8. NUL bytes without a UTF-16 mark: not text."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    encoding = next((name for bom, name in BOMS if head.startswith(bom)), "utf-8")
    if encoding != "utf-16" and b"\x00" in head:
        raise DataError(f"{path}: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file")
    return head, encoding


def extra_field(head: bytes, sep: str, encoding: str = "utf-8") -> bool:
    """The first row has one field more than the header: pandas then takes the first field of
    every row as the row index and shifts the columns left."""
    import csv

    rows = list(csv.reader(head.decode(encoding, errors="replace").splitlines()[:2], delimiter=sep))
    return len(rows) == 2 and len(rows[1]) == len(rows[0]) + 1


def shifted(path: Path, frame: pd.DataFrame) -> bool:
    """For a table read with an extra field: True when a separator ends every row (read it again
    with index_col=False: the empty field goes); an error when a value holds the separator unquoted."""
    if frame.iloc[:, -1].isna().all():
        return True
    raise DataError(
        f"{path}: every data row has one field more than the header ({len(frame.columns)} names); quote "
        f'values that hold the separator (e.g. "1,000") or give the extra column a name'
    )


READ_ERRORS = (UnicodeDecodeError, ValueError, OSError)  # pandas' parser errors are ValueErrors


def read_error(path: Path, fmt: str, exc: Exception) -> DataError:
    """The one-line error for a failure while reading a table (training and predict alike)."""
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(path, exc)
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"{path}: the file is empty; give a table with a header row and data rows")
    if isinstance(exc, pd.errors.ParserError):
        found = RAGGED.search(str(exc))
        if found:
            want, line, saw = found.groups()
            return DataError(
                f"{path}: line {line} has {saw} fields but the header has {want}; "
                f"fix that row (quote values that contain the separator)"
            )
        detail = str(exc).strip().splitlines()[-1]
        return DataError(f"{path}: malformed table ({detail}); every row needs the header's number of fields")
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{path}: cannot read as {fmt} ({detail})")


def not_utf8(path: Path, exc: UnicodeDecodeError) -> DataError:
    """Text in another encoding (Excel's plain 'CSV' is Windows-1252): say so, and how to save it."""
    bad = exc.object[exc.start : exc.start + 1].hex()
    return DataError(
        f"{path}: not UTF-8 text (byte 0x{bad} cannot be decoded; saved as Latin-1/Windows-1252?); "
        f"save the file as UTF-8 (Excel: 'CSV UTF-8')"
    )


def separator(head: bytes, encoding: str = "utf-8") -> str:
    """, ; tab or | from the first lines (pandas' own sniffing needs its slow python engine)."""
    import csv

    lines = head.decode(encoding, errors="replace").splitlines()
    lines = lines[:-1] if len(lines) > 1 else lines  # the last one may be cut short
    lines = lines[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def check_numbers(
    frame: pd.DataFrame, where: str, strict: bool = False, formats: dict[str, dict] | None = None
) -> pd.DataFrame:
    """A text column that is almost all numbers holds garbage: name its first bad row and value.
    Columns that are only numbers written as text become numbers; blank cells become empty;
    numbers written with a format ('12%', '1,234', see numbers.py) stay text for the preprocessing
    to read. `strict`: every column is known to be numeric (prediction), so any non-number is
    garbage; `formats` (from the preprocessing state): columns read in their training format."""
    frame = frame.copy()
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind != "O" and not pd.api.types.is_string_dtype(col.dtype):
            continue
        blank = col.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        if blank.any():  # a cell of spaces is an empty cell
            col = frame[name] = col.mask(blank)
        fmt = (formats or {}).get(name)
        if fmt is not None:  # prediction: as training read this column
            read = frame[name] = parse_numbers(col, fmt)
            good = written = 0  # strict: any value it cannot read is an error
        else:
            values = col.dropna()
            if len(values) == 0 or not all(isinstance(v, str) for v in values.iloc[:100]):
                continue
            text = values.str.strip()
            good = int(pd.to_numeric(text, errors="coerce").notna().sum())
            if good == len(values):
                frame[name] = pd.to_numeric(col, errors="coerce")
                continue
            fmt, written = best_format(text) if not strict else (None, 0)
            if written == len(values):
                continue  # '12%', '1,234': numeric, read by its format (the preprocessing keeps it)
            read = parse_numbers(col, fmt) if fmt and written > good else pd.to_numeric(col, errors="coerce")
        bad = col.notna().to_numpy() & read.isna().to_numpy()
        if bad.any() and (strict or max(good, written) >= max(5, NUMERIC_SHARE * col.notna().sum())):
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}: column '{name}' holds numbers but row {row + 1} has {col.iloc[row]!r}; "
                f"fix that value or leave the cell empty"
            )
    return frame


def infer_task(target: pd.Series) -> str:
    """regression for many-valued numbers; binary/multiclass for strings, bools, few integers.

    Example:
        >>> infer_task(pd.Series(["cat", "dog", "cat"]))
        'binary'
    """
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
    """numeric, categorical, text, datetime, id (dropped), list (dropped) or empty, from the values alone.

    Example:
        >>> column_role(pd.Series(["red", "blue", "red"]))
        'categorical'
    """
    values = series.dropna()
    kind = values.dtype.kind
    if len(values) == 0:
        return "empty"
    if kind == "b" or isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical"
    if kind in "iuf":
        return "id" if _numeric_id(series) else "numeric"
    if kind in "mM":
        return "datetime"
    if values.iloc[:1000].map(lambda v: isinstance(v, list | dict)).any():
        return "list"
    if number_format(values) is not None:  # '12%', '1,234', '1.234,5': preprocess reads them
        return "numeric"
    as_text = values.astype(str)
    if as_text.str.match(DATE).mean() >= 0.95:
        return "datetime"
    distinct = as_text.nunique() / len(as_text)
    words = as_text.str.split().str.len().mean()
    if distinct > 0.5 and words >= 3:
        return "text"
    if distinct > 0.95 and len(as_text) >= 20:
        return "id"
    return "categorical"


def _numeric_id(series: pd.Series) -> bool:
    """Whole numbers, one per row, that number the rows: covering a contiguous range (1..N,
    shuffled or not), or rising row by row (R's row names after rows were removed), or under a
    name that says id (`id`, `customer_id`, `rownames`, `Unnamed: 0`)."""
    n = len(series)
    if n < 20 or series.isna().any():
        return False
    values = series.to_numpy()
    if not (
        series.max() - series.min() + 1 == n
        or _id_name(series.name)
        or bool(np.all(values[1:] > values[:-1]))
    ):
        return False  # the cheap tests first: most numeric columns stop here
    return bool(series.is_unique and np.all(np.mod(values, 1) == 0))


def _id_name(name: object) -> bool:
    text = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return text in ID_NAMES or str(name).lower().endswith(("_id", " id", ".id"))


def _numeric_roles(frame: pd.DataFrame, names: list[str]) -> dict[str, str]:
    """The plain numeric columns, found for all columns at once (a wide table of pixels would
    spend seconds on a per-column test); possible ids and empty ones are left to column_role."""
    numeric = [c for c, kind in frame[names].dtypes.map(lambda d: d.kind).items() if kind in "iuf"]
    if not numeric:
        return {}
    part = frame[numeric]
    n = len(frame)
    count, span = part.count(), part.max() - part.min() + 1
    rising = pd.Series(False, index=part.columns)
    if n >= 20:  # one vectorized pass: columns whose every value is above the one before
        values = part.to_numpy(dtype=np.float64, na_value=np.nan)
        rising[:] = (values[1:] > values[:-1]).all(axis=0)
    named = pd.Series([_id_name(c) for c in part.columns], index=part.columns)
    maybe_id = (count == n) & (n >= 20) & ((span == n) | rising | named)
    plain = (count > 0) & ~maybe_id
    return {c: "numeric" for c in plain[plain].index}


def numeric_target(
    frame: pd.DataFrame, target: list[str], where: str, rows: np.ndarray | None = None
) -> np.ndarray:
    """Regression targets as float32 (n, k); a value that is not a number is an error naming its
    row (`rows`: the file's 0-based row of each frame row, when the frame is a part of it)."""
    values = frame[target].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame[target].notna()
    if bad.any().any():
        col = bad.any().idxmax()
        row = int(np.argmax(bad[col].to_numpy()))
        raise DataError(
            f"{where}: target column '{col}' has a non-numeric value {frame[col].iloc[row]!r} at row "
            f"{(int(rows[row]) if rows is not None else row) + 1}; a regression target must be numbers "
            f"(or set data.task: multiclass)"
        )
    return values.to_numpy(dtype=np.float32, copy=True)


def check_classes(
    task: str, classes: list[Any], n: int, inferred: bool, labels: pd.Series, where: str
) -> None:
    """A class target that cannot train a classifier: one class, more classes than half the `n`
    rows when the task was inferred (numbers written as text), or a binary task with more."""
    if task == "regression":
        return
    name = labels.name
    if len(classes) < 2:
        raise DataError(
            f"{where}: target '{name}' has a single class ({str(classes[0])!r}); a classifier needs at least two"
        )
    if inferred and len(classes) > n / 2:
        raise DataError(
            f"{where}: target '{name}' has {len(classes)} distinct values in {n} rows (e.g. "
            f"{str(labels.iloc[0])!r}), too many to be classes; if they are numbers, write them "
            f"plainly (no currency signs, thousands separators or decimal commas), or set data.task: "
            f"multiclass to train on them as classes"
        )
    if task == "binary" and len(classes) > 2:
        raise DataError(f"data.task: binary, but target '{name}' has {len(classes)} classes; use multiclass")


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
    """Role of every candidate input column (the target and dropped ones left out).
    A column named in data.features keeps a usable role even when it looks like an id."""
    for name in (features or []) + drop:
        if name not in frame.columns:
            raise DataError(
                f"{where}: data.features/data.drop name '{name}', which is not a column"
                f"{did_you_mean(name, list(frame.columns))}"
            )
    names = features if features is not None else [c for c in frame.columns if c not in drop]
    names = [c for c in names if c not in target]
    roles = _numeric_roles(frame, names)
    roles.update({c: column_role(frame[c]) for c in names if c not in roles})
    roles = {c: roles[c] for c in names}  # the table's column order
    for name in features or []:
        role = roles.get(name)
        if role == "empty":
            raise DataError(f"{where}: column '{name}' is empty in every row; remove it from data.features")
        if role == "list":
            raise DataError(
                f"{where}: column '{name}' holds lists, which cannot be a model input; remove it from "
                f"data.features, or spread or join its values into columns of one value per cell"
            )
        if role == "id":  # asked for by name: a categorical (strings) or a number
            roles[name] = "numeric" if frame[name].dtype.kind in "iuf" else "categorical"
    return roles


def describe_roles(roles: dict[str, str]) -> list[str]:
    """Notes for the user: which columns play which part, and what was dropped and why."""
    used = {"numeric": [], "categorical": [], "text": [], "datetime": []}
    notes = []
    for name, role in roles.items():
        if role in used:
            used[role].append(name)
        elif role == "dropped date":
            notes.append(f"column '{name}' holds dates: dropped (data.datetime: drop)")
        elif role == "list":
            notes.append(
                f"column '{name}' holds lists: dropped (an input takes one value per cell; spread or join them)"
            )
        else:
            reason = "an id (distinct per row)" if role == "id" else "empty in every row"
            notes.append(
                f"column '{name}' looks like {reason}: dropped (name it in data.features to keep it)"
            )
    kinds = "; ".join(f"{role} {', '.join(names)}" for role, names in used.items() if names)
    return [f"inputs: {kinds}", *notes]
