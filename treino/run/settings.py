"""What `treino.train` takes from a notebook besides a config: `data=`, `model=` (a name, your own
nn.Module class or instance) and flat settings (`epochs=20, lr=0.01`), turned into config keys."""

from __future__ import annotations

import json
import sys
from typing import Any

from torch import nn

from treino.errors import ConfigError
from treino.registry import did_you_mean

# flat name -> config key; a dotted key ("optimizer.momentum") is taken as it is
SETTINGS = {
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "lr": "optimizer.lr",
    "optimizer": "optimizer.name",
    "momentum": "optimizer.momentum",
    "weight_decay": "optimizer.weight_decay",
    "loss": "loss.name",
    "target": "data.target",
    "task": "data.task",
    "scale": "data.scale",
    "hidden": "model.hidden",
    "activation": "model.activation",
    "dropout": "model.dropout",
    "batch_norm": "model.batch_norm",
    "channels": "model.channels",
    "init": "model.init",
    "l1": "train.l1",
    "l2": "train.l2",
    "clip_grad": "train.clip_grad",
    "patience": "train.early_stopping.patience",
    "monitor": "train.early_stopping.monitor",
    "restore_best": "train.restore_best",
    "device": "train.device",
    "schedule": "schedule.name",
    "seed": "seed",
    "name": "name",
    "progress": "log.progress",
}


def as_overrides(data: Any, model: Any, settings: dict[str, Any]) -> tuple[dict[str, Any], nn.Module | None]:
    """(config overrides by dotted key, the model object to train or None).

    `data`: a built-in name or a path (data.source), or a dict of the data section. `model`: a
    kind name (mlp, cnn, ...), a dict of the model section, your nn.Module class (built with
    input_shape / n_outputs when it takes them), or an nn.Module instance (trained as it is).

    Example:
        >>> as_overrides("iris", None, {"epochs": 20, "lr": 0.01})
        ({'data.source': 'iris', 'train.epochs': 20, 'optimizer.lr': 0.01}, None)
    """
    out: dict[str, Any] = {}
    if data is not None:
        out |= _section("data", data, "source")
    instance = None
    if model is not None:
        if isinstance(model, nn.Module):
            instance = model
            out["model.kind"] = _path(type(model), instance=True)
        elif isinstance(model, type) and issubclass(model, nn.Module):
            out["model.kind"] = _path(model, instance=False)
        else:
            out |= _section("model", model, "kind")
    unknown = [k for k in settings if k not in SETTINGS and "." not in k]
    if unknown:
        names = ", ".join(repr(k) for k in unknown) + did_you_mean(unknown[0], list(SETTINGS))
        raise ConfigError(
            f"treino.train: unknown setting{'s' * (len(unknown) > 1)} {names}; use one of "
            f"{', '.join(SETTINGS)}, or a dotted config key as a string, e.g. **{{'optimizer.eps': 1e-7}}"
        )
    for key, value in settings.items():
        out[SETTINGS.get(key, key)] = value
    return out, instance


def merge(overrides: str | list[str] | dict[str, Any] | None, extra: dict[str, Any]) -> Any:
    """`overrides` (the CLI's 'key=value' strings or a dict) with `extra` after them."""
    if not extra:
        return overrides
    if overrides is None or isinstance(overrides, dict):
        return {**(overrides or {}), **extra}
    items = [overrides] if isinstance(overrides, str) else list(overrides)
    return items + [f"{k}={json.dumps(v)}" for k, v in extra.items()]  # JSON is YAML: values keep their type


def _section(name: str, value: Any, main: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return {f"{name}.{k}": v for k, v in value.items()}
    if isinstance(value, str):
        return {f"{name}.{main}": value}
    raise ConfigError(
        f"treino.train: {name}={type(value).__name__}: give a name or path as text, or a dict of the "
        f"{name} section{'; or your nn.Module class or instance' if name == 'model' else ''}"
    )


def _path(cls: type, instance: bool) -> str:
    """'module:Class' of the model's class; a class itself must be reachable by that path."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    module = sys.modules.get(cls.__module__)
    if not instance and getattr(module, cls.__qualname__, None) is not cls:
        raise ConfigError(
            f"treino.train: model class {cls.__qualname__} is defined inside a function, so treino cannot "
            f"build it by name; define it at the top level of your notebook or module, or pass an instance"
        )
    return path
