"""The `transfer` lesson's pieces: a Dataset of some classes of a built-in image set (the
lesson's data, through `data.source: treino.experiments.transfer:Part`), and the pretrained CNN,
trained once on other classes and cached under the user's cache folder.

Fashion-MNIST (Debian's dataset-fashion-mnist) when installed, else the 5,000 MNIST digits of
mnist5k: the CNN learns classes 0-4 there, and the lesson's small labelled set is of classes 5-9,
which the pretrained network has never seen."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

# images of the first classes the CNN pretrains on: all of mnist5k's 0-4, 20,000 of Fashion-MNIST's
# (with 5,000 the fine-tuned CNN was not ahead of scratch on Fashion-MNIST: 0.885 vs 0.883)
PRETRAIN_ROWS = 20000
PRETRAIN_EPOCHS = 8
MODEL = {"kind": "cnn", "channels": [16, 32], "hidden": [64]}  # the pretrained and the new share it
SOURCE = "treino.experiments.transfer:Part"
VERSION = 2  # bump when the pretraining changes: a new cache entry


def base() -> str:
    """fashion-mnist when its files are installed, else mnist5k."""
    from treino.data.builtin import FASHION_MNIST

    return "fashion-mnist" if FASHION_MNIST.is_dir() and any(FASHION_MNIST.iterdir()) else "mnist5k"


class Part(Dataset):
    """The images of `classes` (indices) of a built-in image dataset, shuffled by `seed`, at
    most `rows` of them; labels renumbered 0.. in the order of `classes`.

    Example:
        >>> Part("mnist5k", [5, 6, 7, 8, 9], rows=500)[0][0].shape
        torch.Size([1, 28, 28])
    """

    def __init__(self, base: str, classes: list[int], rows: int | None = None, seed: int = 0) -> None:
        from treino.data.builtin import DATASETS

        images = DATASETS.get(base).load(None, None, seed)
        keep = np.flatnonzero(np.isin(images.y, classes))
        keep = keep[np.random.default_rng(seed).permutation(len(keep))][:rows]
        index = {c: i for i, c in enumerate(classes)}
        self.x = torch.from_numpy(np.ascontiguousarray(images.x[keep]))
        self.y = torch.tensor([index[int(c)] for c in images.y[keep]])
        self.classes = [images.classes[c] for c in classes]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.y[i])


def cache_dir() -> Path:
    """$TREINO_CACHE, else $XDG_CACHE_HOME/treino, else ~/.cache/treino."""
    if os.environ.get("TREINO_CACHE"):
        return Path(os.environ["TREINO_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "treino"


def pretrained(quiet: bool = False) -> Path:
    """The run folder of the CNN pretrained on classes 0-4, trained now if not cached."""
    from treino.run.train import train

    name = base()
    folder = cache_dir() / "lessons" / f"transfer-{name}-v{VERSION}"
    if (folder / "model" / "weights.safetensors").is_file():
        if not quiet:
            print(f"transfer: the pretrained CNN from the cache, {folder}")
        return folder
    if folder.exists():  # a pretraining that did not finish
        shutil.rmtree(folder)
    if not quiet:
        print(f"transfer: pretraining a CNN on {name} classes 0-4 once (cached in {folder})")
    train({"name": "transfer-pretrain", "data": {"source": SOURCE, "args": {"base": name, "classes": [0, 1, 2, 3, 4],
           "rows": PRETRAIN_ROWS}}, "model": MODEL, "train": {"epochs": PRETRAIN_EPOCHS},
           "log": {"plots": False}}, out=folder, quiet=True)  # fmt: skip
    return folder


def prepare(lesson: Any, quiet: bool = False) -> Any:
    """The lesson with its data and the cached source filled in (pretraining it if needed)."""
    source = pretrained(quiet)
    config = dict(lesson.config)
    config["data"] = {**config["data"], "args": {**config["data"]["args"], "base": base()}}
    variants = [(label, {k: str(source) if v == "{pretrained}" else v for k, v in settings.items()})
                for label, settings in lesson.variants]  # fmt: skip
    return replace(lesson, config=config, variants=variants)
