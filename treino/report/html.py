"""The one HTML page shell of report.html, compare.html and tune.html: head, inline style,
images embedded as data URIs (a page requests nothing), escaping and number formatting."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f4f6f8}
img{max-width:100%;display:block;margin:.6em 0}pre{background:#f6f6f6;padding:1em;overflow:auto}
.status{color:#555}.finding{border-left:5px solid #e8590c;background:#fff4e6;padding:.5em 1em;margin:.5em 0}
.finding.healthy{border-color:#2b8a3e;background:#ebfbee}.finding.diverged{border-color:#c92a2a;background:#fff5f5}
.code{font-weight:bold;font-family:monospace}.note{color:#666;font-style:italic}
.lesson{background:#eef5ff;border-left:4px solid #36c;padding:.5em 1em}.bad{color:#b00}
nav a{margin-right:1em}
"""


def esc(value: Any) -> str:
    """`value` as text safe inside HTML (quotes included)."""
    return html.escape(str(value))


def image(path: Path) -> str:
    """A PNG embedded in the page itself, its file name as the alt text."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(path.stem)}" src="data:image/png;base64,{data}">'


def number(value: Any, nan: str = "nan", group: bool = True) -> str:
    """A number as a page shows it: floats to 4 significant digits, NaN as `nan`, integers in
    full (counts such as parameters or rows with thousands commas unless `group` is False);
    anything else escaped as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if group else str(value)  # 23,722 parameters, not 2.372e+04
    if isinstance(value, float):
        return nan if math.isnan(value) else f"{value:.4g}"
    return esc(value)


def cell(value: Any) -> str:
    """A cell of the compare and tune tables: NaN (no value) left blank, integers as set
    (a batch size of 1024 reads 1024)."""
    return number(value, nan="", group=False)


def document(title: str, body: str) -> str:
    """The whole page: `body` (HTML) in the shell, under `title` (text, escaped here)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<link rel='icon' href='data:,'>"  # no favicon request
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
