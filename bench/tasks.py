"""The benchmark's workloads: data, model shape, batch size and epochs, the same for every runner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class Task:
    """One workload. x/y are float32/int64 tensors; the test split only checks equal work."""

    name: str
    x: torch.Tensor  # (N, F) or (N, C, H, W)
    y: torch.Tensor  # (N,) class ids
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: int
    kind: str  # "mlp" or "cnn"
    hidden: tuple[int, ...]  # MLP hidden widths, or CNN channels
    batch_size: int
    epochs: int
    lr: float = 1e-3  # Adam everywhere

    @property
    def steps(self) -> int:
        return self.epochs * -(-len(self.x) // self.batch_size)

    def module(self) -> nn.Module:
        """A fresh torch model, seeded: every torch runner starts from the same weights."""
        torch.manual_seed(0)
        if self.kind == "cnn":
            return cnn(self.x.shape[1], self.hidden, self.classes)
        return mlp(int(np.prod(self.x.shape[1:])), self.hidden, self.classes)


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def cnn(c_in: int, channels: tuple[int, ...], n_out: int) -> nn.Sequential:
    """conv 3x3 -> batch norm -> ReLU -> max pool 2, per block; global average pool; linear."""
    layers: list[nn.Module] = []
    for c_out in channels:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                   nn.MaxPool2d(2)]  # fmt: skip
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_out))


def _table(rows: int, features: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard-normal features; labels from a random teacher MLP (learnable, not linear)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=g)
    w1 = torch.randn(features, 32, generator=g) / features**0.5
    w2 = torch.randn(32, classes, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    return x, y


def _split(x: torch.Tensor, y: torch.Tensor, n_test: int) -> tuple[torch.Tensor, ...]:
    return x[n_test:].contiguous(), y[n_test:].contiguous(), x[:n_test].contiguous(), y[:n_test]


def _treino_data(source: str) -> tuple[torch.Tensor, ...]:
    """A built-in dataset through treino's data layer (split + preprocessing), train and test."""
    from treino.batches.sparse import dense_rows
    from treino.config import DataConfig
    from treino.data.load import load as load_data

    d = load_data(DataConfig(source=source), torch.Generator().manual_seed(0), 0)
    # dense for every runner (the libraries compared take dense tensors): TF-IDF is held sparse
    # by treino's data layer; bench/sparse.py measures that path
    x, xt = (dense_rows(s.x, slice(None)) for s in (d.train, d.test))
    return x, d.train.y.long().reshape(-1), xt, d.test.y.long().reshape(-1)


def tasks(quick: bool) -> list[Task]:
    """The table of issue 8. Epochs keep every run short; `quick` keeps two MLP tasks."""
    x, y = _table(24_000, 20, 2, seed=1)
    x20, y20, xt20, yt20 = _split(x, y, 4_000)  # 20k x 20 train rows
    t = [
        Task("mlp 20k x 20, batch 1", x20[:400], y20[:400], xt20, yt20, 2, "mlp", (64, 64), 1, 1),
        Task("mlp 20k x 20, batch 32", x20, y20, xt20, yt20, 2, "mlp", (64, 64), 32, 1),
        Task("mlp 20k x 20, batch 256", x20, y20, xt20, yt20, 2, "mlp", (64, 64), 256, 5),
        Task("mlp 20k x 20, full batch", x20, y20, xt20, yt20, 2, "mlp", (64, 64), 20_000, 40, lr=1e-2),
    ]
    if quick:
        return t[1:3]
    x, y = _table(70_000, 784, 10, seed=2)
    t.append(Task("mlp 60k x 784, batch 128", *_split(x, y, 10_000), 10, "mlp", (128,), 128, 1))
    t.append(Task("cnn digits, batch 64", *_treino_data("digits"), 10, "cnn", (16, 32), 64, 4))
    t.append(Task("cnn mnist5k, batch 64", *_treino_data("mnist5k"), 10, "cnn", (16, 32), 64, 1))
    t.append(Task("tf-idf text, batch 64", *_treino_data("rotten-tomatoes"), 2, "mlp", (64,), 64, 1))
    return t
