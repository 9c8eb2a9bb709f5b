"""Parquet tables over data.memory_budget, streamed by row groups: the same preprocessing as
read whole, every row once per epoch, training to the in-memory path's metric, bit-identical
reruns and resume, predict on the run, and one-line errors for what streaming cannot do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from treino.config import DataConfig
from treino.data.load import load

FAULTS = Path(__file__).parents[1] / "faults.py"  # shared by the tests that break a run on purpose
ROWS, GROUP = 2000, 250  # 8 row groups
STREAM = ["--set", "data.memory_budget=1KB"]
TRAIN = ["--set", "model.kind=mlp", "--set", "model.hidden=[16]", "--set", "model.dropout=0.2",
         "--set", "optimizer.lr=0.01", "--set", "train.epochs=3",
         "--set", "train.batch_size=32", "--set", "log.plots=false", "--set", "log.progress=false",
         "--quiet"]  # fmt: skip


def _table(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["color"] = rng.choice(["red", "green", "blue"], n)
    frame.loc[rng.random(n) < 0.05, "b"] = np.nan
    logit = 2 * x[:, 0] - 3 * x[:, 1] + 2 * (frame["color"] == "red") - 0.5
    frame["label"] = np.where(logit + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "t.parquet"
    pq.write_table(pa.Table.from_pandas(_table(), preserve_index=False), path, row_group_size=GROUP)
    return path


def _load(path: Path, **kw: object):
    return load(DataConfig(source=str(path), target="label", **kw), torch.Generator().manual_seed(0), 0)


def _cli(args: list[str]):
    from typer.testing import CliRunner

    from treino.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_streamed_preprocessing_equals_read_whole_on_the_same_rows(parquet: Path) -> None:
    every = {"split": {"val": 0.0, "test": 0.0}}  # all rows train: both paths fit on the same rows
    streamed, whole = _load(parquet, memory_budget="1KB", **every), _load(parquet, **every)
    assert streamed.train.lazy and not whole.train.lazy
    assert streamed.info.notes[0] == (
        "streamed by row groups (8 of them): 2000 rows would take 96 KB read whole, over "
        "data.memory_budget 1 KB"
    )
    got, want = streamed.preprocessing["columns"], whole.preprocessing["columns"]
    assert [c["name"] for c in got] == [c["name"] for c in want] == ["a", "b", "c", "d", "color"]
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key in g:
            if isinstance(w[key], float):
                assert g[key] == pytest.approx(w[key], rel=1e-9), (g["name"], key)
            else:
                assert g[key] == w[key], (g["name"], key)
    assert streamed.info.features == whole.info.features
    # the streamed inputs are the saved preprocessing applied to the file's rows, in file order
    x = torch.cat([x for x, _ in streamed.train.ordered(torch.device("cpu"), "binary").ordered()])
    from treino.data.preprocess import transform_frame

    expected = transform_frame(streamed.preprocessing, _table())
    assert torch.allclose(x, torch.from_numpy(expected))
    labels = (_table()["label"] == "yes").to_numpy(dtype=np.float32)  # classes no, yes: 0, 1
    assert torch.equal(streamed.train.y, torch.from_numpy(labels))


def test_an_epoch_gives_every_row_once_in_exact_steps(parquet: Path) -> None:
    data = _load(parquet, memory_budget="1KB")
    assert sum(data.info.sizes.values()) == ROWS
    assert 0.6 < data.info.sizes["train"] / ROWS < 0.8  # drawn per row: near, not at, 70%
    rows = data.train.rows
    ordered = torch.cat([x for x, _ in rows.loader(64, False)])
    assert torch.equal(data.train.take(torch.tensor([5, 0, len(rows) - 1])), ordered[[5, 0, len(rows) - 1]])
    x5, y5 = rows[5]  # a Dataset's row: the engine probes row 0 to choose its threads
    assert torch.equal(x5, ordered[5]) and y5 == data.train.y[5]
    torch.manual_seed(0)
    loader = rows.loader(64, True)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-len(rows) // 64)
    assert all(len(x) == 64 for x, _ in batches[:-1])
    shuffled = torch.cat([x for x, _ in batches])
    assert not torch.equal(shuffled, ordered)
    assert sorted(shuffled.tolist()) == sorted(ordered.tolist())  # the same rows, each once
    pairs = {tuple(x.tolist()): float(y) for xb, yb in batches for x, y in zip(xb, yb, strict=True)}
    assert pairs == {tuple(x.tolist()): float(y) for x, y in zip(ordered, data.train.y, strict=True)}


@pytest.fixture(scope="module")
def runs(parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same training, streamed and read whole."""
    found = {}
    for name, extra in (("stream", STREAM), ("memory", [])):
        out = tmp_path_factory.mktemp(name) / "run"
        result = _cli(["train", "--data", parquet, "--target", "label", *TRAIN, *extra, "--out", out])
        assert result.exit_code == 0, result.output
        found[name] = out
    return found


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_cli_trains_streamed_to_the_in_memory_metric(runs: dict[str, Path], tmp_path: Path) -> None:
    streamed, whole = (_metrics(runs[name])["test"]["accuracy"] for name in ("stream", "memory"))
    assert streamed > 0.85 and abs(streamed - whole) < 0.05, (streamed, whole)
    predictions = pd.read_csv(runs["stream"] / "predictions.csv")
    assert len(predictions) == _metrics(runs["stream"])["data"]["sizes"]["test"]
    assert (predictions["y_true"] == predictions["y_pred"]).mean() == pytest.approx(streamed)

    result = _cli(["evaluate", runs["stream"]])  # re-reads and re-splits the file as training did
    assert result.exit_code == 0, result.output
    evaluation = json.loads((runs["stream"] / "evaluation.json").read_text())
    assert evaluation["metrics"]["accuracy"] == pytest.approx(streamed)

    new = tmp_path / "new.csv"
    _table(50, seed=1).drop(columns="label").to_csv(new, index=False)
    out = tmp_path / "pred.csv"
    result = _cli(["predict", runs["stream"], new, "--output", out])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 50


def _weights(run: Path) -> bytes:
    return (run / "model" / "weights.safetensors").read_bytes()


def test_rerun_killed_and_resumed_is_bit_identical(
    parquet: Path, runs: dict[str, Path], tmp_path: Path
) -> None:
    """A second run with the same seed, SIGKILLed right after epoch 2's checkpoint and resumed,
    ends with the first run's weights and step losses (dropout and shuffling included)."""
    killed = tmp_path / "killed"
    args = ["--data", parquet, "--target", "label", *TRAIN, *STREAM, "--out", killed]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, str(FAULTS), "checkpoint", "2", "--", *map(str, args)]
    assert subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120).returncode == -9
    resumed = _cli(["train", "--resume", killed, "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert _weights(killed) == _weights(runs["stream"])
    assert (killed / "steps.csv").read_bytes() == (runs["stream"] / "steps.csv").read_bytes()


def test_regression_keeps_the_target_scale_and_splits_by_column(tmp_path: Path) -> None:
    frame = _table()
    frame["y"] = 3 * frame["a"] + frame["c"]
    frame["part"] = np.where(np.arange(ROWS) % 5 == 0, "test", "train")
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=GROUP)
    data = load(DataConfig(source=str(path), target="y", memory_budget="1KB", split={"column": "part"}),
                torch.Generator().manual_seed(0), 0)  # fmt: skip
    assert data.info.task == "regression" and data.info.sizes == {"train": 1600, "val": 0, "test": 400}
    assert "part" not in data.info.roles
    assert data.preprocessing["target"]["mean"][0] == pytest.approx(float(data.train.y.mean()), rel=1e-5)
    assert torch.equal(data.test.y[:, 0], torch.from_numpy(frame["y"].to_numpy(np.float32)[::5]))


def test_a_csv_over_the_budget_is_read_whole_and_said(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _table(200).to_csv(path, index=False)
    data = _load(path, memory_budget="1KB")
    assert not data.train.lazy
    size = f"{path.stat().st_size / 1000:.3g}"  # e.g. 13.4
    assert data.info.notes[-1] == (
        f"t.csv ({size} KB) is over data.memory_budget 1 KB but was read whole: only Parquet tables are "
        f"streamed by row groups; convert it to Parquet to stream it"
    )


def test_what_streaming_cannot_do_is_one_line_errors(parquet: Path, tmp_path: Path) -> None:
    frame = _table(60)
    frame["review"] = [f"words number {i} of a long review" for i in range(60)]
    text = tmp_path / "text.parquet"
    frame.to_parquet(text)
    result = _cli(["train", "--data", text, "--target", "label", *STREAM])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {text}: column 'review' holds free text, which a table streamed from disk (bigger than "
        f"data.memory_budget) cannot encode; drop it with data.drop, or raise data.memory_budget"
    )
    result = _cli(["train", "--data", parquet, "--target", "label", *STREAM, "--set", f"data.val={text}"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: data.val: a separate file cannot join a table streamed from disk (bigger than "
        "data.memory_budget); mark its rows in data.source with data.split.column, or raise data.memory_budget"
    )
    result = _cli(["train", "--data", parquet, *STREAM])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {parquet}: which column is the target? pass --target COL (columns: a, b, c, d, color, label)"
    )
    gaps = _table(60)
    gaps.loc[[7, 40], "label"] = None
    missing = tmp_path / "gaps.parquet"
    gaps.to_parquet(missing, row_group_size=20)
    result = _cli(
        ["train", "--data", missing, "--target", "label", *STREAM, "--set", "data.drop_missing_target=false"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {missing}: target has 2 empty values (first at row 8); drop those rows or set "
        f"data.drop_missing_target: true"
    )
    kept = _load(missing, memory_budget="1KB")
    assert sum(kept.info.sizes.values()) == 58
    assert "dropped 2 rows with an empty target" in kept.info.notes
