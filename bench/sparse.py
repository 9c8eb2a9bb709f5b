"""Sparse vs dense TF-IDF on rotten-tomatoes (default text model, Adam): seconds per epoch,
peak RSS and test accuracy of `treino train`, the two layouts interleaved.

    .venv/bin/python bench/sparse.py [--repeats 5] [--batch 64] [--epochs 4] [--fit | --mm | --large ROWS]

Each run is its own process (peak RSS is per process: os.wait4); s/epoch is the median of a
run's epochs, then the median over the repeats.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TREINO = [sys.executable, "-m", "treino"]


def run(sparse: str, batch: int, epochs: int, out: Path) -> dict[str, float]:
    """One `treino train` in a child process: its s/epoch, peak RSS (MB) and test accuracy."""
    args = [*TREINO, "train", "--data", "rotten-tomatoes", "--out", str(out),
            "--set", f"data.text.sparse={sparse}", "--set", f"train.batch_size={batch}",
            "--set", f"train.epochs={epochs}", "--set", "log.plots=false", "--set", "log.progress=false"]  # fmt: skip
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"treino train failed: {child.stderr.read().decode() if child.stderr else ''}")
    with open(out / "history.csv") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "s_epoch": statistics.median(seconds),
        "rss_mb": usage.ru_maxrss / 1024,  # KB on Linux
        "test_accuracy": metrics["test"]["accuracy"],
    }


def fit_epochs(repeats: int, batch: int, epochs: int) -> None:
    """treino.fit in this process, dense and sparse interleaved: wall and CPU seconds per epoch
    (CPU time is what the loop itself costs, less the waiting on a shared machine)."""
    import time

    import torch

    import treino
    from treino import models
    from treino.batches.sparse import dense_rows
    from treino.config import DataConfig, ModelConfig
    from treino.data.load import load as load_data

    d = load_data(DataConfig(source="rotten-tomatoes"), torch.Generator().manual_seed(0))
    layouts = {
        "dense": (dense_rows(d.train.x, slice(None)), dense_rows(d.val.x, slice(None))),
        "sparse": (d.train.x, d.val.x),
    }
    wall: dict[str, list[float]] = {k: [] for k in layouts}
    cpu: dict[str, list[float]] = {k: [] for k in layouts}
    for _ in range(repeats):
        for name, (x, xv) in layouts.items():
            torch.manual_seed(0)
            net = models.build(ModelConfig(), d.info)
            start = time.process_time()
            h = treino.fit(net, (x, d.train.y), (xv, d.val.y), loss="bce", epochs=epochs, batch_size=batch)
            cpu[name].append((time.process_time() - start) / epochs)
            wall[name].append(statistics.median(e["seconds"] for e in h.epochs))
    print(
        f"\ntreino.fit in process, batch {batch}, {epochs} epochs x {repeats} repeats, load {os.getloadavg()[0]:.1f}"
    )
    print(
        "| layout | wall s/epoch median | min-max | CPU s/epoch median | min-max |\n|---|---:|---:|---:|---:|"
    )
    for name in layouts:
        w, c = wall[name], cpu[name]
        print(f"| {name} | {statistics.median(w):.3f} | {min(w):.3f}-{max(w):.3f} | {statistics.median(c):.3f} | "
              f"{min(c):.3f}-{max(c):.3f} |")  # fmt: skip


def sparse_mm(repeats: int, batch: int) -> None:
    """The loop by hand, one thread, CPU seconds per epoch: dense rows (the old path), sparse rows
    densified per batch (treino's path), and a sparse COO batch fed to the first Linear
    (TfidfMLP takes it through torch.sparse.mm)."""
    import time

    import numpy as np
    import torch

    from treino import models
    from treino.batches import sparse
    from treino.batches.source import InMemory
    from treino.config import DataConfig, ModelConfig
    from treino.data.load import load as load_data

    torch.set_num_threads(1)
    d = load_data(DataConfig(source="rotten-tomatoes"), torch.Generator().manual_seed(0))
    x, y = d.train.x, d.train.y.reshape(-1, 1)
    dense = sparse.dense_rows(x, slice(None))

    def coo(g: torch.Generator):  # the rows of a batch as a sparse COO tensor
        perm = torch.randperm(len(x), generator=g)
        rows, yp = sparse._scipy(x)[perm.numpy()], y[perm]
        for s in range(0, len(x), batch):
            c = rows[s : s + batch].tocoo()
            index = torch.from_numpy(np.vstack([c.row, c.col]).astype(np.int64))
            yield (
                torch.sparse_coo_tensor(
                    index, torch.from_numpy(c.data), c.shape, is_coalesced=True, check_invariants=False
                ),
                yp[s : s + batch],
            )

    paths = {
        "dense rows (before)": lambda g: InMemory(dense, y, batch).epoch(g),
        "sparse rows, densified per batch (kept)": lambda g: InMemory(x, y, batch).epoch(g),
        "sparse batch into torch.sparse.mm": coo,
    }
    seconds: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(repeats):
        for name, batches in paths.items():
            torch.manual_seed(0)
            net = models.build(ModelConfig(), d.info)
            opt, loss_fn = torch.optim.Adam(net.parameters(), 1e-3), torch.nn.BCEWithLogitsLoss()
            start = time.process_time()
            for xb, yb in batches(torch.Generator().manual_seed(0)):
                loss = loss_fn(net(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            seconds[name].append(time.process_time() - start)
    print(f"\nby hand, batch {batch}, {repeats} repeats, load {os.getloadavg()[0]:.1f}")
    print("| path | CPU s/epoch median | min-max |\n|---|---:|---:|")
    for name, v in seconds.items():
        print(f"| {name} | {statistics.median(v):.3f} | {min(v):.3f}-{max(v):.3f} |")


def large(rows: int, terms: int) -> None:
    """A synthetic corpus (Zipf-distributed words, 20-60 per text) with `terms` TF-IDF terms,
    trained sparse for 2 epochs: peak RSS and s/epoch, against the dense train split's size."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    words = rng.zipf(1.1, size=rows * 60) % 500_000
    lengths = rng.integers(20, 61, rows)
    texts = [" ".join(f"w{w}" for w in words[i * 60 : i * 60 + k]) for i, k in enumerate(lengths)]
    label = (np.array([t.count("w1 ") for t in texts]) > 1).astype(int)  # a learnable target
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.csv"
        pd.DataFrame({"text": texts, "label": label}).to_csv(path, index=False)
        del texts
        out = Path(tmp) / "run"
        args = [*TREINO, "train", "--data", str(path), "--target", "label", "--out", str(out),
                "--set", f"data.text.max_features={terms}", "--set", "train.epochs=2",
                "--set", "train.batch_size=64", "--set", "log.plots=false", "--set", "log.progress=false"]  # fmt: skip
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        print(done.stdout)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the one child: KB -> MB
        with open(out / "history.csv") as f:
            seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    train_rows = round(rows * 0.7)
    print(f"{rows} texts, {terms} terms: peak RSS {peak:.0f} MB, s/epoch {statistics.median(seconds):.2f}; "
          f"the dense train split alone would be "
          f"{train_rows * terms * 4 / 1e9:.1f} GB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fit", action="store_true", help="treino.fit in this process instead of the CLI")
    parser.add_argument(
        "--large", type=int, metavar="ROWS", help="a synthetic corpus of ROWS texts, 50k terms"
    )
    parser.add_argument("--mm", action="store_true", help="densify per batch vs torch.sparse.mm, by hand")
    args = parser.parse_args()
    if args.large:
        large(args.large, 50_000)
        return
    if args.mm:
        sparse_mm(args.repeats, args.batch)
        return
    if args.fit:
        fit_epochs(args.repeats, args.batch, args.epochs)
        return
    results: dict[str, list[dict[str, float]]] = {"false": [], "auto": []}
    print(f"load before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for mode in results:  # interleaved: both layouts see the same machine load
                got = run(mode, args.batch, args.epochs, Path(tmp) / f"{mode}-{i}")
                results[mode].append(got)
                print(f"repeat {i + 1} sparse={mode}: {got}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    print("\n| layout | s/epoch median | min-max | peak RSS MB | test accuracy |\n|---|---:|---:|---:|---:|")
    for mode, rows in results.items():
        secs = [r["s_epoch"] for r in rows]
        name = "dense (data.text.sparse: false)" if mode == "false" else "sparse (auto)"
        print(f"| {name} | {statistics.median(secs):.3f} | {min(secs):.3f}-{max(secs):.3f} | "
              f"{statistics.median(r['rss_mb'] for r in rows):.0f} | {rows[0]['test_accuracy']:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
