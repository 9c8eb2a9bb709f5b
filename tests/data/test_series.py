"""data.series: the chronological split, scaling on the training part, lazy windows, groups,
baselines checked by hand, and every bad input's one line (exact text, through the real CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from treino.batches.windows import Windows
from treino.config import DataConfig
from treino.data.builtin import Table
from treino.data.series import series_data


def _cfg(**series) -> DataConfig:
    return DataConfig(source="x.csv", target="y", series=series, split={"val": 0.2, "test": 0.2})


def _monthly(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    month = pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d")
    y = 10 + np.arange(n) * 0.1 + np.sin(np.arange(n) * 2 * np.pi / 12) + rng.normal(0, 0.1, n)
    return pd.DataFrame({"month": month, "y": y, "temp": rng.normal(20, 3, n)})


def test_split_is_chronological_and_scaling_uses_train_only():
    frame = _monthly(100)
    data = series_data(Table(frame, ["y"]), _cfg(time="month", window=6), "x.csv")
    times = {}
    for name in ("train", "val", "test"):
        part = getattr(data, name)
        times[name] = part.od.times[part.first]  # time of each window's first forecast step
    assert times["train"].max() < times["val"].min() and times["val"].max() < times["test"].min()
    # the forecast steps never leave their part: 60 train rows -> windows ending by row 59
    assert data.train.first.max() == 59
    train_rows = frame.iloc[:60]  # 1 - 0.2 - 0.2 of 100 rows, in time order
    cols = {c["name"]: c for c in data.preprocessing["columns"]}
    assert cols["y"]["shift"] == pytest.approx(train_rows["y"].mean())
    assert cols["temp"]["scale"] == pytest.approx(train_rows["temp"].std(ddof=0))
    # a trending target: the model sees its change from the window's last value, not its level
    assert data.info.input_shape == (6, 2) and data.info.features == ["y - last", "temp"]
    assert data.info.sizes == {"train": 54, "val": 20, "test": 20}


def test_windows_are_slices_of_one_series_tensor():
    data = series_data(Table(_monthly(100), ["y"]), _cfg(time="month", window=6, horizon=3), "x.csv")
    src = data.train.source(8, torch.Generator().manual_seed(0), "regression")
    assert isinstance(src, Windows)
    # one (T, F) tensor shared by every split, no (N, window, F) copy
    assert src.series.shape == (100, 2)
    assert src.series.data_ptr() == data.test.windows.series.data_ptr() == data.val.windows.series.data_ptr()
    x, y = next(src.ordered(4))
    start = int(data.train.windows.starts[1])
    assert torch.equal(x[1], src.series[start : start + 6])
    assert torch.equal(y[1], src.targets[start + 6 : start + 9, 0])  # (horizon * targets,), step-major
    seen = torch.cat([yb for _, yb in src.epoch(torch.Generator().manual_seed(1))])
    assert sorted(seen[:, 0].tolist()) == sorted(data.train.y[:, 0].tolist())


def test_groups_never_share_a_window():
    a, b = _monthly(40, 1), _monthly(40, 2)
    a["store"], b["store"] = "a", "b"
    b["y"] += 1000  # a window that crossed the two would hold values of both
    frame = pd.concat([a, b]).sort_values(["month", "store"])  # rows of both stores interleaved
    data = series_data(Table(frame, ["y"]), _cfg(time="month", window=4, group="store"), "x.csv")
    for part in (data.train, data.val, data.test):
        for x, y in part.windows.ordered():
            raw_x = (
                x[:, :, 0] * data.preprocessing["columns"][0]["scale"]
                + data.preprocessing["columns"][0]["shift"]
            )
            both = torch.cat([raw_x, y], 1)
            assert ((both > 500).all(1) | (both < 500).all(1)).all()
    assert "2 series by 'store'" in data.info.notes[0]


def test_baselines_match_a_hand_computation():
    y = np.array([1.0, 3, 2, 5, 4, 6, 8, 7, 9, 12, 10, 11, 14, 13, 15, 17, 16, 18, 20, 19], dtype=np.float32)
    frame = pd.DataFrame({"t": np.arange(20), "y": y})
    cfg = DataConfig(source="x.csv", target="y", series={"time": "t", "window": 3, "season": 2},
                     split={"val": 0.0, "test": 0.25})  # fmt: skip
    data = series_data(Table(frame, ["y"]), cfg, "x.csv")
    base = data.preprocessing["baselines"]
    test_targets = y[15:]  # rows 15..19 are the test part (the last quarter)
    naive = y[14:19]
    seasonal = y[13:18]  # one season (2 steps) before each target
    assert base["naive"]["mae"] == pytest.approx(np.abs(test_targets - naive).mean())
    assert base["naive"]["rmse"] == pytest.approx(np.sqrt(((test_targets - naive) ** 2).mean()))
    assert base["seasonal_naive"]["mae"] == pytest.approx(np.abs(test_targets - seasonal).mean())
    # linear AR: least squares of y[t] on y[t-3..t-1] and 1 over the 12 training windows
    xs = np.stack([y[s : s + 3] for s in range(12)])
    a = np.column_stack([(xs - y[:15].mean()) / y[:15].std(), np.ones(12)])
    coef = np.linalg.lstsq(a, y[3:15], rcond=None)[0]
    xt = np.stack([y[s : s + 3] for s in range(12, 17)])
    pred = np.column_stack([(xt - y[:15].mean()) / y[:15].std(), np.ones(5)]) @ coef
    assert base["linear_ar"]["mae"] == pytest.approx(np.abs(test_targets - pred).mean(), rel=1e-4)


def _bad(tmp, name: str) -> tuple[str, list[str]]:
    """Make the bad series `name` under tmp; return its path and the extra CLI arguments."""
    p = tmp / f"{name}.csv"
    frame = pd.DataFrame({"t": np.arange(30), "y": np.sin(np.arange(30.0))})
    args = ["--target", "y", "--set", "data.series.time=t", "--set", "data.series.window=4"]
    if name == "unsorted":
        frame.loc[[10, 11], "t"] = [11, 10]
    elif name == "duplicate":
        frame.loc[12, "t"] = 11
    elif name == "gap":
        frame.loc[20:, "t"] += 5
    elif name == "long_window":
        args[-1] = "data.series.window=25"
    elif name == "text_target":
        frame["y"] = [f"v{i}" for i in range(30)]
    elif name == "bad_date":
        frame["t"] = pd.date_range("2020-01-01", periods=30, freq="D").strftime("%Y-%m-%d")
        frame.loc[7, "t"] = "soon"
    elif name == "horizon":
        args += ["--set", "data.series.horizon=0"]
    elif name == "months_gap":
        frame["t"] = pd.date_range("2020-01-01", periods=30, freq="MS").strftime("%Y-%m-%d")
        frame = frame.drop(index=[14]).reset_index(drop=True)
    frame.to_csv(p, index=False)
    return str(p), args


BAD = {
    "unsorted": "{p}: time column 't' goes back from 11 (row 11) to 10 (row 12); sort the file by 't', or name "
    "the column that tells the series apart in data.series.group",
    "duplicate": "{p}: time 11 appears twice in 't' (rows 12 and 13); drop the duplicate rows, or name the "
    "column that tells the series apart in data.series.group",
    "gap": "{p}: time column 't' jumps from 19 (row 20) to 25 (row 21), but the series steps by 1; add the "
    "missing rows (empty values are interpolated) or resample the series to one step",
    "months_gap": "{p}: time column 't' jumps from 2021-02-01 (row 14) to 2021-04-01 (row 15), but the series "
    "steps by 1 month; add the missing rows (empty values are interpolated) or resample the series to one step",
    "long_window": "{p}: data.series.window 25 + horizon 1 = 26 steps, but the training part of the series is "
    "21 steps long (the first 70% of its 30 rows); use a window of at most 20, or a longer series",
    "text_target": "{p}: target column 'y' has a non-numeric value 'v0' at row 1; a forecast needs numbers "
    "(fix the value, or forecast another column)",
    "bad_date": "{p}: time column 't' has 'soon' at row 8, which is neither a date nor a number; fix that "
    "value (dates as 2024-01-31)",
    "horizon": "config: data.series.horizon: predicts nothing; use 1 (the next step) or more (got 0)",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_series_one_line(cli, tmp_path, name):
    path, args = _bad(tmp_path, name)
    result = cli(["train", "--data", path, *args, "--out", tmp_path / "run"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: " + BAD[name].format(p=path)


def test_newest_first_is_read_in_reverse():
    frame = _monthly(50).iloc[::-1].reset_index(drop=True)
    data = series_data(Table(frame, ["y"]), _cfg(time="month", window=4), "x.csv")
    assert "newest first" in " ".join(data.info.notes)
    assert np.all(np.diff(data.train.od.times.astype(np.int64)) > 0)


def test_empty_values_are_interpolated_with_a_note():
    frame = _monthly(50)
    frame.loc[[5, 6], "y"] = np.nan
    data = series_data(Table(frame, ["y"]), _cfg(time="month", window=4), "x.csv")
    assert any("2 empty values filled by linear interpolation" in n for n in data.info.notes)
    expected = (frame.loc[4, "y"] * 2 + frame.loc[7, "y"]) / 3
    assert data.train.windows.targets[5, 0].item() == pytest.approx(expected, rel=1e-6)


def test_builtin_series_read_statsmodels_files_and_keep_their_order():
    from treino.data.builtin import DATASETS
    from treino.data.load import load

    g = torch.Generator().manual_seed(0)
    expected = {"co2": (526, "1 month"), "elnino": (732, "1 month"), "sunspots": (309, "of 1 ("),
                "nile": (100, "of 1 ("), "sine": (400, "of 1 (")}  # fmt: skip
    for name, (steps, step) in expected.items():
        data = load(DataConfig(source=name), g, 0)
        assert data.info.kind == "series" and DATASETS.get(name).task == "regression"
        assert f"{steps} steps" in data.info.notes[0] and step in data.info.notes[0], data.info.notes[0]
    # a real series cut by data.n_samples keeps its latest steps, in order
    tail = load(DataConfig(source="nile", n_samples=60), g, 0)
    assert "60 steps of 1 (1911 .. 1970)" in tail.info.notes[0]


def test_a_series_without_trend_also_shows_its_level():
    t = np.arange(80)
    frame = pd.DataFrame(
        {"t": t, "y": np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.1, 80)}
    )
    data = series_data(Table(frame, ["y"]), _cfg(time="t", window=6), "x.csv")
    assert data.info.input_shape == (6, 2) and data.info.features == ["y - last", "y"]
    assert any(
        n.startswith("data.series.level auto: the target's level is an input too") for n in data.info.notes
    )
    x, _ = data.train.windows.take(torch.tensor([0]))
    assert torch.equal(x[0, :, 0], x[0, :, 1])  # the same scaled column twice; the model makes one relative
    fixed = series_data(Table(frame, ["y"]), _cfg(time="t", window=6, level=False), "x.csv")
    assert fixed.info.input_shape == (6, 1)


def test_a_relative_model_that_outputs_zero_is_the_naive_forecast():
    from treino import models
    from treino.config import ModelConfig
    from treino.data.series_baselines import naive, seasonal_naive

    for frame in (_monthly(80), _monthly(80).assign(y=lambda f: np.sin(np.arange(80.0)))):  # trend / level
        data = series_data(Table(frame, ["y"]), _cfg(time="month", window=6, horizon=2), "x.csv")
        model = models.build(ModelConfig(kind="mlp", hidden=[4]), data.info, data.preprocessing["target"])
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
        x, _ = next(data.test.windows.ordered())
        with torch.no_grad():
            assert torch.allclose(model(x), naive(data.test), atol=1e-4)
    # anchored on the season: a zero output is the seasonal naive forecast, step by step
    cfg = _cfg(time="month", window=14, horizon=3, season=4, anchor="season")
    data = series_data(Table(_monthly(80), ["y"]), cfg, "x.csv")
    model = models.build(ModelConfig(kind="mlp", hidden=[4]), data.info, data.preprocessing["target"])
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
    x, _ = next(data.test.windows.ordered())
    with torch.no_grad():
        assert torch.allclose(model(x), seasonal_naive(data.test, 4), atol=1e-4)


def test_windows_shard_each_batch_between_processes():
    s = torch.arange(40.0)[:, None]
    whole = Windows(s, s, torch.arange(30), window=4, horizon=1, batch_size=8)
    shards = [whole.shard(rank, 2) for rank in (0, 1)]
    batches = [list(src.epoch(torch.Generator().manual_seed(3))) for src in (whole, *shards)]
    for (_, y), (_, y0), (_, y1) in zip(*batches, strict=True):  # rows r, r + 2, ... of the same draw
        assert torch.equal(y0, y[0::2] if len(y) % 2 == 0 else torch.cat([y, y[:1]])[0::2])
        assert torch.equal(y1, y[1::2] if len(y) % 2 == 0 else torch.cat([y, y[:1]])[1::2])
    with pytest.raises(Exception, match=r"train\.batch_size 8 does not split evenly over 3 processes"):
        whole.shard(0, 3)


def test_several_targets_and_a_covariate():
    frame = _monthly(60)
    frame["z"] = np.cos(np.arange(60.0))
    cfg = DataConfig(source="x.csv", target=["y", "z"], series={"time": "month", "window": 5, "horizon": 2},
                     split={"val": 0.2, "test": 0.2})  # fmt: skip
    data = series_data(Table(frame, ["y", "z"]), cfg, "x.csv")
    assert data.info.n_outputs == 4 and data.info.features[:2] == ["y - last", "z - last"]
    assert "temp" in data.info.features and data.info.roles["temp"] == "covariate"
    start = int(data.train.windows.starts[0])
    expected = [frame["y"][start + 5], frame["z"][start + 5], frame["y"][start + 6], frame["z"][start + 6]]
    assert data.train.y[0].tolist() == pytest.approx(expected, rel=1e-6)  # step-major: (horizon, targets)
