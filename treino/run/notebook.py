"""How runs show themselves in a notebook: a Run's summary (status, metrics, curves, diagnosis)
and report.html inlined into the output (its styles scoped to it, its images already embedded),
without IPython as a dependency: objects with `_repr_html_`, which Jupyter, Colab and VS Code call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from treino.report.html import STYLE, esc, image
from treino.report.run_page import diagnosis, metrics_table

SCOPE = "treino-page"  # the class the inlined page's styles are confined to


class Page:
    """An HTML page of treino (report.html, compare.html) shown inside a notebook's output.

    Its stylesheet is rewritten to apply inside the output only (the notebook's own look is left
    alone); its images are data URIs already, so it requests nothing and works in Colab too.

    Example:
        >>> run.report()  # the last value of a cell: the report, inline
        >>> run.report().path  # the file itself
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.html = inline(path.read_text(encoding="utf-8"))

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:  # a terminal has no HTML: say where the page is
        return f"Page('{self.path}')"


def inline(page: str) -> str:
    """A whole HTML document as a fragment: its <style> scoped to a div, its <body> inside it."""
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    body = re.search(r"<body[^>]*>(.*)</body>", page, re.S)
    css = scoped(style.group(1)) if style else ""
    return f"<div class='{SCOPE}'><style>{css}</style>{body.group(1) if body else page}</div>"


def scoped(css: str) -> str:
    """Every rule's selectors prefixed with the page's class (`body` becomes the div itself)."""

    def one(match: re.Match[str]) -> str:
        selectors = [s.strip() for s in match.group(1).split(",")]
        inside = [f".{SCOPE}" if s == "body" else f".{SCOPE} {s}" for s in selectors if s]
        return ",".join(inside) + "{" + match.group(2) + "}"

    return re.sub(r"([^{}@]+)\{([^{}]*)\}", one, css)


def run_html(run_dir: Path, metrics: dict[str, Any]) -> str:
    """A Run in a notebook: status, the metrics table, the convergence curves, the diagnosis."""
    status = (
        f"<b>{esc(metrics.get('status', '?'))}</b> after {esc(metrics.get('epochs_run', '?'))} epochs, "
        f"best epoch {esc(metrics.get('best_epoch') or '—')}; task {esc(metrics.get('task', '?'))}"
    )
    if metrics.get("stop_reason"):
        status += f"<br>{esc(metrics['stop_reason'])}"
    curves = "".join(
        image(p) for p in (run_dir / "plots" / n for n in ("loss.png", "metrics.png")) if p.exists()
    )
    return (
        f"<div class='{SCOPE}'><style>{scoped(STYLE)}</style><p>treino run <code>{esc(run_dir)}</code>: {status}</p>"
        f"{metrics_table(metrics)}{curves}<p><b>Diagnosis</b></p>{diagnosis(metrics.get('diagnosis') or [])}"
        f"<p>The whole report: <code>run.report()</code> (or open {esc(run_dir / 'report.html')})</p></div>"
    )


def comparison_html(folder: Path, summary: Any) -> str:
    """A comparison in a notebook: one row per variant, then its curves side by side."""
    table = summary.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="") if len(summary) else ""
    plots = "".join(
        image(p) for p in (folder / "plots" / n for n in ("curves.png", "metrics.png")) if p.exists()
    )
    return (
        f"<div class='{SCOPE}'><style>{scoped(STYLE)}</style><p>treino comparison <code>{esc(folder)}</code> "
        f"(the page: {esc(folder / 'compare.html')})</p>{table}{plots}</div>"
    )
