"""The model families by name (`model.kind`) and how each is built from the model section and
the data's description. Add a family: its module in models/, one `@MODELS.register("name")`
builder here, and a test; the config checks the name when it is loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import nn

from treino.config import ModelConfig
from treino.errors import ConfigError
from treino.models.cnn import CNN
from treino.models.linear import Linear
from treino.models.mlp import MLP
from treino.models.rnn import CELLS, RNN
from treino.models.text import TfidfMLP, TokenBag
from treino.registry import Registry, did_you_mean

if TYPE_CHECKING:  # the description only: importing the treino.data package would load its readers
    from treino.data.info import DataInfo

Builder = Callable[[ModelConfig, "DataInfo"], nn.Module]
MODELS: Registry[Builder] = Registry("model", key="model.kind")
NEEDS_TASK = {"logistic": "binary", "softmax": "multiclass"}


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
    if len(info.input_shape) == 2:
        steps, features = info.input_shape
        raise ConfigError(
            f"model.kind: cnn needs images (C, H, W) but {info.source} gives sequences of {steps} steps x "
            f"{features} features; use rnn (or mlp)"
        )
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


@MODELS.register("rnn")
def _rnn(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    vocab = vocab_size(info)
    if not vocab and len(info.input_shape) != 2:
        raise ConfigError(f"model.kind: rnn {_not_a_sequence(info)}")
    if len(cfg.hidden) != 1 or cfg.hidden[0] < 1:
        raise ConfigError(
            f"model.hidden: rnn takes one state size, a positive number (got {cfg.hidden}); e.g. "
            f"model.hidden=64, and stack recurrent layers with model.layers"
        )
    CELLS.get(cfg.cell)  # a wrong name: the registry's line, with the closest name
    n_inputs = None if vocab else info.input_shape[1]
    return RNN(n_inputs, info.n_outputs, cfg.hidden[0], cfg.layers, cfg.cell, cfg.bidirectional,
               cfg.dropout, vocab, cfg.embed_dim)  # fmt: skip


def _not_a_sequence(info: DataInfo) -> str:
    """Why this data is no sequence for an RNN, and what to do (the end of a one-line error)."""
    if info.kind == "text":  # TF-IDF rows have no word order left
        return "reads words in order, but TF-IDF features have none; set data.text.mode: tokens"
    if len(info.input_shape) == 3:
        return f"needs sequences (T, F) but {info.source} gives images; use cnn"
    return (
        f"needs sequences (T, F) or token ids but {info.source} gives rows of {info.input_shape[0]} "
        f"features; use mlp, or give sequences (an .npz of x (N, T, F), data.series or data.text.mode: tokens)"
    )


def is_custom(kind: str) -> bool:
    """True for the user's own model, 'package.module:Class'."""
    return ":" in kind


def check_kind(kind: str) -> None:
    """Refuse a `model.kind` that is neither auto, a registered family nor 'package.module:Class'."""
    if kind == "auto" or kind in MODELS or is_custom(kind):
        return
    raise ConfigError(
        f"model.kind: unknown model '{kind}'{did_you_mean(kind, MODELS.names())}; choose one of: "
        f"{', '.join(MODELS.names())}, or your own as 'package.module:Class'"
    )
