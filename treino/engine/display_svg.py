"""Small line charts as inline SVG text, for the notebook display's live curves.

A redraw costs about a millisecond (matplotlib's PNG costs ~100 ms), the text stays small (long
series are cut into a few hundred buckets, each drawn as its min-max band and mean), and the
picture follows the notebook's theme (text and axes in `currentColor`). NaN and inf values
break the line and are marked where they first appear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

BUCKETS = 400  # points a long series is reduced to: the SVG stays ~20 KB at any length
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:11px"


@dataclass
class Series:
    """One curve: `ys` at `xs`, as a line (with dots when `dots`) or, with `lows`/`highs`, a band."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    width: float = 1.6
    opacity: float = 1.0
    dots: bool = False
    lows: Sequence[float] = field(default_factory=list)
    highs: Sequence[float] = field(default_factory=list)


def reduce(values: Sequence[float], first_x: int = 1, buckets: int = BUCKETS) -> Series:
    """The raw values as they are when few, else bucket means with each bucket's min and max.

    Non-finite values stay as NaN in their bucket's mean (a gap and a mark), not averaged away.
    """
    n = len(values)
    if n <= 2 * buckets:
        return Series("", [first_x + i for i in range(n)], list(values), "")
    xs, means, lows, highs = [], [], [], []
    size = n / buckets
    for b in range(buckets):
        part = values[int(b * size) : int((b + 1) * size)]
        good = [v for v in part if math.isfinite(v)]
        xs.append(first_x + (int(b * size) + int((b + 1) * size) - 1) / 2)
        if len(good) < len(part):
            bad = next(v for v in part if not math.isfinite(v))
            means.append(bad), lows.append(bad), highs.append(bad)
        else:
            means.append(sum(good) / len(good)), lows.append(min(good)), highs.append(max(good))
    return Series("", xs, means, "", lows=lows, highs=highs)


def smooth(values: Sequence[float], window: float) -> list[float]:
    """Exponential moving average over ~`window` points, bias-corrected at the start; a
    non-finite value passes through and restarts the average after it."""
    beta = 1.0 - 1.0 / max(1.0, window)
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            avg, weight = 0.0, 0.0
            continue
        avg, weight = beta * avg + (1 - beta) * v, beta * weight + (1 - beta)
        out.append(avg / weight)
    return out


def _nice(span: float) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving ~4-6 ticks over `span`."""
    raw = span / 5 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _ticks(lo: float, hi: float, log: bool, integer: bool = False) -> list[float]:
    if log:
        first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        marks = [10.0**k for k in range(first, last + 1)]
        if len([m for m in marks if lo <= m <= hi]) < 3:
            marks = sorted(m * f for m in marks for f in (1, 2, 5))
        return [m for m in marks if lo <= m <= hi]
    step = _nice(hi - lo)
    if integer:
        step = max(1.0, round(step))
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _label(v: float) -> str:
    return f"{v:.0f}" if v == int(v) and abs(v) < 1e6 else f"{v:.3g}"


def chart(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    xlim: tuple[float, float] | None = None,
    width: int = 460,
    height: int = 250,
    empty: str = "no finite values yet",
) -> str:
    """An SVG line chart of `series`: axes, a few ticks, a legend, NaN/inf marked.

    The y axis is logarithmic when every value is positive and they span over 50x.

    Example:
        >>> svg = chart([Series("train", [1, 2, 3], [0.9, 0.5, 0.4], "#1f77b4")], title="loss", xlabel="epoch")
        >>> svg.startswith("<svg")
        True
    """
    left, right, top, bottom = 52, 12, 22, 34
    pw, ph = width - left - right, height - top - bottom
    finite = [v for s in series for v in (*s.ys, *s.lows, *s.highs) if math.isfinite(v)]
    xs_all = [x for s in series for x in s.xs]
    x0, x1 = xlim if xlim else ((min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x0 + 0.5
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT};color:inherit;overflow:visible">',
        f'<text x="{left}" y="14" fill="currentColor" style="font-weight:600">{escape(title)}</text>',
        f'<text x="{left + pw / 2}" y="{height - 4}" fill="currentColor" text-anchor="middle" '
        f'opacity="0.8">{escape(xlabel)}</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="currentColor" '
        'stroke-opacity="0.35"/>',
    ]
    if not finite:
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" fill="currentColor" '
                     f'text-anchor="middle" opacity="0.7">{escape(empty)}</text>')  # fmt: skip
        return "".join(parts) + "</svg>"
    y0, y1 = min(finite), max(finite)
    log = y0 > 0 and y1 / y0 > 50
    if log:
        y0, y1 = y0 / 1.15, y1 * 1.15
    else:
        pad = (y1 - y0) * 0.06 or abs(y1) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    f = math.log10 if log else float
    fy0, fy1 = f(y0), f(y1)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (fy1 - f(y)) / (fy1 - fy0) * ph

    for t in _ticks(y0, y1, log):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                     f'stroke="currentColor" stroke-opacity="0.12"/><text x="{left - 4}" '
                     f'y="{py(t) + 3.5:.1f}" fill="currentColor" text-anchor="end" opacity="0.8">'
                     f"{_label(t)}</text>")  # fmt: skip
    for t in _ticks(x0, x1, False, integer=True):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" '
                     f'stroke="currentColor" stroke-opacity="0.5"/><text x="{px(t):.1f}" '
                     f'y="{top + ph + 15}" fill="currentColor" text-anchor="middle" opacity="0.8">'
                     f"{_label(t)}</text>")  # fmt: skip
    bad_x: float | None = None
    bad_v = 0.0
    for s in series:
        for x, y in zip(s.xs, s.ys, strict=False):
            if not math.isfinite(y) and (bad_x is None or x < bad_x):
                bad_x, bad_v = x, y
        if s.lows:
            for run in _runs(s.xs, s.lows, s.highs):
                upper = " ".join(f"{px(x):.1f},{py(h):.1f}" for x, _, h in run)
                lower = " ".join(f"{px(x):.1f},{py(lo):.1f}" for x, lo, _ in reversed(run))
                parts.append(f'<polygon points="{upper} {lower}" fill="{s.color}" '
                             f'fill-opacity="{0.25 * s.opacity:.2f}" stroke="none"/>')  # fmt: skip
        for run in _runs(s.xs, s.ys, s.ys):
            points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in run)
            if len(run) > 1:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{s.color}" '
                             f'stroke-width="{s.width}" stroke-opacity="{s.opacity}" '
                             'stroke-linejoin="round"/>')  # fmt: skip
            if s.dots or len(run) == 1:
                parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.6" fill="{s.color}" '
                          f'fill-opacity="{s.opacity}"/>' for x, y, _ in run]  # fmt: skip
    if bad_x is not None:
        parts.append(f'<line x1="{px(bad_x):.1f}" x2="{px(bad_x):.1f}" y1="{top}" y2="{top + ph}" '
                     f'stroke="#d62728" stroke-dasharray="4 3"/><text x="{px(bad_x) - 4:.1f}" '
                     f'y="{top + 12}" fill="#d62728" text-anchor="end">{bad_v}</text>')  # fmt: skip
    legend = [s for s in series if s.name]
    for i, s in enumerate(legend):
        y = top + 12 + 14 * i
        parts.append(f'<line x1="{left + pw - 92}" x2="{left + pw - 76}" y1="{y - 3.5}" y2="{y - 3.5}" '
                     f'stroke="{s.color}" stroke-width="2.4" stroke-opacity="{max(s.opacity, 0.5)}"/>'
                     f'<text x="{left + pw - 72}" y="{y}" fill="currentColor">{escape(s.name)}</text>')  # fmt: skip
    if log:
        parts.append(f'<text x="{left + pw}" y="14" fill="currentColor" text-anchor="end" opacity="0.6">'
                     "log scale</text>")  # fmt: skip
    return "".join(parts) + "</svg>"


def _runs(
    xs: Sequence[float], ys: Sequence[float], zs: Sequence[float]
) -> list[list[tuple[float, float, float]]]:
    """The stretches of points where both values are finite: a NaN or inf breaks the line."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for x, y, z in zip(xs, ys, zs, strict=False):
        if math.isfinite(y) and math.isfinite(z):
            runs[-1].append((x, y, z))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]
