"""QA: custom models and model.weights that users get wrong, each a one-line error."""

from __future__ import annotations

import sys
import textwrap

import pytest
from torch import nn

from treino import models
from treino.config import ModelConfig
from treino.data.info import DataInfo
from treino.errors import TreinoError

NETS = """
import torch
from torch import nn

class NoParams(nn.Module):
    def forward(self, x):
        return x[:, :3]

class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 3).requires_grad_(False)
    def forward(self, x):
        return self.out(x)

width = 3
"""


@pytest.fixture
def nets(tmp_path, monkeypatch):
    (tmp_path / "qanets.py").write_text(textwrap.dedent(NETS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "qanets", raising=False)


def table() -> DataInfo:
    return DataInfo(task="multiclass", kind="table", input_shape=(4,), classes=["a", "b", "c"], source="t")


def message(fn) -> str:
    with pytest.raises(TreinoError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("name", ["NoParams", "Frozen"])
def test_a_custom_model_with_nothing_to_train_is_refused(nets, name):
    # it used to fail inside the optimizer (empty parameter list) or in backward, with a traceback
    assert message(lambda: models.build(ModelConfig(kind=f"qanets:{name}"), table())) == (
        f"model.kind: qanets:{name} has no trainable parameters (none, or all with "
        f"requires_grad=False); give it layers with weights to learn"
    )


def test_a_custom_name_that_is_not_callable_says_so(nets):
    # it used to blame model.args: "'int' object is not callable; fix model.args for width"
    assert message(lambda: models.build(ModelConfig(kind="qanets:width"), table())) == (
        "model.kind: 'qanets:width' is of type int, not an nn.Module class or a function returning "
        "one; point it at one"
    )


def test_weights_from_a_file_that_is_no_weights_at_all(tmp_path):
    # a CSV given as model.weights: torch.load's weights-only unpickler raised IndexError
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    net = models.build(ModelConfig(kind="mlp", hidden=[8]), table())
    assert message(lambda: models.load_pretrained(net, path)) == (
        f"model.weights: {path} is neither safetensors nor a weights-only state dict "
        f"(IndexError: pop from empty list); save it with torch.save(model.state_dict(), path) or "
        f"safetensors"
    )
    assert isinstance(net, nn.Module)
