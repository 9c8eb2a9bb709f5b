"""The progress display's shared bookkeeping (clock, ETA, the per-epoch line, how a fit ended)
and its two text modes: PlainDisplay for a pipe or a log file, ProgressBar for a terminal.

treino.engine.display chooses among them (and the notebook's) from where output goes.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import torch

from treino.engine.callbacks import Callback

if TYPE_CHECKING:
    from treino.engine.state import TrainState

HEARTBEAT = 25.0  # seconds without a line before a plain log says where the epoch is
REFRESH = 0.25  # seconds between two redraws of the terminal bar (each reads the loss: a host sync)


def number(value: float) -> str:
    """4 decimals for everyday values, 4 significant digits for tiny or huge ones: never cut."""
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    """1.2 s, 42 s, 3 min 05 s, 1 h 02 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Display(Callback):
    """What every mode shares: the clock, the ETA, the columns, the text of each line.

    Subclasses draw: `start` (fit start), `epoch_done` (after each epoch) and `end` (fit end, or
    an error). Under data parallelism only the first process draws.

    Args:
        metric: the metric shown next to the losses (val_<metric>, else train_<metric>); "loss"
            shows the losses alone.
        verbose: 1 the losses and `metric`; 2 every column of the history (all metrics, lr).
        loss_label: what the loss is, e.g. "loss (standardized y)": said where the losses are.
    """

    INTERRUPT = "Ctrl-C"  # what a KeyboardInterrupt is called where the display shows

    def __init__(self, metric: str = "accuracy", *, verbose: int = 1, loss_label: str = "loss") -> None:
        self.metric, self.verbose, self.loss_label = metric, verbose, loss_label
        self.active = True
        self.started = self.epoch_started = self.last_epoch_end = 0.0
        self.first_epoch = self.first_step = self.epoch_first_step = 0
        self.shown = 0  # the last epoch a line or a row was drawn for

    # hooks ------------------------------------------------------------------------------------
    def on_fit_start(self, state: TrainState) -> None:
        self.active = state.dist is None or state.dist.main  # one display among data-parallel ranks
        self.started = self.epoch_started = self.last_epoch_end = time.perf_counter()
        self.first_epoch, self.first_step = state.epoch, state.step  # a resume starts at epoch k
        self.epoch_first_step, self.shown = state.step, state.epoch
        if self.active:
            self.start(state)

    def on_epoch_start(self, state: TrainState) -> None:
        self.epoch_started, self.epoch_first_step = time.perf_counter(), state.step

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        self.last_epoch_end = time.perf_counter()
        if self.active:
            self.epoch_done(state, logs)
            self.shown = state.epoch

    def on_fit_end(self, state: TrainState) -> None:
        if self.active:
            self.end(state, None)

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        if self.active:
            self.end(state, error)

    # drawing, by mode ---------------------------------------------------------------------------
    def start(self, state: TrainState) -> None: ...
    def epoch_done(self, state: TrainState, logs: dict[str, float]) -> None: ...
    def end(self, state: TrainState, error: BaseException | None) -> None: ...

    # shared text --------------------------------------------------------------------------------
    def columns(self, logs: dict[str, Any]) -> list[str]:
        """The history columns a line shows: the losses and the metric, or all (verbose 2)."""
        if self.verbose >= 2:  # the measures and lr; not the diagnosis probes' columns
            return [k for k in logs if k.startswith(("train_", "val_")) or k == "lr"]
        keys = [k for k in ("train_loss", "val_loss") if k in logs]
        if self.metric != "loss":
            keys += [k for k in (f"val_{self.metric}", f"train_{self.metric}") if k in logs][:1]
        return keys

    def eta(self, state: TrainState, now: float) -> float | None:
        """Seconds left: this fit's pace so far (validation included once an epoch has ended)."""
        done = state.epoch - self.first_epoch
        run_steps = state.step - self.first_step
        if done > 0 and state.steps_per_epoch:
            per_step = (self.last_epoch_end - self.started) / (done * state.steps_per_epoch)
        elif run_steps > 0:
            per_step = (now - self.started) / run_steps
        else:
            return None
        return max(0.0, (state.epochs * state.steps_per_epoch - state.step) * per_step)

    def start_line(self, state: TrainState) -> str:
        """What starts: epochs x iterations, where; on a resume, the epoch it starts at."""
        left, spe = state.epochs - state.epoch, state.steps_per_epoch
        if state.epoch:
            text = f"resuming at epoch {state.epoch + 1} of {state.epochs}: {left} epochs x {spe} iterations left"
        else:
            text = f"training {state.epochs} epochs x {spe} iterations"
        text += f" on {state.device}"
        if self.loss_label != "loss":
            text += f"; train_loss and val_loss: {self.loss_label}"
        return text

    def epoch_line(self, state: TrainState, logs: dict[str, Any]) -> str:
        """epoch 3/20  train_loss 0.4120  val_loss 0.3981  val_accuracy 0.9100  1.2 s  ETA 20 s"""
        epoch = int(logs.get("epoch", state.epoch))
        parts = [f"epoch {epoch}/{state.epochs}"]
        parts += [f"{k} {number(float(logs[k]))}" for k in self.columns(logs)]
        if "seconds" in logs:
            parts.append(duration(float(logs["seconds"])))
        eta = self.eta(state, time.perf_counter())
        if epoch < state.epochs and eta is not None and state.status == "running":
            parts.append(f"ETA {duration(eta)}")
        return "  ".join(parts)

    def unshown(self, state: TrainState) -> list[dict[str, Any]]:
        """History rows no epoch_done drew: a diverged epoch ends without the epoch hooks."""
        return [row for row in state.history if int(row.get("epoch", 0)) > self.shown]

    def end_line(self, state: TrainState, error: BaseException | None) -> str:
        """How the fit ended: done, stopped (and why), interrupted, or the error that stopped it."""
        took = duration(time.perf_counter() - self.started)
        where = f"epoch {state.epoch + 1} of {state.epochs}"
        if isinstance(error, KeyboardInterrupt):
            return f"interrupted ({self.INTERRUPT}) during {where}, after {took}; the last complete epoch is {state.epoch}"
        if error is not None:
            return f"stopped by {type(error).__name__} during {where}, after {took}"
        ran = state.epoch - self.first_epoch
        if state.status == "completed":
            best = f"; best epoch {state.best_epoch}" if state.best_epoch is not None else ""
            return f"done: {ran} epochs in {took}{best}"
        head = f"stopped after epoch {state.epoch} of {state.epochs} ({took})"
        if state.status == "interrupted" and not state.stop_reason:
            return f"interrupted after epoch {state.epoch} of {state.epochs} ({took})"
        return f"{head}: {state.stop_reason}" if state.stop_reason else head


class PlainDisplay(Display):
    """One complete line per epoch, written and flushed at once: for a pipe, a log file, CI.

    No control characters, nothing cut or wrapped. A first line says what starts; an epoch
    longer than ~25 s gets a short line every ~25 s, so a log shows life.

    Example:
        >>> treino.fit(net, (X, y), callbacks=[PlainDisplay("accuracy")])  # doctest: +SKIP
        training 10 epochs x 4 iterations on cpu
        epoch 1/10  train_loss 1.0712  train_accuracy 0.4133  0.0 s  ETA 0.2 s
    """

    def __init__(
        self,
        metric: str = "accuracy",
        *,
        verbose: int = 1,
        loss_label: str = "loss",
        stream: IO[str] | None = None,
    ) -> None:
        super().__init__(metric, verbose=verbose, loss_label=loss_label)
        self.stream = stream  # None: sys.stderr at each write (a redirect made later still counts)
        self.last_line = math.inf  # no heartbeat before the fit starts, nor on other ranks

    def write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()
        self.last_line = time.perf_counter()

    def start(self, state: TrainState) -> None:
        self.write(self.start_line(state))

    def on_batch_end(self, state: TrainState, loss: torch.Tensor) -> None:
        now = time.perf_counter()  # a clock read per step; a line (and a host sync) every ~25 s
        if now - self.last_line < HEARTBEAT:
            return
        eta = self.eta(state, now)
        self.write(
            f"  epoch {state.epoch + 1}/{state.epochs}  iteration {state.step - self.epoch_first_step}/"
            f"{state.steps_per_epoch}  loss {number(loss.item())}  {duration(now - self.epoch_started)}"
            + (f"  ETA {duration(eta)}" if eta is not None else "")
        )

    def epoch_done(self, state: TrainState, logs: dict[str, float]) -> None:
        self.write(self.epoch_line(state, logs))

    def end(self, state: TrainState, error: BaseException | None) -> None:
        for row in self.unshown(state):
            self.write(self.epoch_line(state, row))
        self.write(self.end_line(state, error))
        self.last_line = math.inf


class ProgressBar(Display):
    """A terminal's display: rich's live bar (epoch, iteration, loss, ETA) under the per-epoch
    lines, which stay on screen when the run ends. At most ~4 redraws a second: epochs shorter
    than that have their lines printed together (a redraw costs milliseconds, an epoch of a
    small full-batch run less).

    `force` draws the bar even when stderr is not a terminal (TREINO_DISPLAY=terminal).

    Example:
        >>> treino.fit(net, (X, y), callbacks=[ProgressBar("accuracy")])  # doctest: +SKIP
    """

    def __init__(
        self,
        metric: str = "accuracy",
        *,
        verbose: int = 1,
        loss_label: str = "loss",
        force: bool = False,
        refresh: float = REFRESH,
    ) -> None:
        super().__init__(metric, verbose=verbose, loss_label=loss_label)
        self.force, self.refresh = force, refresh
        self.progress: Any = None
        self.pending: list[str] = []  # epoch lines waiting for the next redraw
        self._last = 0.0

    def start(self, state: TrainState) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )  # fmt: skip

        console = Console(stderr=True, force_terminal=True if self.force else None)
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, auto_refresh=False, transient=False,
        )  # fmt: skip
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=state.epochs * state.steps_per_epoch, completed=state.step,
            epoch=f"{min(state.epoch + 1, state.epochs)}/{state.epochs}", info="",
        )  # fmt: skip
        self.pending.append(self.start_line(state))
        self._draw(time.perf_counter())

    def _draw(self, now: float) -> None:
        """The waiting lines above the bar, then the bar as of now."""
        if self.pending:  # rich does not cut them; the terminal wraps a long one
            text = "\n".join(self.pending)
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
            self.pending.clear()
        self.progress.refresh()
        self._last = now

    def on_batch_end(self, state: TrainState, loss: torch.Tensor) -> None:
        now = time.perf_counter()
        if now - self._last < self.refresh or self.progress is None:
            return
        info = f"loss {loss.item():.4g}"  # a host sync, a few times a second only
        if state.history:
            info += "  " + self._val_text(state.history[-1])
        self.progress.update(
            self.task, completed=state.step, epoch=f"{state.epoch + 1}/{state.epochs}", info=info
        )
        self._draw(now)

    def epoch_done(self, state: TrainState, logs: dict[str, float]) -> None:
        self._show(state, logs)
        self.pending.append(self.epoch_line(state, logs))
        now = time.perf_counter()
        if now - self._last >= self.refresh:
            self._draw(now)

    def _show(self, state: TrainState, logs: dict[str, Any]) -> None:
        info = f"loss {number(logs['train_loss'])}  {self._val_text(logs)}"
        self.progress.update(
            self.task, completed=state.step, epoch=f"{state.epoch}/{state.epochs}", info=info
        )

    def _val_text(self, logs: dict[str, Any]) -> str:
        key = f"val_{self.metric}" if self.metric != "loss" else "val_loss"
        return f"{key} {logs[key]:.4g}" if key in logs else ""

    def end(self, state: TrainState, error: BaseException | None) -> None:
        if self.progress is None:
            return
        for row in self.unshown(state):
            self._show(state, row)
            self.pending.append(self.epoch_line(state, row))
        self._draw(time.perf_counter())
        self.progress.stop()  # the bar stays where it stopped; the cursor comes back
        self.progress.console.print(
            self.end_line(state, error), markup=False, highlight=False, soft_wrap=True
        )
        self.progress = None
