"""The model bundle is loaded safely: nothing is unpickled, a custom class is imported only when
trusted, and every damaged or foreign bundle is refused with a one-line error."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

import treino
from treino.errors import RunError


class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = {"data": {"source": "iris"}, "train": {"epochs": 1}, "log": {"plots": False, "progress": False}}
    return treino.train(cfg, out=tmp_path_factory.mktemp("bundle") / "run", quiet=True).dir


@pytest.fixture
def bundle(trained: Path, tmp_path: Path) -> Path:
    """A copy of the run's model/ folder to tamper with."""
    return Path(shutil.copytree(trained / "model", tmp_path / "model"))


def test_pickled_weights_are_refused_without_running_them(bundle: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (bundle / "weights.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(RunError) as caught:
        treino.load(bundle)
    assert str(caught.value) == (
        f"{bundle / 'weights.safetensors'}: is a pickle (torch.save) file, not safetensors; treino never "
        f"unpickles model files because that can run code; save the weights with safetensors.torch.save_file"
    )
    assert not marker.exists()


def test_torch_save_weights_are_refused(bundle: Path) -> None:
    weights = treino.load(bundle, quiet=True).model.state_dict()
    torch.save(weights, bundle / "weights.safetensors")
    with pytest.raises(RunError, match=r"is a pickle \(torch.save\) file, not safetensors"):
        treino.load(bundle)


def test_pickled_json_files_are_refused_without_running_them(bundle: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (bundle / "preprocessing.json").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(RunError) as caught:
        treino.load(bundle)
    assert str(caught.value) == f"{bundle / 'preprocessing.json'}: not valid JSON; the run folder is damaged"
    assert not marker.exists()


def test_another_bundle_format_is_refused(bundle: Path) -> None:
    meta = json.loads((bundle / "meta.json").read_text())
    (bundle / "meta.json").write_text(json.dumps({**meta, "format": 7, "treino": "9.0.0"}))
    with pytest.raises(RunError) as caught:
        treino.load(bundle)
    assert str(caught.value) == (
        f"{bundle}: bundle format 7 is not 1 (written by treino 9.0.0); load it with that treino version, "
        f"or train the model anew"
    )


def test_a_custom_model_class_needs_trust(bundle: Path, tmp_path: Path) -> None:
    """A config naming any importable callable would run it: only with trust_code=True."""
    marker = tmp_path / "pwned"
    config = json.loads((bundle / "config.json").read_text())
    config["model"] |= {"kind": "os:system", "args": {"command": f"touch {marker}"}}
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError) as caught:
        treino.load(bundle)
    assert str(caught.value) == (
        f"{bundle}: the model is the custom class 'os:system', and loading it runs that module's code; "
        f"if you trust this bundle, pass trust_code=True (CLI: --trust-code)"
    )
    assert not marker.exists()


def test_weights_of_another_architecture_are_refused(bundle: Path) -> None:
    config = json.loads((bundle / "config.json").read_text())
    config["model"]["hidden"] = [5]
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError) as caught:
        treino.load(bundle)
    message = str(caught.value)
    assert message.startswith(
        f"{bundle / 'weights.safetensors'}: does not fit the model built from config.json ("
    )
    assert message.endswith("the bundle's files are from different runs: train anew") and "\n" not in message


def test_a_folder_without_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(RunError) as caught:
        treino.load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: no model bundle (model/meta.json); give a treino run folder whose training finished an epoch"
    )
    with pytest.raises(RunError) as caught:
        treino.load(tmp_path / "absent")
    assert (
        str(caught.value)
        == f"{tmp_path / 'absent'}: no such run folder; give the folder `treino train` wrote"
    )


def test_loading_leaves_the_global_rng_alone(trained: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    treino.load(trained, quiet=True)
    assert torch.equal(torch.rand(3), expected)


def test_a_trusted_custom_model_loads_and_predicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "predict_trust_net.py").write_text(
        "from torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, input_shape, n_outputs):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(input_shape[0], n_outputs)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
    )
    monkeypatch.chdir(tmp_path)
    cfg = {"data": {"source": "iris"}, "model": {"kind": "predict_trust_net:Net"},
           "train": {"epochs": 1}, "log": {"plots": False, "progress": False}}  # fmt: skip
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    with pytest.raises(RunError, match="pass trust_code=True"):
        treino.load(run.dir)
    predictor = treino.load(run.dir, trust_code=True, quiet=True)
    frame = pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=predictor.columns)
    assert predictor.predict(frame)[0] in ("setosa", "versicolor", "virginica")
