"""One function per way of training a Task. Each returns the seconds its training took (model
already built, data already in memory) and the trained model's test loss and accuracy."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bench.tasks import Task

os.environ.setdefault("KERAS_BACKEND", "torch")
CORES = torch.get_num_threads()  # what a script gets without asking: one thread per core
# The threads every runner but treino starts with: BENCH_THREADS=1 gives the other runners the
# thread count treino would pick, so the table compares the loops, not the thread setting.
DEFAULT_THREADS = int(os.environ.get("BENCH_THREADS", CORES))
Result = tuple[float, float, float]  # seconds, test loss, test accuracy


@torch.no_grad()
def score(model: nn.Module, task: Task) -> tuple[float, float]:
    model.eval()
    out = torch.cat([model(x) for x in task.x_test.split(1024)])
    loss = nn.functional.cross_entropy(out, task.y_test).item()
    return loss, (out.argmax(1) == task.y_test).float().mean().item()


def plain(task: Task) -> Result:
    """The loop from the tutorials: a permutation, fancy-index per batch, loss.item() per step."""
    model, loss_fn = task.module(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    start = time.perf_counter()
    for _ in range(task.epochs):
        perm = torch.randperm(len(task.x))
        running = 0.0
        for i in range(0, len(task.x), task.batch_size):
            idx = perm[i : i + task.batch_size]
            loss = loss_fn(model(task.x[idx]), task.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return time.perf_counter() - start, *score(model, task)


def dataloader(task: Task) -> Result:
    """The same loop fed by a DataLoader over a TensorDataset (per-sample indexing + collate)."""
    model, loss_fn = task.module(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    start = time.perf_counter()
    loader = DataLoader(TensorDataset(task.x, task.y), batch_size=task.batch_size, shuffle=True)
    for _ in range(task.epochs):
        running = 0.0
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return time.perf_counter() - start, *score(model, task)


def engineered(task: Task) -> Result:
    """A hand loop tuned by hand: 1 thread, fused Adam, one gather per epoch, no per-step sync."""
    torch.set_num_threads(1)
    model, loss_fn = task.module(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=task.lr, fused=True)
    start = time.perf_counter()
    for _ in range(task.epochs):
        perm = torch.randperm(len(task.x))
        x, y = task.x[perm], task.y[perm]
        losses = []
        for i in range(0, len(x), task.batch_size):
            loss = loss_fn(model(x[i : i + task.batch_size]), y[i : i + task.batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        torch.stack(losses).tolist()
    return time.perf_counter() - start, *score(model, task)


def treino_fit(task: Task, **options: object) -> Result:
    """treino.fit as users run it: the display, train metrics each epoch, best-epoch tracking,
    the probes and the diagnosis at the end (treino.fit adds them itself)."""
    import treino

    model = task.module()
    start = time.perf_counter()
    out, err = io.StringIO(), io.StringIO()  # the display draws; the bench log stays readable
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        treino.fit(model, (task.x, task.y), loss="cross_entropy", optimizer="adam", lr=task.lr,
                   epochs=task.epochs, batch_size=task.batch_size, device="cpu", **options)  # fmt: skip
    return time.perf_counter() - start, *score(model, task)


def treino_cli(task: Task) -> Result:
    """`treino train` on a Parquet file of the same rows: the whole process, startup included."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        frame = pd.DataFrame(task.x.numpy(), columns=[f"f{i}" for i in range(task.x.shape[1])])
        frame["y"] = task.y.numpy()
        frame.to_parquet(Path(tmp) / "train.parquet")
        sets = [f"train.batch_size={task.batch_size}", f"train.epochs={task.epochs}",
                f"model.hidden=[{','.join(map(str, task.hidden))}]", "data.split.val=0",
                "data.split.test=0.01", "data.task=multiclass", f"optimizer.lr={task.lr}",
                "log.plots=false", "train.early_stopping=null", "train.device=cpu"]  # fmt: skip
        cmd = [sys.executable, "-m", "treino", "train", "--data", f"{tmp}/train.parquet", "--target", "y",
               "--out", f"{tmp}/run"] + [a for s in sets for a in ("--set", s)]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
    test = metrics.get("test", {})
    return seconds, test.get("loss", float("nan")), test.get("accuracy", float("nan"))


def lightning(task: Task, progress: bool = True) -> Result:
    """A LightningModule + Trainer on a DataLoader, as its docs show (no logger, no checkpoints)."""
    import pytorch_lightning as pl

    class Module(pl.LightningModule):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net, self.loss_fn = net, nn.CrossEntropyLoss()

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
            loss = self.loss_fn(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=task.lr)

    module = Module(task.module())
    start = time.perf_counter()
    loader = DataLoader(TensorDataset(task.x, task.y), batch_size=task.batch_size, shuffle=True)
    trainer = pl.Trainer(max_epochs=task.epochs, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         enable_progress_bar=progress)  # fmt: skip
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        trainer.fit(module, loader)
    return time.perf_counter() - start, *score(module.net, task)


def keras(task: Task) -> Result:
    """Keras 3 on the torch backend: Sequential, compile, fit on NumPy arrays (verbose=0)."""
    import keras as K

    K.utils.set_random_seed(0)
    if task.kind == "cnn":
        layers: list = [K.Input(task.x.shape[2:] + task.x.shape[1:2])]  # channels last
        for c in task.hidden:
            layers += [K.layers.Conv2D(c, 3, padding="same", use_bias=False),
                       K.layers.BatchNormalization(), K.layers.ReLU(), K.layers.MaxPooling2D(2)]  # fmt: skip
        layers += [K.layers.GlobalAveragePooling2D()]
        x, x_test = task.x.permute(0, 2, 3, 1).numpy(), task.x_test.permute(0, 2, 3, 1).numpy()
    else:
        layers = [K.Input(task.x.shape[1:])] + [K.layers.Dense(w, activation="relu") for w in task.hidden]
        x, x_test = task.x.numpy(), task.x_test.numpy()
    model = K.Sequential([*layers, K.layers.Dense(task.classes)])
    start = time.perf_counter()
    model.compile(optimizer=K.optimizers.Adam(task.lr), metrics=["accuracy"],
                  loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    model.fit(x, task.y.numpy(), batch_size=task.batch_size, epochs=task.epochs, verbose=0)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, task.y_test.numpy(), batch_size=1024, verbose=0)
    return seconds, loss, acc


def skorch(task: Task) -> Result:
    """skorch's NeuralNetClassifier on the tensors (no internal validation split, verbose=0)."""
    from skorch import NeuralNetClassifier

    net = NeuralNetClassifier(task.module(), criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                              lr=task.lr, max_epochs=task.epochs, batch_size=task.batch_size,
                              train_split=None, iterator_train__shuffle=True, verbose=0)  # fmt: skip
    start = time.perf_counter()
    net.fit(task.x, task.y)
    return time.perf_counter() - start, *score(net.module_, task)


RUNNERS = {
    "plain loop": plain,
    "DataLoader loop": dataloader,
    "engineered loop": engineered,
    "treino.fit": treino_fit,
    "treino CLI": treino_cli,
    "Lightning": lightning,
    "Lightning, no bar": lambda task: lightning(task, progress=False),
    "Keras (torch)": keras,
    "skorch": skorch,
}
