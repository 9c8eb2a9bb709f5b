"""What the loop and the callbacks share while training (TrainState), and what fit() returns
(History)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from treino.engine import speed
from treino.engine.schedules import Schedule
from treino.tasks import TaskName


@dataclass
class TrainState:
    """Everything the loop and the callbacks share. `epoch` and `step` count what is done."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    schedule: Schedule
    generator: torch.Generator
    task: TaskName
    epochs: int
    steps_per_epoch: int
    device: torch.device
    callbacks: list[Any] = field(default_factory=list)  # treino.engine.callbacks.Callback (it imports this)
    l1: float = 0.0
    l2: float = 0.0
    clip_grad: float | None = None
    train_metrics: bool = True
    epoch: int = 0
    step: int = 0
    should_stop: bool = False
    stop_reason: str = ""
    status: str = "running"
    history: list[dict[str, float]] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    step_epochs: list[int] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    dist: Any = None  # treino.engine.parallel.Group when data-parallel: DDP forward, epoch reduce
    forward: Any = None  # what the loop trains through: the model or torch.compile(model)
    meter: speed.Meter = field(default_factory=speed.Meter)  # busy vs wall time: the overhead report


@dataclass
class History:
    """What fit() returns: one row per epoch, one loss per iteration, and how it ended.

    In a notebook it shows itself (the per-epoch table, the curves and, from treino.fit, the
    diagnosis); `plot()` gives the curves as a matplotlib Figure.

    Example:
        >>> history = treino.fit(net, (X, y), (Xv, yv), epochs=20)
        >>> history.best_epoch, history.frame().tail(3)
        >>> history.plot()  # loss per iteration and per epoch, train against validation
    """

    epochs: list[dict[str, float]]
    step_losses: list[float]
    step_epochs: list[int]
    status: str
    stop_reason: str
    best_epoch: int | None
    overhead: float = 0.0  # fraction of training time outside forward/backward/step
    compile_seconds: float | None = None  # torch.compile's time, when train.compile is on
    threads: int | None = None  # CPU threads the loop ran with
    findings: list[dict[str, Any]] | None = None  # the diagnosis (treino.fit fills it)
    restored: bool = False  # the model holds the best epoch's weights, not the last's

    def __repr__(self) -> str:  # the dataclass's would print every epoch and every step's loss
        return f"History(status={self.status!r}, epochs={len(self.epochs)}, best_epoch={self.best_epoch})"

    def frame(self) -> Any:
        """The epochs as a pandas DataFrame (pandas is loaded here, not with the engine)."""
        import pandas as pd

        return pd.DataFrame(self.epochs)

    def steps_frame(self) -> Any:
        """The per-iteration losses as a DataFrame: step, epoch, loss."""
        import pandas as pd

        n = len(self.step_losses)
        return pd.DataFrame({"step": range(1, n + 1), "epoch": self.step_epochs, "loss": self.step_losses})

    def plot(self) -> Any:
        """The convergence curves as a matplotlib Figure: the loss per iteration (faint) and per
        epoch, train against validation, the best epoch marked; the validation metric beside.

        The figure has its own Agg canvas (pyplot is never touched): a notebook shows it as
        the value of a cell, and `fig.savefig("curves.png")` writes it.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        metric = next((k for k in self.epochs[-1] if k in _METRICS), None) if self.epochs else None
        fig = Figure(figsize=(10 if metric else 6, 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if metric else 1, squeeze=False)[0]
        _loss_axes(axes[0], self)
        if metric:
            _metric_axes(axes[1], self, metric)
        # IPython shows a Figure as an image only once pyplot's inline backend is set up (the
        # learner may never import pyplot): the figure says how to draw itself as a PNG
        fig._repr_png_ = functools.partial(_png, fig)
        return fig

    def _repr_html_(self) -> str:
        """A notebook's view: how it ended, the curves and the per-epoch table."""
        import base64
        import html

        ended = f"{html.escape(self.status)} after {len(self.epochs)} epochs"
        if self.best_epoch is not None:
            ended += f", best epoch {self.best_epoch}" + (" (its weights restored)" if self.restored else "")
        if self.stop_reason:
            ended += f"<br>{html.escape(self.stop_reason)}"
        image = ""
        if self.epochs:
            data = base64.b64encode(_png(self.plot())).decode("ascii")
            image = f'<img alt="curves" src="data:image/png;base64,{data}">'
        return (
            f"<div class='treino-history'><p><b>treino History</b>: {ended}</p>{image}"
            f"{findings_html(self.findings or [])}{epochs_html(self.epochs)}</div>"
        )


def _png(fig: Any) -> bytes:
    """The figure as PNG bytes (what a notebook shows)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


_METRICS = ("val_accuracy", "val_r2", "train_accuracy", "train_r2")  # the metric beside the loss


def _loss_axes(ax: Any, history: History) -> None:
    """Loss per iteration at its fractional epoch, per-epoch train and val loss, best epoch."""
    per_epoch: dict[int, int] = {}
    for e in history.step_epochs:
        per_epoch[e] = per_epoch.get(e, 0) + 1
    seen: dict[int, int] = {}
    xs = []
    for e in history.step_epochs:  # step i of n in epoch e sits at e - 1 + i / n
        seen[e] = seen.get(e, 0) + 1
        xs.append(e - 1 + seen[e] / per_epoch[e])
    if xs:
        ax.plot(xs, history.step_losses, color="#1f5f99", alpha=0.3, lw=0.8, label="train (per iteration)")
    epochs = [row["epoch"] for row in history.epochs]
    for key, color, label in (("train_loss", "#1f5f99", "train"), ("val_loss", "#d9480f", "validation")):
        values = [row.get(key, float("nan")) for row in history.epochs]
        if any(v == v for v in values):  # not all NaN
            ax.plot(epochs, values, "o-", color=color, ms=3, label=label)
    finite = [v for v in history.step_losses if v == v and abs(v) != float("inf")]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 50:
        ax.set_yscale("log")  # a loss that falls by orders of magnitude reads on a log axis
    _mark_best(ax, history.best_epoch)
    ax.set(xlabel="epoch", ylabel="loss", title="loss")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # no line yet (no epoch ended): no empty legend's warning
        ax.legend(fontsize=8)


def _metric_axes(ax: Any, history: History, metric: str) -> None:
    name = metric.split("_", 1)[1]
    epochs = [row["epoch"] for row in history.epochs]
    for prefix, color, label in (("train_", "#1f5f99", "train"), ("val_", "#d9480f", "validation")):
        values = [row.get(prefix + name, float("nan")) for row in history.epochs]
        if any(v == v for v in values):
            ax.plot(epochs, values, "o-", color=color, ms=3, label=label)
    _mark_best(ax, history.best_epoch)
    ax.set(xlabel="epoch", ylabel=name, title=name)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # no line yet (no epoch ended): no empty legend's warning
        ax.legend(fontsize=8)


def _mark_best(ax: Any, best: int | None) -> None:
    if best is not None:
        ax.axvline(best, color="#2b8a3e", ls="--", lw=1, label=f"best epoch {best}")


def epochs_html(epochs: list[dict[str, float]], last: int = 30) -> str:
    """The per-epoch losses and the task's main metric as an HTML table (the last `last` epochs;
    numbers to 4 digits); every column is in `frame()`."""
    import html

    if not epochs:
        return "<p>No epoch completed.</p>"
    metric = next((k.split("_", 1)[1] for k in epochs[-1] if k in _METRICS), None)
    wanted = ["epoch", "train_loss", "val_loss", f"train_{metric}", f"val_{metric}", "lr"]
    keys = [k for k in wanted if k in epochs[-1]]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(k))}</td>" for k in keys) + "</tr>" for row in epochs[-last:]
    )
    more = f"<p>(the last {last} of {len(epochs)} epochs)</p>" if len(epochs) > last else ""
    return f"{more}<table><tr>{head}</tr>{rows}</table>"


def findings_html(findings: list[dict[str, Any]]) -> str:
    """The diagnosis as a list: code, epoch, message."""
    import html

    items = "".join(
        f"<li><b>{html.escape(str(f.get('code', '')))}</b>"
        + (f" (from epoch {f['epoch']})" if f.get("epoch") is not None else "")
        + f": {html.escape(str(f.get('message', '')))}</li>"
        for f in findings
    )
    return f"<p><b>Diagnosis</b></p><ul>{items}</ul>" if items else ""


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
