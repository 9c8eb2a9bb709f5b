"""Sparse vs dense TF-IDF on rotten-tomatoes (default text model, Adam): seconds per epoch,
peak RSS and test accuracy of `treino train`, the two layouts interleaved.

    .venv/bin/python bench/sparse.py [--repeats 5] [--batch 64] [--epochs 4] [--fit]

Each run is its own process (peak RSS is per process: os.wait4); s/epoch is the median of a
run's epochs, then the median over the repeats.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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
    from treino import data as D
    from treino import models
    from treino.config import DataConfig, ModelConfig
    from treino.engine.sparse import dense_rows

    d = D.load(DataConfig(source="rotten-tomatoes"), torch.Generator().manual_seed(0))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--fit", action="store_true", help="treino.fit in this process instead of the CLI")
    args = parser.parse_args()
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
