"""Orchestration of `treino train`: Config -> data -> model -> engine -> run folder."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet  # noqa: F401  (before torch: torch first can crash parquet reads, pytorch#22447)
from torch import nn

from treino import config as C
from treino import files
from treino.engine.callbacks import Callback
from treino.engine.checkpoint import Checkpoint
from treino.engine.checkpoint import load as load_checkpoint
from treino.engine.display import in_notebook
from treino.engine.loop import evaluate, fit, resolve_device
from treino.engine.losses import ScaledLoss
from treino.report import diagnosis, equation, forecast
from treino.run import folder as rundir
from treino.run import loggers, predictions, processes, transfer
from treino.run.assemble import assemble
from treino.run.callbacks import standard
from treino.run.resume import check_resume_args, resume_point
from treino.run.settings import as_overrides, merge
from treino.run.signals import Interrupted, SignalGuard

EXIT_CODES = {"completed": 0, "early_stopped": 0, "interrupted": 130, "diverged": 3}


@dataclass
class Run:
    """A finished (or stopped) run: its folder, history, metrics and trained model."""

    dir: Path
    config: C.Config
    history: Any  # pandas DataFrame, one row per epoch
    metrics: dict[str, Any]
    model: nn.Module

    @property
    def status(self) -> str:
        return self.metrics["status"]

    def __repr__(self) -> str:  # the dataclass's would print every weight and the whole history
        return f"Run('{self.dir}', status={self.status!r}, epochs={self.metrics.get('epochs_run')})"

    def _repr_html_(self) -> str:
        """A notebook's view: status, metrics, curves and diagnosis."""
        from treino.run.notebook import run_html

        return run_html(self.dir, self.metrics)

    def report(self) -> Any:
        """report.html shown inline in a notebook (written first when the run has none).

        Example:
            >>> run = treino.train(data="iris", epochs=20)
            >>> run.report()  # the last line of a cell
        """
        from treino import report
        from treino.run.notebook import Page

        page = self.dir / "report.html"
        if not page.exists():
            report.write(self.dir)
        return Page(page)

    @property
    def exit_code(self) -> int:
        """0 done, 3 diverged, 128 + the signal's number (130 SIGINT, 143 SIGTERM) when stopped."""
        if self.metrics.get("signal"):
            return 128 + signal.Signals[self.metrics["signal"]].value
        return EXIT_CODES[self.status]


def say(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=_out())


def _out() -> Any:
    """Where a run's messages go: stderr (stdout stays for data), but stdout in a notebook,
    which shows stderr as if it were an error."""
    return sys.stdout if in_notebook() else sys.stderr


def train(
    config: str | Path | dict[str, Any] | C.Config | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    callbacks: Sequence[Callback] = (),
    data: str | dict[str, Any] | None = None,
    model: str | dict[str, Any] | type[nn.Module] | nn.Module | None = None,
    **settings: Any,
) -> Run:
    """Train from a config (path, dict or Config) plus overrides, or from what a notebook has:
    `data=`, `model=` and flat settings; write the run folder.

    Args:
        config: a YAML path, a dict, a Config or None (the defaults: digits and a small CNN).
        overrides: dotted keys, {"optimizer.lr": 0.01} or ["optimizer.lr=0.01"].
        data: a built-in dataset name or a path (data.source), or a dict of the data section.
        model: a kind (mlp, cnn, ...), your nn.Module class (called with input_shape and
            n_outputs when it takes them) or instance (trained as it is).
        settings: epochs, batch_size, lr, optimizer, loss, target, patience, hidden, dropout, ...
            (run.settings.SETTINGS maps each to its config key), or dotted keys.
        out: the run folder (default runs/<name>-<time>); quiet: print nothing.

    Example:
        >>> run = treino.train("iris.yaml", {"optimizer.lr": 0.01})
        >>> run = treino.train(data="iris", model=MyNet, epochs=30, lr=0.01)
        >>> run.metrics["test"]["accuracy"], run.report()
    """
    started = time.perf_counter()
    extra, instance = as_overrides(data, model, settings)
    overrides = merge(overrides, extra)
    check_resume_args(config, out, resume)
    resume = processes.resume_after_restart(out, resume)  # torchrun restarted a dead worker
    cfg = C.load(config, overrides) if resume is None else None
    run_dir = Path(resume or out or rundir.default_dir(cfg.name))  # type: ignore[union-attr]
    with SignalGuard() as signals:
        if not processes.is_main():  # under torchrun: rank 0 alone owns the folder and prints
            cfg = cfg or C.load(run_dir / "config.yaml", overrides)
            return _train(cfg, run_dir, None, signals, started, True, callbacks, instance)
        # the lock first: a second trainer on this folder is refused before it reads or writes
        lock, folder = rundir.open_folder(run_dir, resume=resume is not None)
        last = run_dir / "checkpoints" / "last.pt"
        kept = (run_dir / "config.yaml").read_text(encoding="utf-8") if resume is not None else None
        stamp = last.stat().st_mtime_ns if last.exists() else None
        try:
            ckpt = None
            if resume is not None:
                cfg, ckpt = resume_point(run_dir, overrides)
            return _train(cfg, run_dir, ckpt, signals, started, quiet, callbacks, instance)
        except BaseException:
            if folder is not None:  # a new run that failed before its first checkpoint: no trace
                folder.discard()
            elif kept is not None and (last.stat().st_mtime_ns if last.exists() else None) == stamp:
                files.write_text(run_dir / "config.yaml", kept)  # a failed resume leaves the run as it was
            raise
        finally:
            lock.release()


def _train(
    cfg: C.Config,
    run_dir: Path,
    ckpt: dict[str, Any] | None,
    signals: SignalGuard,
    started: float,
    quiet: bool,
    callbacks: Sequence[Callback],
    instance: nn.Module | None = None,
) -> Run:
    """The body of train(), inside the run folder's lock; `instance`: the user's model object."""
    from treino import models

    if cfg.tune:
        say("note: the config's tune section is used by treino tune only; ignored here", quiet)
    main = processes.is_main()
    if main:
        files.write_text(run_dir / "config.yaml", cfg.to_yaml())
    group = processes.setup(cfg.train.device)  # joins torchrun's processes; None when alone
    ckpt = processes.broadcast(ckpt, group)  # rank 0 read it: every rank resumes the same

    parts = assemble(cfg, ckpt, say=lambda message: say(message, quiet), model=instance)
    data, info, task, model, loss_fn = parts.data, parts.info, parts.task, parts.model, parts.loss_fn
    # extra callbacks (e.g. tune's pruner) run after early stopping has seen the epoch
    scaled = isinstance(loss_fn, ScaledLoss)  # the loss the display shows is on standardized targets
    callbacks = _callbacks(cfg, run_dir, parts.patience, task, data.val is not None, quiet, scaled) + list(
        callbacks
    )
    # the checkpoint last: it saves the state the others leave at the end of each epoch
    callbacks += [signals.callback(), rundir.MarkUnfinished(run_dir), Checkpoint(run_dir / "checkpoints")]
    if not main:
        callbacks.pop()  # rank 0 alone writes checkpoints
    kind = models.resolve_kind(cfg.model, info)
    summary = models.summarize(model, parts.example)
    say(models.format_summary(summary, kind), quiet)
    if ":" in kind and (instance is not None or kind.startswith("__main__:")):
        say(f"note: the model is your own {kind.partition(':')[2]}; treino.load({str(run_dir)!r}, "
            f"trust_code=True) needs it importable as {kind} (a notebook: the class defined first)", quiet)  # fmt: skip

    history = fit(
        model, parts.train, parts.val,
        loss=loss_fn, optimizer=parts.optimizer, epochs=parts.epochs, batch_size=parts.batch,
        callbacks=callbacks, task=task, l1=cfg.train.l1, l2=cfg.train.l2,
        clip_grad=cfg.train.clip_grad, schedule=parts.schedule, device=cfg.train.device,
        seed=cfg.seed, resume=ckpt, threads=cfg.train.threads, compile=cfg.train.compile,
    )  # fmt: skip
    processes.teardown(group)
    if not main:  # training was the shared work; rank 0 evaluates and writes alone
        return Run(run_dir, cfg, history.frame(), {"status": history.status, "stop_reason": ""}, model)
    status = _settle(history, model, cfg, run_dir, signals)

    device = resolve_device(cfg.train.device)
    scores: dict[str, dict[str, float]] = {}
    usable = status != "diverged" or history.best_epoch is not None
    for name, part in (("train", data.train), ("val", data.val), ("test", data.test)):
        if part is not None and usable:
            found = evaluate(model, part.ordered(device, task), loss_fn, task, device, prefix=name)
            scores[name] = {k.removeprefix(f"{name}_"): v for k, v in found.items()}
    elapsed = time.perf_counter() - started
    frame = history.frame()
    metrics = {
        "status": status,
        "stop_reason": history.stop_reason,
        "task": task,
        "epochs_run": len(frame),
        "best_epoch": history.best_epoch,
        **scores,
        "timing": rundir.timing(history, frame, elapsed),
        "model": {"kind": kind, **summary, "summary": models.format_summary(summary, kind)},
        "data": info.to_dict(),
        "seed": cfg.seed,
        "versions": rundir.versions(),
        "diagnosis": diagnosis.diagnose(frame, history.steps_frame(), status, history.best_epoch),
        "loss_label": equation.loss_label(task, data.preprocessing),  # the scale the loss is on
    }
    fitted = equation.of_model(model, kind, task, data.preprocessing, info.features, info.targets)
    if fitted:  # a linear regression: y = a·x + b in the data's units
        metrics["equation"] = fitted
    if "baselines" in data.preprocessing:  # a series: the baselines on the same held-out windows
        metrics["baselines"] = data.preprocessing["baselines"]
        metrics["diagnosis"] += forecast.findings(metrics)
    if status == "interrupted" and signals.received is not None:
        metrics["signal"] = signals.name
    rundir.write_history(run_dir, history, steps=cfg.log.steps)
    if usable:
        rundir.save_bundle(run_dir / "model", model, cfg.to_dict(), info.to_dict(), data.preprocessing)
        predictions.write(run_dir, model, data, task, device)  # for the report's test-set plots
    files.write_json(run_dir / "metrics.json", metrics)
    if cfg.log.plots:
        from treino import report

        report.write(run_dir)
    loggers.finish(callbacks, metrics, run_dir)
    _summary(metrics, run_dir, quiet, displayed=cfg.log.progress)
    if not quiet:
        diagnosis.describe(metrics["diagnosis"], file=_out())
    return Run(run_dir, cfg, frame, metrics, model)


def overhead_line(timing: dict[str, Any]) -> str | None:
    """The summary's overhead line: above 5% of the training time, and only when it adds up to
    seconds (a tiny table's 20 ms epochs are mostly bookkeeping, which costs nobody anything)."""
    share, seconds = timing["overhead"], timing["overhead"] * timing["train_seconds"]
    if share <= 0.05 or seconds < 2.0:
        return None
    return (
        f"treino overhead: {share:.0%} of the training time ({seconds:.1f} s) was outside forward, "
        f"backward and the optimizer step"
    )


def _settle(history: Any, model: nn.Module, cfg: C.Config, run_dir: Path, signals: SignalGuard) -> str:
    """The run's status after fit(); a stopped run keeps the model of its last complete epoch."""
    status = history.status
    if signals.received is not None and status not in ("completed", "diverged") and not history.stop_reason:
        status = "interrupted"
        if not history.epochs:
            raise Interrupted(
                signals.received,
                f"interrupted by {signals.name} before the first epoch ended; nothing was saved",
            )
        history.stop_reason = (
            f"interrupted by {signals.name} after epoch {len(history.epochs)}; "
            f"continue with: treino train --resume {run_dir}"
        )
    last = run_dir / "checkpoints" / "last.pt"
    best_restored = cfg.train.restore_best and history.best_epoch is not None
    if status in ("interrupted", "diverged") and not best_restored and last.exists():
        model.load_state_dict(load_checkpoint(last)["model"])  # drop the partial (or non-finite) epoch
    return status


def _callbacks(
    cfg: C.Config,
    run_dir: Path,
    patience: int | None,
    task: str,
    has_val: bool,
    quiet: bool,
    scaled: bool = False,
) -> list[Callback]:
    es = cfg.train.early_stopping
    callbacks = standard(
        task, has_val, patience=patience, monitor=es.monitor if es else "val_loss",
        min_delta=es.min_delta if es else 0.0, restore_best=cfg.train.restore_best,
        progress=cfg.log.progress and not quiet, loss_label="loss (standardized y)" if scaled else "loss",
    )  # fmt: skip
    callbacks += transfer.callbacks(cfg, lambda message: say(message, quiet))  # train.unfreeze_at
    return callbacks + loggers.build(cfg, run_dir)  # TensorBoard / MLflow, when asked for


def _summary(metrics: dict[str, Any], run_dir: Path, quiet: bool, displayed: bool = False) -> None:
    if quiet:
        return
    from rich.console import Console
    from rich.table import Table

    parts = [p for p in ("train", "val", "test") if p in metrics]
    names = list(metrics[parts[0]]) if parts else []
    table = Table(title=f"{metrics['status']} after {metrics['epochs_run']} epochs "
                        f"(best {metrics['best_epoch']})")  # fmt: skip
    table.add_column("metric")
    for p in parts:
        table.add_column(p, justify="right")
    label = metrics.get("loss_label") or "loss"  # "loss (standardized y)": not in y's units
    for name in names:
        shown = label if name == "loss" else name
        table.add_row(shown, *(f"{metrics[p].get(name, float('nan')):.4f}" for p in parts))
    console = Console(stderr=True, soft_wrap=True)  # a log file gets whole lines, never cut at 80 columns
    console.print(table)
    if metrics.get("equation"):
        console.print(f"fitted equation (data units): {metrics['equation']['text']}")
    if "baselines" in metrics:
        console.print(forecast.summary_line(metrics), soft_wrap=True)
    said = displayed and metrics["status"] == "early_stopped"  # the display's last line said why
    if metrics["stop_reason"] and not said:
        console.print(metrics["stop_reason"])
    if metrics["timing"]["compile_seconds"]:
        console.print(f"torch.compile: {metrics['timing']['compile_seconds']:.1f} s of the training time")
    line = overhead_line(metrics["timing"])
    if line:
        console.print(line)
    console.print(f"run folder: {run_dir}")
