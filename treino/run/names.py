"""Every name a config gives (model, activation, init, loss, optimizer, schedule) checked
against its registry once the config is loaded, before any data is read.

The schema keeps these names as text: the registries live above it (models/, engine/), and
adding a name is one registry entry. A wrong name fails here with the registry's one line:
`optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); choose one of: sgd, ...`.

Regenerate the configuration reference with `python -m treino.run.names > docs/config.md`.
"""

from __future__ import annotations

from treino.config import Config
from treino.config.doc import render
from treino.engine.losses import LOSSES
from treino.engine.optimizers import OPTIMIZERS
from treino.engine.schedules import SCHEDULES
from treino.models import ACTIVATIONS, CELLS, INITS, MODELS, check_kind
from treino.registry import Registry
from treino.run.own_code import is_own


def _registered(cfg: Config) -> list[tuple[str, Registry]]:
    """(name given, its registry) for every registry-backed key but model.kind, in config order."""
    return [
        (cfg.model.activation, ACTIVATIONS),
        (cfg.model.init, INITS),
        (cfg.model.cell, CELLS),
        (cfg.loss.name, LOSSES),
        (cfg.optimizer.name, OPTIMIZERS),
        (cfg.schedule.name, SCHEDULES),
    ]


def check_names(cfg: Config) -> None:
    """Refuse any name of `cfg` that its registry does not hold, naming the closest one.

    `model.kind` also takes auto and your own model as 'package.module:Class' (imported when
    the model is built, not here).

    Raises:
        ConfigError: `<key>: unknown <kind> '<name>' (did you mean 'x'?); choose one of: a, b, c`.

    Example:
        >>> check_names(config.load(None, ["optimizer.name=adamm"]))
        Traceback (most recent call last):
        treino.errors.ConfigError: optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); ...
    """
    check_kind(cfg.model.kind)
    for name, registry in _registered(cfg):
        if registry is not LOSSES or not is_own(name):  # loss.name may be your own class
            registry.get(name)


def available() -> dict[str, list[str]]:
    """The names each registry-backed key accepts, by dotted key (for the reference page)."""
    registries = [ACTIVATIONS, INITS, CELLS, LOSSES, OPTIMIZERS, SCHEDULES]
    return {"model.kind": ["auto", *MODELS.names()]} | {r.key: r.names() for r in registries}


def reference() -> str:
    """The configuration reference (docs/config.md), listing every name a key accepts."""
    return render(available())


if __name__ == "__main__":
    print(reference(), end="")
