"""The report: plots per task, one self-contained report.html, rebuilt from the folder alone
(interrupted runs included), and opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import treino
from treino import report
from treino.errors import RunError
from treino.report import run_page

QUIET = {"log": {"progress": False}}
RUNS = {
    # name: (config, the plots its report must hold)
    "iris": (
        {"data": {"source": "iris"}, "train": {"epochs": 3}},
        {"loss", "metrics", "lr", "probes", "confusion", "per_class"},
    ),
    "cancer": (
        {"data": {"source": "breast_cancer"}, "train": {"epochs": 2}},
        {"loss", "metrics", "lr", "probes", "confusion", "per_class", "roc"},
    ),
    "houses": (
        {"data": {"source": "houses"}, "train": {"epochs": 3}},
        {"loss", "metrics", "lr", "probes", "predicted_vs_actual", "residuals", "fit"},
    ),
    "digits": (
        {"data": {"source": "digits"}, "model": {"channels": [4]}, "train": {"epochs": 1}},
        {"loss", "metrics", "lr", "probes", "confusion", "per_class", "misclassified"},
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    out = {}
    for name, (cfg, _) in RUNS.items():
        out[name] = treino.train({**cfg, **QUIET}, out=root / name, quiet=True).dir
    return out


def _images(page: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)


@pytest.mark.parametrize("name", list(RUNS))
def test_every_plot_of_the_task_is_drawn_and_embedded(runs: dict[str, Path], name: str) -> None:
    folder = runs[name]
    expected = RUNS[name][1]
    assert {p.stem for p in (folder / "plots").glob("*.png")} == expected
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert set(_images(page)) == expected
    for section in ("Diagnosis", "Metrics", "Data", "Model", "Timing", "Config"):
        assert f">{section}</h2>" in page


@pytest.mark.parametrize("name", list(RUNS))
def test_report_requests_nothing(runs: dict[str, Path], name: str) -> None:
    page = (runs[name] / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    sources = re.findall(r"""(?:src|href)=['"]([^'"]*)['"]""", page)
    assert sources and all(s.startswith(("data:", "#")) for s in sources), sources


def test_predictions_of_a_classifier(runs: dict[str, Path]) -> None:
    metrics = json.loads((runs["iris"] / "metrics.json").read_text())
    pred = pd.read_csv(runs["iris"] / "predictions.csv")
    classes = metrics["data"]["classes"]
    assert len(pred) == metrics["data"]["sizes"]["test"]
    probs = pred[[f"p_{c}" for c in classes]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (np.array(classes)[probs.argmax(axis=1)] == pred["y_pred"]).all()
    accuracy = (pred["y_true"] == pred["y_pred"]).mean()
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])


def test_predictions_and_fitted_line_of_a_one_feature_regression(runs: dict[str, Path]) -> None:
    metrics = json.loads((runs["houses"] / "metrics.json").read_text())
    pred = pd.read_csv(runs["houses"] / "predictions.csv")
    curve = pd.read_csv(runs["houses"] / "curve.csv")
    assert list(pred.columns) == ["row", "split", "x", "y_true", "y_pred"]
    # x is back in the data's units (rooms: 1 to 10, one decimal), not standardized
    assert 0.999 <= pred["x"].min() and pred["x"].max() <= 10.001
    assert np.allclose(pred["x"] * 10, (pred["x"] * 10).round(), atol=1e-3)
    assert len(curve) == 200 and curve["x"].is_monotonic_increasing
    mae = (pred["y_true"] - pred["y_pred"]).abs().mean()
    assert mae == pytest.approx(metrics["test"]["mae"], rel=1e-4)


def test_misclassified_images_are_the_wrong_ones(runs: dict[str, Path]) -> None:
    pred = pd.read_csv(runs["digits"] / "predictions.csv", dtype={"y_true": str, "y_pred": str})
    wrong = pred[pred["y_true"] != pred["y_pred"]]
    with np.load(runs["digits"] / "misclassified.npz") as npz:
        assert len(npz["images"]) == min(32, len(wrong)) > 0
        assert npz["images"].dtype == np.uint8 and npz["images"].shape[1:] == (1, 8, 8)
        assert (npz["y_true"] != npz["y_pred"]).all()
        assert list(npz["row"]) == list(wrong["row"][:32])


def test_cli_report_rebuilds_from_the_folder_alone(runs: dict[str, Path], tmp_path: Path, cli) -> None:
    folder = shutil.copytree(runs["iris"], tmp_path / "copy")
    shutil.rmtree(folder / "plots")
    (folder / "report.html").unlink()
    result = cli(["report", folder])
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").exists()
    assert {p.stem for p in (folder / "plots").glob("*.png")} == RUNS["iris"][1]


def test_without_a_test_split_the_validation_split_is_named(runs: dict[str, Path], tmp_path: Path) -> None:
    folder = shutil.copytree(runs["iris"], tmp_path / "notest")
    pred = pd.read_csv(folder / "predictions.csv")
    pred.assign(split="val").to_csv(folder / "predictions.csv", index=False)
    page = report.write(folder).read_text(encoding="utf-8")
    assert "<h2 id='test'>Validation set (the run has no test split)</h2>" in page


def test_report_never_imports_the_engine() -> None:
    code = "import sys, treino.report; print(any(m.startswith('treino.engine') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_report_of_a_killed_run_reads_its_last_checkpoint(runs: dict[str, Path], tmp_path: Path) -> None:
    folder = shutil.copytree(runs["iris"], tmp_path / "killed")
    for name in ("metrics.json", "history.csv", "steps.csv", "predictions.csv", "report.html"):
        (folder / name).unlink()
    shutil.rmtree(folder / "plots")
    page = report.write(folder).read_text(encoding="utf-8")
    assert "no metrics.json: the run stopped before it finished" in page
    assert "history read from checkpoints/last.pt (3 epochs)" in page
    assert set(_images(page)) == {"loss", "metrics", "lr", "probes"}  # the checkpoint history has the probes
    assert "class='finding" in page  # the diagnosis, computed from the checkpoint's history


def test_report_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunError) as err:
        report.write(tmp_path)
    assert str(err.value) == f"{tmp_path}: not a treino run folder (no config.yaml); give a run folder"
    with pytest.raises(RunError) as err:
        report.write(tmp_path / "nope")
    assert (
        str(err.value) == f"{tmp_path / 'nope'}: no such run folder; give the folder that treino train wrote"
    )


def test_diagnosis_is_recorded_and_shown(runs: dict[str, Path]) -> None:
    metrics = json.loads((runs["houses"] / "metrics.json").read_text())
    findings = metrics["diagnosis"]
    assert findings and all(set(f) == {"code", "message", "epoch"} for f in findings)
    page = (runs["houses"] / "report.html").read_text(encoding="utf-8")
    for f in findings:
        assert f"<span class='code'>{f['code']}</span>" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"
)
def test_reports_open_in_headless_chromium(runs: dict[str, Path]) -> None:
    from playwright.sync_api import sync_playwright  # in the dev extra: missing is a failure, not a skip

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            for name, folder in runs.items():
                page = browser.new_page()
                problems: list[str] = []
                requests: list[str] = []
                page.on("console", lambda m, p=problems: p.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, p=problems: p.append(str(e)))
                page.on("request", lambda r, q=requests: q.append(r.url))
                url = (folder / "report.html").resolve().as_uri()
                page.goto(url, wait_until="load")
                images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.naturalWidth])")
                assert {alt for alt, _ in images} == RUNS[name][1]
                assert all(width > 0 for _, width in images), images
                assert problems == [], problems
                assert [r for r in requests if not r.startswith("data:")] == [url]
                page.close()
        finally:
            browser.close()


def test_parameter_counts_are_whole_numbers_not_scientific():
    """A 23,722-parameter CNN read '2.372e+04 parameters' in report.html."""
    head = run_page.model_summary({"kind": "cnn", "parameters": 23722, "summary": "..."})
    assert head.startswith("<p>cnn, 23,722 parameters</p>")


def test_timing_leaves_out_what_was_not_measured():
    """report.html showed 'compile seconds None' for every run without train.compile."""
    table = run_page.timing({"timing": {"total_seconds": 1.5, "compile_seconds": None, "threads": 1}})
    assert (
        table
        == "<table><tr><td>total seconds</td><td>1.5</td></tr><tr><td>threads</td><td>1</td></tr></table>"
    )
