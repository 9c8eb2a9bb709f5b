"""Sequences from an .npz file: x (N, T, F) (T steps of F features) and y (N,) classes or values,
or y (N, K) for K regression targets. Each feature is standardized by the train split's mean
and deviation over all its steps; the model (`model.kind: rnn` by default) reads the steps in
order.

Which 3-D arrays are sequences (`data.sequence: auto`): float arrays whose last axis, the
features per step, is at most MAX_FEATURES and smaller than the middle one, the steps, as in
(N, 5, 1) or (N, 30, 8). Anything else 3-D is read as grayscale images (N, H, W): integer pixels,
square images (N, 28, 28), wide ones (N, 32, 64). `data.sequence: true` reads any 3-D x (and a
2-D x as (N, T, 1)) as sequences; false reads them as images or a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.config import DataConfig
from treino.data.core import Data, Split
from treino.data.info import DataInfo
from treino.data.splits import SPLITS, assign_splits, check_split_sizes, class_counts, class_note, stratify
from treino.data.tables import check_classes, infer_task
from treino.errors import DataError

MAX_FEATURES = 16  # features per step of an `auto` sequence; a wider last axis is an image's width
PAIRS = [("x", "y"), ("x_train", "y_train")]


@dataclass
class Sequences:
    """Raw sequences x (N, T, F) float32 and targets y (N,) or (N, K), with rows whose split is
    fixed (codes of `splits.assign_splits`: -1 free, 1 val, 2 test)."""

    x: np.ndarray
    y: np.ndarray
    fixed: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def append(self, other: Sequences, code: int, where: str) -> Sequences:
        """These rows and `other`'s, the latter fixed to split `code` (a separate val/test file)."""
        if other.x.shape[1:] != self.x.shape[1:]:
            raise DataError(
                f"{where}: sequences of shape {other.x.shape[1:]} (steps, features) but training has "
                f"{self.x.shape[1:]}; give the same steps and features"
            )
        fixed = self.fixed if self.fixed is not None else np.full(len(self.y), -1, dtype=np.int64)
        fixed = np.concatenate([fixed, np.full(len(other.y), code, dtype=np.int64)])
        return Sequences(np.concatenate([self.x, other.x]), _concat_y(self.y, other.y, where), fixed)


def looks_like_sequences(x: np.ndarray) -> bool:
    """The `auto` rule: float (N, T, F) with F <= MAX_FEATURES and F < T.

    Example:
        >>> looks_like_sequences(np.zeros((100, 5, 1))), looks_like_sequences(np.zeros((100, 28, 28)))
        (True, False)
    """
    if x.ndim != 3 or x.dtype.kind != "f":
        return False
    return x.shape[2] <= MAX_FEATURES and x.shape[2] < x.shape[1]


def read_sequences(path: Path, setting: str | bool) -> Sequences | None:
    """The .npz file as sequences, or None when its x is not one (`setting` is data.sequence)."""
    if setting is False:
        return None
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({str(exc).splitlines()[0]})") from None
    keys = {k.lower(): k for k in arrays}
    found = next(((keys[a], keys[b]) for a, b in PAIRS if a in keys and b in keys), None)
    if found is None:
        return None  # the image/table reader names the arrays it needs
    x = arrays[found[0]]
    if setting == "auto" and not looks_like_sequences(x):
        return None
    if x.ndim == 2:  # data.sequence: true on (N, T): one feature per step
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataError(
            f"{path}: data.sequence is true but x has shape {tuple(x.shape)}; save sequences as x "
            f"(N, steps, features), or set data.sequence: auto"
        )
    if x.dtype.kind not in "fiub":
        raise DataError(f"{path}: x holds {x.dtype} values; sequences must be numbers")
    y = arrays[found[1]]
    if len(y) != len(x):
        raise DataError(
            f"{path}: x has {len(x)} sequences but y has {len(y)} targets; give one target per sequence"
        )
    seq = Sequences(x.astype(np.float32), y)
    if found[0].lower() == "x_train" and "x_test" in keys and "y_test" in keys:
        xt = arrays[keys["x_test"]].astype(np.float32)
        test = Sequences(xt[:, :, None] if xt.ndim == 2 else xt, arrays[keys["y_test"]])
        seq = seq.append(test, 2, f"{path}: x_test")
    n, steps, features = seq.x.shape
    seq.notes.append(
        f"sequences: {n} of {steps} steps x {features} features (x (N, T, F) in the .npz; see data.sequence)"
    )
    _check_finite(seq.x, str(path))
    return seq


def _concat_y(a: np.ndarray, b: np.ndarray, where: str) -> np.ndarray:
    if a.shape[1:] != b.shape[1:]:
        raise DataError(f"{where}: targets of shape {b.shape[1:]} but training has {a.shape[1:]}")
    if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        return np.concatenate([a.astype(str), b.astype(str)])
    return np.concatenate([a, b])


def _check_finite(x: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        n, t, f = np.unravel_index(int(np.argmax(bad)), x.shape)
        raise DataError(
            f"{where}: x has {int(bad.sum())} missing or infinite values (first {x[n, t, f]} in sequence "
            f"{n + 1}, step {t + 1}, feature {f + 1}); fill them with numbers before training"
        )


def _targets(
    raw: Sequences, cfg: DataConfig, where: str
) -> tuple[str, np.ndarray, list[str], list[str], str]:
    """(task, encoded y, classes, target names, a note when the task was inferred)."""
    y = raw.y.reshape(len(raw.y), -1) if raw.y.ndim > 1 else raw.y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:  # several targets: values to regress
        if cfg.task not in ("auto", "regression") or y.dtype.kind not in "fiub":
            raise DataError(f"{where}: y has {y.shape[1]} columns per sequence; several targets need numbers "
                            f"and data.task: regression")  # fmt: skip
        return "regression", y.astype(np.float32), [], [f"y{j}" for j in range(y.shape[1])], ""
    labels = pd.Series(y, name="y")
    task, note = cfg.task, ""
    if task == "auto":
        task = infer_task(labels)
        note = (
            f"task: {task}, inferred from y ({labels.nunique()} distinct values); set data.task to change it"
        )
    if task == "regression":
        if y.dtype.kind not in "fiub":
            raise DataError(f"{where}: data.task is regression but y holds {y.dtype} values; give numbers")
        return task, y.astype(np.float32)[:, None], [], ["y"], note
    uniques = np.unique(y)
    check_classes(task, [str(u) for u in uniques], len(y), cfg.task == "auto", labels, where)
    return task, np.searchsorted(uniques, y).astype(np.int64), [str(u) for u in uniques], ["y"], note


def sequence_data(raw: Sequences, cfg: DataConfig, g: torch.Generator, where: str) -> Data:
    """Split (stratified for classes), scale each feature on the train split, describe as kind sequence."""
    task, y, classes, targets, why = _targets(raw, cfg, where)
    notes = [*raw.notes, *([why] if why else [])]
    yt = torch.from_numpy(y)
    fixed = torch.from_numpy(raw.fixed) if raw.fixed is not None else None
    labels = yt if task != "regression" and stratify(cfg, task) else None
    tr, va, te = assign_splits(fixed, len(yt), cfg.split.val, cfg.split.test, g, labels)
    if fixed is None:
        check_split_sizes(cfg, len(yt), (tr, va, te), where)
    x = torch.from_numpy(raw.x)
    shift, scale = _scaling(x[tr], cfg.scale)
    state: dict[str, Any] = {"kind": "sequence", "shape": list(x.shape[1:]), "shift": shift.tolist(),
                             "scale": scale.tolist()}  # fmt: skip
    if task == "regression" and cfg.scale_target:
        mean, std = yt[tr].mean(0), yt[tr].std(0, unbiased=False).clamp(min=1e-12)
        state["target"] = {"mean": mean.tolist(), "std": std.tolist()}
    k = len(classes)
    counts = {s: class_counts(yt[r], k) for s, r in zip(SPLITS, (tr, va, te), strict=True)} if k else {}
    if k:
        notes.append(class_note(classes, counts))

    def part(rows: torch.Tensor) -> Split | None:
        return Split((x[rows] - shift) / scale, yt[rows].float()) if len(rows) else None

    train = part(tr)
    assert train is not None
    info = DataInfo(
        task=task, kind="sequence", input_shape=tuple(x.shape[1:]), classes=classes, targets=targets,  # type: ignore[arg-type]
        features=[f"x{j}" for j in range(x.shape[2])], source=where, class_counts=counts, notes=notes,
        sizes={"train": len(tr), "val": len(va), "test": len(te)},
    )  # fmt: skip
    return Data(train, part(va), part(te), info, state)


def _scaling(x: torch.Tensor, how: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per feature (over sequences and steps) of the train rows: (shift, scale) for (x - shift) / scale."""
    flat = x.reshape(-1, x.shape[-1])  # (N * T, F)
    if how == "standard":
        return flat.mean(0), flat.std(0, unbiased=False).clamp(min=1e-12)
    if how == "minmax":
        low, high = flat.amin(0), flat.amax(0)
        return low, (high - low).clamp(min=1e-12)
    return torch.zeros(x.shape[-1]), torch.ones(x.shape[-1])


def scale_inputs(x: np.ndarray, state: dict[str, Any], where: str) -> np.ndarray:
    """New sequences (N, T, F) (or one (T, F)) scaled as the train split was, for prediction."""
    shape = tuple(state["shape"])
    x = np.asarray(x, dtype=np.float32)
    x = x[None] if x.shape == shape else x
    x = x[:, :, None] if x.ndim == 2 and shape[1] == 1 else x
    if x.shape[1:] != shape:
        raise DataError(
            f"{where}: sequences of shape {tuple(x.shape[1:])}, but the model takes {shape} (steps, features); "
            f"save x as (N, {shape[0]}, {shape[1]})"
        )
    _check_finite(x, where)
    shift = np.asarray(state["shift"], dtype=np.float32)
    return (x - shift) / np.asarray(state["scale"], dtype=np.float32)


def sequence_inputs(data: Any, state: dict[str, Any]) -> np.ndarray:
    """Scaled sequences for prediction from an .npz file (array x, or x_test) or an array/tensor."""
    where = "input array"
    if isinstance(data, str | Path):
        where = str(data)
        try:
            arrays = dict(np.load(Path(data).expanduser(), allow_pickle=False))
        except (ValueError, OSError) as exc:
            raise DataError(f"{data}: cannot read as .npz ({str(exc).splitlines()[0]})") from None
        keys = {k.lower(): k for k in arrays}
        name = next((keys[k] for k in ("x", "x_test") if k in keys), None)
        if name is None:
            raise DataError(f"{data}: arrays {', '.join(arrays) or '(none)'}; name the sequences x (N, T, F)")
        data = arrays[name]
    elif hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    elif not isinstance(data, np.ndarray):
        raise DataError(
            f"predict: cannot read a {type(data).__name__} as sequences; give an .npz file or an array (N, T, F)"
        )
    return scale_inputs(data, state, where)
