"""What the estimators do underneath: the model built through treino's own families (the names
of the CLI), trained by the engine's loop on tensors in memory, and its outputs for new rows."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from treino import models
from treino.batches.source import EVAL_ROWS
from treino.config import ModelConfig
from treino.data.info import DataInfo
from treino.engine import losses, optimizers
from treino.engine.callbacks import Callback, EarlyStopping
from treino.engine.loop import fit, forward_rows
from treino.errors import DivergedError, TreinoError
from treino.models.custom import check_output
from treino.models.mlp import MLP
from treino.sklearn import params as P
from treino.sklearn.inputs import as_tensor


def build_model(
    est: Any, task: str, n_features: int, n_outputs: int, target_scale: dict[str, list[float]] | None
) -> nn.Module:
    """A new model for rows of `n_features`: `module=` called with `module_args`, or the family
    `model=` built as `treino train` builds it; regression outputs rescaled to the target's units."""
    name = type(est).__name__
    if est.module is not None:
        model = _own_module(est, task, n_features, n_outputs)
        if target_scale is not None:
            model = models.WithRescale(model, models.Rescale(target_scale["mean"], target_scale["std"]))
        return model
    info = DataInfo(
        task=task,  # type: ignore[arg-type]
        kind="table",
        input_shape=(n_features,),
        classes=[str(i) for i in range(n_outputs)] if task == "multiclass" else [],
        targets=[f"y{i}" for i in range(n_outputs)] if task == "regression" else [],
    )
    cfg = ModelConfig(
        kind=est.model, hidden=P.hidden_sizes(est), activation=est.activation, dropout=est.dropout,
        batch_norm=bool(est.batch_norm), clip_inputs=bool(est.clip_inputs), args=dict(est.module_args or {}),
    )  # fmt: skip
    try:
        return models.build(cfg, info, target_scale)
    except TreinoError as error:  # the family's own text, in the estimator's terms
        text = str(error).removeprefix("model.kind: ").replace("model.args", "module_args")
        raise P.ParamError(f"{name}(model={est.model!r}): {text}") from None


def _own_module(est: Any, task: str, n_features: int, n_outputs: int) -> nn.Module:
    """`module(**module_args)`, given input_shape and n_outputs when it takes them (as a custom
    model of the CLI is), and checked on 2 rows: its output must fit the task."""
    factory, args = est.module, dict(est.module_args or {})
    label = f"{type(est).__name__}(module={getattr(factory, '__name__', factory)})"
    try:
        accepted = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        accepted = {}  # type: ignore[assignment]
    given = {"input_shape": (n_features,), "n_outputs": n_outputs}
    extra = {k: v for k, v in given.items() if k in accepted and k not in args}
    try:
        model = factory(**args, **extra)
    except TypeError as error:
        raise P.ParamError(f"{label}: {str(error).splitlines()[0]}; fix module_args") from None
    if not isinstance(model, nn.Module):
        raise P.ParamError(f"{label}: it gave a {type(model).__name__}, not a torch nn.Module")
    if not any(p.requires_grad for p in model.parameters()):
        raise P.ParamError(f"{label}: it has no trainable parameters; give it layers with weights")
    try:
        check_output(
            model, torch.zeros(2, n_features), task, n_outputs, getattr(factory, "__name__", "module")
        )
    except TreinoError as error:
        raise P.ParamError(f"{label}: {str(error).removeprefix('model.kind: ')}") from None
    return model


def train_new(
    est: Any, X: Any, y: np.ndarray, task: str, target_scale: dict | None, epochs: int | None = None
) -> None:
    """Fit `est` from scratch on checked rows X and targets y (class indices or values): a new
    model, loss and optimizer, the engine's loop with early stopping when asked; sets the fitted
    attributes (module_, history_, n_iter_, best_epoch_). `epochs` given (partial_fit's first
    call): that many, on every row, without a validation split or early stopping."""
    dev, seed = P.device(est), P.seed(est)
    if task == "regression":
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
    else:
        n_outputs = 1 if task == "binary" else len(est.classes_)
    with _own_rng(dev):
        torch.manual_seed(seed)  # the initial weights, as `treino train` draws them from its seed
        model = build_model(est, task, X.shape[1], n_outputs, target_scale).to(dev)
        _train(est, model, X, y, task, target_scale, epochs, dev, seed)


def _train(
    est: Any, model: nn.Module, X: Any, y: np.ndarray, task: str, target_scale: dict | None,
    epochs: int | None, dev: torch.device, seed: int,
) -> None:  # fmt: skip
    """train_new's loss, optimizer, split, callbacks and the engine's loop."""
    loss_fn = losses.build(P.loss_for(est, task), task)  # type: ignore[arg-type]
    if target_scale is not None:  # the model outputs the target's units; the loss sees standard ones
        loss_fn = losses.ScaledLoss(loss_fn, target_scale["mean"], target_scale["std"])
    optimizer = optimizers.build(est.optimizer, model, lr=est.lr)
    train, val = _split(est, X, y, task, seed) if epochs is None else ((X, y), None)
    rows = train[0].shape[0]
    batch = rows if est.batch_size == "full" else min(int(est.batch_size), rows)
    epochs, patience = P.plan(est, -(-rows // batch)) if epochs is None else (epochs, None)
    _check_batch_norm(est, model, rows, batch)
    x = as_tensor(train[0])
    models.fit_input_range(model, x)  # clip_inputs: the training rows' range
    callbacks: list[Callback] = []
    if patience is not None:
        monitor = "val_loss" if val is not None else "train_loss"
        callbacks.append(EarlyStopping(monitor=monitor, patience=patience))
    callbacks += _display(est, task, target_scale is not None)
    val_data = (as_tensor(val[0]), torch.from_numpy(val[1])) if val is not None else None
    history = fit(
        model, (x, torch.from_numpy(train[1])), val_data, loss=loss_fn, optimizer=optimizer,
        epochs=epochs, batch_size=batch, callbacks=callbacks, task=task, l1=est.l1, l2=est.l2,  # type: ignore[arg-type]
        device=dev, seed=seed, threads=est.threads, train_metrics=False,
    )  # fmt: skip
    est.module_, est.task_ = model, task
    est._loss_fn, est._optimizer, est._seed = loss_fn, optimizer, seed
    est.history_, est.n_iter_, est.best_epoch_ = [], 0, history.best_epoch
    _record(est, history)


def train_more(est: Any, X: Any, y: np.ndarray, epochs: int) -> None:
    """`epochs` more passes of the fitted model over X, y, with the same optimizer (its moments
    and step counts carry on) and a seed that moves on with the epochs done."""
    if est._optimizer is None:  # loaded from a bundle: the optimizer's state is not saved
        est._optimizer = optimizers.build(est.optimizer, est.module_, lr=est.lr)
    x = as_tensor(X)
    _widen_range(est.module_, x)
    batch = X.shape[0] if est.batch_size == "full" else min(int(est.batch_size), X.shape[0])
    _check_batch_norm(est, est.module_, X.shape[0], batch)
    callbacks = _display(est, est.task_, getattr(est, "target_scale_", None) is not None)
    with _own_rng(P.device(est)):
        history = fit(
            est.module_, (x, torch.from_numpy(y)), None, loss=est._loss_fn, optimizer=est._optimizer,
            epochs=epochs, batch_size=batch, callbacks=callbacks, task=est.task_, l1=est.l1, l2=est.l2,
            device=P.device(est), seed=est._seed + est.n_iter_, threads=est.threads, train_metrics=False,
        )  # fmt: skip
    _record(est, history)


def _own_rng(device: torch.device) -> Any:
    """The global torch generator (and the GPU's) put back as they were after fitting: the engine
    seeds them, and an estimator should not change the randomness of its caller's own code."""
    return torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])


def _display(est: Any, task: str, scaled: bool) -> list[Callback]:
    """The progress display when verbose (the one `treino train` shows, for where output goes)."""
    from treino.engine.display import choose_display

    label = "loss (standardized y)" if scaled else "loss"
    shown = choose_display(
        "r2" if task == "regression" else "accuracy", verbose=int(est.verbose), loss_label=label
    )
    return [shown] if shown is not None else []


def _record(est: Any, history: Any) -> None:
    """Append the epochs to history_ (numbered on from the ones before); a diverged run is an
    error, since its weights are not numbers any more."""
    done = est.n_iter_
    est.history_ += [{**row, "epoch": done + int(row["epoch"])} for row in history.epochs]
    est.n_iter_ = done + len(history.epochs)
    if history.status == "diverged":
        raise DivergedError(
            f"{type(est).__name__}: {history.stop_reason}; lower lr (now {est.lr}), or scale X first "
            f"(StandardScaler in a Pipeline)"
        )


def outputs(est: Any, x: torch.Tensor) -> torch.Tensor:
    """The fitted model's outputs (N, units), float32 on the CPU, for checked rows `x`."""
    device = next(est.module_.parameters()).device
    return forward_rows(est.module_, x, device, EVAL_ROWS)


def _split(est: Any, X: Any, y: np.ndarray, task: str, seed: int) -> tuple[tuple, tuple | None]:
    """(train, val) rows and targets: no validation split unless validation_fraction asks for one
    (stratified for classes, seeded); a split a class cannot fill says so."""
    if est.validation_fraction is None:
        return (X, y), None
    from sklearn.model_selection import train_test_split

    stratify = y if task != "regression" else None
    try:
        x_train, x_val, y_train, y_val = train_test_split(
            X, y, test_size=est.validation_fraction, random_state=seed % 2**32, stratify=stratify
        )
    except ValueError as error:
        raise P.InputError(
            f"{type(est).__name__}(validation_fraction={est.validation_fraction}): {error}; use a larger "
            f"fraction, more rows, or validation_fraction=None"
        ) from None
    return (x_train, y_train), (x_val, y_val)


def _check_batch_norm(est: Any, model: nn.Module, rows: int, batch: int) -> None:
    """Batch normalization cannot train on a batch of one row: refuse before the first step."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    if batch == 1 or rows % batch == 1:
        raise P.ParamError(
            f"{type(est).__name__}(batch_size={est.batch_size}): leaves a batch of 1 row ({rows} rows), which "
            f"batch normalization cannot train on; choose another batch_size or batch_norm=False"
        )


def _widen_range(model: nn.Module, x: torch.Tensor) -> None:
    """clip_inputs after partial_fit: the range of every row seen so far, not of the last batch."""
    for module in model.modules():
        if isinstance(module, MLP) and module.bounded:
            low, high = module.low.clone(), module.high.clone()
            module.fit_range(x)
            module.low.copy_(torch.minimum(low, module.low))
            module.high.copy_(torch.maximum(high, module.high))
