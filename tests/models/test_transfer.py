"""Transfer learning: model.weights + model.reset + model.freeze from the CLI (the frozen backbone,
batch-norm statistics included, ends bit-identical to the source), train.unfreeze_at,
optimizer.backbone_lr_mult, and the same through treino.fit; every bad name's one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import treino
from treino import config as C
from treino.engine import freeze as F
from treino.errors import ConfigError
from treino.run.assemble import assemble

QUIET = ["--set", "log.plots=false", "--set", "log.progress=false", "-q"]


class Net(nn.Module):
    """A small CNN as the course writes it: conv, batch norm, flattened with view, a head."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.out = nn.Linear(4 * 8 * 8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        return self.out(x.view(x.size(0), -1))


def images(n: int = 96, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, 1, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()
    return x, y


def test_fit_with_a_frozen_backbone_keeps_it_and_its_statistics_bit_identical():
    net = Net()
    source = {k: v.clone() for k, v in net.state_dict().items()}
    history = treino.fit(
        net, images(), images(seed=1), epochs=3, verbose=0, freeze=["conv", "bn"], reset="out"
    )
    assert len(history.epochs) == 3
    for key in ("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                "bn.num_batches_tracked"):  # fmt: skip
        assert torch.equal(net.state_dict()[key], source[key]), key
    assert not torch.equal(net.out.weight, source["out.weight"])  # the head trained


def test_a_batch_norm_frozen_by_hand_keeps_its_statistics_too():
    net = Net()
    for p in [*net.conv.parameters(), *net.bn.parameters()]:
        p.requires_grad = False  # the course's way
    mean = net.bn.running_mean.clone()
    treino.fit(net, images(), epochs=2, verbose=0)
    assert torch.equal(net.bn.running_mean, mean)
    assert net.bn.training is False and net.training is True  # after the last epoch, as the loop left it


def test_unfreeze_at_trains_everything_from_that_epoch():
    net = Net()
    conv = net.conv.weight.detach().clone()
    seen = []

    class Watch(treino.engine.Callback):
        def on_epoch_end(self, state, logs):
            seen.append(torch.equal(net.conv.weight, conv))

    treino.fit(net, images(), epochs=3, verbose=0, freeze="conv", unfreeze_at=3, callbacks=[Watch()])
    assert seen == [True, True, False]  # frozen in epochs 1 and 2, training in 3
    assert all(p.requires_grad for p in net.parameters())


def test_freeze_and_reset_notes_and_the_summary_counts():
    net = Net()
    assert F.freeze(net, ["conv", "bn"]) == "model.freeze: conv, bn (48 of 819 parameters frozen)"
    assert F.reset(net, "out") == "model.reset: out (771 parameters re-initialized)"
    summary = treino.models.summarize(net, torch.zeros(2, 1, 8, 8))
    first = treino.models.format_summary(summary, "Net").splitlines()[0]
    assert first.startswith("model: Net, 819 parameters (771 trainable, 48 frozen), ")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda n: F.freeze(n, ["convs"]),
         "model.freeze: 'convs' is not a layer of Net; its layers are conv, bn, out (or a part, e.g. "
         "conv.weight); the model summary lists them"),
        (lambda n: F.reset(n, "head"),
         "model.reset: 'head' is not a layer of Net; its layers are conv, bn, out (or a part, e.g. "
         "conv.weight); the model summary lists them"),
    ],
)  # fmt: skip
def test_an_unknown_name_lists_the_layers(call, message):
    with pytest.raises(ConfigError) as err:
        call(Net())
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freeze": "head"}, "freeze: 'head' is not a layer of Net; its layers are conv, bn, out (or a part, "
                             "e.g. conv.weight); the model summary lists them"),
        ({"unfreeze_at": 2}, "unfreeze_at 2: no layer is frozen; name them with freeze=[...]"),
        ({"freeze": "conv", "unfreeze_at": 0}, "unfreeze_at 0: must be an epoch number of at least 1, or None"),
    ],
)  # fmt: skip
def test_fit_arguments_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        treino.fit(Net(), images(), epochs=1, verbose=0, **kwargs)
    assert str(err.value) == message


def test_backbone_lr_mult_makes_two_groups(tmp_path):
    cfg = C.load(None, ["data.source=digits", "model.kind=mlp", "model.reset=[out]", "optimizer.lr=0.01",
                        "optimizer.backbone_lr_mult=0.1", "model.freeze=[body]", "train.unfreeze_at=2"])  # fmt: skip
    parts = assemble(cfg)
    lrs = [g["lr"] for g in parts.optimizer.param_groups]
    assert lrs == [0.01, pytest.approx(0.001)]
    head = {id(p) for p in parts.model.out.parameters()}
    assert {id(p) for p in parts.optimizer.param_groups[0]["params"]} == head
    assert all(not p.requires_grad for p in parts.model.body.parameters())
    assert (
        "optimizer.backbone_lr_mult 0.1: every layer but out learns at 0.1 x the learning rate"
        in parts.info.notes
    )


def test_cli_fine_tune_new_classes_with_a_frozen_backbone(tmp_path, cli):
    """The issue's done-when: pretrain a CNN on digits, fine-tune it on digits 0-4 (a new 5-class
    head) with its backbone frozen; the backbone's weights and batch-norm statistics end
    bit-identical to the source's."""
    from sklearn.datasets import load_digits

    pre = cli(["train", "--data", "digits", "--set", "model.kind=cnn", "--set", "train.epochs=2",
               "--out", tmp_path / "pre", *QUIET])  # fmt: skip
    assert pre.exit_code == 0, pre.output
    digits = load_digits()
    keep = digits.target < 5
    np.savez(tmp_path / "d5.npz", x=digits.images[keep].astype("float32"), y=digits.target[keep])
    args = ["train", "--data", tmp_path / "d5.npz", "--set", "model.kind=cnn", "--set", "train.epochs=2",
            "--set", f"model.weights={tmp_path / 'pre'}", "--set", "model.freeze=[features, head]"]  # fmt: skip
    wrong = cli([*args, "--out", tmp_path / "wrong", *QUIET])
    assert wrong.exit_code == 2
    assert wrong.output.strip().splitlines()[-1] == (
        f"error: model.weights: {tmp_path / 'pre'} does not fit the model: shape differs: out.weight (10, 64) "
        f"in file vs (5, 64), out.bias (10,) in file vs (5,); re-initialize that layer with model.reset: [out], "
        f"or set model.weights_strict: false to load the 14 matching tensors"
    )
    tuned = cli([*args, "--set", "model.reset=out", "--out", tmp_path / "ft", *QUIET])
    assert tuned.exit_code == 0, tuned.output
    source = load_file(tmp_path / "pre" / "model" / "weights.safetensors")
    result = load_file(tmp_path / "ft" / "model" / "weights.safetensors")
    backbone = [k for k in source if not k.startswith("out.")]
    assert len(backbone) == 14 and any("running_var" in k for k in backbone)
    for key in backbone:
        assert torch.equal(source[key], result[key]), key
    assert result["out.weight"].shape == (5, 64)
    metrics = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    notes = metrics["data"]["notes"]
    assert f"model.weights: loaded 14 of 16 tensors from {tmp_path / 'pre'}; re-initialized out.weight, out.bias " \
           "(model.reset)" in notes  # fmt: skip
    assert "model.reset: out (325 parameters re-initialized)" in notes
    assert "model.freeze: features, head (35,360 of 35,685 parameters frozen)" in notes
    assert "(325 trainable, 35,360 frozen)" in metrics["model"]["summary"]
    assert metrics["test"]["accuracy"] > 0.5  # a new head on a kept backbone learns the new classes


def test_onecycle_keeps_the_backbone_ratio():
    from treino.engine import optimizers, schedules

    net = Net()
    opt = optimizers.build("sgd", F.groups(net, ["out"], 0.1), lr=0.1)
    schedules.build("onecycle", opt, 2, 5)
    peaks = [g["max_lr"] for g in opt.param_groups]
    assert peaks[0] == pytest.approx(1.0) and peaks[1] == pytest.approx(0.1)
