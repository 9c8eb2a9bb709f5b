"""The engine's options measured one by one (interleaved, medians): CPU threads, train metrics,
torch.compile (compile time apart), bf16 autocast; treino's own overhead; `treino --help`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from bench.runners import CORES, DEFAULT_THREADS, engineered, keras, lightning, plain, score, treino_fit
from bench.tasks import Task, tasks


def interleave(variants: dict[str, Callable[[], tuple]], repeats: int) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        torch.set_num_threads(DEFAULT_THREADS)
        fn()
    for r in range(repeats):
        names = list(variants)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            torch.set_num_threads(DEFAULT_THREADS)
            found[name].append(variants[name]())
    return found


def rows(found: dict[str, list[tuple]], base: str) -> list[str]:
    ref = statistics.median(r[0] for r in found[base])
    out = []
    for name, results in found.items():
        med = statistics.median(r[0] for r in results)
        out.append(f"| {name} | {med:.3f} | {med / ref:.2f}x | {results[-1][1]:.4f} | {results[-1][2]:.4f} |")
    return out


def bf16_loop(task: Task) -> tuple[float, float, float]:
    """The engineered loop with the forward and loss under CPU bf16 autocast."""
    torch.set_num_threads(1)
    model, loss_fn = task.module(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=task.lr, fused=True)
    start = time.perf_counter()
    for _ in range(task.epochs):
        perm = torch.randperm(len(task.x))
        x, y = task.x[perm], task.y[perm]
        for i in range(0, len(x), task.batch_size):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(model(x[i : i + task.batch_size]), y[i : i + task.batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start, *score(model, task)


def compile_run(task: Task) -> tuple[float, float, float, float]:
    """treino.fit with compile=True; also returns the compile time treino reports."""
    import treino

    torch._dynamo.reset()  # every run compiles from scratch, as a new process would
    model = task.module()
    start = time.perf_counter()
    h = treino.fit(model, (task.x, task.y), loss="cross_entropy", lr=task.lr, epochs=task.epochs,
                   batch_size=task.batch_size, device="cpu", compile=True)  # fmt: skip
    return time.perf_counter() - start, *score(model, task), h.compile_seconds or 0.0


def overhead(task: Task) -> float:
    import treino

    h = treino.fit(task.module(), (task.x, task.y), loss="cross_entropy", lr=task.lr,
                   epochs=task.epochs, batch_size=task.batch_size, device="cpu")  # fmt: skip
    return h.overhead


def help_seconds(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "treino", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def extras(repeats: int) -> list[str]:
    head = ["| variant | median s | ratio | test loss | test acc |", "|---|---:|---:|---:|---:|"]
    lines = ["## The engine's options, one at a time", ""]
    small = tasks(quick=False)[1]
    small = Task(**{**small.__dict__, "name": "threads: mlp 3,200 x 20, batch 32", "x": small.x[:3200],
                    "y": small.y[:3200]})  # fmt: skip
    print(f"options: {small.name} ...", file=sys.stderr, flush=True)
    found = interleave({
        f"plain loop, {CORES} threads (torch's default)": lambda: threaded(plain, small, CORES),
        "plain loop, 1 thread": lambda: threaded(plain, small, 1),
        "treino.fit (threads chosen: 1)": lambda: treino_fit(small),
        f"treino.fit, threads={CORES}": lambda: treino_fit(small, threads=CORES),
        f"Lightning, {CORES} threads": lambda: threaded(lightning, small, CORES),
        "Lightning, 1 thread": lambda: threaded(lightning, small, 1),
        f"Keras (torch), {CORES} threads": lambda: threaded(keras, small, CORES),
        "Keras (torch), 1 thread": lambda: threaded(keras, small, 1),
    }, repeats)  # fmt: skip
    lines += [
        f"### {small.name}",
        "",
        *head,
        *rows(found, f"plain loop, {CORES} threads (torch's default)"),
        "",
    ]
    for task in tasks(quick=False)[1:5:3]:  # batch 32, the 60k x 784 MLP
        print(f"options: {task.name} ...", file=sys.stderr, flush=True)
        found = interleave({
            "treino.fit": lambda t=task: treino_fit(t),
            "treino.fit, no train metrics": lambda t=task: treino_fit(t, train_metrics=False),
            "engineered loop": lambda t=task: engineered(t),
            "engineered loop + bf16 autocast": lambda t=task: bf16_loop(t),
        }, repeats)  # fmt: skip
        lines += [f"### {task.name}", "", *head, *rows(found, "treino.fit"), ""]
    lines += ["### torch.compile (treino.fit, compile=True; compile time included, reported apart)", "",
              "| task | plain fit s | compiled fit s | of which compiling s | acc plain / compiled |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for task in tasks(quick=False)[1:2]:  # compiling takes 15-180 s here: one task
        print(f"compile: {task.name} ...", file=sys.stderr, flush=True)
        found = interleave({"plain": lambda t=task: treino_fit(t), "compiled": lambda t=task: compile_run(t)},
                           max(3, repeats // 2))  # fmt: skip
        plain_s, comp_s = (statistics.median(r[0] for r in found[k]) for k in ("plain", "compiled"))
        compiling = statistics.median(r[3] for r in found["compiled"])
        lines.append(f"| {task.name} | {plain_s:.3f} | {comp_s:.3f} | {compiling:.3f} | "
                     f"{found['plain'][-1][2]:.4f} / {found['compiled'][-1][2]:.4f} |")  # fmt: skip
    lines += ["", "### treino's own overhead (time outside forward/backward/step, as the run summary reports it)",
              "", "| task | overhead |", "|---|---:|"]  # fmt: skip
    for task in tasks(quick=False):
        lines.append(f"| {task.name} | {statistics.median(overhead(task) for _ in range(3)):.1%} |")
    lines += [
        "",
        f"- `treino --help`: {help_seconds(repeats):.3f} s (median of {repeats}, whole process)",
        "",
    ]
    return lines


def threaded(fn: Callable[[Task], tuple], task: Task, n: int) -> tuple:
    torch.set_num_threads(n)
    return fn(task)


if __name__ == "__main__":  # the options alone: .venv/bin/python -m bench.extras > options.md
    print("\n".join(extras(int(os.environ.get("BENCH_REPEATS", "5")))))
