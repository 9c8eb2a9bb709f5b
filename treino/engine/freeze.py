"""Transfer learning on any nn.Module: freeze layers by name, re-initialize others, and keep a
frozen layer's batch-norm statistics fixed.

A batch-norm layer counts as frozen when its affine parameters do not train (frozen here or by
hand with `requires_grad = False`) or when `freeze` froze it; the training loop puts such layers
back in eval mode after every `model.train()` (keep_frozen), so their running mean and variance
stay those of the source, bit for bit. Plain PyTorch lets them drift: model.train() switches
every layer to training mode, and a batch-norm layer in training mode updates its statistics
whether or not its parameters train.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

from treino.engine.callbacks import Callback
from treino.errors import ConfigError

FROZEN = "_treino_frozen"  # set on the modules freeze() froze (a batch norm without parameters too)
SHOWN = 12  # layer names listed in an error


def _batch_norms(model: nn.Module) -> Iterable[nn.Module]:
    return (m for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase))


def layer_names(model: nn.Module) -> list[str]:
    """The names `freeze` and `reset` accept at the top: the model's direct layers."""
    return [name for name, _ in model.named_children()]


def resolve(model: nn.Module, names: str | Sequence[str], key: str = "model.freeze") -> list[str]:
    """The module or parameter names of `model` that `names` designate, checked: a layer name
    (`out`, `features.0`) or a parameter name (`out.weight`). An unknown name is a one-line error
    listing the layers that exist.

    Example:
        >>> resolve(cnn, ["features", "head"])
        ['features', 'head']
    """
    names = [names] if isinstance(names, str) else list(names)
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    for name in names:
        if not isinstance(name, str) or not name or (name not in modules and name not in params):
            raise ConfigError(f"{key}: {name!r} is not a layer of {type(model).__name__}; {_existing(model)}")
    return names


def _existing(model: nn.Module) -> str:
    """'its layers are features, pool, head, out (or a part, e.g. features.0 or ...); ...'."""
    existing = layer_names(model)
    if not existing:
        return "it has no named layers"
    shown = ", ".join(existing[:SHOWN]) + (
        f" (+{len(existing) - SHOWN} more)" if len(existing) > SHOWN else ""
    )
    parts = [n for n, _ in model.named_modules() if "." in n][:1] + [n for n, _ in model.named_parameters()][
        :1
    ]
    example = f" (or a part, e.g. {' or '.join(parts)})" if parts else ""
    return f"its layers are {shown}{example}; the model summary lists them"


def _parameters(model: nn.Module, names: Sequence[str]) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if under(n, names)]


def under(key: str, names: Sequence[str]) -> bool:
    """Whether the parameter or buffer `key` belongs to one of the layers `names`."""
    return any(key == name or key.startswith(name + ".") for name in names)


def freeze(model: nn.Module, names: str | Sequence[str]) -> str:
    """Stop the parameters of the named layers from training (`requires_grad = False`); their
    batch-norm layers keep their running statistics (see keep_frozen). Returns a one-line note.

    Example:
        >>> freeze(cnn, ["features", "head"])
        'model.freeze: features, head (93,056 of 93,706 parameters frozen)'
    """
    names = resolve(model, names)
    for _, param in _parameters(model, names):
        param.requires_grad_(False)
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and under(name, names):
            setattr(module, FROZEN, True)
    frozen, total = counts(model)
    return f"model.freeze: {', '.join(names)} ({frozen:,} of {total:,} parameters frozen)"


def unfreeze(model: nn.Module) -> int:
    """Every parameter trains again, every batch norm follows model.train(); returns how many
    parameters were frozen."""
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    for param in model.parameters():
        param.requires_grad_(True)
    for module in model.modules():
        if hasattr(module, FROZEN):
            delattr(module, FROZEN)
    if model.training:
        model.train()
    return frozen


def counts(model: nn.Module) -> tuple[int, int]:
    """(frozen, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return total - sum(p.numel() for p in model.parameters() if p.requires_grad), total


def is_frozen_norm(module: nn.Module) -> bool:
    """A batch-norm layer whose statistics must not move: frozen by `freeze`, or affine with
    none of its parameters training."""
    if not isinstance(module, nn.modules.batchnorm._NormBase):
        return False
    params = list(module.parameters(recurse=False))
    return getattr(module, FROZEN, False) or (bool(params) and not any(p.requires_grad for p in params))


def keep_frozen(model: nn.Module) -> None:
    """Frozen batch-norm layers back to eval mode: called by the loop right after model.train()."""
    for module in _batch_norms(model):
        if module.training and is_frozen_norm(module):
            module.eval()


def reset(model: nn.Module, names: str | Sequence[str], init: object = None) -> str:
    """Re-initialize the named layers (`reset_parameters`, as torch builds them; then `init`, a
    callable on a module, when given): a new output layer for new classes. Returns a note.

    Example:
        >>> reset(cnn, "out")
        'model.reset: out (650 parameters re-initialized)'
    """
    names = resolve(model, names, key="model.reset")
    modules = dict(model.named_modules())
    n = 0
    for name in names:
        if name not in modules:  # a parameter name: reset its layer
            name = name.rpartition(".")[0]
        for sub in modules[name].modules():
            if hasattr(sub, "reset_parameters"):
                sub.reset_parameters()  # type: ignore[operator]
        if callable(init):
            init(modules[name])
        n += sum(p.numel() for p in modules[name].parameters())
    return f"model.reset: {', '.join(names)} ({n:,} parameters re-initialized)"


def groups(model: nn.Module, new: Sequence[str], mult: float) -> list[dict[str, object]] | list[nn.Parameter]:
    """Parameter groups: the new layers at the full learning rate (first: the history's `lr`
    column is theirs), the pretrained part (everything outside `new`) at `mult` times it, as
    optimizers.build reads `lr_mult`; mult 1 or no new layers: one plain list.

    Example:
        >>> torch.optim.Adam(groups(cnn, ["out"], 0.1), lr=1e-3)  # the backbone at 1e-4
    """
    params = list(model.named_parameters())
    if mult == 1 or not new:
        return [p for _, p in params]
    backbone = [p for n, p in params if not under(n, new)]
    head = [p for n, p in params if under(n, new)]
    return [{"params": head, "lr_mult": 1.0}, {"params": backbone, "lr_mult": mult}]


class UnfreezeAt(Callback):
    """From epoch `epoch` on (1 = the first), every layer trains: `train.unfreeze_at`. The
    optimizer holds the frozen parameters from the start (without a gradient it skips them), so
    they begin training at their group's rate. A resumed run unfreezes again at its first epoch
    past `epoch` (requires_grad is not in a checkpoint).

    Example:
        >>> treino.fit(net, train, val, freeze=["features"], unfreeze_at=5)
    """

    def __init__(self, epoch: int, say: object = None) -> None:
        self.epoch = epoch
        self.say = say

    def on_epoch_start(self, state: object) -> None:
        model = state.model  # type: ignore[attr-defined]
        if state.epoch + 1 >= self.epoch and not all(p.requires_grad for p in model.parameters()):  # type: ignore[attr-defined]
            n = unfreeze(model)
            if callable(self.say):
                self.say(
                    f"train.unfreeze_at {self.epoch}: {n:,} parameters train from epoch {state.epoch + 1}"
                )  # type: ignore[attr-defined]
