"""What fit() checks once before the first step: data without NaN/inf, targets and inputs in the
dtypes the loss and the model take, and a model output that fits the targets."""

from __future__ import annotations

import torch
from torch import nn

from treino.batches import sparse
from treino.batches.source import Source
from treino.tasks import TaskName, infer_from_loss, prepare_targets


def task_of(loss: str | nn.Module, model: nn.Module, source: Source | None) -> TaskName:
    """The task fit() trains for when it is not told one.

    A loss name or a torch loss module implies its task. For loss "auto" the data decide:
    integer (or bool) labels with a model that outputs K > 1 values per row are classes
    (multiclass, cross-entropy); labels 0/1 with 1 output are binary (bce); float targets,
    and any other integers with 1 output (counts, years), are values (regression, mse).
    """
    if not isinstance(loss, str):
        if isinstance(loss, nn.CrossEntropyLoss | nn.NLLLoss):
            return "multiclass"
        if isinstance(loss, nn.BCEWithLogitsLoss | nn.BCELoss):
            return "binary"
        return "regression"
    if loss != "auto":
        return infer_from_loss(loss)
    x, y = _first_rows(source) if source is not None else (None, None)
    if y is None or y.is_floating_point() or y.is_complex() or (y.ndim == 2 and y.shape[1] > 1):
        return "regression"
    width = _output_width(model, x)
    if width is not None and width > 1:
        return "multiclass"
    if width == 1 and bool(((y == 0) | (y == 1)).all()):
        return "binary"
    return "regression"


def _first_rows(source: Source) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Inputs (2 rows) and all targets of in-memory data; a DataLoader's first batch otherwise
    (drawn with the random state put back, so training is unchanged by the look)."""
    x, y = getattr(source, "x", None), getattr(source, "y", None)
    if x is not None and isinstance(y, torch.Tensor):
        return sparse.dense_rows(x, slice(0, 2)), y
    loader = getattr(source, "loader", None)
    if loader is None:
        return None, None
    try:
        with torch.random.fork_rng(devices=[]):
            batch = next(iter(loader))
    except Exception:
        return None, None  # the loop draws it again and fails where the callbacks see it
    if (
        isinstance(batch, tuple | list)
        and len(batch) == 2
        and all(isinstance(t, torch.Tensor) for t in batch)
    ):
        return batch[0][:2], batch[1]
    return None, None


@torch.no_grad()
def _output_width(model: nn.Module, x: torch.Tensor | None) -> int | None:
    """Values per row of the model's output on 2 rows (eval mode); None when it cannot tell."""
    if x is None:
        return None
    param = next(model.parameters(), None)
    if not x.is_floating_point() and not any(
        isinstance(m, nn.Embedding | nn.EmbeddingBag) for m in model.modules()
    ):
        x = x.float()  # as prepared() will give it
    was_training = model.training
    model.eval()
    try:
        out = model(x.to(param.device) if param is not None else x)
    except Exception:
        return None  # a forward that fails fails again in the loop, where the callbacks see it
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim > 2:
        return None
    return 1 if out.ndim < 2 else int(out.shape[1])


def finite(source: Source | None, split: str) -> None:
    """A NaN or inf in the data makes every loss NaN: refuse it before the first step."""
    for name in ("x", "y"):
        t = getattr(source, name, None)
        if sparse.is_sparse(t):  # a CSR x: its stored values are all there is to check
            sparse.check_finite(t, f"{split} data: {name}")
            continue
        if t is None or t.layout != torch.strided or not t.is_floating_point():
            continue
        if torch.isfinite(t.sum()):  # NaN/inf make the sum non-finite; 20x cheaper than isfinite(t)
            continue  # (a sum that overflows falls through to the exact check below)
        bad = ~torch.isfinite(t.reshape(len(t), -1))
        if bad.any():  # one host sync, once per fit
            row, col = (int(i) for i in bad.nonzero()[0])
            from treino.errors import DataError

            raise DataError(
                f"{split} data: {name}[{row}, {col}] is {t.reshape(len(t), -1)[row, col].item()}; "
                f"replace or drop the non-finite values before training"
            )


def prepared(source: Source, task: TaskName, model: nn.Module) -> Source:
    """Targets as the loss takes them; integer or bool inputs as float32 unless the model's first
    layer is an embedding (token ids stay int64): torch would fail on 'Long and Float'."""
    if hasattr(source, "y"):
        source.y = prepare_targets(source.y, task)
    x = getattr(source, "x", None)
    if isinstance(x, torch.Tensor) and x.layout == torch.strided and not x.is_floating_point():
        layers = (m for m in model.modules() if next(m.parameters(recurse=False), None) is not None)
        first = next(layers, None)  # the first module holding weights, in registration order
        if first is not None and not isinstance(first, nn.Embedding | nn.EmbeddingBag):
            source.x = x.float()
    return source


@torch.no_grad()
def output(model: nn.Module, source: Source, task: TaskName) -> None:
    """One forward on 2 in-memory rows (eval mode): an output that does not fit the targets fails
    here, with both shapes, not an epoch later in the loss or the metrics."""
    if getattr(source, "x", None) is None:
        return
    was_training = model.training
    model.eval()
    try:
        out = model(sparse.dense_rows(source.x, slice(0, 2)))  # a CSR x: its rows made dense
    except Exception:
        return  # a forward that fails fails again in the loop, where the callbacks see it
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        return  # the loss may know what to do with it
    if task == "multiclass":
        need = int(source.y.max()) + 1
        if out.ndim != 2 or out.shape[1] < need:
            logits = out.shape[1] if out.ndim == 2 else 1
            raise ValueError(
                f"the model outputs {logits} logit{'s' * (logits != 1)} per row but the targets hold class "
                f"{need - 1} ({need} classes); make its last layer output at least {need}"
            )
        return
    want = tuple(source.y[:2].shape)  # (2, k): prepare_targets made them 2-D
    if tuple(out.shape) != want:  # (2,) against (2, 1) would broadcast to (2, 2) in the loss
        unit = "logit" if task == "binary" else "value"
        raise ValueError(
            f"the model outputs {tuple(out.shape)} for {len(out)} rows but the targets are {want}; make its "
            f"last layer output {want[1]} {unit}{'s' * (want[1] != 1)} per row"
        )
