"""trials.csv and tune.html of a tune study: trials table, optimization history, per-epoch
values (what the pruner saw), parameter importances and one slice per parameter."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from treino.files import write_text
from treino.report.draw import save, subplots
from treino.report.html import cell, document, esc, image


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs, seconds, each parameter, run, error."""
    rows = []
    for t in study.trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        row = {"trial": t.number, "state": t.state.name.lower(), "value": t.value,
               "epochs": t.user_attrs.get("epochs"), "seconds": seconds}  # fmt: skip
        row |= {f"param.{k}": v for k, v in t.params.items()}
        row |= {"run": t.user_attrs.get("run", ""), "error": t.user_attrs.get("error", "")}
        row["note"] = "your config" if t.user_attrs.get("baseline") else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _plots(folder: Path, study: Any, frame: pd.DataFrame, metric: str) -> list[tuple[str, Path]]:
    """plots/history.png (the value per trial and per epoch) and plots/slices.png (per parameter)."""
    import optuna

    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    out = []
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = frame[frame["state"] == "complete"]

    fig, axes = subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    ax.plot(done["trial"], done["value"], "o", color="#36c", label="completed trial")
    if len(done):
        best = done["value"].cummax() if maximize else done["value"].cummin()
        ax.step(done["trial"], best, where="post", color="#c33", label="best so far")
    pruned = [t for t in study.trials if t.state.name == "PRUNED" and t.intermediate_values]
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.plot([t.number for t in pruned], last, "x", color="#999", label="pruned (last epoch)")
    ax.set(title="Optimization history", xlabel="trial", ylabel=metric)
    ax.legend(fontsize=8)
    ax = axes[1]
    for t in study.trials:
        if t.intermediate_values:
            steps = sorted(t.intermediate_values)
            style = (
                {"color": "#36c", "alpha": 0.7}
                if t.state.name == "COMPLETE"
                else {"color": "#999", "alpha": 0.5}
            )
            ax.plot(steps, [t.intermediate_values[s] for s in steps], lw=1, **style)
    ax.set(title="Per epoch (blue completed, grey pruned or failed)", xlabel="epoch", ylabel=metric)
    out.append(("Optimization history", save(fig, plots / "history.png")))

    params = [c for c in frame.columns if c.startswith("param.")]
    if params and len(done):
        cols = min(3, len(params))
        rows = math.ceil(len(params) / cols)
        fig, axes = subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
        for ax, col in zip(axes.flat, params, strict=False):
            values = done[col]
            logx = col.removeprefix("param.") in _log_params(study)
            x = values.astype(str) if values.dtype == object else values
            ax.scatter(x, done["value"], c=done["trial"], cmap="viridis", s=20)
            if logx:
                ax.set_xscale("log")
            ax.set(title=col.removeprefix("param."), ylabel=metric)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(params) :]:
            ax.axis("off")
        title = "Each parameter against the value (colour: trial number, later is lighter)"
        out.append((title, save(fig, plots / "slices.png", grid=False)))
    return out


def _log_params(study: Any) -> set[str]:
    """The parameters sampled on a log scale (their slice gets a log x axis)."""
    import optuna

    found = set()
    for t in study.trials:
        for k, d in t.distributions.items():
            if isinstance(d, optuna.distributions.FloatDistribution) and d.log:
                found.add(k)
    return found


def importances(study: Any) -> dict[str, float] | str:
    """fANOVA importances (scikit-learn's random forest); a sentence when they cannot be had."""
    import optuna

    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if len(done) < 3:
        return f"Parameter importances need at least 3 completed trials ({len(done)} so far)."
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as exc:  # e.g. every trial has the same parameters
        return f"Parameter importances could not be computed: {exc}"


def write(folder: Path, study: Any, frame: pd.DataFrame) -> Path:
    """Draw the plots and write tune.html (self-contained: images inline)."""
    import optuna

    metric = study.user_attrs.get("metric", "val_loss")
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    images = _plots(folder, study, frame, metric)
    found = importances(study)
    if isinstance(found, str):
        importance = f"<p>{esc(found)}</p>"
    else:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{v:.3f}</td>"
                       f"<td><div style='background:#36c;height:10px;width:{300 * v:.0f}px'></div></td></tr>"
                       for k, v in found.items())  # fmt: skip
        importance = (
            f"<table id='importances'><tr><th>parameter</th><th>importance</th><th></th></tr>{rows}</table>"
        )
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    done = frame[frame["state"] == "complete"].sort_values("value", ascending=not maximize)
    shown = pd.concat([done, frame[frame["state"] != "complete"]])
    cols = [c for c in shown.columns if c != "run"]
    head = "".join(f"<th>{esc(c.removeprefix('param.'))}</th>" for c in cols)
    body = "".join(
        f"<tr><td><a href='{esc(str(r['run']))}/report.html'>{r['trial']}</a></td>"
        + "".join(f"<td>{cell(r[c])}</td>" for c in cols[1:])
        + "</tr>"
        for _, r in shown.iterrows()
    )
    best = ""
    if len(done):
        top = done.iloc[0]
        params = ", ".join(
            f"{c.removeprefix('param.')} = {cell(top[c])}" for c in done.columns if c.startswith("param.")
        )
        best = (f"<p>Best: trial {top['trial']}, {esc(metric)} <b>{cell(top['value'])}</b> "
                f"({esc(params)}). <code>treino train best.yaml</code> trains it again.</p>")  # fmt: skip
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    base = frame[(frame["note"] == "your config") & (frame["state"] == "complete")]
    if len(base):
        best += (f"<p>Your config as it is (trial {base.iloc[0]['trial']}, the baseline): "
                 f"{esc(metric)} {cell(base.iloc[0]['value'])}.</p>")  # fmt: skip
    pictures = "".join(f"<h2>{esc(t)}</h2>{image(p)}" for t, p in images)
    body = f"""<h1>treino tune: {esc(folder.name)}</h1>
<p>Optuna study ({"maximize" if maximize else "minimize"} {esc(metric)}; TPE sampler, median
pruner on the per-epoch validation value): {len(frame)} trials, {esc(summary)}.
The study lives in study.db: running the same command again adds trials.</p>{best}
<h2>Parameter importances</h2>{importance}{pictures}
<h2>Trials</h2><table id='trials'><tr>{head}</tr>{body}</table>"""
    out = folder / "tune.html"
    write_text(out, document(f"treino tune {folder.name}", body))
    return out
