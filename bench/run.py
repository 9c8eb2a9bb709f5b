"""`make bench`: every runner on every task, interleaved (A B C A B C ...), the median of
REPEATS runs, ratios to the plain hand-written loop; writes bench/results.md.

    .venv/bin/python -m bench.run                 # the full table (~15 min on 2 idle cores)
    BENCH_QUICK=1 .venv/bin/python -m bench.run   # 2 tasks, 5 runners, 3 repeats (~2 min)
    BENCH_THREADS=1 ...                           # every runner on 1 thread, as treino picks
    BENCH_TASKS="cnn,784" ...                     # only these tasks (no options section)
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from bench.extras import extras
from bench.runners import CORES, DEFAULT_THREADS, RUNNERS, Result
from bench.tasks import Task, tasks

QUICK = os.environ.get("BENCH_QUICK") == "1"
REPEATS = int(os.environ.get("BENCH_REPEATS", "3" if QUICK else "5"))
ONLY = os.environ.get("BENCH_TASKS", "")  # e.g. "cnn,784": the tasks whose name has one, no extras
QUICK_RUNNERS = ["plain loop", "engineered loop", "treino.fit", "Lightning", "Keras (torch)"]
CLI_TASKS = ("batch 32",)  # the CLI pays its startup (~2 s) on every run: one task shows it
OUT = Path(
    os.environ.get("BENCH_OUT", Path(__file__).with_name("results-quick.md" if QUICK else "results.md"))
)
NOTES = "<!-- notes below: written by hand, kept when the bench rewrites the tables above -->"


def machine() -> str:
    model = "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    bf16 = "yes" if "avx512_bf16" in flags or "amx_bf16" in flags else "no (not exposed by the VM)"
    return (f"{model}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()}), AVX512-BF16: {bf16}, "
            f"Python {platform.python_version()}; torch's default threads {CORES}, "
            f"runners other than treino start with {DEFAULT_THREADS} (BENCH_THREADS)")  # fmt: skip


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def measure(task: Task, names: list[str]) -> dict[str, list[Result]]:
    """REPEATS rounds; each round runs every runner once, in a rotated order."""
    found: dict[str, list[Result]] = {name: [] for name in names}
    for name in names:  # one warm-up each: imports, first-call allocations, lazy inits
        torch.set_num_threads(DEFAULT_THREADS)
        RUNNERS[name](task)
    for r in range(REPEATS):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            torch.set_num_threads(DEFAULT_THREADS)  # each runner starts as a fresh script would
            found[name].append(RUNNERS[name](task))
    return found


def table(task: Task, found: dict[str, list[Result]]) -> list[str]:
    base = statistics.median(r[0] for r in found["plain loop"])
    lines = [f"### {task.name}: {len(task.x):,} rows, {task.epochs} epoch(s), {task.steps:,} steps",
             "", "| runner | median s | min-max s | x plain loop | test loss | test acc |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, results in found.items():
        secs = [r[0] for r in results]
        med = statistics.median(secs)
        loss, acc = results[-1][1], results[-1][2]
        lines.append(f"| {name} | {med:.3f} | {min(secs):.3f}-{max(secs):.3f} | {med / base:.2f}x "
                     f"| {loss:.4f} | {acc:.4f} |")  # fmt: skip
    return [*lines, ""]


def write(lines: list[str]) -> None:
    """The tables, then the hand-written notes already in the file (if any)."""
    old = OUT.read_text() if OUT.exists() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else NOTES + "\n"
    OUT.write_text("\n".join(lines) + "\n" + notes)


def main() -> None:
    started = time.perf_counter()
    lines = ["# treino benchmark", "", f"- machine: {machine()}",
             f"- load average at start: {load()}",
             f"- {REPEATS} interleaved repeats per runner (after one warm-up), median reported; "
             "ratios are to the plain hand-written loop (lower is faster)", ""]  # fmt: skip
    for task in (t for t in tasks(QUICK) if any(part in t.name for part in ONLY.split(","))):
        names = list(QUICK_RUNNERS if QUICK else RUNNERS)
        if "treino CLI" in names and not task.name.endswith(CLI_TASKS):
            names.remove("treino CLI")
        print(f"{task.name} ...", file=sys.stderr, flush=True)
        lines += table(task, measure(task, names))
        write(lines)
    if not QUICK and not ONLY:
        lines += extras(REPEATS)
    lines += [
        f"- load average at end: {load()}; the whole bench took {time.perf_counter() - started:.0f} s",
        "",
    ]
    write(lines)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
