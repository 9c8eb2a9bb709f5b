"""summary.csv, the overlaid curves and compare.html of a comparison, from its folder alone
(compare.json + each run folder); never imports the engine."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from treino.files import read_json, write_text
from treino.report.draw import rcParams, save, subplots
from treino.report.html import cell, document, esc, image

OK = ("completed", "early_stopped")


def _load_run(folder: Path, run: dict[str, Any]) -> dict[str, Any]:
    """A run's metrics, history, steps and the x axes of its steps (samples seen, seconds)."""
    path = folder / run["dir"]
    out: dict[str, Any] = {"metrics": None, "history": None, "steps": None}
    if not (path / "metrics.json").exists():
        return out
    metrics = read_json(path / "metrics.json")
    out["metrics"] = metrics
    if (path / "history.csv").exists():
        history = pd.read_csv(path / "history.csv")
        if len(history):
            history["wall"] = history["seconds"].cumsum()
            out["history"] = history
    steps_path = path / "steps.csv"
    if out["history"] is not None and steps_path.exists():
        steps = pd.read_csv(steps_path)
        cfg = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
        n_train = int(metrics["data"]["sizes"]["train"])
        size = cfg["train"]["batch_size"]
        size = n_train if size == "full" else min(int(size), n_train)
        k = steps.groupby("epoch").cumcount() + 1  # iteration within its epoch, from 1
        steps["samples"] = (steps["epoch"] - 1) * n_train + np.minimum(k * size, n_train)
        # seconds: each epoch's time spread evenly over its iterations (only epochs are timed)
        history = out["history"].set_index("epoch")
        per_epoch = steps.groupby("epoch")["step"].transform("count")
        start = steps["epoch"].map(history["wall"] - history["seconds"])
        steps["wall"] = start + steps["epoch"].map(history["seconds"]) * k / per_epoch
        out["steps"] = steps.dropna(subset=["wall"])
    return out


def _main_metric(task: str) -> str:
    """The metric the table and the bar chart show: accuracy, or rmse for a regression."""
    return "rmse" if task == "regression" else "accuracy"


def summarize(folder: str | Path) -> pd.DataFrame:
    """One row per variant: its settings, mean/std of each val/test metric, time; writes summary.csv."""
    folder = Path(folder)
    manifest = read_json(folder / "compare.json")
    rows = []
    for variant in manifest["variants"]:
        loaded = [(run, _load_run(folder, run)) for run in variant["runs"]]
        row: dict[str, Any] = {"variant": variant["label"]}
        row |= {k: _cell(variant["settings"].get(k)) for k in manifest["keys"]}
        statuses = [run["status"] for run, _ in loaded]
        row["runs"] = len(loaded)
        row["completed"] = sum(s in OK for s in statuses)
        row["status"] = ",".join(dict.fromkeys(statuses))
        usable = [(run, d["metrics"]) for run, d in loaded if d["metrics"] and run["status"] in OK]
        for part in ("val", "test"):
            names = list(dict.fromkeys(n for _, m in usable for n in m.get(part, {})))
            for name in names:
                values = [m[part][name] for _, m in usable if name in m.get(part, {})]
                row[f"{part}_{name}_mean"] = float(np.mean(values))
                row[f"{part}_{name}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
        timed = [m for _, d in loaded if (m := d["metrics"]) and m["epochs_run"]]
        if timed:
            row["epochs"] = float(np.mean([m["epochs_run"] for m in timed]))
            row["wall_seconds"] = float(np.mean([m["timing"]["total_seconds"] for m in timed]))
            row["seconds_per_epoch"] = float(np.mean([m["timing"]["seconds_per_epoch"] for m in timed]))
            row["samples_per_second"] = float(np.mean([_throughput(m) for m in timed]))
        row["error"] = next((run["error"] for run, _ in loaded if run.get("error")), "")
        rows.append(row)
    frame = pd.DataFrame(rows)
    tmp = folder / "summary.csv.tmp"
    frame.to_csv(tmp, index=False)
    tmp.replace(folder / "summary.csv")
    return frame


def _throughput(metrics: dict[str, Any]) -> float:
    """Training samples per second of one run."""
    seconds = metrics["timing"]["train_seconds"]
    return metrics["data"]["sizes"]["train"] * metrics["epochs_run"] / seconds if seconds else math.nan


def _cell(value: Any) -> Any:
    """A setting as summary.csv holds it: lists and mappings as JSON."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def _plot(folder: Path, manifest: dict[str, Any], runs: list[list[dict[str, Any]]], task: str) -> list[Path]:
    """plots/curves.png (loss on four axes) and plots/metrics.png (the metric per epoch, test bars)."""
    colors = rcParams()["axes.prop_cycle"].by_key()["color"]
    labels = [v["label"] for v in manifest["variants"]]
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)

    fig, axes = subplots(2, 2, figsize=(12, 8.5))
    panels = [
        (axes[0, 0], "history", "epoch", "val_loss", "Validation loss per epoch", "epoch"),
        (axes[0, 1], "steps", "step", "loss", "Training loss per iteration", "iteration (log scale)"),
        (axes[1, 0], "history", "wall", "val_loss", "Validation loss per wall-clock second", "seconds"),
        (axes[1, 1], "steps", "samples", "loss", "Training loss per samples seen", "samples seen"),
    ]
    for ax, kind, x, y, title, xlabel in panels:
        for i, variant_runs in enumerate(runs):
            for j, data in enumerate(variant_runs):
                frame = data[kind]
                if frame is None or y not in frame:
                    continue
                values = frame[y]
                gid = "diverged" if data["metrics"]["status"] == "diverged" else None
                if kind == "steps":
                    # raw iterations, faint (the zig-zag), and a half-epoch moving average
                    window = max(1, int(frame.groupby("epoch")["step"].count().median()) // 2)
                    ax.plot(frame[x], values, color=colors[i % 10], lw=0.5, alpha=0.25, gid=gid)
                    values = values.rolling(window, min_periods=1).mean()
                ax.plot(frame[x], values, color=colors[i % 10], lw=1.6, alpha=0.9, gid=gid,
                        label=labels[i] + (" (diverged)" if gid else "") if j == 0 else None)  # fmt: skip
        if x == "step":
            ax.set_xscale("log")
        _scale_y(ax)
        ax.set(title=title, xlabel=xlabel, ylabel=y.replace("_", " "))
        ax.grid(alpha=0.3)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=8)
    curves = save(fig, plots / "curves.png", grid=False)

    metric = _main_metric(task)
    fig, axes = subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    for i, variant_runs in enumerate(runs):
        for j, data in enumerate(variant_runs):
            h = data["history"]
            if h is None or f"val_{metric}" not in h:
                continue
            gid = "diverged" if data["metrics"]["status"] == "diverged" else None
            ax.plot(h["epoch"], h[f"val_{metric}"], color=colors[i % 10], lw=1.6, gid=gid,
                    label=f"{labels[i]} (validation)" if j == 0 else None)  # fmt: skip
            if f"train_{metric}" in h:
                ax.plot(h["epoch"], h[f"train_{metric}"], color=colors[i % 10], lw=1, ls="--", gid=gid,
                        label="train (dashed)" if i == j == 0 else None)  # fmt: skip
    _scale_y(ax)
    ax.set(title=f"{metric} per epoch: train (dashed) and validation", xlabel="epoch", ylabel=metric)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax = axes[1]
    means, stds = [], []
    for variant_runs in runs:
        values = [d["metrics"]["test"][metric] for d in variant_runs if d["metrics"]
                  and d["metrics"]["status"] in OK and metric in d["metrics"].get("test", {})]  # fmt: skip
        means.append(np.mean(values) if values else np.nan)
        stds.append(np.std(values) if len(values) > 1 else 0.0)
    ax.barh(range(len(runs)), means, xerr=stds, color=[colors[i % 10] for i in range(len(runs))])
    ax.set_yticks(range(len(runs)), [lbl[:40] for lbl in labels], fontsize=8)
    for k, mean in enumerate(means):
        if not np.isfinite(mean):  # failed or diverged: no bar, say so
            ax.text(
                0.02, k, "no completed run", transform=ax.get_yaxis_transform(), va="center", color="#b00"
            )
    ax.invert_yaxis()
    finite = [m for m in means if np.isfinite(m)]
    if finite and metric == "accuracy":
        ax.set_xlim(max(0.0, min(finite) - 0.05), 1.0)
    ax.set(title=f"test {metric} (mean ± std over seeds)", xlabel=metric)
    ax.grid(alpha=0.3, axis="x")
    return [curves, save(fig, plots / "metrics.png", grid=False)]


def _scale_y(ax: Any) -> None:
    """Fit the y axis to the runs that did not diverge (a diverged one leaves the chart at the top);
    log scale when those span orders of magnitude."""
    lines = ax.get_lines()
    kept = [line for line in lines if line.get_gid() != "diverged"] or lines
    ys = np.concatenate([np.asarray(line.get_ydata(), float) for line in kept] or [np.array([])])
    ys = ys[np.isfinite(ys)]
    if not len(ys):
        return
    low, high = float(ys.min()), float(ys.max())
    if low > 0 and high / low > 100:
        ax.set_yscale("log")
        ax.set_ylim(low / 1.5, high * 1.5)
    elif len(kept) < len(lines):
        pad = 0.05 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)


def _table(summary: pd.DataFrame, task: str) -> str:
    """The summary table of the page: one row per variant, red when a run did not complete."""
    metric = _main_metric(task)
    cols = ["variant", "status", f"val_{metric}_mean", f"val_{metric}_std", "val_loss_mean",
            f"test_{metric}_mean", f"test_{metric}_std", "epochs", "wall_seconds",
            "seconds_per_epoch", "samples_per_second"]  # fmt: skip
    cols = [c for c in cols if c in summary]
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in cols)
    body = ""
    for _, row in summary.iterrows():
        bad = " class='bad'" if row["completed"] < row["runs"] else ""
        body += f"<tr{bad}>" + "".join(f"<td>{cell(row[c])}</td>" for c in cols) + "</tr>"
    return f"<table id='summary'><tr>{head}</tr>{body}</table>"


def write(folder: str | Path) -> Path:
    """Write summary.csv, plots/curves.png, plots/metrics.png and compare.html (self-contained)."""
    folder = Path(folder)
    manifest = read_json(folder / "compare.json")
    summary = summarize(folder)
    runs = [[_load_run(folder, run) for run in v["runs"]] for v in manifest["variants"]]
    found = [d["metrics"]["task"] for vr in runs for d in vr if d["metrics"]]
    task = found[0] if found else "multiclass"
    images = _plot(folder, manifest, runs, task)
    lesson = manifest.get("lesson")
    intro = ""
    if lesson:
        paragraphs = "".join(f"<p>{esc(p)}</p>" for p in lesson["look_for"].split("\n\n"))
        intro = (f"<div class='lesson'><h2>Lesson: {esc(lesson['title'])}</h2>"
                 f"<h3>What to look for</h3>{paragraphs}</div>")  # fmt: skip
    problems = [
        f"<li><b>{esc(v['label'])}</b> seed {r['seed']}: {esc(r['status'])}"
        f"{': ' + esc(r['error']) if r.get('error') else ''}</li>"
        for v in manifest["variants"]
        for r in v["runs"]
        if r["status"] not in OK
    ]
    failed = f"<h2 class='bad'>Failed runs</h2><ul id='failed'>{''.join(problems)}</ul>" if problems else ""
    links = "".join(
        f"<li><a href='{esc(r['dir'])}/report.html'>{esc(r['dir'])}</a> ({r['status']})</li>"
        for v in manifest["variants"]
        for r in v["runs"]
        if (folder / r["dir"] / "report.html").exists()
    )
    title = f"treino compare: {lesson['title'] if lesson else manifest['name']}"
    if lesson:
        intro += f"<p>Run it yourself: <code>treino compare --lesson {esc(lesson['name'])}</code></p>"
    body = f"""<h1>{esc(title)}</h1>{intro}
<p>{len(manifest["variants"])} variants × {manifest["repeats"]} seed(s), {manifest.get("jobs", 1)} at a time,
{manifest.get("wall_seconds", 0):.0f} s in all. Varied: {esc(", ".join(manifest["keys"]))}.</p>
<h2>Summary</h2>{_table(summary, task)}{failed}
<h2>Curves on four axes</h2>
<p>Per epoch and per iteration show progress per pass and per update; per second and per samples seen
are the fair axes when batch sizes or speeds differ. Faint lines are single iterations, solid lines
a half-epoch moving average; wall-clock time within an epoch is spread evenly over its iterations.</p>
{image(images[0])}<h2>Metric</h2>{image(images[1])}
<h2>Runs</h2><ul>{links}</ul>
<h2>Base config</h2><pre>{esc(yaml.safe_dump(manifest["base_config"], sort_keys=False))}</pre>"""
    out = folder / "compare.html"
    write_text(out, document(title, body))
    return out
