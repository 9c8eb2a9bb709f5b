"""Shared fixtures: a CLI runner on the real app, and a quiet tiny-run helper."""

from __future__ import annotations

import os

import pyarrow.parquet  # noqa: F401  (before any torch import: pytorch#22447, a parquet-read segfault)
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def cli():
    """Invoke the real typer app in-process: cli(["train", ...]) -> Result."""
    from typer.testing import CliRunner

    from treino.cli import app

    runner = CliRunner()

    def invoke(args: list[str]):
        return runner.invoke(app, [str(a) for a in args])

    return invoke
