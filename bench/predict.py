"""Peak memory and time of `treino predict` on a big CSV (default 1,000,000 rows), which
streams in chunks. Everything is written to a temporary folder and removed afterwards.

    .venv/bin/python bench/predict.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def table(n: int, seed: int) -> pd.DataFrame:
    """Two numbers (one with gaps), a category (one value unseen in training), an id column."""
    rng = np.random.default_rng(seed)
    x2 = rng.uniform(0, 10, n)
    x2[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    frame = pd.DataFrame({"id": np.arange(n), "x1": rng.normal(size=n), "x2": x2, "color": color})
    frame["label"] = np.where(frame["x1"] + (frame["color"] == "red") > 0.5, "yes", "no")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table(2000, 0).drop(columns="id").to_csv(root / "train.csv", index=False)
        big = table(args.rows, 1).drop(columns="label")
        big.loc[big.index % 4 == 0, "color"] = "purple"
        big.to_csv(root / "big.csv", index=False)
        size = (root / "big.csv").stat().st_size / 2**20
        del big
        train = [sys.executable, "-m", "treino", "train", "--data", str(root / "train.csv"), "--target", "label",
                 "--set", "train.epochs=2", "--set", "log.plots=false", "--out", str(root / "run"), "-q"]  # fmt: skip
        subprocess.run(train, check=True)
        start = time.perf_counter()
        predict = [sys.executable, "-m", "treino", "predict", str(root / "run"), str(root / "big.csv"),
                   "--output", str(root / "pred.csv"), "--id", "id", "-q"]  # fmt: skip
        # a fresh parent whose only child is `treino predict`: its children's peak is predict's own
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *predict], check=True, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        peak = int(done.stdout.strip())  # KiB on Linux
        rows = sum(1 for _ in (root / "pred.csv").open()) - 1
    print(
        f"treino predict: {rows:,} rows ({size:.0f} MB CSV) in {seconds:.1f} s, peak RSS {peak / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
