"""Activation functions by name (`model.activation`). Add one with a line here; the config
checks the name when it is loaded, and a wrong one lists these names and the closest."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from treino.registry import Registry

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation", key="model.activation")
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("tanh")(nn.Tanh)
ACTIVATIONS.register("sigmoid")(nn.Sigmoid)
ACTIVATIONS.register("gelu")(nn.GELU)
ACTIVATIONS.register("leaky_relu")(nn.LeakyReLU)
ACTIVATIONS.register("elu")(nn.ELU)


def make_activation(name: str) -> nn.Module:
    """A new activation layer for `name`; an unknown name is a ConfigError listing the names."""
    return ACTIVATIONS.get(name)()
