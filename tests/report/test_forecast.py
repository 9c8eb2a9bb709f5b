"""A series end to end: treino train on a tiny synthetic series with a window and a horizon
(baselines in metrics.json and the summary, the long predictions.csv, the forecast plots, the
findings), then treino predict --steps, direct and recursive."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from treino.report import forecast


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    """One 3-epoch run on 120 steps of the noisy sine, window 10, horizon 3."""
    from typer.testing import CliRunner

    from treino.cli import app

    out = tmp_path_factory.mktemp("series") / "run"
    args = ["train", "--data", "sine", "--set", "data.n_samples=120", "--set", "data.series.window=10",
            "--set", "data.series.horizon=3", "--set", "model.hidden=[8]", "--set", "train.epochs=3",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_metrics_carry_the_baselines_and_the_summary_says_them(series_run):
    out, printed = series_run
    metrics = json.loads((out / "metrics.json").read_text())
    base = metrics["baselines"]
    assert base["split"] == "test" and set(base) == {"split", "naive", "seasonal_naive", "linear_ar"}
    assert len(base["naive"]["mae_by_step"]) == 3
    assert metrics["data"]["kind"] == "series" and metrics["data"]["input_shape"] == [10, 2]  # y - last, y
    assert "test MAE against the baselines: model" in printed
    codes = {f["code"] for f in metrics["diagnosis"]}
    assert codes & {"beats_baselines", "worse_than_naive", "worse_than_linear"}


def test_predictions_are_long_and_match_the_baselines(series_run):
    out, _ = series_run
    pred = pd.read_csv(out / "predictions.csv")
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(pred.columns) == ["row", "split", "time", "step", "target", "y_true", "y_pred", "naive",
                                  "seasonal_naive", "linear_ar"]  # fmt: skip
    assert set(pred["step"]) == {1, 2, 3} and len(pred) == 3 * metrics["data"]["sizes"]["test"]
    # the baselines' columns are the forecasts metrics.json measured
    for name in ("naive", "seasonal_naive", "linear_ar"):
        mae = (pred[name] - pred["y_true"]).abs().mean()
        assert mae == pytest.approx(metrics["baselines"][name]["mae"], rel=1e-5)
    assert (pred["y_pred"] - pred["y_true"]).abs().mean() == pytest.approx(metrics["test"]["mae"], rel=1e-4)
    # the test part's time stamps come after every training one (120 steps, the last 15% are test)
    assert pred["time"].min() >= 102
    table = forecast.by_step(pred)
    assert list(table.columns) == ["model", "naive", "seasonal_naive", "linear_ar"] and len(table) == 3


def test_report_draws_the_forecast(series_run):
    out, _ = series_run
    assert (out / "plots" / "forecast.png").stat().st_size > 1000
    assert (out / "plots" / "forecast_errors.png").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert 'alt="forecast"' in page and 'alt="forecast_errors"' in page


def test_findings_by_hand():
    base = {"split": "test", "naive": {"mae": 1.0}, "linear_ar": {"mae": 0.5}}
    assert [f["code"] for f in forecast.findings({"test": {"mae": 1.2}, "baselines": base})] == [
        "worse_than_naive", "worse_than_linear"]  # fmt: skip
    assert [f["code"] for f in forecast.findings({"test": {"mae": 0.7}, "baselines": base})] == [
        "worse_than_linear"
    ]
    found = forecast.findings({"test": {"mae": 0.4}, "baselines": base})
    assert found[0]["code"] == "beats_baselines" and "20% lower" in found[0]["message"]
    assert forecast.findings({"test": {"mae": 0.4}}) == []


def test_predict_steps_direct_and_recursive(series_run, cli, tmp_path):
    out, _ = series_run
    t = np.arange(60)
    pd.DataFrame({"t": t, "y": np.sin(2 * np.pi * t / 20)}).to_csv(tmp_path / "s.csv", index=False)
    direct = cli(["predict", out, tmp_path / "s.csv", "--steps", "2", "--output", tmp_path / "d.csv"])
    assert direct.exit_code == 0, direct.output
    assert "forecast: 2 steps after 59, direct (the model predicts 3 steps at once)" in direct.output
    frame = pd.read_csv(tmp_path / "d.csv")
    assert list(frame.columns) == ["t", "step", "y", "method"] and frame["t"].tolist() == [60, 61]
    recursive = cli(["predict", out, tmp_path / "s.csv", "--steps", "7", "--output", tmp_path / "r.csv"])
    assert recursive.exit_code == 0, recursive.output
    assert "recursive (the model predicts 3 steps at a time" in recursive.output
    frame = pd.read_csv(tmp_path / "r.csv")
    assert frame["t"].tolist() == list(range(60, 67)) and set(frame["method"]) == {"recursive"}
    # the first steps of a recursive forecast are the direct ones
    assert frame["y"].iloc[:2].tolist() == pytest.approx(
        pd.read_csv(tmp_path / "d.csv")["y"].tolist(), rel=1e-6
    )


def test_predict_steps_refuses_a_short_series(series_run, cli, tmp_path):
    out, _ = series_run
    pd.DataFrame({"t": np.arange(5), "y": np.zeros(5)}).to_csv(tmp_path / "short.csv", index=False)
    result = cli(["predict", out, tmp_path / "short.csv", "--steps", "2"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {tmp_path / 'short.csv'}: the series has 5 steps but the model reads the last 10 "
        f"(data.series.window); give at least 10 rows"
    )


def test_sequences_lesson_builds_each_variant():
    """Every variant of `treino compare --lesson sequences` is a valid config whose model runs on
    the lesson's series (the full lesson is measured in docs/lessons/sequences.md)."""
    import torch

    from treino import config, models
    from treino.data.load import load
    from treino.experiments.lessons import LESSONS
    from treino.run.names import check_names

    lesson = LESSONS.get("sequences")
    data = None
    for label, settings in lesson.variants:
        cfg = config.load(lesson.config, settings)
        check_names(cfg)
        data = data or load(cfg.data, torch.Generator().manual_seed(0), 0)
        model = models.build(cfg.model, data.info, data.preprocessing["target"])
        x = data.train.take(slice(0, 3))
        assert model(x).shape == (3, 1), label
    assert [label for label, _ in lesson.variants] == [
        "linear (autoregression)",
        "RNN (plain, tanh)",
        "LSTM",
        "GRU",
    ]


def test_a_series_model_exports_to_onnx(series_run, cli):
    pytest.importorskip("onnxruntime")
    out, _ = series_run
    result = cli(["export", out, "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert "onnxruntime parity: max abs difference" in result.output and (out / "model.onnx").exists()


def test_recursive_forecast_with_covariates_is_refused(cli, tmp_path):
    t = np.arange(80)
    frame = pd.DataFrame({"t": t, "y": np.sin(t / 3.0), "temp": np.cos(t / 5.0)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    run = cli(["train", "--data", tmp_path / "s.csv", "--target", "y", "--set", "data.series.time=t",
               "--set", "data.series.window=6", "--set", "train.epochs=1", "--set", "model.hidden=[4]",
               "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert run.exit_code == 0, run.output
    result = cli(["predict", tmp_path / "run", tmp_path / "s.csv", "--steps", "3"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --steps 3 is more than the model's horizon (1), so its forecasts would be fed back as inputs, "
        "but it also reads 'temp', whose future values are unknown; use --steps 1 or fewer"
    )
    direct = cli(["predict", tmp_path / "run", tmp_path / "s.csv", "--steps", "1"])
    assert direct.exit_code == 0 and "direct" in direct.output


def test_evaluate_rereads_a_builtin_series_as_training_did(series_run, cli):
    """Regression: the saved config.yaml spells out data.series (time: null, season: null), which
    overrode the built-in's own time column and season, so evaluate saw 'the data changed'."""
    out, _ = series_run
    result = cli(["evaluate", out])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "evaluation.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert evaluation["metrics"]["mae"] == pytest.approx(metrics["test"]["mae"], rel=1e-5)
