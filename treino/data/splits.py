"""Splitting rows into train/val/test (seeded, stratified for classes), and what is said about
the splits: their sizes, their class counts. Shared by the in-memory and the streamed paths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from treino.errors import DataError

if TYPE_CHECKING:
    from treino.config import DataConfig

SPLITS = ("train", "val", "test")


def split_indices(
    n: int,
    val: float,
    test: float,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded train/val/test row indices; stratified by `labels` when given."""
    groups = [torch.arange(n)] if labels is None else [
        torch.nonzero(labels == c).reshape(-1) for c in torch.unique(labels)
    ]  # fmt: skip
    parts: list[list[torch.Tensor]] = [[], [], []]
    for rows in groups:
        rows = rows[torch.randperm(len(rows), generator=generator)]
        n_test = round(len(rows) * test)
        n_val = round(len(rows) * val)
        if len(rows) - n_test - n_val < 1:  # keep at least one training row per group
            n_val = max(0, len(rows) - n_test - 1)
        parts[2].append(rows[:n_test])
        parts[1].append(rows[n_test : n_test + n_val])
        parts[0].append(rows[n_test + n_val :])
    out = [torch.cat(p) if p else torch.empty(0, dtype=torch.long) for p in parts]
    # interleave the groups: shuffle once more so classes are not in blocks
    return tuple(p[torch.randperm(len(p), generator=generator)] for p in out)  # type: ignore[return-value]


FREE, TRAIN, VAL, TEST = -1, 0, 1, 2  # codes of `fixed`: where a row must go (FREE: drawn by fractions)
# the values of a split column (data.split.column), lower-cased
SPLIT_NAMES = {"train": TRAIN, "training": TRAIN, "val": VAL, "valid": VAL, "validation": VAL,
               "dev": VAL, "test": TEST, "testing": TEST}  # fmt: skip


def assign_splits(
    fixed: torch.Tensor | None,
    n: int,
    val: float,
    test: float,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/val/test indices: rows fixed by the source (a split column, a separate file, IDX
    t10k) keep their place; a split the source already provides is not drawn again."""
    if fixed is None:
        return split_indices(n, val, test, generator, labels)
    free = torch.nonzero(fixed == FREE).reshape(-1)
    val = 0.0 if bool((fixed == VAL).any()) else val
    test = 0.0 if bool((fixed == TEST).any()) else test
    sub = labels[free] if labels is not None else None
    tr, va, te = (free[p] for p in split_indices(len(free), val, test, generator, sub))
    parts = []
    for code, drawn in ((TRAIN, tr), (VAL, va), (TEST, te)):
        parts.append(torch.cat([torch.nonzero(fixed == code).reshape(-1), drawn]))
    return parts[0], parts[1], parts[2]


def stratify(cfg: DataConfig, task: str) -> bool:
    """Whether the split keeps class shares (data.split.stratify; auto: for classification)."""
    return task != "regression" if cfg.split.stratify == "auto" else bool(cfg.split.stratify)


def class_counts(y: torch.Tensor, k: int) -> list[int]:
    """Rows of each of the k classes in the encoded targets `y`."""
    return torch.bincount(y.reshape(-1).long(), minlength=k).tolist()


def check_split_sizes(cfg: DataConfig, n: int, parts: tuple[torch.Tensor, ...], where: str) -> None:
    """A split drawn by treino that came out empty: the data is too small to judge a model.
    (Splits fixed by the source, such as train/ and test/ folders, are the source's choice.)"""
    asked = (True, cfg.split.val > 0, cfg.split.test > 0)
    if any(want and len(rows) == 0 for want, rows in zip(asked, parts, strict=True)):
        sizes = "/".join(str(len(rows)) for rows in parts)
        raise DataError(
            f"{where}: {n} rows are too few to split into train/validation/test (got {sizes}); "
            f"add rows, or set data.split.val: 0 and data.split.test: 0 to train on every row"
        )


def class_note(classes: list[str], counts: dict[str, list[int]]) -> str:
    """The note listing each class's rows per split (the first 12 classes)."""
    per = ", ".join(f"{c} {'/'.join(str(counts[s][i]) for s in SPLITS)}" for i, c in enumerate(classes[:12]))
    return f"classes (train/val/test): {per}{' ...' if len(classes) > 12 else ''}"
