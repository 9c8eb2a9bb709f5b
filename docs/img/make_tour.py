"""Regenerate the README tour's pictures from real runs: the fitted line of the course's 1-D
regression (houses, a linear model, SGD) and the confusion matrix of the default digits CNN.

    .venv/bin/python docs/img/make_tour.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import treino

HERE = Path(__file__).parent
RUNS = {
    "tour-fit.png": (
        {"data": {"source": "houses"}, "model": {"kind": "linear"}, "optimizer": {"name": "sgd", "lr": 0.05}},
        "fit.png",
    ),
    "tour-confusion.png": ({"data": {"source": "digits"}}, "confusion.png"),
}

with tempfile.TemporaryDirectory() as tmp:
    for picture, (config, plot) in RUNS.items():
        run = treino.train(config, out=Path(tmp) / picture, quiet=True)
        shutil.copy(run.dir / "plots" / plot, HERE / picture)
        print(picture, {k: round(v, 3) for k, v in run.metrics["test"].items()})
