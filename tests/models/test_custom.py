"""Your own nn.Module (`model.kind: module:Class`) and starting from saved weights."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from treino import models
from treino.config import ModelConfig
from treino.data.info import DataInfo
from treino.errors import ModelError, TreinoError

NETS = '''
from torch import nn

class Net(nn.Module):
    """Takes input_shape and n_outputs from treino, width from model.args."""
    def __init__(self, input_shape, n_outputs, width=8):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], width), nn.ReLU())
        self.out = nn.Linear(width, n_outputs)
    def forward(self, x):
        return self.out(self.body(x))

class Fixed(nn.Module):
    """Always 3 outputs, whatever the task."""
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 3)
    def forward(self, x):
        return self.out(x)

class Pair(Fixed):
    def forward(self, x):
        return self.out(x), x

def make(width=4):
    return nn.Sequential(nn.Linear(4, width), nn.Linear(width, 2))

def not_a_model():
    return [1, 2]

class Broken(nn.Module):
    def __init__(self, size):
        super().__init__()
        raise ValueError("size must be even")
'''


@pytest.fixture
def nets(tmp_path, monkeypatch):
    """A user's module `mynets` in the working directory, as treino would find it."""
    (tmp_path / "mynets.py").write_text(textwrap.dedent(NETS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "mynets", raising=False)
    yield tmp_path
    sys.modules.pop("mynets", None)


def table(task: str = "multiclass", k: int = 3, n_features: int = 4) -> DataInfo:
    classes = [str(i) for i in range(k)] if task != "regression" else []
    return DataInfo(task=task, kind="table", input_shape=(n_features,), classes=classes, targets=["y"],
                    source="test")  # fmt: skip


def build(kind: str, data: DataInfo, **cfg) -> nn.Module:
    torch.manual_seed(0)
    return models.build(ModelConfig(kind=kind, **cfg), data)


def message(fn) -> str:
    with pytest.raises(ModelError) as exc:
        fn()
    return str(exc.value)


# --- custom models -----------------------------------------------------------------------


def test_custom_class_gets_shape_and_args(nets):
    model = build("mynets:Net", table("multiclass", 5, 6), args={"width": 16})
    assert model.out.out_features == 5 and model.body[1].in_features == 6 and model.out.in_features == 16
    assert build("mynets:make", table("multiclass", 2), args={"width": 3})[0].out_features == 3


def test_custom_model_trains_with_fit(nets):
    import treino

    model = build("mynets:Net", table("binary", 2))
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).float()
    history = treino.fit(model, (x, y), loss="bce", optimizer="adam", epochs=3, batch_size=16)
    assert len(history.epochs) == 3


def test_custom_wrong_output_shape(nets):
    assert message(lambda: build("mynets:Fixed", table("binary", 2))) == (
        "model.kind: mynets:Fixed returns shape (2, 3) for a batch of 2, but this binary task needs "
        "(2, 1) (1 logit per sample); make its last layer output 1"
    )
    assert message(lambda: build("mynets:Fixed", table("multiclass", 10))) == (
        "model.kind: mynets:Fixed returns shape (2, 3) for a batch of 2, but this multiclass task "
        "needs (2, 10) (10 logits per sample, one per class); make its last layer output 10"
    )
    assert build("mynets:Fixed", table("multiclass", 3)).out.out_features == 3


def test_custom_forward_fails_or_returns_a_tuple(nets):
    assert message(lambda: build("mynets:Fixed", table("multiclass", 3, n_features=7))) == (
        "model.kind: mynets:Fixed fails on a batch of 2 inputs of shape 7 (RuntimeError: mat1 and mat2 "
        "shapes cannot be multiplied (2x7 and 4x3)); make its first layer take 7 per sample"
    )
    assert message(lambda: build("mynets:Pair", table("multiclass", 3))) == (
        "model.kind: mynets:Pair returns a tuple, not a tensor; forward must return the logits or "
        "values as one tensor (2, 3)"
    )


def test_custom_import_errors(nets):
    assert message(lambda: build("nosuch.mod:Net", table())) == (
        "model.kind: cannot import 'nosuch.mod:Net' (ModuleNotFoundError: No module named 'nosuch'); "
        "give 'package.module:Class' importable from the working directory"
    )
    assert message(lambda: build("mynets:Nett", table())) == (
        "model.kind: module 'mynets' has no 'Nett'; nn.Module classes there: Broken, Fixed, Net, Pair"
    )
    assert message(lambda: build("mynets:", table())) == (
        "model.kind: 'mynets:' is not 'package.module:Class'; e.g. mynets:SmallNet"
    )


def test_custom_constructor_errors(nets):
    assert message(lambda: build("mynets:Net", table(), args={"widht": 3})) == (
        "model.args: Net.__init__() got an unexpected keyword argument 'widht'; fix model.args for Net"
    )
    assert message(lambda: build("mynets:Broken", table(), args={"size": 3})) == (
        "model.kind: Broken(**model.args) failed: ValueError: size must be even"
    )
    assert message(lambda: build("mynets:not_a_model", table())) == (
        "model.kind: 'mynets:not_a_model' gave a list, not a torch nn.Module; point it at an "
        "nn.Module class or a function that returns one"
    )


# --- model.weights -----------------------------------------------------------------------


def mlp(k: int = 3, hidden: int = 8) -> nn.Module:
    return build("mlp", table("multiclass", k), hidden=[hidden])


def test_weights_from_safetensors_torch_state_dict_and_run_folder(tmp_path):
    source = mlp()
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "ddp.pt")
    torch.save({"format": 1, "epoch": 3, "model": state}, tmp_path / "last.pt")
    (tmp_path / "run" / "model").mkdir(parents=True)
    save_file(state, str(tmp_path / "run" / "model" / "weights.safetensors"))
    for path in ("w.safetensors", "ddp.pt", "last.pt", "run"):
        torch.manual_seed(1)
        target = models.build(ModelConfig(kind="mlp", hidden=[8]), table())
        note = models.load_pretrained(target, tmp_path / path)
        assert note == f"model.weights: loaded 4 of 4 tensors from {tmp_path / path}"
        for key, value in state.items():
            assert torch.equal(target.state_dict()[key], value), (path, key)


def test_weights_strict_lists_the_mismatch(tmp_path):
    save_file(dict(mlp(k=3).state_dict()), str(tmp_path / "w.safetensors"))
    path = tmp_path / "w.safetensors"
    target = mlp(k=5)
    assert message(lambda: models.load_pretrained(target, path)) == (
        f"model.weights: {path} does not fit the model: shape differs: out.weight (3, 8) in file vs "
        f"(5, 8), out.bias (3,) in file vs (5,); re-initialize that layer with model.reset: [out], or set "
        f"model.weights_strict: false to load the 2 matching tensors"
    )
    before = target.out.weight.clone()
    note = models.load_pretrained(target, path, strict=False)
    assert note == f"model.weights: loaded 2 of 4 tensors from {path}; kept the initial out.weight, out.bias"
    assert torch.equal(target.out.weight, before)
    assert torch.equal(target.body[0].weight, load_back(path)["body.0.weight"])


def load_back(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_weights_missing_and_unexpected_keys(tmp_path):
    state = dict(mlp().state_dict())
    state["extra.weight"] = torch.zeros(2)
    del state["out.bias"]
    torch.save(state, tmp_path / "w.pt")
    assert message(lambda: models.load_pretrained(mlp(), tmp_path / "w.pt")) == (
        f"model.weights: {tmp_path / 'w.pt'} does not fit the model: missing out.bias; unexpected "
        f"extra.weight; set model.weights_strict: false to load the 3 matching tensors"
    )
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    assert message(lambda: models.load_pretrained(mlp(), tmp_path / "other.pt", strict=False)) == (
        f"model.weights: {tmp_path / 'other.pt'} does not fit the model: missing body.0.weight, "
        f"body.0.bias, out.weight, out.bias; unexpected a; no tensor matches: are these weights of "
        f"this model?"
    )


def test_weights_bad_files(tmp_path):
    assert message(lambda: models.load_pretrained(mlp(), tmp_path / "none.pt")) == (
        f"model.weights: {tmp_path / 'none.pt'} not found; give a .safetensors file, a state dict or "
        f"a run folder"
    )
    torch.save({"layer": nn.Linear(2, 2)}, tmp_path / "pickled.pt")  # a whole module: needs unpickling
    text = message(lambda: models.load_pretrained(mlp(), tmp_path / "pickled.pt"))
    assert text.startswith(
        f"model.weights: {tmp_path / 'pickled.pt'} is neither safetensors nor a weights-only"
    )
    assert text.endswith("save it with torch.save(model.state_dict(), path) or safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    assert message(lambda: models.load_pretrained(mlp(), tmp_path / "bad.safetensors")).startswith(
        f"model.weights: {tmp_path / 'bad.safetensors'} is not a valid safetensors file ("
    )


def test_weights_into_a_rescaled_regression_model(tmp_path):
    data = DataInfo(task="regression", kind="table", input_shape=(4,), targets=["y"], source="test")
    cfg = ModelConfig(kind="mlp", hidden=[8])
    first = models.build(cfg, data, {"mean": [10.0], "std": [2.0]})
    save_file(dict(first.state_dict()), str(tmp_path / "w.safetensors"))
    second = models.build(cfg, data, {"mean": [0.0], "std": [1.0]})
    note = models.load_pretrained(second, tmp_path / "w.safetensors")
    assert note.startswith("model.weights: loaded 4 of 4 tensors")
    assert torch.equal(second.core.out.weight, first.core.out.weight)
    assert second.rescale.mean.item() == 0.0  # the new data's target statistics stay


def test_custom_model_from_the_cli(cli, nets):
    common = ["train", "--data", "iris", "--set", "train.epochs=2", "--set", "log.plots=false"]
    ok = cli(
        [*common, "--set", "model.kind=mynets:Net", "--set", "model.args={width: 12}", "--out", nets / "a"]
    )
    assert ok.exit_code == 0, ok.output
    assert "model: mynets:Net, 99 parameters" in ok.output  # (4*12 + 12) + (12*3 + 3)
    wrong = cli(
        [*common, "--set", "model.kind=mynets:Net", "--set", "model.args={n_outputs: 2}", "--out", nets / "c"]
    )
    assert wrong.exit_code == 2
    assert wrong.output.strip().splitlines()[-1] == (
        "error: model.kind: mynets:Net returns shape (2, 2) for a batch of 2, but this multiclass task "
        "needs (2, 3) (3 logits per sample, one per class); make its last layer output 3"
    )


UNTRAINABLE_NETS = """
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
def untrainable_nets(tmp_path, monkeypatch):
    """A user's module `qanets` whose models have nothing to train, or is no model at all."""
    (tmp_path / "qanets.py").write_text(textwrap.dedent(UNTRAINABLE_NETS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "qanets", raising=False)


def three_classes() -> DataInfo:
    """A 4-column table with classes a, b, c."""
    return DataInfo(task="multiclass", kind="table", input_shape=(4,), classes=["a", "b", "c"], source="t")


def refusal(fn) -> str:
    """The message of the TreinoError that fn raises."""
    with pytest.raises(TreinoError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("name", ["NoParams", "Frozen"])
def test_a_custom_model_with_nothing_to_train_is_refused(untrainable_nets, name):
    """A custom model with no trainable parameters failed in the optimizer or backward with a traceback."""
    assert refusal(lambda: models.build(ModelConfig(kind=f"qanets:{name}"), three_classes())) == (
        f"model.kind: qanets:{name} has no trainable parameters (none, or all with "
        f"requires_grad=False); give it layers with weights to learn"
    )


def test_a_custom_name_that_is_not_callable_says_so(untrainable_nets):
    """model.kind naming a non-callable blamed model.args ('int' object is not callable)."""
    assert refusal(lambda: models.build(ModelConfig(kind="qanets:width"), three_classes())) == (
        "model.kind: 'qanets:width' is of type int, not an nn.Module class or a function returning "
        "one; point it at one"
    )


def test_weights_from_a_file_that_is_no_weights_at_all(tmp_path):
    """A CSV given as model.weights raised IndexError from torch.load's weights-only unpickler."""
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    net = models.build(ModelConfig(kind="mlp", hidden=[8]), three_classes())
    assert refusal(lambda: models.load_pretrained(net, path)) == (
        f"model.weights: {path} is neither safetensors nor a weights-only state dict "
        f"(IndexError: pop from empty list); save it with torch.save(model.state_dict(), path) or "
        f"safetensors"
    )
    assert isinstance(net, nn.Module)


OWN_LSTM = '''
import torch
from torch import nn

class Words(nn.Module):
    """An LSTM of one's own: no number hard-coded, all from the data's description."""
    def __init__(self, vocab_size, n_classes, classes, task, info, width=16):
        super().__init__()
        assert len(classes) == n_classes and task == info.task
        self.embed = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, width, batch_first=True)
        self.out = nn.Linear(width, 1 if n_classes == 2 else n_classes)
    def forward(self, ids):
        _, (h, _) = self.lstm(self.embed(ids))
        return self.out(h[-1])

class Steps(nn.Module):
    def __init__(self, n_features, n_outputs, window=None):
        super().__init__()
        self.window = window
        self.gru = nn.GRU(n_features, 8, batch_first=True)
        self.out = nn.Linear(8, n_outputs)
    def forward(self, x):
        return self.out(self.gru(x)[1][-1])
'''


@pytest.fixture
def own(tmp_path, monkeypatch):
    (tmp_path / "ownnets.py").write_text(textwrap.dedent(OWN_LSTM))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "ownnets", raising=False)
    yield
    sys.modules.pop("ownnets", None)


def test_a_custom_lstm_gets_the_vocabulary_size_and_classes_from_the_data(own, cli, tmp_path):
    from text_data import reviews

    reviews(80).to_csv(tmp_path / "reviews.csv", index=False)
    result = cli(["train", "--data", "reviews.csv", "--target", "label", "--set", "data.text.mode=tokens",
                  "--set", "data.text.min_df=1", "--set", "model.kind=ownnets:Words", "--set", "model.args={width: 12}",
                  "--set", "train.epochs=1", "--set", "log.plots=false", "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    info = DataInfo(task="binary", kind="text", input_shape=(200,), classes=["neg", "pos"], text_mode="tokens",
                    vocab_size=37, source="reviews.csv")  # fmt: skip
    net = models.build(ModelConfig(kind="ownnets:Words"), info)
    assert net.embed.num_embeddings == 37 and net.lstm.hidden_size == 16


def test_a_custom_model_gets_features_per_step_and_the_window(own):
    series = DataInfo(task="regression", kind="series", input_shape=(24, 3), targets=["y"], window=24, horizon=4,
                      source="s.csv")  # fmt: skip
    net = models.build(ModelConfig(kind="ownnets:Steps"), series)
    assert net.gru.input_size == 3 and net.window == 24 and net.out.out_features == 4


def test_a_custom_model_asking_for_what_the_data_lacks_is_one_line(own):
    table = DataInfo(task="binary", kind="table", input_shape=(5,), classes=["a", "b"], source="t.csv")
    with pytest.raises(ModelError) as err:
        models.build(ModelConfig(kind="ownnets:Words"), table)
    assert str(err.value) == (
        "model.kind: Words takes vocab_size, but t.csv has no token ids (set data.text.mode: tokens); "
        "give vocab_size in model.args or a default in the class"
    )
