"""Model families: output shapes per task, parameter counts, init statistics, build errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from treino import models
from treino.config import ModelConfig
from treino.data.info import DataInfo
from treino.engine import losses as L
from treino.errors import ConfigError
from treino.models.cnn import CNN
from treino.models.linear import Linear
from treino.models.mlp import MLP
from treino.models.text import TfidfMLP, TokenBag


def info(task: str = "multiclass", shape: tuple[int, ...] = (20,), k: int = 3, **kw) -> DataInfo:
    """A data description without data: what build() reads."""
    classes = [str(i) for i in range(k)] if task != "regression" else []
    targets = kw.pop("targets", ["y"])
    kind = "image" if len(shape) == 3 else kw.pop("kind", "table")
    return DataInfo(task=task, kind=kind, input_shape=shape, classes=classes, targets=targets,
                    source="test", **kw)  # fmt: skip


def build(kind: str, data: DataInfo, **cfg) -> nn.Module:
    torch.manual_seed(0)
    return models.build(ModelConfig(kind=kind, **cfg), data)


def out_shape(model: nn.Module, data: DataInfo, batch: int = 5) -> tuple[int, ...]:
    model.eval()
    x = models.example_input(data, batch)
    return tuple(model(x).shape)


# --- output layer follows the task -------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "mlp", "text"])
@pytest.mark.parametrize(
    ("task", "k", "targets", "units"),
    [("binary", 2, ["y"], 1), ("multiclass", 4, ["y"], 4), ("regression", 0, ["y"], 1),
     ("regression", 0, ["a", "b", "c"], 3)],
)  # fmt: skip
def test_output_units_follow_the_task(kind, task, k, targets, units):
    data = info(task, (12,), k, targets=targets)
    assert out_shape(build(kind, data), data) == (5, units)


@pytest.mark.parametrize(("kind", "task", "k"), [("logistic", "binary", 2), ("softmax", "multiclass", 10)])
def test_logistic_and_softmax_are_linear(kind, task, k):
    model = build(kind, info(task, (64,), k))
    assert isinstance(model, Linear) and model.linear.out_features == (1 if task == "binary" else k)


def test_cnn_any_image_size_and_channels():
    for shape in [(1, 8, 8), (3, 13, 17), (3, 32, 32), (1, 1, 1)]:
        data = info("multiclass", shape, 5)
        assert out_shape(build("cnn", data), data) == (5, 5), shape


def test_cnn_flatten_head_stride_padding_and_dropout():
    data = info("multiclass", (3, 16, 16), 4)
    model = build("cnn", data, channels=[8, 16], kernel=3, stride=2, padding=1, head="flatten",
                  pool="avg", dropout=0.25, hidden=[])  # fmt: skip
    # 16 -conv s2-> 8 -pool-> 4 -conv s2-> 2 -pool-> 1: the head sees 16 * 1 * 1
    assert model.out.in_features == 16
    assert any(isinstance(m, nn.AvgPool2d) for m in model.modules())
    assert any(isinstance(m, nn.Dropout2d) for m in model.modules())
    assert out_shape(model, data) == (5, 4)
    unpooled = build("cnn", data, channels=[8], pool="none", head="flatten", hidden=[])
    assert unpooled.out.in_features == 8 * 16 * 16  # padding "same" keeps 16x16


def test_mlp_layers_activation_dropout_batch_norm():
    model = build("mlp", info(), hidden=[32, 16], activation="gelu", dropout=0.5, batch_norm=True)
    types = [type(m).__name__ for m in model.body]
    assert types == ["Linear", "BatchNorm1d", "GELU", "Dropout"] * 2
    assert isinstance(build("mlp", info(), batch_norm=None).body[1], nn.ReLU)  # null: off for mlp
    assert isinstance(build("cnn", info(shape=(1, 8, 8))).features[1], nn.BatchNorm2d)  # on for cnn


def test_auto_kind_follows_the_data():
    assert models.resolve_kind(ModelConfig(), info(shape=(1, 8, 8))) == "cnn"
    assert models.resolve_kind(ModelConfig(), info(kind="text", text_mode="tfidf")) == "text"
    assert models.resolve_kind(ModelConfig(), info()) == "mlp"


def test_text_tokens_use_an_embedding_bag_and_ignore_padding():
    data = info("multiclass", (6,), 3, kind="text", text_mode="tokens", vocab_size=50)
    model = build("text", data, embed_dim=8, hidden=[16])
    assert isinstance(model, TokenBag) and model.embed.num_embeddings == 50
    model.eval()
    ids = torch.tensor([[4, 7, 9, 0, 0, 0], [4, 7, 9, 3, 0, 0]])
    short = torch.tensor([[4, 7, 9]])
    assert torch.allclose(model(ids)[:1], model(short))  # padding is not in the mean
    assert out_shape(model, data) == (5, 3)


def test_text_tfidf_takes_sparse_batches():
    torch.manual_seed(0)
    model = TfidfMLP(40, 2, hidden=[8]).eval()
    x = torch.rand(6, 40) * (torch.rand(6, 40) > 0.8)
    assert torch.allclose(model(x), model(x.to_sparse()), atol=1e-6)
    assert isinstance(build("text", info("binary", (40,), 2, kind="text", text_mode="tfidf")), TfidfMLP)


# --- parameter counts --------------------------------------------------------------------


def count(model: nn.Module) -> int:
    return models.count_parameters(model)


def test_parameter_counts():
    assert count(Linear((64,), 10)) == 64 * 10 + 10
    assert count(MLP((64,), 10, [32])) == (64 * 32 + 32) + (32 * 10 + 10)
    assert count(MLP((4,), 3, [8], batch_norm=True)) == (4 * 8 + 8) + 2 * 8 + (8 * 3 + 3)
    # conv without bias under batch norm: 1*32*9, bn 2*32, 32*64*9, bn 2*64, head 64*64+64, out 64*10+10
    assert count(CNN((1, 8, 8), 10, [32, 64], hidden=[64], head="global")) == 23_722
    # head auto: the 2x2 map after two poolings is flattened, 64*2*2 inputs to the head
    assert count(CNN((1, 8, 8), 10, [32, 64], hidden=[64])) == 23_722 + (64 * 4 - 64) * 64
    assert count(CNN((3, 8, 8), 2, [4], batch_norm=False, head="global")) == (3 * 4 * 9 + 4) + (4 * 2 + 2)
    # head auto on a big image: 64x64 -> 32x32 after one pooling, averaged down to 8x8
    big = CNN((1, 64, 64), 2, [4], hidden=[])
    assert count(big) == (1 * 4 * 9) + 2 * 4 + (4 * 8 * 8 * 2 + 2)
    assert big(torch.zeros(2, 1, 64, 64)).shape == (2, 2)
    assert count(TfidfMLP(50, 3, [16])) == (50 * 16 + 16) + (16 * 3 + 3)
    assert count(TokenBag(100, 4, 8, [16])) == 100 * 8 + (8 * 16 + 16) + (16 * 4 + 4)


# --- initialization ----------------------------------------------------------------------


def weight_of(init: str, fan_in: int = 400, fan_out: int = 600, **cfg) -> nn.Linear:
    model = build("linear", info("regression", (fan_in,), targets=[f"t{i}" for i in range(fan_out)]),
                  init=init, **cfg)  # fmt: skip
    return model.linear


@pytest.mark.parametrize(
    ("init", "expected"),
    [("xavier_uniform", math.sqrt(2 / (400 + 600))), ("xavier_normal", math.sqrt(2 / (400 + 600))),
     ("kaiming_uniform", math.sqrt(2 / 400)), ("kaiming_normal", math.sqrt(2 / 400))],
)  # fmt: skip
def test_init_statistics(init, expected):
    layer = weight_of(init)
    assert layer.weight.std().item() == pytest.approx(expected, rel=0.03)
    assert layer.weight.mean().item() == pytest.approx(0.0, abs=0.01 * expected * 10)
    assert torch.all(layer.bias == 0)


def test_kaiming_gain_follows_the_activation():
    tanh = weight_of("kaiming_normal", activation="tanh").weight.std().item()
    sigmoid = weight_of("kaiming_uniform", activation="sigmoid").weight.std().item()
    assert tanh == pytest.approx(5 / 3 / math.sqrt(400), rel=0.03)
    assert sigmoid == pytest.approx(1 / math.sqrt(400), rel=0.03)


def test_init_uniform_bounds_and_normal_std():
    bound = math.sqrt(6 / (400 + 600))
    assert weight_of("xavier_uniform").weight.abs().max().item() <= bound
    assert weight_of("normal", init_std=0.05).weight.std().item() == pytest.approx(0.05, rel=0.03)


def test_default_init_keeps_pytorch_and_biases():
    layer = weight_of("default")
    bound = 1 / math.sqrt(400)  # PyTorch's Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert layer.weight.abs().max().item() <= bound
    assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert layer.bias.abs().sum() > 0


def test_init_reaches_conv_layers_and_is_seeded():
    a = build("cnn", info(shape=(3, 8, 8)), init="kaiming_normal", batch_norm=False)
    b = build("cnn", info(shape=(3, 8, 8)), init="kaiming_normal", batch_norm=False)
    conv = a.features[0]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (3 * 9)), rel=0.15)
    assert torch.all(conv.bias == 0)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


# --- errors ------------------------------------------------------------------------------


def error_of(fn) -> str:
    with pytest.raises(ConfigError) as exc:
        fn()
    return str(exc.value)


def test_error_logistic_on_multiclass():
    assert error_of(lambda: build("logistic", info("multiclass", k=3))) == (
        "model.kind: logistic is for a binary task but the data is multiclass; use linear (or mlp)"
    )
    assert error_of(lambda: build("softmax", info("regression"))) == (
        "model.kind: softmax is for a multiclass task but the data is regression; use linear (or mlp)"
    )


def test_error_cnn_on_a_table_and_text_on_images():
    assert error_of(lambda: build("cnn", info(shape=(20,)))) == (
        "model.kind: cnn needs images (C, H, W) but test gives rows of 20 features; use mlp"
    )
    assert error_of(lambda: build("text", info(shape=(1, 8, 8)))) == (
        "model.kind: text needs TF-IDF features or token ids but test gives images 1x8x8; use cnn"
    )


def test_error_image_shrinks_to_nothing():
    assert error_of(lambda: build("cnn", info(shape=(1, 8, 8)), channels=[8, 8], kernel=5, padding=0)) == (
        "model.channels: the 8x8 image shrinks to nothing in conv block 2 (kernel 5, stride 1, "
        "padding 0); use fewer blocks, a smaller stride or more padding"
    )
    assert error_of(lambda: build("cnn", info(shape=(1, 8, 8)), padding=-1)) == (
        "model.padding: must be 0 or more, or 'same' (got -1)"
    )


def test_error_unknown_kind_names_the_closest():
    assert error_of(lambda: build("cnnn", info())) == (
        "model.kind: unknown model 'cnnn' (did you mean 'cnn'?); "
        "choose one of: linear, logistic, softmax, mlp, cnn, text, rnn, or your own as 'package.module:Class'"
    )


def test_error_loss_that_conflicts_with_the_task():
    assert error_of(lambda: L.build("huber", "multiclass")) == (
        "loss.name: 'huber' is a regression loss but the data is a multiclass task; "
        "use loss.name: cross_entropy (or auto), or set data.task"
    )
    assert isinstance(L.build("auto", "binary"), nn.BCEWithLogitsLoss)
    assert isinstance(L.build("auto", "multiclass"), nn.CrossEntropyLoss)
    assert isinstance(L.build("auto", "regression"), nn.MSELoss)
