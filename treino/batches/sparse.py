"""Sparse inputs (a torch CSR tensor, such as TF-IDF rows): held sparse, densified a batch at a
time, so memory follows the non-zeros and the model sees ordinary dense batches.

On the CPU, scipy gathers and densifies the rows (C loops: the fastest measured); on other
devices, index arithmetic in torch, with one host read per epoch and none per step.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

Batch = tuple[torch.Tensor, torch.Tensor]


def is_sparse(x: Any) -> bool:
    """True for a torch CSR tensor (the only sparse layout the batcher takes)."""
    return isinstance(x, torch.Tensor) and x.layout == torch.sparse_csr


def csr_tensor(
    crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """A torch CSR tensor from its three arrays, without torch's "beta" warning on the console.

    Example:
        >>> x = csr_tensor(torch.tensor([0, 1, 1]), torch.tensor([2]), torch.tensor([0.5]), (2, 3))
        >>> dense_rows(x, slice(0, 2))
        tensor([[0.0000, 0.0000, 0.5000],
                [0.0000, 0.0000, 0.0000]])
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Sparse CSR tensor support is in beta state"
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


def from_scipy(matrix: Any) -> torch.Tensor:
    """A scipy.sparse CSR matrix as a torch CSR tensor (int32 indices when they fit: 8 bytes per
    non-zero with float32 values)."""
    small = matrix.nnz < 2**31 and matrix.shape[1] < 2**31
    index = np.int32 if small else np.int64
    return csr_tensor(
        torch.from_numpy(np.asarray(matrix.indptr, dtype=index)),
        torch.from_numpy(np.asarray(matrix.indices, dtype=index)),
        torch.from_numpy(np.asarray(matrix.data, dtype=np.float32)),
        tuple(matrix.shape),
    )


def nbytes(x: torch.Tensor) -> int:
    """Bytes held by a CSR tensor (values and both index arrays) or a dense one."""
    if not is_sparse(x):
        return x.numel() * x.element_size()
    parts = (x.crow_indices(), x.col_indices(), x.values())
    return sum(p.numel() * p.element_size() for p in parts)


def check_finite(x: torch.Tensor, where: str) -> None:
    """Refuse a NaN or inf among a CSR tensor's values, naming its row and column."""
    values = x.values()
    if torch.isfinite(values.sum()):  # one pass; NaN/inf make the sum non-finite
        return
    bad = (~torch.isfinite(values)).nonzero()
    if len(bad):
        at = int(bad[0])
        row = int(torch.searchsorted(x.crow_indices(), at, right=True)) - 1
        from treino.errors import DataError

        raise DataError(
            f"{where}[{row}, {int(x.col_indices()[at])}] is {values[at].item()}; "
            f"replace or drop the non-finite values before training"
        )


def _scipy(x: torch.Tensor) -> Any:
    """The same CPU CSR tensor as a scipy matrix, sharing its memory (no copy)."""
    from scipy.sparse import csr_matrix

    return csr_matrix((x.values().numpy(), x.col_indices().numpy(), x.crow_indices().numpy()), shape=x.shape)


def _select(x: torch.Tensor, index: torch.Tensor, nnz: int | None = None) -> tuple[torch.Tensor, ...]:
    """Rows `index` of x, in that order, as (crow (R+1,), flat positions (nnz,), values (nnz,)):
    a flat position is row * F + column within the selection. `nnz` of the selection, when
    known, spares a host read (a whole permutation has x's nnz)."""
    crow, col, val = x.crow_indices().long(), x.col_indices().long(), x.values()
    starts, counts = crow[index], crow[index + 1] - crow[index]
    new = torch.zeros(len(index) + 1, dtype=torch.long, device=x.device)
    torch.cumsum(counts, 0, out=new[1:])
    total = int(new[-1]) if nnz is None else nnz
    source = torch.arange(total, device=x.device) + torch.repeat_interleave(
        starts - new[:-1], counts, output_size=total
    )  # position of each selected non-zero in x
    first = torch.arange(len(index), device=x.device) * x.shape[1]
    flat = torch.repeat_interleave(first, counts, output_size=total) + col[source]
    return new, flat, val[source]


def _densify(flat: torch.Tensor, values: torch.Tensor, rows: int, width: int, offset: int) -> torch.Tensor:
    out = torch.zeros(rows * width, dtype=values.dtype, device=values.device)
    out[flat - offset] = values
    return out.view(rows, width)


def dense_rows(x: torch.Tensor, index: torch.Tensor | slice) -> torch.Tensor:
    """Rows of a CSR tensor as a dense (R, F) tensor (a dense x is indexed as usual)."""
    if not is_sparse(x):
        return x[index]
    if isinstance(index, slice):
        index = torch.arange(len(x))[index]
    index = torch.as_tensor(index, dtype=torch.long)
    if x.device.type == "cpu":
        return torch.from_numpy(_scipy(x)[index.numpy()].toarray())
    return _torch_rows(x, index.to(x.device))


def _torch_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    _, flat, values = _select(x, index)  # one host read: how many non-zeros the rows hold
    return _densify(flat, values, len(index), x.shape[1], 0)


def epoch(x: torch.Tensor, y: torch.Tensor, batch_size: int, perm: torch.Tensor | None) -> Iterator[Batch]:
    """Dense batches of rows `perm` (None: all rows in order), batch_size rows at a time: the
    rows are gathered once for the epoch, still sparse, and each batch is densified alone."""
    if perm is not None:
        y = y[perm]
    batches = _scipy_batches if x.device.type == "cpu" else _torch_batches
    ys = (y[start : start + batch_size] for start in range(0, len(x), batch_size))
    return zip(batches(x, perm, batch_size), ys, strict=True)


def _scipy_batches(x: torch.Tensor, perm: torch.Tensor | None, batch_size: int) -> Iterator[torch.Tensor]:
    rows = _scipy(x) if perm is None else _scipy(x)[perm.numpy()]  # a permuted copy: O(nnz)
    for start in range(0, len(x), batch_size):
        yield torch.from_numpy(rows[start : start + batch_size].toarray())


def _torch_batches(x: torch.Tensor, perm: torch.Tensor | None, batch_size: int) -> Iterator[torch.Tensor]:
    n, width = len(x), x.shape[1]
    index = perm if perm is not None else torch.arange(n, device=x.device)
    crow, flat, values = _select(x, index, x.values().numel())
    bounds = crow.tolist()  # the one host read of the epoch: where each batch's non-zeros start
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        a, b = bounds[start], bounds[stop]
        yield _densify(flat[a:b], values[a:b], stop - start, width, start * width)
