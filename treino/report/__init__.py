"""Plots and report.html, from the run folder alone (never imports the engine).

`write(run_dir)` draws every plot that the run's files allow into plots/ and writes one
self-contained report.html; `treino report RUN` calls it, for finished and interrupted runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treino.files import write_text
from treino.report import classification, curves, forecast, probe_plots, regression
from treino.report.diagnosis import diagnose
from treino.report.record import Record, load
from treino.report.run_page import render

__all__ = ["Record", "draw", "load", "write"]


def findings_of(record: Record) -> list[dict[str, Any]]:
    """The run's diagnosis; computed from the history for runs that did not record one."""
    found = record.metrics.get("diagnosis")
    if found:
        return found
    m = record.metrics
    return diagnose(record.history, record.steps, m.get("status", "completed"), m.get("best_epoch"))


def draw(record: Record, findings: list[dict[str, Any]]) -> dict[str, list[Path]]:
    """Every plot the run's files allow, by report section: {'convergence': [...], 'test': [...]}."""
    folder = record.dir / "plots"
    folder.mkdir(exist_ok=True)
    history, best = record.history, record.metrics.get("best_epoch")
    convergence = [
        curves.loss(
            history, record.steps, findings, folder / "loss.png", record.metrics.get("loss_label") or "loss"
        ),
        curves.metrics(history, best, folder / "metrics.png"),
        curves.learning_rate(history, folder / "lr.png"),
        probe_plots.probes(history, folder / "probes.png", record.metrics.get("loss_label") or "loss"),
    ]
    test: list[Path | None] = []
    pred = record.predictions
    split = str(pred["split"].iloc[0]) if pred is not None and len(pred) else "test"
    if pred is not None and len(pred):
        test += forecast.plots(pred, folder)  # a series: its forecasts and the baselines' errors
        if record.task == "regression":
            test += [
                regression.predicted_vs_actual(pred, folder / "predicted_vs_actual.png", split),
                regression.residuals(pred, folder / "residuals.png"),
            ]
            if record.curve is not None:
                feature = (record.data.get("features") or ["x"])[0]
                target = (record.data.get("targets") or ["y"])[0]
                line = (record.metrics.get("equation") or {}).get("text")  # a linear regression's y = a·x + b
                test.append(regression.fitted(pred, record.curve, feature, target, folder / "fit.png", line))
        elif record.classes:
            test += [
                classification.confusion(pred, record.classes, folder / "confusion.png"),
                classification.per_class(pred, record.classes, folder / "per_class.png", split),
                classification.roc(pred, record.classes, folder / "roc.png"),
            ]
    if record.misclassified is not None and record.classes:
        test.append(
            classification.misclassified(record.misclassified, record.classes, folder / "misclassified.png")
        )
    return {"convergence": [p for p in convergence if p], "test": [p for p in test if p]}


def write(run_dir: str | Path) -> Path:
    """Draw the plots into plots/ and write report.html; works on interrupted runs too.

    Example:
        >>> treino.report.write("runs/iris-20260101-120000")
        PosixPath('runs/iris-20260101-120000/report.html')
    """
    record = load(Path(run_dir))
    findings = findings_of(record)
    plots = draw(record, findings)
    out = record.dir / "report.html"
    write_text(out, render(record, plots, findings))
    return out
