"""Fuzzing: generated configs (valid and invalid) and small random tables either train or fail
with a TreinoError, never an unhandled exception; a failed run leaves no folder behind.

`make test` runs a few derandomized examples of each; `make fuzz` sets TREINO_FUZZ_EXAMPLES
and draws many more, at random."""

from __future__ import annotations

import math
import os
import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treino import config as C
from treino.errors import TreinoError

EXAMPLES = int(os.environ.get("TREINO_FUZZ_EXAMPLES", "0"))
FUZZING = EXAMPLES > 0


def budget(quick: int) -> Any:
    """Hypothesis settings: `quick` fixed examples in make test, EXAMPLES random ones in make fuzz."""
    return settings(
        max_examples=EXAMPLES or quick,
        derandomize=not FUZZING,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# values of every shape a YAML file or a --set can carry
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["full", "auto", "adam", "sgd", "cosine", "mlp", "cnn", "bce", "mse", "iris", "1e-3"]),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
KEYS = [
    "name", "seed", "data.source", "data.target", "data.task", "data.scale", "data.split.val",
    "data.split.test", "data.split.stratify", "model.kind", "model.hidden", "model.activation",
    "model.dropout", "model.batch_norm", "model.init", "loss.name", "loss.label_smoothing",
    "loss.class_weights", "optimizer.name", "optimizer.lr", "optimizer.momentum", "optimizer.betas",
    "optimizer.weight_decay", "schedule.name", "schedule.gamma", "schedule.step_size", "train.epochs",
    "train.batch_size", "train.l1", "train.l2", "train.early_stopping", "train.early_stopping.monitor",
    "train.early_stopping.patience", "train.clip_grad", "log.steps", "epochs", "train.epoch", "model.kind.x",
]  # fmt: skip


@budget(quick=150)
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=6))
def test_any_config_validates_or_says_why(overrides: dict[str, Any]) -> None:
    try:
        cfg = C.load(None, overrides)
    except TreinoError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert C.load(cfg.to_dict()) == cfg  # a valid config survives its own round trip


@budget(quick=100)
@given(st.text(max_size=30))
def test_any_set_text_validates_or_says_why(text: str) -> None:
    try:
        C.load(None, [text])
    except TreinoError as exc:
        assert "\n" not in str(exc) and str(exc)


# training settings that are each valid alone; some combinations are not (and must say so)
TRAINABLE = {
    "model.kind": st.sampled_from(["auto", "mlp", "linear", "logistic", "softmax"]),
    "model.hidden": st.lists(st.integers(1, 6), min_size=0, max_size=2),
    "model.dropout": st.sampled_from([0.0, 0.5]),
    "model.batch_norm": st.sampled_from([None, True, False]),
    "loss.name": st.sampled_from(["auto", "mse", "l1", "huber", "bce", "cross_entropy"]),
    "optimizer.name": st.sampled_from(["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]),
    "optimizer.lr": st.sampled_from([None, 1e-3, 0.1, 10.0]),
    "schedule.name": st.sampled_from(["none", "step", "exponential", "cosine", "onecycle", "plateau"]),
    "train.batch_size": st.sampled_from([1, 3, 16, 1000, "full"]),
    "train.l1": st.sampled_from([0.0, 0.01]),
    "train.l2": st.sampled_from([0.0, 0.01]),
    "train.clip_grad": st.sampled_from([None, 1.0]),
    "train.early_stopping": st.sampled_from([None, {"patience": 1}, {"monitor": "val_accuracy"}]),
    "data.scale": st.sampled_from(["standard", "minmax", "none"]),
    "data.split.val": st.sampled_from([0.0, 0.15, 0.5]),
    "data.split.test": st.sampled_from([0.0, 0.15]),
    "loss.class_weights": st.sampled_from([None, "balanced", [1.0, 2.0]]),
    "loss.label_smoothing": st.sampled_from([0.0, 0.1]),
    "model.init": st.sampled_from(["default", "xavier_uniform", "kaiming_normal", "normal"]),
    "model.activation": st.sampled_from(["relu", "tanh", "gelu"]),
    "data.task": st.sampled_from(["auto", "regression", "binary", "multiclass"]),
}
QUIET = {"train.epochs": 2, "log.plots": False, "log.progress": False, "log.steps": False}


def train_or_refuse(overrides: dict[str, Any]) -> None:
    """treino.train returns a run or raises a TreinoError; a refused run leaves no folder."""
    import treino

    out = Path(tempfile.mkdtemp(prefix="treino-fuzz-")) / "run"
    try:
        try:
            run = treino.train(None, {**overrides, **QUIET}, out=out, quiet=True)
        except TreinoError as exc:
            assert "\n" not in str(exc) and str(exc)
            assert not out.exists()
            return
        assert run.status in ("completed", "early_stopped", "diverged")
        assert (out / "metrics.json").exists()
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


@budget(quick=6)
@given(
    st.fixed_dictionaries({}, optional=TRAINABLE),
    st.sampled_from(["iris", "diabetes", "breast_cancer", "linnerud", "moons", "palmerpenguins"]),
)
def test_generated_configs_train_or_say_why(overrides: dict[str, Any], source: str) -> None:
    train_or_refuse({**overrides, "data.source": source})


cells = {
    "int": st.integers(-3, 3),
    "float": st.floats(-1e6, 1e6) | st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
    "word": st.text(alphabet=string.ascii_letters + "çãé 日本,;\"'", max_size=5),
    "bool": st.booleans(),
    "constant": st.just(7),
    "empty": st.none(),
}


@st.composite
def tables(draw: Any) -> tuple[pd.DataFrame, str]:
    rows = draw(st.integers(1, 24))
    kinds = draw(st.lists(st.sampled_from(sorted(cells)), min_size=2, max_size=4))
    frame = pd.DataFrame(
        {
            f"{kind}_{i}": draw(st.lists(cells[kind], min_size=rows, max_size=rows))
            for i, kind in enumerate(kinds)
        }
    )
    return frame, draw(st.sampled_from(list(frame.columns)))


@budget(quick=12)
@given(tables(), st.sampled_from(["csv", "tsv", "parquet", "jsonl"]), st.sampled_from(["auto", "regression"]))
def test_random_tables_train_or_say_why(table: tuple[pd.DataFrame, str], fmt: str, task: str) -> None:
    frame, target = table
    folder = Path(tempfile.mkdtemp(prefix="treino-fuzz-data-"))
    try:
        path = folder / f"table.{fmt}"
        if fmt in ("csv", "tsv"):
            frame.to_csv(path, index=False, sep="," if fmt == "csv" else "\t")
        elif fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True)
        else:
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(path)
        train_or_refuse({"data.source": str(path), "data.target": target, "data.task": task})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
