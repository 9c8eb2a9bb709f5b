"""The body of report.html: status, diagnosis, metrics, plots, data, model, timing and config
of one run, read from its Record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from treino.report.html import document, esc, image, number
from treino.report.record import Record

SECTIONS = {"convergence": "Convergence", "test": "Test set"}


def metrics_table(metrics: dict[str, Any]) -> str:
    """Every metric of the train, val and test splits, one row per metric name."""
    parts = [p for p in ("train", "val", "test") if isinstance(metrics.get(p), dict)]
    if not parts:
        return "<p class='note'>No metrics: the run ended before its first complete epoch.</p>"
    names = list(dict.fromkeys(n for p in parts for n in metrics[p]))
    head = "".join(f"<th>{p}</th>" for p in parts)
    label = metrics.get("loss_label") or "loss"  # a regression's loss may be on the standardized y
    rows = "".join(
        f"<tr><td>{esc(label if n == 'loss' else n)}</td>"
        + "".join(f"<td>{number(metrics[p].get(n, ''))}</td>" for p in parts)
        + "</tr>"
        for n in names
    )
    return f"<table><tr><th>metric</th>{head}</tr>{rows}</table>"


def diagnosis(findings: list[dict[str, Any]]) -> str:
    """The findings, each a coloured box with its code, epoch and message."""
    if not findings:
        return "<p class='note'>No diagnosis: there is no history to read.</p>"
    out = []
    for f in findings:
        code = str(f.get("code", ""))
        epoch = f" — from epoch {esc(f['epoch'])}" if f.get("epoch") is not None else ""
        out.append(
            f"<div class='finding {esc(code)}'><span class='code'>{esc(code)}</span>{epoch}: "
            f"{esc(f.get('message', ''))}</div>"
        )
    return "".join(out)


def equation(metrics: dict[str, Any]) -> str:
    """A linear regression's fitted equation in the data's units, with its coefficients."""
    eq = metrics.get("equation")
    if not eq:
        return ""
    parts = eq.get("targets") or [eq]
    rows = "".join(
        f"<tr><td>{esc(p.get('target', ''))}</td><td>{esc(name)}</td><td>{number(value)}</td></tr>"
        for p in parts
        for name, value in [*p["coefficients"].items(), ("intercept", p["intercept"])]
    )
    return (
        f"<h3>Fitted equation (the data's units)</h3><p><code>{esc(eq['text'])}</code></p>"
        f"<table><tr><th>target</th><th>term</th><th>coefficient</th></tr>{rows}</table>"
    )


def data_summary(data: dict[str, Any]) -> str:
    """Source, task, splits, class counts, column roles and notes of the run's data."""
    if not data:
        return "<p class='note'>No data description (metrics.json is missing).</p>"
    items = [("source", data.get("source")), ("kind", data.get("kind")), ("task", data.get("task")),
             ("input shape", data.get("input_shape")), ("targets", ", ".join(map(str, data.get("targets") or [])))]  # fmt: skip
    out = "<table>" + "".join(
        f"<tr><td>{k}</td><td>{esc(v)}</td></tr>" for k, v in items if v not in (None, "")
    )
    out += "</table>"
    sizes = data.get("sizes") or {}
    if sizes:
        out += "<h3>Splits</h3><table><tr><th>split</th><th>rows</th></tr>"
        out += "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in sizes.items()) + "</table>"
    classes, counts = data.get("classes") or [], data.get("class_counts") or {}
    if classes:
        splits = [s for s in ("train", "val", "test") if s in counts]
        head = "".join(f"<th>{s}</th>" for s in splits)
        rows = "".join(
            f"<tr><td>{esc(c)}</td>" + "".join(f"<td>{esc(_at(counts[s], i))}</td>" for s in splits) + "</tr>"
            for i, c in enumerate(classes[:200])
        )
        out += f"<h3>Classes ({len(classes)})</h3><table><tr><th>class</th>{head}</tr>{rows}</table>"
    roles = data.get("roles") or {}
    if roles:
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in list(roles.items())[:300])
        out += f"<h3>Columns ({len(roles)})</h3><table><tr><th>column</th><th>role</th></tr>{rows}</table>"
    notes = data.get("notes") or []
    if notes:
        out += "<h3>Notes</h3><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
    return out


def _at(values: list[Any], i: int) -> Any:
    """values[i], or blank past the end."""
    return values[i] if i < len(values) else ""


def model_summary(model: dict[str, Any]) -> str:
    """The model's kind, parameter count and layer summary."""
    if not model:
        return "<p class='note'>No model description (metrics.json is missing).</p>"
    text = model.get("summary") or model.get("layers") or json.dumps(model, indent=1, default=str)
    head = f"<p>{esc(model.get('kind', ''))}, {number(model.get('parameters', ''))} parameters</p>"
    return head + f"<pre>{esc(text)}</pre>"


def timing(metrics: dict[str, Any]) -> str:
    """The timings the run measured (those it did not are left out)."""
    t = metrics.get("timing") or {}
    if not t:
        return "<p class='note'>No timing (metrics.json is missing).</p>"
    rows = "".join(
        f"<tr><td>{esc(k.replace('_', ' '))}</td><td>{number(v)}</td></tr>"
        for k, v in t.items()
        if v is not None
    )
    return f"<table>{rows}</table>"


def render(record: Record, plots: dict[str, list[Path]], findings: list[dict[str, Any]]) -> str:
    """The whole report as one HTML string."""
    m = record.metrics
    name = record.dir.resolve().name
    status = (
        f"status <b>{esc(m.get('status', '?'))}</b>, task {esc(m.get('task', '?'))}, "
        f"{esc(m.get('epochs_run', len(record.history)))} epochs, best epoch {esc(m.get('best_epoch') or '—')}"
    )
    if m.get("stop_reason"):
        status += f"<br>{esc(m['stop_reason'])}"
    notes = "".join(f"<p class='note'>{esc(n)}</p>" for n in record.notes)
    figures = ""
    sections = dict(SECTIONS)
    pred = record.predictions
    if pred is not None and len(pred) and "split" in pred and pred["split"].iloc[0] == "val":
        sections["test"] = "Validation set (the run has no test split)"
    for key, title in sections.items():
        if plots.get(key):
            figures += f"<h2 id='{key}'>{title}</h2>" + "".join(image(p) for p in plots[key])
    nav = "".join(
        f"<a href='#{k}'>{t}</a>"
        for k, t in [("diagnosis", "Diagnosis"), ("metrics", "Metrics"), *SECTIONS.items(), ("data", "Data"),
                     ("model", "Model"), ("config", "Config")]
        if k not in SECTIONS or plots.get(k)
    )  # fmt: skip
    body = f"""<h1>treino run: {esc(name)}</h1><p class="status">{status}</p>{notes}<nav>{nav}</nav>
<h2 id="diagnosis">Diagnosis</h2>{diagnosis(findings)}
<h2 id="metrics">Metrics</h2>{metrics_table(m)}{equation(m)}
{figures}
<h2 id="data">Data</h2>{data_summary(record.data)}
<h2 id="model">Model</h2>{model_summary(m.get("model") or {})}
<h2 id="timing">Timing</h2>{timing(m)}
<h2 id="config">Config</h2><pre>{esc(record.config)}</pre>"""
    return document(f"treino {name}", body)
