"""Weight initializations by name (`model.init`), applied to every Linear and Conv weight of a
built model. Add one with `@INITS.register("name")` here; the config checks the name when it
is loaded, and a wrong one lists these names and the closest."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from treino.registry import Registry

Init = Callable[[nn.Module, str, float], None]  # (model, model.activation, model.init_std)
WeightInit = Callable[[Tensor, str, float], None]  # (weight, model.activation, model.init_std)
INITS: Registry[Init] = Registry("initialization", key="model.init")
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def gain_of(activation: str) -> str:
    """The nonlinearity whose gain Kaiming uses: tanh 5/3, sigmoid 1, relu-like sqrt(2)."""
    return {"tanh": "tanh", "sigmoid": "sigmoid", "leaky_relu": "leaky_relu"}.get(activation, "relu")


def per_weight(fn: WeightInit) -> Init:
    """An Init that applies `fn` to each Linear/Conv weight and sets its bias to zero."""

    def apply(model: nn.Module, activation: str, std: float) -> None:
        for module in model.modules():
            if isinstance(module, LAYERS):
                fn(module.weight, activation, std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    return apply


@INITS.register("default")
def _default(model: nn.Module, activation: str, std: float) -> None:
    """torch's own initialization of each layer, biases included: nothing to do."""


INITS.register("xavier_uniform")(per_weight(lambda w, act, std: nn.init.xavier_uniform_(w)))
INITS.register("xavier_normal")(per_weight(lambda w, act, std: nn.init.xavier_normal_(w)))
INITS.register("kaiming_uniform")(
    per_weight(lambda w, act, std: nn.init.kaiming_uniform_(w, a=0.01, nonlinearity=gain_of(act)))
)
INITS.register("kaiming_normal")(
    per_weight(lambda w, act, std: nn.init.kaiming_normal_(w, a=0.01, nonlinearity=gain_of(act)))
)
INITS.register("normal")(per_weight(lambda w, act, std: nn.init.normal_(w, 0.0, std)))


def initialize(model: nn.Module, name: str, activation: str = "relu", std: float = 0.01) -> None:
    """Apply the init `name` (`model.init`) to `model`; Kaiming's gain follows `activation`.

    Example:
        >>> initialize(model, "kaiming_normal", activation="tanh")
    """
    INITS.get(name)(model, activation, std)
