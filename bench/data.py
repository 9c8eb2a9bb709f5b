"""The data layer's speed: a 60k x 784 table (CSV and Parquet) and a folder of 10k PNGs, read
and preprocessed by `treino.data.load`, then trained in memory by `treino.fit` against a
hand-written loop on the same tensors and model. Writes bench/data_results.md.

    .venv/bin/python -m bench.data                 # 60k rows, 10k PNGs, 3 epochs each
    BENCH_ROWS=6000 BENCH_PNGS=1000 .venv/bin/python -m bench.data   # a quick look
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

ROWS = int(os.environ.get("BENCH_ROWS", "60000"))
PNGS = int(os.environ.get("BENCH_PNGS", "10000"))
EPOCHS = int(os.environ.get("BENCH_EPOCHS", "3"))
BATCH = 128
OUT = Path(os.environ.get("BENCH_OUT", Path(__file__).with_name("data_results.md")))


def pixels(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real Fashion-MNIST images when Debian's package is installed, else random ones."""
    from treino.data.builtin import FASHION_MNIST
    from treino.data.idx import read_idx_folder

    found = read_idx_folder(FASHION_MNIST) if FASHION_MNIST.is_dir() else None
    if found is not None:
        x, y, _ = found
        reps = -(-n // len(y))
        return np.tile(x, (reps, 1, 1))[:n], np.tile(y, reps)[:n]
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def hand_loop(x: torch.Tensor, y: torch.Tensor, threads: int) -> float:
    """The reference: permutation + slices, Adam, cross-entropy; seconds per epoch (median),
    with the thread count treino.fit chose, so the two differ only in the loop."""
    torch.set_num_threads(threads)
    model, loss_fn = mlp(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    y = y.long()
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        perm = torch.randperm(len(x), generator=g)
        xs, ys = x[perm], y[perm]
        for i in range(0, len(x), BATCH):
            loss = loss_fn(model(xs[i : i + BATCH]), ys[i : i + BATCH])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def treino_fit(x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
    import treino

    history = treino.fit(mlp(), (x, y), loss="cross_entropy", optimizer="adam", epochs=EPOCHS,
                         batch_size=BATCH, device="cpu", train_metrics=False)  # fmt: skip
    return statistics.median(row["seconds"] for row in history.epochs), history.threads or 1


def load_seconds(source: Path, **kw) -> tuple[float, object]:
    from treino.config import DataConfig
    from treino.data.load import load

    start = time.perf_counter()
    data = load(DataConfig(source=str(source), **kw), torch.Generator().manual_seed(0), 0)
    return time.perf_counter() - start, data


def main() -> None:
    from PIL import Image

    lines = [f"# data bench: {ROWS} x 784 table, {PNGS} PNGs (28x28), batch {BATCH}, MLP 784-256-10, "
             f"{torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f}", "",
             "| data | read + preprocess (s) | treino.fit s/epoch | hand loop s/epoch | first epoch (s) |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    x, y = pixels(max(ROWS, PNGS))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        frame = pd.DataFrame(x[:ROWS].reshape(ROWS, -1), columns=[f"p{i}" for i in range(784)])
        frame["label"] = y[:ROWS]
        frame.to_csv(root / "t.csv", index=False)
        frame.to_parquet(root / "t.parquet")
        for i in range(PNGS):
            folder = root / "png" / str(y[i])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).save(folder / f"{i}.png")
        runs = [("table CSV", root / "t.csv", {"target": "label"}),
                ("table Parquet", root / "t.parquet", {"target": "label"}),
                ("PNG folder", root / "png", {})]  # fmt: skip
        for name, source, kw in runs:
            seconds, data = load_seconds(source, **kw)
            tx, ty = data.train.x, data.train.y
            fit_s, threads = treino_fit(tx, ty)
            hand_s = hand_loop(tx, ty, threads)
            lines.append(f"| {name} ({len(tx)} train rows) | {seconds:.2f} | {fit_s:.3f} | {hand_s:.3f} | "
                         f"{seconds + fit_s:.2f} |")  # fmt: skip
            print(lines[-1], flush=True)
    lines += ["", "The first epoch of an image folder is the decode (read + preprocess) plus one in-memory "
              "epoch; every later epoch is the cached, in-memory one."]  # fmt: skip
    lazy = OUT.read_text().partition("## Lazy image folders")[1:] if OUT.exists() else ()
    OUT.write_text(
        "\n".join(lines) + "\n" + ("\n" + "".join(lazy) if lazy and lazy[0] else "")
    )  # bench.data_lazy's
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
