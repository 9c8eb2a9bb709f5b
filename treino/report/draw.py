"""Matplotlib set-up shared by the plot modules: figures on their own Agg canvas, one style.

Nothing here touches pyplot or matplotlib's global backend: a learner's notebook keeps its
inline plots after treino has drawn its own (each figure owns its canvas and is dropped after
it is written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DPI = 80  # small PNGs: the report embeds every one of them
TRAIN, VAL, TEST = "#1f5f99", "#d9480f", "#2b8a3e"


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    """A Figure with its own Agg canvas and its axes, as pyplot.subplots gives them, without
    pyplot (whose global backend and figure list belong to the user)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure_keys = {"figsize", "dpi", "layout"}
    fig = Figure(**{k: v for k, v in kwargs.items() if k in figure_keys})
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, **{k: v for k, v in kwargs.items() if k not in figure_keys})
    return fig, axes


def rcParams() -> Any:
    """matplotlib's style defaults (read only here: the colour cycle)."""
    import matplotlib

    return matplotlib.rcParams


def integer_epochs(ax: Any) -> None:
    """Epochs and iterations are whole numbers: no 1.25 ticks on a short run."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def save(fig: Any, path: Path, grid: bool = True) -> Path:
    """Tidy and write the PNG (the figure is not in pyplot's list: nothing to free)."""
    for ax in fig.axes if grid else ():
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=DPI)
    tmp.replace(path)
    return path
