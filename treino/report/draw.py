"""Matplotlib set-up shared by the plot modules: the Agg backend (no display), one style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DPI = 80  # small PNGs: the report embeds every one of them
TRAIN, VAL, TEST = "#1f5f99", "#d9480f", "#2b8a3e"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only; works without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def integer_epochs(ax: Any) -> None:
    """Epochs and iterations are whole numbers: no 1.25 ticks on a short run."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def save(fig: Any, path: Path, grid: bool = True) -> Path:
    """Tidy, write the PNG and free the figure (many reports in one process must not leak)."""
    for ax in fig.axes if grid else ():
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=DPI)
    tmp.replace(path)
    pyplot().close(fig)
    return path
