"""Your own code where a config gives a name: `loss.name: package.module:Class` (with
`loss.args`) and `data.source: package.module:Class` (a torch Dataset, with `data.args`).
The module is imported from the working directory, as a custom `model.kind` is; a run that
names one loads again only with `--trust-code` (treino.load(..., trust_code=True))."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from treino.data.own import is_own  # noqa: F401 (re-exported: 'package.module:Class', as data.source takes it)
from treino.errors import ConfigError, ModelError


def import_named(key: str, path: str) -> Any:
    """The object 'package.module:Name' for the config key `key`; one-line errors naming `key`."""
    from treino.models.custom import import_object

    try:
        return import_object(path)
    except ModelError as exc:
        raise ConfigError(str(exc).replace("model.kind:", f"{key}:", 1)) from None


def own_loss(path: str, args: dict[str, Any]) -> nn.Module:
    """Your loss class, built with `loss.args`: an nn.Module called as loss(outputs, targets).

    Example:
        >>> own_loss("mylosses:FocalLoss", {"gamma": 2.0})
    """
    cls = import_named("loss.name", path)
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise ConfigError(f"loss.name: '{path}' is not an nn.Module class; define class X(nn.Module) with "
                          f"forward(outputs, targets) returning a scalar tensor")  # fmt: skip
    try:
        return cls(**args)
    except TypeError as exc:  # a wrong argument name: Python's own words, one line
        raise ConfigError(f"loss.name: {path}(**loss.args) failed ({exc}); fix loss.args") from None
