"""Your own code where a name goes: `loss.name: package.module:Class` (with loss.args), a
regression loss on a classifier (allowed, with the note why cross-entropy is preferred), and
--trust-code to load such a run again."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

import treino
from treino.engine import losses as L
from treino.errors import ConfigError, RunError

QUIET = ["--set", "log.plots=false", "--set", "log.progress=false", "-q"]

LOSS_MODULE = """
import torch
from torch import nn


class Focal(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, outputs, targets):
        logp = torch.log_softmax(outputs, dim=-1).gather(1, targets.long().view(-1, 1)).squeeze(1)
        return (-(1 - logp.exp()) ** self.gamma * logp).mean()


def not_a_class(outputs, targets):
    return outputs.sum()
"""


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory holding mylosses.py, importable as the CLI would import it."""
    (tmp_path / "mylosses.py").write_text(textwrap.dedent(LOSS_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_own_loss_trains_and_the_run_loads_only_with_trust_code(here, cli):
    run = here / "run"
    result = cli(["train", "--data", "iris", "--set", "loss.name=mylosses:Focal", "--set", "loss.args={gamma: 1.5}",
                  "--set", "train.epochs=3", "--out", run, *QUIET])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] > 0.5
    with pytest.raises(RunError) as err:
        treino.load(run)
    assert str(err.value) == (
        f"{run / 'model'}: the run's loss.name is 'mylosses:Focal', your own code, which loading may run; if "
        f"you trust this bundle, pass trust_code=True (CLI: --trust-code)"
    )
    evaluated = cli(["evaluate", run, "--trust-code"])
    assert evaluated.exit_code == 0, evaluated.output


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss.name=mylosses:Focl"], "loss.name: module 'mylosses' has no 'Focl'; nn.Module classes there: Focal"),
        (["loss.name=nolosses:Focal"],
         "loss.name: cannot import 'nolosses:Focal' (ModuleNotFoundError: No module named 'nolosses'); give "
         "'package.module:Class' importable from the working directory"),
        (["loss.name=mylosses:not_a_class"],
         "loss.name: 'mylosses:not_a_class' is not an nn.Module class; define class X(nn.Module) with "
         "forward(outputs, targets) returning a scalar tensor"),
        (["loss.name=mylosses:Focal", "loss.args={alpha: 1}"],
         "loss.name: mylosses:Focal(**loss.args) failed (Focal.__init__() got an unexpected keyword argument "
         "'alpha'); fix loss.args"),
    ],
)  # fmt: skip
def test_own_loss_errors(here, overrides, message):
    with pytest.raises(ConfigError) as err:
        treino.train(data="iris", overrides=[*overrides, "train.epochs=1"], out=here / "r", quiet=True)
    assert str(err.value) == message


def test_mse_on_a_binary_task_trains_on_probabilities_with_a_note(tmp_path):
    run = treino.train(data="breast_cancer", model="logistic", overrides=["loss.name=mse", "train.epochs=3"],
                       out=tmp_path / "mse", quiet=True)  # fmt: skip
    notes = run.metrics["data"]["notes"]
    assert L.note("mse", "binary") in notes
    assert L.note("mse", "binary") == (
        "loss.name mse on a binary task: the mse of the predicted probabilities (sigmoid) against the 0/1 labels; "
        "bce is preferred: through the sigmoid, mse's gradient vanishes when a prediction is confidently wrong "
        "(it learns slowest where it is most wrong) and the loss is not convex in the weights"
    )
    assert run.metrics["test"]["accuracy"] > 0.8


def test_a_regression_loss_on_classes_compares_probabilities_with_one_hot_labels():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, 2])
    probs = torch.softmax(logits, -1)
    onehot = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    assert torch.allclose(L.build("mse", "multiclass")(logits, labels), ((probs - onehot) ** 2).mean())
    assert torch.allclose(L.build("l1", "multiclass")(logits, labels), (probs - onehot).abs().mean())
    z, y = torch.tensor([[4.0], [-4.0]]), torch.tensor([[0.0], [0.0]])
    assert torch.allclose(L.build("mse", "binary")(z, y), (torch.sigmoid(z) ** 2).mean())
    # the course's point: a confidently wrong sigmoid output gets almost no gradient from mse
    wrong = torch.tensor([[8.0]], requires_grad=True)
    L.build("mse", "binary")(wrong, torch.zeros(1, 1)).backward()
    mse_grad = wrong.grad.item()
    wrong.grad = None
    L.build("bce", "binary")(wrong, torch.zeros(1, 1)).backward()
    assert mse_grad < 0.01 < 0.99 < wrong.grad.item()


DATA_MODULE = """
import torch
from torch.utils.data import Dataset


class Blobs(Dataset):
    classes = ["red", "green", "blue"]

    def __init__(self, n=150, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.arange(n) % 3
        self.x = torch.randn(n, 2, generator=g) * 0.3 + torch.stack([self.y.float(), (self.y == 1).float()], 1) * 3

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class Squares(Dataset):
    def __init__(self, n=60):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = torch.zeros(1, 8, 8)
        r = 4 * (i % 2) + (i // 2) % 3
        x[0, r : r + 2, r : r + 2] = 1.0
        return x, i % 2


class Single(Blobs):
    def __getitem__(self, i):
        return self.x[i]


class Ragged(Blobs):
    def __getitem__(self, i):
        return self.x[i, : 1 + i % 2], 0
"""


@pytest.fixture
def data_here(tmp_path, monkeypatch):
    """A working directory holding mydata.py (Dataset classes)."""
    (tmp_path / "mydata.py").write_text(DATA_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_own_dataset_through_split_report_and_predict(data_here, cli):
    import mydata

    run = data_here / "blobs"
    result = cli(["train", "--data", "mydata:Blobs", "--set", "data.args={n: 120}", "--set", "train.epochs=20",
                  "--set", "log.progress=false", "-q", "--out", run])  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["source"] == "mydata:Blobs"
    assert metrics["data"]["classes"] == ["blue", "green", "red"]  # the class's own names
    assert sum(metrics["data"]["sizes"].values()) == 120  # data.args reached the class
    assert metrics["test"]["accuracy"] > 0.9
    assert (run / "report.html").is_file()
    predicted = cli(["predict", run, "mydata:Blobs", "--trust-code"])  # the class, with the run's data.args
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.splitlines()[0] == "row,prediction,prob_blue,prob_green,prob_red"
    assert len(predicted.output.strip().splitlines()) == 121
    refused = cli(["predict", run, "mydata:Blobs"])
    assert refused.output.strip() == (
        f"error: {run / 'model'}: the run's data.source is 'mydata:Blobs', your own code, which loading may run; "
        f"if you trust this bundle, pass trust_code=True (CLI: --trust-code)"
    )
    labels = treino.load(run, trust_code=True).predict(mydata.Blobs(30, seed=5))  # new items of the class
    assert (labels == np.array(["red", "green", "blue"] * 10)).mean() > 0.9


def test_own_image_dataset_trains_a_cnn(data_here):
    import mydata

    run = treino.train(data="mydata:Squares", overrides=["train.epochs=3", "log.plots=false"],
                       out=data_here / "sq", quiet=True)  # fmt: skip
    assert run.metrics["data"]["kind"] == "image" and run.metrics["model"]["kind"] == "cnn"
    assert list(treino.load(data_here / "sq", trust_code=True).predict(mydata.Squares(4))) == [
        "0",
        "1",
        "0",
        "1",
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("mydata:Blob", "data.source: module 'mydata' has no 'Blob'; Dataset classes there: Blobs, Ragged, Single, "
                        "Squares"),
        ("mydata:Dataset", "data.source: 'mydata:Dataset' is not a Dataset class; give a class with __len__ and "
                           "__getitem__ returning (input, target)"),
        ("nodata:Blobs", "data.source: cannot import 'nodata:Blobs' (ModuleNotFoundError: No module named "
                         "'nodata'); give 'package.module:Class' importable from the working directory"),
        ("mydata:Single", "data.source: mydata:Single[0] is a Tensor, not an (input, target) pair; return (x, y) "
                          "from __getitem__"),
        ("mydata:Ragged", "data.source: mydata:Ragged[1] has an input of shape (2,) but item 0 has (1,); give "
                          "inputs of one shape"),
    ],
)  # fmt: skip
def test_own_dataset_errors(data_here, source, message):
    with pytest.raises(treino.errors.DataError) as err:
        treino.train(data=source, overrides=["train.epochs=1"], out=data_here / "r", quiet=True)
    assert str(err.value) == message


def test_own_dataset_args_error(data_here):
    with pytest.raises(treino.errors.DataError) as err:
        treino.train(data="mydata:Blobs", overrides=["data.args={size: 3}"], out=data_here / "r", quiet=True)
    assert str(err.value) == (
        "data.source: mydata:Blobs(**data.args) failed (Blobs.__init__() got an unexpected keyword argument "
        "'size'); fix data.args"
    )


def test_losses_lesson_runs_its_three_losses(tmp_path):
    from treino.experiments import lessons

    result = lessons.run("losses", out=tmp_path / "losses", overrides=["train.epochs=2"], quiet=True)
    runs = sorted((tmp_path / "losses" / "runs").iterdir())
    assert [r.name for r in runs] == [
        "01-cross-entropy_bce-seed0", "02-MSE_on_the_probability-seed0", "03-L1_on_the_probability-seed0",
    ]  # fmt: skip
    notes = [json.loads((r / "metrics.json").read_text())["data"]["notes"] for r in runs]
    assert L.note("mse", "binary") in notes[1] and L.note("l1", "binary") in notes[2]
    assert not any("preferred" in n for n in notes[0])
    assert result is not None
