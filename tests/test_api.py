"""The public face: treino.train / fit / load are the real functions, found on first use."""

from __future__ import annotations

import inspect
import subprocess
import sys

import treino


def test_help_of_fit_shows_its_real_arguments():
    """treino.fit was a (*args, **kwargs) wrapper: help() showed nothing a user could use."""
    params = inspect.signature(treino.fit).parameters
    assert {"model", "train", "val", "loss", "optimizer", "epochs", "batch_size", "callbacks"} <= set(params)
    assert {"config", "overrides", "out", "resume"} <= set(inspect.signature(treino.train).parameters)
    assert "run_dir" in inspect.signature(treino.load).parameters


def test_public_names_and_a_clear_error_for_others():
    assert {"train", "fit", "load", "Run", "History", "Predictor"} <= set(dir(treino))
    try:
        treino.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert str(error) == "module 'treino' has no attribute 'no_such_thing'"
    else:
        raise AssertionError("no AttributeError")


def test_import_treino_loads_no_torch():
    code = "import sys, treino; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
