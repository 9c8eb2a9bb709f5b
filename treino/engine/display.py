"""The progress display, chosen from where output goes.

- a notebook (a running IPython kernel: Jupyter, JupyterLab, VS Code, Colab): NotebookDisplay,
  one output area updated in place (progress, live curves, the per-epoch table);
- a terminal (stderr is a TTY): ProgressBar, rich's live bar above one line per epoch;
- anything else (a pipe, a log file, `!treino ...` in Colab, CI): PlainDisplay, one complete
  line per epoch.

TREINO_DISPLAY=terminal|notebook|plain forces a mode (auto, or unset, chooses). See
docs/display.md.
"""

from __future__ import annotations

import os
import sys

from treino.engine.display_notebook import NotebookDisplay
from treino.engine.display_text import Display, PlainDisplay, ProgressBar
from treino.errors import ConfigError

MODES = ("terminal", "notebook", "plain")
ENV = "TREINO_DISPLAY"

__all__ = ["ENV", "MODES", "Display", "NotebookDisplay", "PlainDisplay", "ProgressBar", "choose_display",
           "in_notebook", "output_mode"]  # fmt: skip


def in_notebook() -> bool:
    """True inside a running IPython kernel (Jupyter, JupyterLab, VS Code, Colab); False in a
    plain Python or a terminal IPython, whose output is a terminal's."""
    if "IPython" not in sys.modules:  # a kernel has loaded IPython long before treino runs
        return False
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return False
    if "google.colab" in sys.modules or getattr(shell, "kernel", None) is not None:
        return True
    return "IPKernelApp" in getattr(shell, "config", {})


def output_mode() -> str:
    """The display mode for this process: TREINO_DISPLAY when set, else a notebook's, else a
    terminal's when stderr is one, else plain lines."""
    forced = os.environ.get(ENV, "").strip().lower()
    if forced and forced != "auto":
        if forced not in MODES:
            raise ConfigError(
                f"{ENV}={os.environ[ENV]!r}: not a display mode; use terminal, notebook or plain "
                f"(or unset it to choose from where output goes)"
            )
        return forced
    if in_notebook():
        return "notebook"
    stream = sys.stderr
    tty = stream is not None and hasattr(stream, "isatty") and stream.isatty()
    return "terminal" if tty and os.environ.get("TERM") != "dumb" else "plain"


def choose_display(
    metric: str = "accuracy", *, verbose: int = 1, loss_label: str = "loss", mode: str | None = None
) -> Display | None:
    """The progress display for where output goes (None at verbose 0).

    Args:
        metric: shown next to the losses ("accuracy", "r2"; "loss" for the losses alone).
        verbose: 0 nothing; 1 the display; 2 every history column (all metrics and lr), and in
            a notebook a text line per epoch under the live area as well.
        loss_label: what the loss is, e.g. "loss (standardized y)", in the table header.
        mode: terminal, notebook or plain; None chooses (output_mode()).

    Example:
        >>> from treino.engine.display import choose_display
        >>> type(choose_display("accuracy", mode="plain")).__name__
        'PlainDisplay'
    """
    if verbose <= 0:
        return None
    forced = mode is not None or os.environ.get(ENV, "").strip().lower() not in ("", "auto")
    mode = mode if mode is not None else output_mode()
    if mode == "plain":
        return PlainDisplay(metric, verbose=verbose, loss_label=loss_label)
    if mode == "terminal":
        return ProgressBar(metric, verbose=verbose, loss_label=loss_label, force=forced)
    if mode == "notebook":
        if not _shell_running():
            raise ConfigError(
                f"display mode notebook: no IPython shell is running here; use terminal or plain "
                f"(or unset {ENV})"
            )
        return NotebookDisplay(metric, verbose=verbose, loss_label=loss_label)
    raise ValueError(f"display mode {mode!r}: use terminal, notebook or plain (None chooses)")


def _shell_running() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
