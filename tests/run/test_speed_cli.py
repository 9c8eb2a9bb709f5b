"""`treino --help` stays fast by importing nothing heavy: the guard is on what gets imported,
not on a timing (timings are taken in `make bench`)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "numpy", "pandas", "sklearn", "matplotlib", "pyarrow", "rich")


def test_help_imports_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['treino', '--help']\n"
        "from treino.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('heavy:', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "heavy: []"


def test_overhead_line_only_when_it_costs_seconds() -> None:
    from treino.run.train import overhead_line

    assert overhead_line({"overhead": 0.91, "train_seconds": 1.5}) is None  # 1.4 s of a tiny run
    assert overhead_line({"overhead": 0.04, "train_seconds": 500.0}) is None  # under 5%
    assert overhead_line({"overhead": 0.25, "train_seconds": 40.0}) == (
        "treino overhead: 25% of the training time (10.0 s) was outside forward, backward and the "
        "optimizer step"
    )
