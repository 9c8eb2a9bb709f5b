"""The estimators' settings, checked when fit() starts (sklearn's rule: __init__ stores them as
given) and resolved into what the engine takes: a seed, a device, epochs and patience."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from treino.engine import losses, optimizers
from treino.engine.loop import resolve_device
from treino.errors import ConfigError, DataError
from treino.models import ACTIVATIONS, MODELS
from treino.models.kinds import is_custom
from treino.registry import Registry, did_you_mean

ROW_MODELS = ("linear", "logistic", "softmax", "mlp", "text")  # the families that take 2-D rows


class ParamError(ConfigError, ValueError):
    """A setting of an estimator is invalid; a ValueError too, as sklearn's own tools expect."""


class InputError(DataError, ValueError):
    """X or y cannot be used; a ValueError too, as sklearn's own tools expect."""


def _fail(est: Any, name: str, fix: str) -> ParamError:
    return ParamError(f"{type(est).__name__}({name}={getattr(est, name)!r}): {fix}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _named(est: Any, name: str, registry: Registry[Any], allowed: list[str] | None = None) -> None:
    value = getattr(est, name)
    names = allowed if allowed is not None else registry.names()
    if not isinstance(value, str) or value not in names:
        hint = did_you_mean(value, names) if isinstance(value, str) else ""
        raise _fail(est, name, f"unknown {registry.kind}{hint}; choose one of: {', '.join(names)}")


def hidden_sizes(est: Any) -> list[int]:
    """`hidden` as a list of widths: (64,), [128, 64], 64 or () (no hidden layer)."""
    value = est.hidden
    sizes = [value] if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        sizes = list(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(_positive_int(s) for s in sizes):
        raise _fail(est, "hidden", "must be positive layer widths, e.g. (64,) or (128, 64); () for none")
    return [int(s) for s in sizes]


def check(est: Any) -> None:
    """Every setting of `est`, checked once at the start of fit: one line naming the fix."""
    if est.module is None:
        kinds = [k for k in MODELS.names() if k in ROW_MODELS]
        if isinstance(est.model, str) and est.model in MODELS and est.model not in kinds:
            raise _fail(  # cnn: (C, H, W) samples; sequence families: (T, F)
                est,
                "model",
                f"is not a family for rows (an estimator's X is 2-D); use one of: {', '.join(kinds)}",
            )
        if not (isinstance(est.model, str) and is_custom(est.model)):
            _named(est, "model", MODELS, kinds)
        hidden_sizes(est)
        _named(est, "activation", ACTIVATIONS)
    elif isinstance(est.module, torch.nn.Module):
        raise _fail(est, "module", "give the class, not an instance: module=Net, module_args={...}")
    elif not callable(est.module):
        raise _fail(est, "module", "must be an nn.Module class (or a function returning a module)")
    if est.module_args is not None and not isinstance(est.module_args, dict):
        raise _fail(est, "module_args", "must be a dict of the module's arguments, e.g. {'width': 32}")
    if not _number(est.dropout) or not 0 <= est.dropout < 1:
        raise _fail(est, "dropout", "must be a probability from 0 (none) to below 1, e.g. 0.2")
    _named(est, "loss", losses.LOSSES)
    _named(est, "optimizer", optimizers.OPTIMIZERS)
    if est.lr is not None and (not _number(est.lr) or not est.lr > 0):
        raise _fail(est, "lr", "must be a positive number, e.g. 0.001, or None (the optimizer's default)")
    if est.batch_size != "full" and not _positive_int(est.batch_size):
        raise _fail(est, "batch_size", "must be a positive number of rows or 'full'")
    if est.epochs != "auto" and not _positive_int(est.epochs):
        raise _fail(est, "epochs", "must be a positive number of passes over the data, or 'auto'")
    if est.patience not in (None, "auto") and not _positive_int(est.patience):
        raise _fail(
            est, "patience", "must be a positive number of epochs, 'auto', or None (no early stopping)"
        )
    fraction = est.validation_fraction
    if fraction is not None and (not _number(fraction) or not 0 < fraction < 1):
        raise _fail(est, "validation_fraction", "must be a fraction between 0 and 1, e.g. 0.1, or None")
    for name in ("l1", "l2"):
        if not _number(getattr(est, name)) or getattr(est, name) < 0:
            raise _fail(est, name, "must be 0 (off) or a positive penalty, e.g. 0.0001")
    if est.threads is not None and not _positive_int(est.threads):
        raise _fail(est, "threads", "must be a positive number of CPU threads, or None (chosen by treino)")
    if not isinstance(est.verbose, numbers.Integral):
        raise _fail(est, "verbose", "must be 0 (silent) or 1 (a progress bar)")
    seed(est)
    device(est)


def partial_epochs(est: Any, epochs: Any) -> int:
    """partial_fit's `epochs`: a positive number of passes over the rows it is given."""
    if not _positive_int(epochs):
        raise ParamError(
            f"{type(est).__name__}.partial_fit(epochs={epochs!r}): must be a positive number, e.g. 1"
        )
    return int(epochs)


def seed(est: Any) -> int:
    """The seed of the run: `random_state` itself when an int (so 0 trains as `treino train
    --set seed=0` does), else one drawn from it (None: from numpy's global generator)."""
    state = est.random_state
    if isinstance(state, numbers.Integral) and not isinstance(state, bool):
        if not 0 <= state < 2**63:
            raise _fail(est, "random_state", "must be a non-negative int, a RandomState or None")
        return int(state)
    if state is None or isinstance(state, np.random.RandomState):
        generator = state if state is not None else np.random.mtrand._rand
        return int(generator.randint(2**31 - 1))
    raise _fail(est, "random_state", "must be a non-negative int, a numpy RandomState or None")


def device(est: Any) -> torch.device:
    """The device to train on: 'auto' is the GPU when one is visible."""
    if not isinstance(est.device, str | torch.device):
        raise _fail(est, "device", "must be 'auto', 'cpu' or 'cuda'")
    try:
        return resolve_device(est.device, caller=f"{type(est).__name__}: ", fix="use device='cpu' or 'auto'")
    except ConfigError as error:  # a ValueError too, as for every other setting
        raise ParamError(str(error)) from None


def loss_for(est: Any, task: str) -> str:
    """The loss name for the task; one that fits another task says which to use."""
    if task not in losses.LOSSES.get(est.loss).tasks:
        auto = losses.AUTO[task]  # type: ignore[index]
        raise _fail(est, "loss", f"is not a {task} loss; use '{auto}' (or 'auto')")
    return est.loss


def plan(est: Any, steps_per_epoch: int) -> tuple[int, int | None]:
    """(epochs, patience) as numbers: 'auto' follows the CLI's rule (train.epochs auto: at least
    3000 optimizer steps, 20 to 200 epochs; patience a tenth of them, 5 to 20)."""
    from treino.config.schema import EarlyStoppingConfig, TrainConfig

    stopping = EarlyStoppingConfig(patience=est.patience) if est.patience is not None else None
    return TrainConfig(epochs=est.epochs, early_stopping=stopping).planned(steps_per_epoch)
