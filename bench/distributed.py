"""Throughput of data-parallel training here: 1 vs N processes (gloo on CPU, one torchrun each).

    .venv/bin/python bench/distributed.py                 # 1 and 2 processes, two batch sizes
    .venv/bin/python bench/distributed.py --devices 1 2 4 --batch 512

Each process count runs `treino.fit` on the same synthetic classification set (an MLP), with
the cores split evenly between the processes (OMP_NUM_THREADS = cores / processes). The
figure is training rows per second over the epochs after the first (warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def worker(out: str, rows: int, batch: int, epochs: int, width: int) -> None:
    """One torchrun process: join the group, train, rank 0 writes the epoch times."""
    import torch
    from torch import nn

    import treino
    from treino.run import processes

    group = processes.setup("cpu")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 64, generator=gen)
    y = (x[:, :10].argmax(1) + (x[:, 10] > 0).long()) % 10  # (rows,) ten classes
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )
    history = treino.fit(
        net, (x, y), loss="cross_entropy", optimizer="sgd", lr=0.05, epochs=epochs, batch_size=batch,
        device="cpu", train_metrics=False,
    )  # fmt: skip
    if processes.is_main():
        Path(out).write_text(json.dumps([row["seconds"] for row in history.epochs]))
    processes.teardown(group)


def measure(devices: int, rows: int, batch: int, epochs: int, width: int) -> float:
    """Rows per second of one configuration (median over the epochs after the first)."""
    cores = os.cpu_count() or 1
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, cores // devices)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seconds.json"
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}",
            __file__, "--worker", str(out), f"--rows={rows}", f"--batch={batch}", f"--epochs={epochs}",
            f"--width={width}",
        ]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, timeout=600, capture_output=True)
        seconds = json.loads(out.read_text())
    return rows / statistics.median(seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rows, args.batch[0], args.epochs, args.width)
        return
    print(f"{args.rows} rows, MLP 64-{args.width}-{args.width}-10, SGD, {os.cpu_count()} cores")
    print("| global batch | processes | rows/s | vs 1 process |")
    print("|---:|---:|---:|---:|")
    for batch in args.batch:
        base = None
        for devices in args.devices:
            rate = measure(devices, args.rows, batch, args.epochs, args.width)
            base = base or rate
            print(f"| {batch} | {devices} | {rate:,.0f} | {rate / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
