"""The rnn kind's speed: an LSTM (batch 64, T=30, F=8, hidden 64) trained by treino.fit against
the hand-written loops of bench/runners.py, on the same module, data and seed; interleaved runs
(A B C, B C A, ...), medians of wall and CPU seconds.

    .venv/bin/python -m bench.rnn [--repeats 7] [--rows 6400] [--epochs 2]

CPU seconds (the process's, all threads) are printed beside wall seconds: on a shared machine
they show the loop's own cost, less the waiting.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from bench.runners import DEFAULT_THREADS, engineered, plain, treino_fit
from bench.tasks import Task

STEPS, FEATURES, HIDDEN, CLASSES, BATCH = 30, 8, 64, 3, 64


class LstmTask(Task):
    """The benchmark's workload with treino's own rnn-kind module (model.kind: rnn, model.cell: lstm)."""

    def module(self) -> nn.Module:
        from treino.models.rnn import RNN

        torch.manual_seed(0)
        return RNN(FEATURES, CLASSES, hidden=HIDDEN, cell="lstm")


def workload(rows: int, epochs: int) -> LstmTask:
    """Standard-normal sequences; the class is how many of the first two features sum above 0."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows + 2000, STEPS, FEATURES, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long() + (x[:, :, 1].sum(1) > 0).long()  # 0, 1 or 2
    name = f"LSTM (batch {BATCH}, T={STEPS}, F={FEATURES}, hidden {HIDDEN})"
    return LstmTask(name, x[:rows], y[:rows], x[rows:], y[rows:], CLASSES, "lstm", (HIDDEN,), BATCH, epochs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", type=int, default=6400)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    task = workload(args.rows, args.epochs)
    runners = {
        "plain loop": plain,
        "engineered loop": engineered,
        "treino.fit": treino_fit,
        # the train metrics cost one forward pass over the train rows per epoch
        "treino.fit, train_metrics=False": lambda task: treino_fit(task, train_metrics=False),
    }
    found: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: imports, first allocations
        torch.set_num_threads(DEFAULT_THREADS)
        run(task)
    load = os.getloadavg()[0]
    for r in range(args.repeats):
        names = list(runners)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            torch.set_num_threads(DEFAULT_THREADS)
            cpu = time.process_time()
            seconds, loss, acc = runners[name](task)
            found[name].append((seconds, time.process_time() - cpu, loss, acc))
    print(f"{task.name}: {len(task.x):,} rows, {task.epochs} epochs, {task.steps} steps; {args.repeats} repeats; "
          f"torch {torch.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {load:.1f} -> {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| runner | wall s median | min-max | x plain loop | CPU s median | test loss | test acc |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = statistics.median(r[0] for r in found["plain loop"])
    for name, results in found.items():
        wall = [r[0] for r in results]
        med = statistics.median(wall)
        print(f"| {name} | {med:.3f} | {min(wall):.3f}-{max(wall):.3f} | {med / base:.2f}x | "
              f"{statistics.median(r[1] for r in results):.3f} | {results[-1][2]:.4f} | {results[-1][3]:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
