"""Peak memory of `treino train` on Parquet tables of ~200 MB and ~2 GB (decoded: 8 bytes a
cell), both over a fixed data.memory_budget, so streamed by row groups: the peak should stay
about flat. Each table is generated row group by row group (the generator holds one group),
and each training runs in its own `treino` process, whose peak RSS comes from os.wait4.

    .venv/bin/python -m bench.memory                     # 200 MB and 2 GB, 1 epoch each
    BENCH_SIZES=20MB,200MB .venv/bin/python -m bench.memory   # a quick look

Prints a markdown table (paste it into bench/results.md, "Memory")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from treino.config.schema import parse_bytes

FEATURES = 20  # numeric columns, plus the target: 21 x 8 bytes = 168 bytes a row decoded
GROUP_ROWS = 1_000_000  # rows per row group
BUDGET = os.environ.get("BENCH_BUDGET", "100MB")  # data.memory_budget: both tables over it
WHOLE = os.environ.get("BENCH_WHOLE", "200MB")  # also read this one whole (budget auto), for scale
SIZES = os.environ.get("BENCH_SIZES", "200MB,2GB").split(",")
BATCH = int(os.environ.get("BENCH_BATCH", "4096"))  # rows per step: one epoch stays minutes on 2 cores
DIR = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "treino-bench-memory"))


def write_table(path: Path, rows: int, seed: int = 0) -> None:
    """A regression table: y = x @ w + noise, written one row group at a time."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES)
    names = [f"x{i}" for i in range(FEATURES)]
    schema = pa.schema([(n, pa.float64()) for n in [*names, "y"]])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, GROUP_ROWS):
            n = min(GROUP_ROWS, rows - start)
            x = rng.normal(size=(n, FEATURES))
            y = x @ weights + rng.normal(scale=0.5, size=n)
            columns = [pa.array(x[:, i]) for i in range(FEATURES)] + [pa.array(y)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=GROUP_ROWS)


def train(path: Path, budget: str, out: Path) -> tuple[float, float, str]:
    """Peak RSS (MB) and seconds of one `treino train` process, and its last lines."""
    cmd = [sys.executable, "-m", "treino", "train", "--data", str(path), "--target", "y",
           "--set", f"data.memory_budget={budget}", "--set", "train.epochs=1",
           "--set", f"train.batch_size={BATCH}", "--set", "log.plots=false", "--set", "log.progress=false",
           "--out", str(out)]  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)  # a run of an earlier bench
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"treino failed on {path}:\n{output}")
    return usage.ru_maxrss / 1024, seconds, output  # ru_maxrss is in KiB on Linux


def main() -> None:
    DIR.mkdir(parents=True, exist_ok=True)
    rows_md = []
    runs = [(WHOLE, "auto")] if WHOLE else []
    for size, budget in runs + [(s, BUDGET) for s in SIZES]:
        rows = int(parse_bytes(size) or 0) // ((FEATURES + 1) * 8)
        path = DIR / f"table-{size}.parquet"
        if not path.exists() or pq.ParquetFile(path).metadata.num_rows != rows:
            started = time.perf_counter()
            write_table(path, rows)
            print(f"wrote {path} ({rows:,} rows) in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        load = os.getloadavg()[0]
        peak, seconds, output = train(path, budget, DIR / f"run-{size}-{budget}")
        streamed = "streamed by row groups" in output
        disk = path.stat().st_size / 1e6
        rows_md.append(f"| {size} | {rows:,} | {disk:,.0f} MB | {budget} | {'streamed' if streamed else 'whole'} | "
                       f"{peak:,.0f} MB | {seconds:,.0f} s | {load:.1f} |")  # fmt: skip
        print(rows_md[-1], file=sys.stderr)
    print(
        f"1 epoch, batch {BATCH}, {FEATURES} float64 features + target, row groups of {GROUP_ROWS:,} rows\n"
    )
    print("| decoded size | rows | on disk | data.memory_budget | read | peak RSS | seconds | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows_md))


if __name__ == "__main__":
    main()
