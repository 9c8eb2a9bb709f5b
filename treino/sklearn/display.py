"""The notebook display of an estimator: scikit-learn's own diagram of its settings and, once
fitted, its loss curve as a small inline PNG (a Figure on its own Agg canvas: pyplot and the
notebook's own plots are never touched)."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from sklearn.utils import estimator_html_repr

WIDTH, HEIGHT = 4.2, 2.4  # inches, at the report's DPI: about 340 x 190 pixels


def html(est: Any) -> str:
    """sklearn's HTML for `est`, followed by the loss per epoch when it has been fitted."""
    page = estimator_html_repr(est)
    history = getattr(est, "history_", None)
    if not history:
        return page
    png = base64.b64encode(curve_png(history)).decode("ascii")
    epochs = len(history)
    return (
        f'{page}<div style="margin-top:4px"><img alt="loss per epoch ({epochs} epochs)" '
        f'src="data:image/png;base64,{png}"/></div>'
    )


def curve_png(history: list[dict[str, Any]]) -> bytes:
    """The training loss (and validation loss, when there is one) per epoch, as PNG bytes."""
    from treino.report.draw import DPI, TRAIN, VAL, integer_epochs, subplots

    fig, ax = subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    epochs = [row["epoch"] for row in history]
    for key, color, label in (("train_loss", TRAIN, "train"), ("val_loss", VAL, "validation")):
        values = [row.get(key, math.nan) for row in history]
        if any(math.isfinite(v) for v in values):
            ax.plot(epochs, values, color=color, label=label, marker="o" if len(epochs) < 15 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    integer_epochs(ax)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
