"""The notebook's display: one output area (an IPython display handle) updated in place a few
times a second: the progress, the live convergence curves and the per-epoch table.

No ipywidgets and no clear_output (it would wipe the learner's other output of the cell): the
area is made once with display(..., display_id=True) and redrawn with the handle's update().
Every redraw carries text/plain too, for frontends that render no HTML.
"""

from __future__ import annotations

import math
import time
from html import escape
from typing import TYPE_CHECKING, Any

import torch

from treino.engine.display_svg import Series, chart, reduce, smooth
from treino.engine.display_text import Display, duration, number

if TYPE_CHECKING:
    from treino.engine.state import TrainState

REFRESH = 0.3  # seconds between two redraws, at least (a slow frontend link stretches it)
TRAIN, VAL = "#1f77b4", "#ff7f0e"
CELL = "padding:2px 10px;text-align:right;border:none"
SHOWN_ROWS = 10  # table rows while training: the last epochs (plus the first and the best)
FINAL_ROWS = 15  # at the end (history.frame() holds them all): a notebook cell stays short


class NotebookDisplay(Display):
    """The live display of a Jupyter, JupyterLab, VS Code or Colab notebook.

    Example:
        >>> treino.fit(net, (X, y), (Xv, yv), callbacks=[NotebookDisplay("accuracy")])  # doctest: +SKIP
    """

    INTERRUPT = "the kernel was interrupted"

    def __init__(
        self,
        metric: str = "accuracy",
        *,
        verbose: int = 1,
        loss_label: str = "loss",
        refresh: float = REFRESH,
    ) -> None:
        super().__init__(metric, verbose=verbose, loss_label=loss_label)
        self.refresh = refresh
        self.handle: Any = None
        self.samples: list[tuple[int, float]] = []  # (step, loss) read at redraws, this epoch only
        self._last, self._gap = 0.0, refresh
        self._cache: tuple[int, Series, list[float]] | None = None

    # hooks -------------------------------------------------------------------------------------
    def start(self, state: TrainState) -> None:
        from IPython.display import display

        self.handle = display(self.bundle(state), raw=True, display_id=True)
        self._last = time.perf_counter()

    def on_batch_end(self, state: TrainState, loss: torch.Tensor) -> None:
        now = time.perf_counter()
        if now - self._last < self._gap or self.handle is None:
            return
        self.samples.append((state.step, loss.item()))  # a host sync, at redraws only
        self.draw(state)

    def epoch_done(self, state: TrainState, logs: dict[str, float]) -> None:
        self.samples.clear()  # the epoch's every loss is in state.step_losses now
        if self.verbose >= 2:
            print(self.epoch_line(state, logs))  # a text log under the area (the kernel batches it)
        if time.perf_counter() - self._last >= self._gap:
            self.draw(state)

    def end(self, state: TrainState, error: BaseException | None) -> None:
        if self.handle is None:
            return
        self.samples.clear()
        self.draw(state, self.end_line(state, error))
        if self.verbose >= 2:
            print(self.end_line(state, error), flush=True)
        self.handle = None

    def draw(self, state: TrainState, ending: str = "") -> None:
        """Redraw the area; the gap to the next redraw grows when one costs more than ~1/20 of it."""
        start = time.perf_counter()
        self.handle.update(self.bundle(state, ending), raw=True)
        self._last = time.perf_counter()
        self._gap = max(self.refresh, 20 * (self._last - start))

    # content -----------------------------------------------------------------------------------
    def bundle(self, state: TrainState, ending: str = "") -> dict[str, str]:
        """The area's content: HTML, and the same as text for frontends without HTML."""
        return {"text/html": self.html(state, ending), "text/plain": self.text(state, ending)}

    def _progress(self, state: TrainState, ending: str) -> tuple[str, float, str]:
        """(epoch i/N, the fraction done, iteration, elapsed and ETA) for the header."""
        now = time.perf_counter()
        total = max(1, state.epochs * state.steps_per_epoch)
        epoch = state.epoch if ending or state.epoch >= state.epochs else state.epoch + 1
        facts = (
            [f"iteration {state.step - self.epoch_first_step}/{state.steps_per_epoch}"] if not ending else []
        )
        facts.append(f"{duration(now - self.started)} elapsed")
        eta = self.eta(state, now)
        if eta is not None and not ending:
            facts.append(f"ETA {duration(eta)}")
        return f"epoch {epoch}/{state.epochs}", min(1.0, state.step / total), " · ".join(facts)

    def text(self, state: TrainState, ending: str) -> str:
        head, fraction, facts = self._progress(state, ending)
        lines = [f"{head}  {fraction:.0%}  {facts}"]
        lines += [self.epoch_line(state, row) for row in state.history[-5:]]
        return "\n".join([*lines, ending] if ending else lines)

    def html(self, state: TrainState, ending: str) -> str:
        head, fraction, facts = self._progress(state, ending)
        color = "#d62728" if state.status == "diverged" else TRAIN
        bar = (
            '<div style="flex:0 0 220px;height:8px;background:rgba(127,127,127,.25);border-radius:4px;'
            f'overflow:hidden"><div style="width:{100 * fraction:.1f}%;height:100%;background:{color}">'
            "</div></div>"
        )
        header = (
            '<div style="display:flex;align-items:center;gap:10px;flex-wrap:wrap">'
            f"<b>{escape(head)}</b>{bar}<span>{escape(facts)}</span></div>"
        )
        curves = (
            f'<div style="display:flex;flex-wrap:wrap;gap:6px 18px;margin:6px 0">{self.curves(state)}</div>'
        )
        end = f'<div style="margin-top:4px"><b>{escape(ending)}</b></div>' if ending else ""
        return (
            '<div class="treino-display" style="font-family:system-ui,-apple-system,\'Segoe UI\',Roboto,'
            'sans-serif;font-size:13px;line-height:1.45;color:inherit">'
            f"{header}{curves}{self.table(state, final=bool(ending))}{end}</div>"
        )

    def curves(self, state: TrainState) -> str:
        """Loss per iteration (raw band or line, smoothed, this epoch's samples) and per epoch."""
        spe, n = state.steps_per_epoch, len(state.step_losses)
        if self._cache is None or self._cache[0] != n:  # recomputed once an epoch, at a redraw
            raw = reduce(state.step_losses)
            window = max(1.0, min(n, state.epochs * spe) / 30)
            self._cache = (n, raw, smooth(raw.ys, window * len(raw.ys) / max(n, 1)))
        _, raw, smoothed = self._cache
        raw.name, raw.color, raw.width, raw.opacity = "per iteration", TRAIN, 1.0, 0.35
        iters = [raw, Series("smoothed", raw.xs, smoothed, TRAIN, width=2.0)]
        if self.samples:
            last = [(raw.xs[-1], raw.ys[-1])] if raw.xs else []
            xs, ys = zip(*(last + self.samples), strict=True)
            iters.append(Series("", xs, ys, TRAIN, width=1.0, opacity=0.35))
        by_iter = chart(iters, title=f"{self.loss_label} per iteration", xlabel="iteration",
                        xlim=(1, max(2, state.epochs * spe)), empty="the first loss comes in a moment")  # fmt: skip
        rows, dots = state.history, len(state.history) <= 60
        per_epoch = [self._epochs(rows, "train_loss", "train", TRAIN, dots)]
        if any("val_loss" in r for r in rows):
            per_epoch.append(self._epochs(rows, "val_loss", "validation", VAL, dots))
        by_epoch = chart(per_epoch, title=f"{self.loss_label} per epoch", xlabel="epoch",
                         xlim=(1, max(2, state.epochs)), empty="the first epoch ends in a moment")  # fmt: skip
        return by_iter + by_epoch

    @staticmethod
    def _epochs(rows: list[dict[str, Any]], key: str, name: str, color: str, dots: bool) -> Series:
        """One column of the history by epoch; thousands of epochs (a full-batch run) as buckets."""
        series = reduce([r.get(key, math.nan) for r in rows], first_x=int(rows[0]["epoch"]) if rows else 1)
        series.name, series.color, series.dots = name, color, dots
        return series

    def table(self, state: TrainState, final: bool) -> str:
        """The per-epoch metrics: a column pair (train, validation) per measure; best row shaded."""
        rows = state.history
        if not rows:
            return ""
        keys = [k for k in self._keys(rows[-1]) if k not in ("lr",)]
        names = list(dict.fromkeys(k.split("_", 1)[1] for k in keys))
        pairs = [(name, [p for p in ("train", "val") if f"{p}_{name}" in rows[-1]]) for name in names]
        label = {"loss": self.loss_label}
        top = "".join(
            f'<th colspan="{len(ps)}" style="{CELL};text-align:center">{escape(label.get(n, n))}</th>'
            for n, ps in pairs
        )
        sub = "".join(
            f'<th style="{CELL}">{"validation" if p == "val" else p}</th>' for _, ps in pairs for p in ps
        )
        extra = ["lr"] if self.verbose >= 2 and "lr" in rows[-1] else []
        top += "".join(f'<th rowspan="2" style="{CELL}">{k}</th>' for k in [*extra, "time"])
        body, width = [], 2 + sum(len(ps) for _, ps in pairs) + len(extra)
        for i in self._rows(len(rows), state.best_epoch, final, rows):
            if i is None:
                body.append(f'<tr><td colspan="{width}" style="{CELL};text-align:center">…</td></tr>')
                continue
            r = rows[i]
            best = r.get("epoch") == state.best_epoch
            shade = ";background:rgba(44,160,44,.16)" if best else ""
            cells = [f"{p}_{n}" for n, ps in pairs for p in ps] + extra
            tds = "".join(f'<td style="{CELL}">{number(r[k]) if k in r else ""}</td>' for k in cells)
            seconds = duration(r["seconds"]) if "seconds" in r else ""
            body.append(f'<tr style="border:none{shade}"><td style="{CELL}">{int(r["epoch"])}</td>{tds}'
                        f'<td style="{CELL}">{seconds}</td></tr>')  # fmt: skip
        note = (
            f'<div style="opacity:.7;font-size:12px">shaded: the best epoch ({state.best_epoch})</div>'
            if state.best_epoch is not None else ""
        )  # fmt: skip
        return (
            '<table style="border-collapse:collapse;font-variant-numeric:tabular-nums;margin:2px 0;'
            f'border:none"><thead><tr style="border:none"><th rowspan="2" style="{CELL}">epoch</th>{top}</tr>'
            f'<tr style="border:none;border-bottom:1px solid rgba(127,127,127,.4)">{sub}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{note}"
        )

    def _keys(self, logs: dict[str, Any]) -> list[str]:
        """The row's measures: the losses and the metric (every one at verbose 2), train and val."""
        if self.verbose >= 2:
            return [k for k in logs if k.startswith(("train_", "val_"))]
        names = ["loss", *([self.metric] if self.metric != "loss" else [])]
        return [f"{p}_{n}" for n in names for p in ("train", "val") if f"{p}_{n}" in logs]

    @staticmethod
    def _rows(n: int, best: int | None, final: bool, rows: list[dict[str, Any]]) -> list[int | None]:
        """Indices of the rows shown (None: an elided stretch): all when few; else the first, the
        best and the last ones, in order."""
        keep = FINAL_ROWS if final else SHOWN_ROWS
        if n <= keep + 2:
            return list(range(n))
        wanted = {0, *range(n - keep, n)}
        wanted |= {i for i, r in enumerate(rows) if r.get("epoch") == best}
        shown: list[int | None] = []
        for i in sorted(wanted):
            if shown and shown[-1] is not None and i > shown[-1] + 1:
                shown.append(None)
            shown.append(i)
        return shown
