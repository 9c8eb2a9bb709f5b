"""Plots and report.html, from the run folder alone (never imports the engine)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from treino.rundir import read_json, write_text


def _plot_loss(history: pd.DataFrame, steps: pd.DataFrame | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    if steps is not None and len(steps):
        ax.plot(steps["step"], steps["loss"], color="#9ab", lw=0.8, label="iteration")
        window = max(1, len(steps) // 50)
        smooth = steps["loss"].rolling(window, min_periods=1).mean()
        ax.plot(steps["step"], smooth, color="#136", lw=1.5, label=f"smoothed ({window})")
        ax.legend()
    ax.set(title="Training loss per iteration", xlabel="iteration", ylabel="loss")
    ax = axes[1]
    if len(history):
        ax.plot(history["epoch"], history["train_loss"], "o-", label="train")
        if "val_loss" in history:
            ax.plot(history["epoch"], history["val_loss"], "s-", label="validation")
        ax.legend()
    ax.set(title="Loss per epoch", xlabel="epoch", ylabel="loss")
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _metrics_table(metrics: dict[str, Any]) -> str:
    parts = [p for p in ("train", "val", "test") if p in metrics]
    if not parts:
        return "<p>No metrics (the run ended before its first epoch).</p>"
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{metrics[p].get(name, float('nan')):.4f}</td>" for p in parts)
        + "</tr>"
        for name in metrics[parts[0]]
    )
    head = "".join(f"<th>{p}</th>" for p in parts)
    return f"<table><tr><th>metric</th>{head}</tr>{rows}</table>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}img{max-width:100%}pre{background:#f6f6f6;padding:1em}"""


def write(run_dir: str | Path) -> Path:
    """Draw the plots into plots/ and write report.html; works on interrupted runs too."""
    run_dir = Path(run_dir)
    metrics = read_json(run_dir / "metrics.json")
    history = pd.read_csv(run_dir / "history.csv") if (run_dir / "history.csv").exists() else pd.DataFrame()
    steps_path = run_dir / "steps.csv"
    steps = pd.read_csv(steps_path) if steps_path.exists() else None
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    _plot_loss(history, steps, plots / "loss.png")
    config = (run_dir / "config.yaml").read_text(encoding="utf-8")
    body = f"""<h1>treino run: {html.escape(run_dir.name)}</h1>
<p>status: <b>{html.escape(metrics["status"])}</b>, task: {html.escape(metrics["task"])},
epochs: {metrics["epochs_run"]}, best epoch: {metrics["best_epoch"]},
time: {metrics["timing"]["total_seconds"]:.1f} s</p>
<h2>Metrics</h2>{_metrics_table(metrics)}
<h2>Convergence</h2>{_img(plots / "loss.png")}
<h2>Model</h2><pre>{html.escape(str(metrics["model"]["layers"]))}</pre>
<h2>Data</h2><pre>{html.escape(json.dumps(metrics["data"], indent=1)[:4000])}</pre>
<h2>Config</h2><pre>{html.escape(config)}</pre>"""
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>treino {html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    out = run_dir / "report.html"
    write_text(out, page)
    return out
