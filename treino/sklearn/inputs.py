"""X and y as the estimators take them: sklearn's own checks first (shape, NaN, feature names
and counts: the messages sklearn's users know), then tensors for the engine. Rows are numeric,
as everywhere in sklearn: text and categories are encoded before, by a ColumnTransformer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from treino.batches import sparse
from treino.sklearn.params import InputError

FLOATS = [np.float32, np.float64]  # float32 and float64 kept as they come, other numbers as float64
FLOAT32_MAX = float(np.finfo(np.float32).max)


def rows(est: Any, X: Any, *, reset: bool) -> torch.Tensor:
    """X checked (and its feature names and count kept when `reset`, compared otherwise) as a
    float32 tensor: dense, or CSR for a scipy sparse matrix (densified a batch at a time)."""
    _numeric_columns(est, X)
    X = validate_data(est, X, reset=reset, accept_sparse="csr", dtype=FLOATS, ensure_all_finite=False)
    _finite(est, X)
    return as_tensor(X)


def rows_and_targets(
    est: Any, X: Any, y: Any, *, classes: bool, reset: bool = True
) -> tuple[Any, np.ndarray]:
    """X checked as rows(reset=True) checks it (a float32 array or CSR matrix, not yet a tensor:
    a validation split takes its rows first) and y: 1-D labels for a classifier, numbers (1-D,
    or one column per target) for a regressor."""
    _numeric_columns(est, X)
    X, y = validate_data(
        est, X, y, reset=reset, accept_sparse="csr", dtype=FLOATS, multi_output=not classes,
        y_numeric=not classes, ensure_all_finite=False,
    )  # fmt: skip
    _finite(est, X)
    _finite(est, y, "y")
    if classes:
        check_classification_targets(y)
    return X, y


def as_tensor(X: Any) -> torch.Tensor:
    """A checked array as a float32 tensor, sharing its memory when it can (a read-only array,
    such as a memory map joblib hands a worker, is copied: torch tensors are writable)."""
    if hasattr(X, "tocsr"):
        return sparse.from_scipy(X.tocsr())
    X = np.asarray(X)
    if X.dtype != np.float32 or not X.flags.writeable or not X.flags.c_contiguous:
        X = np.array(X, dtype=np.float32, order="C")
    return torch.from_numpy(X)


def _finite(est: Any, values: Any, name: str = "X") -> None:
    """NaN, inf and numbers beyond float32 (what the model computes in) refused in one line
    naming the first cell (sklearn's own text runs to many lines)."""
    data = values.data if hasattr(values, "tocsr") else values
    if data.dtype.kind not in "fc" or np.abs(data.sum(dtype=np.float64)) <= FLOAT32_MAX:
        return  # one pass: NaN, inf or a huge value make the sum non-finite or huge
    bad = ~(np.abs(data) <= FLOAT32_MAX)
    if not bad.any():
        return
    at = np.argwhere(bad)[0]
    if hasattr(values, "tocsr"):  # the row and column of the stored value
        row = int(np.searchsorted(values.indptr, at[0], side="right")) - 1
        at = (row, int(values.indices[at[0]]))
    value = data[tuple(at)] if not hasattr(values, "tocsr") else data[np.argwhere(bad)[0][0]]
    cell = f"{type(est).__name__}: {name}[{', '.join(str(int(i)) for i in at)}]"
    if np.isfinite(value):
        raise InputError(
            f"{cell} is {value:.3g}, beyond float32's range (±{FLOAT32_MAX:.3g}) that the network computes "
            f"in; rescale it (StandardScaler in a Pipeline)"
        )
    text = "NaN" if np.isnan(value) else "inf" if value > 0 else "-inf"
    raise InputError(
        f"{cell} is {text}; fill or drop the rows with NaN or inf (SimpleImputer in a Pipeline fills NaN)"
    )


def _label(value: Any) -> str:
    """A label as its Python value ('a', not np.str_('a'))."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def class_indices(est: Any, y: np.ndarray, classes: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(classes, index of each label in them): the sorted labels of y, or `classes` as given to
    partial_fit; one class alone is an error."""
    known = np.unique(y) if classes is None else np.unique(np.asarray(classes))
    if len(known) < 2:
        raise InputError(
            f"{type(est).__name__}: y holds one class only ({_label(known[0])} in {len(y)} rows); a classifier "
            f"needs at least 2 classes"
        )
    return known, indices_in(est, y, known)


def indices_in(est: Any, y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The index of each label of y in `classes`; a label outside them says which and the fix."""
    index = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[index] != y
    if unknown.any():
        first = y[np.flatnonzero(unknown)[0]]
        raise InputError(
            f"{type(est).__name__}: y holds the label {_label(first)}, not among the classes "
            f"{classes.tolist()}; pass every class on the first partial_fit call (classes=...)"
        )
    return index.astype(np.int64)


def _numeric_columns(est: Any, X: Any) -> None:
    """A DataFrame column of text or categories is refused with the fix (sklearn would say only
    "could not convert string to float"): encode it in a Pipeline first."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    for column, dtype in dtypes.items():
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype)):
            raise InputError(
                f"{type(est).__name__}: column {column!r} holds {dtype} values, not numbers; encode it "
                f"first, e.g. make_pipeline(make_column_transformer((OneHotEncoder(), [{column!r}]), "
                f"remainder=StandardScaler()), {type(est).__name__}())"
            )
