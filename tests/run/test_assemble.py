"""run/assemble.py is the one wiring: `treino train` and `treino lr-find` build the same model."""

from __future__ import annotations

import torch

import treino
from treino.engine.callbacks import Callback
from treino.run import lrfind


class _FirstWeights(Callback):
    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def on_fit_start(self, state) -> None:
        self.state = {k: v.detach().clone() for k, v in state.model.state_dict().items()}


def test_lr_find_sweeps_the_model_train_trains(tmp_path, monkeypatch):
    """lr-find once skipped model.weights, the input range and augmentation: it swept another model."""
    source = treino.train(None, ["train.epochs=1", "train.threads=1"], out=tmp_path / "source", quiet=True)
    settings = [
        f"model.weights={source.dir}",  # pretrained weights, as a fine-tuning run starts
        "data.image.augment=true",
        "train.epochs=1",
        "train.threads=1",
    ]
    first = _FirstWeights()
    treino.train(None, settings, out=tmp_path / "train", quiet=True, callbacks=[first])

    swept: dict[str, torch.Tensor] = {}
    sweep = lrfind._sweep

    def record(model, *args, **kwargs):
        swept.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return sweep(model, *args, **kwargs)

    monkeypatch.setattr(lrfind, "_sweep", record)
    lrfind.lr_find(None, settings, out=tmp_path / "sweep", iterations=20, quiet=True)

    assert first.state.keys() == swept.keys()
    for name, value in first.state.items():
        assert value.shape == swept[name].shape, name
        torch.testing.assert_close(value, swept[name], msg=name)
    loaded = torch.load(source.dir / "checkpoints" / "best.pt", weights_only=False)["model"]
    weights = next(k for k in loaded if k.endswith("weight"))
    torch.testing.assert_close(swept[weights], loaded[weights])  # the pretrained weights, not a fresh init
