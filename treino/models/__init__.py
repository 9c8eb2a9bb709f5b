"""Model families, built from `model.*` and the data description. The output layer follows
the task: 1 unit per regression target, 1 logit for binary, K logits for K classes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from treino.config import ModelConfig
from treino.errors import ConfigError
from treino.models import weights as W
from treino.models.activations import ACTIVATIONS
from treino.models.anchor import LastValue
from treino.models.custom import build_custom, check_output
from treino.models.inits import INITS, initialize
from treino.models.kinds import MODELS, NEEDS_TASK, check_kind, is_custom, vocab_size
from treino.models.mlp import MLP
from treino.models.rnn import CELLS
from treino.models.summary import format_summary, summarize

if TYPE_CHECKING:  # the description only: importing the treino.data package would load its readers
    from treino.data.info import DataInfo

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "INITS",
    "MODELS",
    "build",
    "check_kind",
    "count_parameters",
    "example_input",
    "fit_input_range",
    "format_summary",
    "initialize",
    "load_pretrained",
    "resolve_kind",
    "summarize",
]


class Rescale(nn.Module):
    """Maps standardized outputs back to the target's units: y = z * std + mean."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, z: Tensor) -> Tensor:
        return z * self.std + self.mean


class WithRescale(nn.Module):
    def __init__(self, core: nn.Module, rescale: Rescale) -> None:
        super().__init__()
        self.core, self.rescale = core, rescale

    def forward(self, x: Tensor) -> Tensor:
        return self.rescale(self.core(x))


def resolve_kind(cfg: ModelConfig, info: DataInfo) -> str:
    """`auto` -> cnn for images, text for text, rnn for sequences and series, mlp otherwise;
    other kinds as given."""
    if cfg.kind != "auto":
        return cfg.kind
    return {"image": "cnn", "text": "text", "sequence": "rnn", "series": "rnn"}.get(info.kind, "mlp")


def example_input(info: DataInfo, batch: int = 2) -> Tensor:
    """A batch of zeros shaped like the inputs (token ids are int64), for shape checks."""
    dtype = torch.long if vocab_size(info) else torch.float32
    return torch.zeros(batch, *info.input_shape, dtype=dtype)


def build(
    cfg: ModelConfig,
    info: DataInfo,
    target_scale: dict | None = None,
    *,
    example: Tensor | None = None,
) -> nn.Module:
    """The model for this data; regression outputs are rescaled to the target's units.

    A custom model (`package.module:Class`) runs once on `example` (a batch of 2; zeros when
    None) so that a wrong output shape fails here, with the fix, not in the loss.
    `model.weights` is not applied here: see `load_pretrained`.

    Example:
        >>> model = build(ModelConfig(kind="mlp", hidden=[32]), data.info)
    """
    kind = resolve_kind(cfg, info)
    if is_custom(kind):
        model = build_custom(kind, cfg.args, info)
        sample = example[:2] if example is not None else example_input(info)
        check_output(model, sample, info.task, info.n_outputs, kind)
    else:
        if kind in NEEDS_TASK and info.task != NEEDS_TASK[kind]:
            raise ConfigError(
                f"model.kind: {kind} is for a {NEEDS_TASK[kind]} task but the data is {info.task}; "
                f"use linear (or mlp)"
            )
        check_kind(kind)
        model = MODELS.get(kind)(cfg, info)
    initialize(model, cfg.init, cfg.activation, cfg.init_std)
    if target_scale is not None and target_scale.get("anchor"):  # a series: relative to its last value
        model = LastValue(model, **target_scale["anchor"])
    if target_scale is not None:
        model = WithRescale(model, Rescale(target_scale["mean"], target_scale["std"]))
    return model


def load_pretrained(
    model: nn.Module, path: str | Path, strict: bool = True, reset: list[str] | tuple[str, ...] = ()
) -> str:
    """Load `model.weights` into a built model (into the core of a rescaled regression model),
    but for the layers `reset`; returns a one-line note. See treino.models.weights."""
    core = model.core if isinstance(model, WithRescale) else model
    return W.load_into(core, path, strict, reset)


def fit_input_range(model: nn.Module, x: Tensor) -> None:
    """Give a bounded MLP (model.clip_inputs, on tables) the range of the training inputs."""
    for module in model.modules():
        if isinstance(module, MLP) and module.bounded:
            module.fit_range(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
