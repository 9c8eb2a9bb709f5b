"""Model families, built from `model.*` and the data description. The output layer follows
the task: 1 unit per regression target, 1 logit for binary, K logits for K classes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from treino.config import ModelConfig
from treino.errors import ConfigError
from treino.models import weights as W
from treino.models.cnn import CNN
from treino.models.custom import build_custom, check_output
from treino.models.linear import Linear
from treino.models.mlp import MLP
from treino.models.summary import format_summary, summarize
from treino.models.text import TfidfMLP, TokenBag
from treino.registry import Registry, did_you_mean

if TYPE_CHECKING:  # models read the description only; importing treino.data would load readers
    from treino.data.core import DataInfo

__all__ = [
    "MODELS",
    "build",
    "count_parameters",
    "example_input",
    "fit_input_range",
    "format_summary",
    "initialize",
    "load_pretrained",
    "resolve_kind",
    "summarize",
]

Builder = Callable[[ModelConfig, "DataInfo"], nn.Module]
MODELS: Registry[Builder] = Registry("model", key="model.kind")
NEEDS_TASK = {"logistic": "binary", "softmax": "multiclass"}


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


def vocab_size(info: DataInfo) -> int | None:
    """The vocabulary size when the inputs are token ids (B, L), else None."""
    return info.vocab_size if info.text_mode == "tokens" else None


@MODELS.register("softmax")
@MODELS.register("logistic")
@MODELS.register("linear")  # decorators run bottom-up: the registry lists linear first
def _linear(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    return Linear(info.input_shape, info.n_outputs)


@MODELS.register("mlp")
def _mlp(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    bounded = cfg.clip_inputs and info.kind == "table"
    return MLP(info.input_shape, info.n_outputs, cfg.hidden, cfg.activation, cfg.dropout,
               bool(cfg.batch_norm), bounded)  # fmt: skip


@MODELS.register("cnn")
def _cnn(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    if len(info.input_shape) != 3:
        raise ConfigError(
            f"model.kind: cnn needs images (C, H, W) but {info.source} gives rows of "
            f"{info.input_shape[0]} features; use mlp"
        )
    if isinstance(cfg.padding, int) and cfg.padding < 0:
        raise ConfigError(f"model.padding: must be 0 or more, or 'same' (got {cfg.padding})")
    return CNN(info.input_shape, info.n_outputs, cfg.channels, cfg.kernel, cfg.pool,
               cfg.hidden, cfg.activation, cfg.dropout, cfg.batch_norm is not False,
               cfg.stride, cfg.padding, cfg.head)  # fmt: skip


@MODELS.register("text")
def _text(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    vocab = vocab_size(info)
    if vocab:
        return TokenBag(vocab, info.n_outputs, cfg.embed_dim, cfg.hidden, cfg.activation,
                        cfg.dropout, bool(cfg.batch_norm))  # fmt: skip
    if len(info.input_shape) != 1:
        raise ConfigError(
            f"model.kind: text needs TF-IDF features or token ids but {info.source} gives images "
            f"{'x'.join(map(str, info.input_shape))}; use cnn"
        )
    return TfidfMLP(info.input_shape[0], info.n_outputs, cfg.hidden, cfg.activation, cfg.dropout,
                    bool(cfg.batch_norm))  # fmt: skip


def resolve_kind(cfg: ModelConfig, info: DataInfo) -> str:
    """`auto` -> cnn for images, text for text, mlp otherwise; other kinds as given."""
    if cfg.kind != "auto":
        return cfg.kind
    return {"image": "cnn", "text": "text"}.get(info.kind, "mlp")


def example_input(info: DataInfo, batch: int = 2) -> Tensor:
    """A batch of zeros shaped like the inputs (token ids are int64), for shape checks."""
    dtype = torch.long if vocab_size(info) else torch.float32
    return torch.zeros(batch, *info.input_shape, dtype=dtype)


def initialize(model: nn.Module, cfg: ModelConfig) -> None:
    """Apply `model.init` to every Linear/Conv weight; biases to zero (except 'default').

    Kaiming's gain follows `model.activation` (tanh 5/3, sigmoid 1, relu-like sqrt(2)).
    """
    if cfg.init == "default":
        return
    act = {"tanh": "tanh", "sigmoid": "sigmoid", "leaky_relu": "leaky_relu"}.get(cfg.activation, "relu")
    fns = {
        "xavier_uniform": nn.init.xavier_uniform_,
        "xavier_normal": nn.init.xavier_normal_,
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, a=0.01, nonlinearity=act),
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, a=0.01, nonlinearity=act),
        "normal": lambda w: nn.init.normal_(w, 0.0, cfg.init_std),
    }
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d):
            fns[cfg.init](module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


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
    if ":" in kind:
        model = build_custom(kind, cfg.args, info.input_shape, info.n_outputs)
        sample = example[:2] if example is not None else example_input(info)
        check_output(model, sample, info.task, info.n_outputs, kind)
    else:
        if kind in NEEDS_TASK and info.task != NEEDS_TASK[kind]:
            raise ConfigError(
                f"model.kind: {kind} is for a {NEEDS_TASK[kind]} task but the data is {info.task}; "
                f"use linear (or mlp)"
            )
        if kind not in MODELS:
            raise ConfigError(
                f"model.kind: unknown model '{kind}'{did_you_mean(kind, MODELS.names())}; choose one of: "
                f"{', '.join(MODELS.names())}, or your own as 'package.module:Class'"
            )
        model = MODELS.get(kind)(cfg, info)
    initialize(model, cfg)
    if target_scale is not None:
        model = WithRescale(model, Rescale(target_scale["mean"], target_scale["std"]))
    return model


def load_pretrained(model: nn.Module, path: str | Path, strict: bool = True) -> str:
    """Load `model.weights` into a built model (into the core of a rescaled regression model);
    returns a one-line note. See treino.models.weights."""
    core = model.core if isinstance(model, WithRescale) else model
    return W.load_into(core, path, strict)


def fit_input_range(model: nn.Module, x: Tensor) -> None:
    """Give a bounded MLP (model.clip_inputs, on tables) the range of the training inputs."""
    for module in model.modules():
        if isinstance(module, MLP) and module.bounded:
            module.fit_range(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
