"""Transfer learning in a run: `model.weights` (but for `model.reset`), `model.reset`,
`model.freeze`, `optimizer.backbone_lr_mult` and `train.unfreeze_at`, applied in that order to
the built model; what was loaded, reset and frozen goes to the run's data notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from treino import config as C
from treino.engine import freeze as F
from treino.engine.callbacks import Callback
from treino.errors import ConfigError


def _core(model: nn.Module) -> tuple[nn.Module, str]:
    """The network the names refer to (a regression model's core, inside its rescaling)."""
    from treino import models

    return (model.core, "core.") if isinstance(model, models.WithRescale) else (model, "")


def prepare(
    model: nn.Module, cfg: C.Config, info: Any, say: Callable[[str], None], resumed: bool = False
) -> list[Any]:
    """Apply the transfer keys of `cfg` to `model`; returns the optimizer's parameters (two
    groups when optimizer.backbone_lr_mult is not 1). `resumed`: the checkpoint holds the
    weights, so nothing is loaded or re-initialized.

    Example:
        >>> params = prepare(model, cfg, data.info, print)
        >>> optimizers.build("adam", params, lr=1e-3)
    """
    from treino import models
    from treino.models.inits import initialize

    m = cfg.model
    core, prefix = _core(model)
    reset = [n.removeprefix(prefix) for n in F.resolve(core, m.reset, "model.reset")] if m.reset else []
    frozen = [n.removeprefix(prefix) for n in F.resolve(core, m.freeze)] if m.freeze else []
    if cfg.train.unfreeze_at is not None and not frozen:
        raise ConfigError(
            f"train.unfreeze_at {cfg.train.unfreeze_at}: no layer is frozen; name them in model.freeze "
            f"(e.g. model.freeze: [features]) or remove train.unfreeze_at"
        )
    mult = cfg.optimizer.backbone_lr_mult
    if mult != 1 and not reset:
        raise ConfigError(
            f"optimizer.backbone_lr_mult {mult:g}: the new layers that train at the full rate are those "
            f"of model.reset, and it is empty; name them (e.g. model.reset: [out])"
        )
    notes = []
    if m.weights and not resumed:
        notes.append(models.load_pretrained(model, m.weights, m.weights_strict, reset))
    if reset and not resumed:

        def init(module: nn.Module) -> None:
            if m.init != "default":
                initialize(module, m.init, m.activation, m.init_std)

        notes.append(F.reset(core, reset, init))
    if frozen:
        notes.append(F.freeze(core, frozen))
    if mult != 1:
        notes.append(f"optimizer.backbone_lr_mult {mult:g}: every layer but {', '.join(reset)} learns at "
                     f"{mult:g} x the learning rate")  # fmt: skip
    for note in notes:
        say(note)
        if note not in info.notes:
            info.notes.append(note)
    return F.groups(model, [prefix + n for n in reset], mult)


def callbacks(cfg: C.Config, say: Callable[[str], None]) -> list[Callback]:
    """train.unfreeze_at's callback, when set."""
    return [F.UnfreezeAt(cfg.train.unfreeze_at, say)] if cfg.train.unfreeze_at is not None else []


def for_fit(
    model: nn.Module,
    freeze: str | Sequence[str],
    reset: str | Sequence[str],
    unfreeze_at: int | None,
    say: Callable[[str], None] | None,
) -> list[Callback]:
    """treino.fit's `reset=`, `freeze=` and `unfreeze_at=`, applied to the user's model (reset
    first, then freeze); returns the callbacks to add. Errors are ValueError, as fit's own."""
    if unfreeze_at is not None and (isinstance(unfreeze_at, bool) or not isinstance(unfreeze_at, int)
                                    or unfreeze_at < 1):  # fmt: skip
        raise ValueError(f"unfreeze_at {unfreeze_at!r}: must be an epoch number of at least 1, or None")
    if unfreeze_at is not None and not freeze:
        raise ValueError(f"unfreeze_at {unfreeze_at}: no layer is frozen; name them with freeze=[...]")
    notes = []
    try:
        F.resolve(model, reset or [], "model.reset")  # both checked before either changes the model
        F.resolve(model, freeze or [])
        if reset:
            notes.append(F.reset(model, reset).replace("model.reset:", "reset:"))
        if freeze:
            notes.append(F.freeze(model, freeze).replace("model.freeze:", "freeze:"))
    except ConfigError as exc:  # the same line, with the argument's name
        raise ValueError(
            str(exc).replace("model.freeze:", "freeze:").replace("model.reset:", "reset:")
        ) from None
    for note in notes:
        if say is not None:
            say(note)
    return [F.UnfreezeAt(unfreeze_at, say)] if unfreeze_at is not None else []
