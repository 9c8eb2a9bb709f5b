"""Pinned losses: two built-in runs of 2 epochs must reproduce stored history.csv and steps.csv.

A change to the loop's arithmetic (the order of operations, the penalty, the shuffle, the
split, the preprocessing) fails here even while accuracy stays above any threshold.
Regenerate only for a change meant to alter the numbers: TREINO_PIN_REGEN=1 pytest this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

import treino

PINNED = Path(__file__).parent / "pinned"
RUNS = {
    # the embedded default: digits, the small CNN, Adam, mini-batches
    "digits-cnn": ["train.epochs=2", "train.threads=1"],
    # a regression with a scaled target, dropout, L2 and SGD with momentum
    "diabetes-mlp": [
        "data.source=diabetes",
        "train.epochs=2",
        "train.threads=1",
        "model.kind=mlp",
        "model.dropout=0.2",
        "train.l2=0.001",
        "optimizer.name=momentum",
        "optimizer.lr=0.01",
        "train.batch_size=16",
    ],
}


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in ("seconds",) if c in frame])  # wall time is not pinned


@pytest.mark.parametrize("name", sorted(RUNS))
def test_two_epochs_reproduce_the_pinned_losses(tmp_path, name):
    run = treino.train(None, RUNS[name], out=tmp_path / name, quiet=True)
    for file in ("history.csv", "steps.csv"):
        got = _numbers(pd.read_csv(run.dir / file))
        stored = PINNED / f"{name}-{file}"
        if os.environ.get("TREINO_PIN_REGEN"):
            got.to_csv(stored, index=False, float_format="%.9g")
        want = pd.read_csv(stored)
        assert list(got.columns) == list(want.columns), file
        assert len(got) == len(want), file
        torch.testing.assert_close(
            torch.tensor(got.to_numpy(dtype=float)),
            torch.tensor(want.to_numpy(dtype=float)),
            rtol=1e-5,
            atol=1e-7,
            msg=lambda m, f=file: f"{name} {f}: {m}",
        )
