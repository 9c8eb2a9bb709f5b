"""The progress display: the mode chosen from where output goes, the plain lines a log gets (one
per epoch, complete, no control characters), the terminal bar, the notebook's one output area
updated in place (in a real Jupyter kernel), and the SVG curves on awkward losses."""

from __future__ import annotations

import io
import math
import re
import sys
import time
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from treino.engine import Callback, EarlyStopping, fit
from treino.engine import display_text as text
from treino.engine.checkpoint import snapshot
from treino.engine.display import NotebookDisplay, PlainDisplay, ProgressBar, choose_display
from treino.engine.display_svg import Series, chart, reduce
from treino.errors import ConfigError

TIME = r"\d+\.\d s"  # durations under 10 s


def _data(rows: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 4, generator=gen)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _plain_fit(
    epochs: int = 3, callbacks: tuple[Callback, ...] = (), **kw: object
) -> tuple[list[str], object]:
    out = io.StringIO()
    shown = PlainDisplay("accuracy", stream=out)
    history = fit(_net(), _data(), _data(32), loss="cross_entropy", epochs=epochs, batch_size=16,
                  callbacks=[*callbacks, shown], **kw)  # fmt: skip
    return out.getvalue().splitlines(), history


def _epoch_pattern(row: dict[str, float], epochs: int, eta: bool) -> str:
    values = "  ".join(
        f"{k} {re.escape(text.number(row[k]))}" for k in ("train_loss", "val_loss", "val_accuracy")
    )
    return rf"epoch {int(row['epoch'])}/{epochs}  {values}  {TIME}" + (rf"  ETA {TIME}" if eta else "")


def _clean(lines: list[str]) -> None:
    assert all(line.isprintable() for line in lines), lines  # no ANSI, no \r, no tab


def test_plain_mode_writes_one_complete_line_per_epoch() -> None:
    lines, history = _plain_fit()
    _clean(lines)
    assert lines[0] == "training 3 epochs x 4 iterations on cpu"
    for line, row, eta in zip(lines[1:4], history.epochs, (True, True, False), strict=True):
        assert re.fullmatch(_epoch_pattern(row, 3, eta), line), line
    assert re.fullmatch(rf"done: 3 epochs in {TIME}", lines[4])
    assert len(lines) == 5


def test_plain_mode_on_resume_starts_at_epoch_k() -> None:
    class Keep(Callback):
        def on_epoch_end(self, state, logs) -> None:
            self.ckpt = snapshot(state)

    keep = Keep()
    _plain_fit(epochs=2, callbacks=(keep,))
    lines, _ = _plain_fit(epochs=4, callbacks=(Keep(),), resume=keep.ckpt)
    _clean(lines)
    assert lines[0] == "resuming at epoch 3 of 4: 2 epochs x 4 iterations left on cpu"
    assert [line.split("  ")[0] for line in lines[1:3]] == ["epoch 3/4", "epoch 4/4"]
    assert re.fullmatch(rf"done: 2 epochs in {TIME}", lines[3])


def test_plain_mode_says_why_early_stopping_stopped() -> None:
    # train_loss falls; watched as if higher were better, it never improves after epoch 1
    stop = EarlyStopping("train_loss", patience=1, higher_is_better=True, restore_best=False)
    lines, history = _plain_fit(epochs=5, callbacks=(stop,))
    _clean(lines)
    assert len(history.epochs) == 2 and len(lines) == 4
    best = f"{history.epochs[0]['train_loss']:.4g}"
    assert re.fullmatch(
        rf"stopped after epoch 2 of 5 \({TIME}\): early stopping: train_loss did not improve for 1 epochs "
        rf"\(best {re.escape(best)} at epoch 1\)",
        lines[-1],
    ), lines[-1]


def test_plain_mode_shows_the_diverged_epoch_and_the_reason() -> None:
    x = torch.randn(32, 2)
    out = io.StringIO()
    fit(nn.Linear(2, 1), (x, x.sum(1, keepdim=True) * 1e3), loss="mse", optimizer="sgd", lr=1e6,
        epochs=3, batch_size=8, callbacks=[PlainDisplay("r2", stream=out)])  # fmt: skip
    lines = out.getvalue().splitlines()
    _clean(lines)
    assert lines[-2].startswith("epoch 1/3  train_loss ") and re.search(r"train_loss (nan|inf)", lines[-2])
    assert "ETA" not in lines[-2]
    assert re.fullmatch(rf"stopped after epoch 1 of 3 \({TIME}\): the loss became (nan|inf) at epoch 1, step \d+",
                        lines[-1])  # fmt: skip


def test_plain_mode_heartbeat_and_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    class CtrlC(Callback):
        def on_batch_end(self, state, loss) -> None:
            if state.step == 6:
                raise KeyboardInterrupt

    monkeypatch.setattr(text, "HEARTBEAT", 0.0)  # a line at every step
    out = io.StringIO()
    shown = PlainDisplay("accuracy", stream=out)
    with pytest.raises(KeyboardInterrupt):
        fit(_net(), _data(), loss="cross_entropy", epochs=3, batch_size=16, callbacks=[CtrlC(), shown])
    lines = out.getvalue().splitlines()
    _clean(lines)
    assert re.fullmatch(rf"  epoch 1/3  iteration 1/4  loss \d\.\d{{4}}  {TIME}  ETA {TIME}", lines[1]), (
        lines[1]
    )
    assert re.fullmatch(
        rf"interrupted \(Ctrl-C\) during epoch 2 of 3, after {TIME}; the last complete epoch is 1", lines[-1]
    )


def test_terminal_mode_draws_a_bar_and_leaves_the_terminal_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("TREINO_DISPLAY", "terminal")
    bar = choose_display("accuracy")
    assert isinstance(bar, ProgressBar) and bar.force
    history = fit(_net(), _data(), _data(32), loss="cross_entropy", epochs=2, batch_size=16, callbacks=[bar])
    drawn = err.getvalue()
    assert "\x1b[?25l" in drawn and re.search(
        rf"\n\x1b\[\?25hdone: 2 epochs in {TIME}\n$", drawn
    )  # cursor back
    assert drawn.count("\x1b[?25h") == 1 and drawn.index("\x1b[?25h") > drawn.index("epoch 2/2  train_loss")
    assert f"val_accuracy {text.number(history.epochs[-1]['val_accuracy'])}" in drawn


def test_the_mode_follows_where_output_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TREINO_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a TTY, not a notebook
    assert type(choose_display()) is PlainDisplay
    assert choose_display(verbose=0) is None
    monkeypatch.setenv("TREINO_DISPLAY", "Plain ")
    assert type(choose_display(verbose=2)) is PlainDisplay
    monkeypatch.setenv("TREINO_DISPLAY", "fancy")
    with pytest.raises(ConfigError) as bad:
        choose_display()
    assert str(bad.value) == (
        "TREINO_DISPLAY='fancy': not a display mode; use terminal, notebook or plain "
        "(or unset it to choose from where output goes)"
    )
    monkeypatch.setenv("TREINO_DISPLAY", "notebook")  # no IPython shell runs under pytest
    with pytest.raises(ConfigError, match=r"^display mode notebook: no IPython shell is running here"):
        choose_display()


def test_verbose_2_shows_every_measure_and_lr() -> None:
    out = io.StringIO()
    fit(_net(), _data(), _data(32), loss="cross_entropy", epochs=1, batch_size=16,
        callbacks=[PlainDisplay("accuracy", verbose=2, loss_label="loss (standardized y)", stream=out)])  # fmt: skip
    first, epoch = out.getvalue().splitlines()[:2]
    assert first.endswith("; train_loss and val_loss: loss (standardized y)")
    keys = epoch.split("  ")[1:]
    assert [k.split(" ")[0] for k in keys[:-1]] == [
        "train_loss", "train_accuracy", "train_f1_macro", "train_precision_macro", "train_recall_macro",
        "val_loss", "val_accuracy", "val_f1_macro", "val_precision_macro", "val_recall_macro", "lr",
    ]  # fmt: skip


def _state(losses: list[float], epochs: int, spe: int, done: int) -> SimpleNamespace:
    """What the notebook display reads of a TrainState, after `done` epochs of `spe` steps."""
    history = [
        {"epoch": e, "train_loss": losses[e * spe - 1], "val_loss": losses[e * spe - 1] * 1.1, "seconds": 0.5}
        for e in range(1, done + 1)
    ]
    return SimpleNamespace(
        epochs=epochs, steps_per_epoch=spe, step=len(losses), epoch=done, history=history, step_losses=losses,
        best_epoch=done or None, status="completed", stop_reason="", dist=None, device="cpu",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("losses", "spe", "done"),
    [
        ([1.0, 0.5, math.nan, math.inf, 0.2, -math.inf], 3, 2),  # non-finite losses: gaps and a mark
        ([0.7, 0.6, 0.5, 0.4], 4, 1),  # a single epoch
        ([0.7], 1, 1),  # one iteration
        ([math.nan], 1, 1),  # nothing finite at all
        ([2.0 / (1 + i / 500) + 0.1 * math.sin(i) for i in range(100_000)], 1000, 100),  # 100k iterations
        ([1.0 / (1 + i) for i in range(20_000)], 1, 20_000),  # 20k full-batch epochs
    ],
)
def test_the_notebook_area_renders_any_losses(losses: list[float], spe: int, done: int) -> None:
    shown = NotebookDisplay("accuracy")
    state = _state(losses, epochs=max(done, 3), spe=spe, done=done)
    shown.started = time.perf_counter()  # as on_fit_start would; no kernel here to show it in
    start = time.perf_counter()
    html = shown.bundle(state, "done")["text/html"]
    seconds = time.perf_counter() - start
    svgs = re.findall(r"<svg.*?</svg>", html)
    assert len(svgs) == 2 and len(html) < 100_000 and seconds < 1.0, (len(html), seconds)
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
        assert "nan" not in svg.replace(">nan<", "") and "inf" not in svg.replace(">inf<", "").replace(
            ">-inf<", ""
        )
    if not all(map(math.isfinite, losses)) and any(map(math.isfinite, losses)):
        assert 'stroke="#d62728"' in svgs[0]  # the first non-finite iteration is marked


def test_reduce_keeps_the_range_of_a_long_series() -> None:
    values = [float(i % 7) for i in range(10_000)]
    reduced = reduce(values)
    assert len(reduced.ys) == 400 and min(reduced.lows) == 0.0 and max(reduced.highs) == 6.0
    assert reduced.xs[0] > 1 and reduced.xs[-1] < 10_000
    svg = chart([Series("x", [1.0], [3.0], "#000")], title="t", xlabel="x")
    assert "<circle" in svg  # a single point is drawn as a dot


@pytest.mark.slow
def test_notebook_display_is_one_area_updated_in_place_in_a_real_kernel() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cell = """
import os, torch
from torch import nn
from treino.engine import EarlyStopping, choose_display, fit
os.environ.pop("TREINO_DISPLAY", None)
torch.manual_seed(0)
x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
print("the learner's own output, before")
fit(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), (x, y), (x, y), loss="cross_entropy",
    epochs=3, batch_size=16, callbacks=[EarlyStopping(), choose_display("accuracy")])
print("and after")
"""
    stop = """
from treino.engine import Callback
class Stop(Callback):  # the notebook's stop button raises KeyboardInterrupt in the kernel
    def on_batch_end(self, state, loss):
        if state.step == 6:
            raise KeyboardInterrupt
try:
    fit(nn.Linear(4, 2), (x, y), loss="cross_entropy", epochs=3, batch_size=16,
        callbacks=[Stop(), choose_display("accuracy")])
except KeyboardInterrupt:
    pass
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (cell, stop)])
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=120)
    client.execute()
    outputs = notebook.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data", "stream"], outputs
    assert [o.get("name") for o in outputs] == ["stdout", None, "stdout"]  # nothing on stderr, no error
    assert outputs[0].text == "the learner's own output, before\n" and outputs[2].text == "and after\n"
    # each area was made with a display id (and updated through it): one per cell, at its output
    assert sorted(place for cells in client._display_id_map.values() for place in cells.items()) == [
        (0, [1]),
        (1, [0]),
    ]
    html, plain = outputs[1].data["text/html"], outputs[1].data["text/plain"]
    assert "<b>epoch 3/3</b>" in html and html.count("<svg") == 2 and "done: 3 epochs" in html
    assert plain.startswith("epoch 3/3  100%") and "done: 3 epochs" in plain
    stopped = notebook.cells[1].outputs
    assert [o.output_type for o in stopped] == ["display_data"], stopped
    assert "interrupted (the kernel was interrupted) during epoch 2 of 3" in stopped[0].data["text/html"]
