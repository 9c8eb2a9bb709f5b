"""Model families, built from `model.*` and the data description. The output layer follows
the task: 1 unit per regression target, 1 logit for binary, K logits for K classes."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from treino.config import ModelConfig
from treino.data.core import DataInfo
from treino.errors import ConfigError, ModelError
from treino.models.cnn import CNN
from treino.models.linear import Linear
from treino.models.mlp import MLP
from treino.registry import Registry

Builder = Callable[[ModelConfig, DataInfo], nn.Module]
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


@MODELS.register("linear")
@MODELS.register("logistic")
@MODELS.register("softmax")
def _linear(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    return Linear(info.input_shape, info.n_outputs)


@MODELS.register("mlp")
def _mlp(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    return MLP(
        info.input_shape, info.n_outputs, cfg.hidden, cfg.activation, cfg.dropout, bool(cfg.batch_norm)
    )


@MODELS.register("cnn")
def _cnn(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    if len(info.input_shape) != 3:
        raise ConfigError(
            f"model.kind: cnn needs images (C, H, W) but {info.source} gives rows of "
            f"{info.input_shape[0]} features; use mlp"
        )
    return CNN(info.input_shape, info.n_outputs, cfg.channels, cfg.kernel, cfg.pool,
               cfg.hidden, cfg.activation, cfg.dropout, cfg.batch_norm is not False)  # fmt: skip


def resolve_kind(cfg: ModelConfig, info: DataInfo) -> str:
    if cfg.kind != "auto":
        return cfg.kind
    return "cnn" if info.kind == "image" else "mlp"


def _custom(path: str, cfg: ModelConfig, info: DataInfo) -> nn.Module:
    module_name, _, class_name = path.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(
            f"model.kind: cannot import '{path}' ({exc}); give 'package.module:Class' "
            f"importable from the working directory"
        ) from None
    params = inspect.signature(cls).parameters
    extra = {k: v for k, v in (("input_shape", info.input_shape), ("n_outputs", info.n_outputs))
             if k in params and k not in cfg.args}  # fmt: skip
    try:
        return cls(**cfg.args, **extra)
    except TypeError as exc:
        raise ModelError(f"model.args: {class_name}({exc}); fix model.args") from None


def initialize(model: nn.Module, cfg: ModelConfig) -> None:
    """Apply `model.init` to every Linear/Conv weight; biases to zero (except 'default')."""
    if cfg.init == "default":
        return
    fns = {
        "xavier_uniform": nn.init.xavier_uniform_,
        "xavier_normal": nn.init.xavier_normal_,
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        "normal": lambda w: nn.init.normal_(w, 0.0, cfg.init_std),
    }
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d):
            fns[cfg.init](module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build(cfg: ModelConfig, info: DataInfo, target_scale: dict | None = None) -> nn.Module:
    """The model for this data; regression outputs are rescaled to the target's units."""
    kind = resolve_kind(cfg, info)
    if ":" in kind:
        model = _custom(kind, cfg, info)
    else:
        if kind in NEEDS_TASK and info.task != NEEDS_TASK[kind]:
            raise ConfigError(
                f"model.kind: {kind} is for a {NEEDS_TASK[kind]} task but the data is {info.task}; "
                f"use linear (or mlp)"
            )
        model = MODELS.get(kind)(cfg, info)
    initialize(model, cfg)
    if target_scale is not None:
        model = WithRescale(model, Rescale(target_scale["mean"], target_scale["std"]))
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
