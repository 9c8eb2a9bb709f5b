"""`treino.fit`: your own nn.Module on your own tensors, Dataset or DataLoader, with what
`treino train` gives a run: the live display, early stopping, the best epoch's weights, the
diagnosis and, with `out=`, the same run folder (history, steps, metrics, model, report.html)."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from treino import files
from treino.engine import checks, losses
from treino.engine import loop as engine
from treino.engine.callbacks import Callback
from treino.engine.schedules import Schedule
from treino.engine.state import History
from treino.report import diagnosis
from treino.run import folder as rundir
from treino.run import transfer
from treino.run.callbacks import standard
from treino.tasks import TaskName


def fit(
    model: nn.Module,
    train: Any,
    val: Any = None,
    *,
    loss: str | nn.Module = "auto",
    optimizer: str | torch.optim.Optimizer = "adam",
    epochs: int = 10,
    batch_size: int | str = 32,
    lr: float | None = None,
    verbose: int = 1,
    patience: int | None = None,
    monitor: str = "val_loss",
    min_delta: float = 0.0,
    restore_best: bool = True,
    out: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    task: TaskName | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    clip_grad: float | None = None,
    schedule: Schedule | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    train_metrics: bool = True,
    resume: dict[str, Any] | None = None,
    threads: int | None = None,
    compile: bool = False,
    freeze: str | Sequence[str] = (),
    reset: str | Sequence[str] = (),
    unfreeze_at: int | None = None,
) -> History:
    """Train your own `model` on `train`, validating on `val` after every epoch.

    Args:
        model: any nn.Module; its forward returns logits (classes) or values (regression).
        train, val: (X, y) tensors, numpy arrays or pandas objects; a Dataset; a DataLoader.
        loss: auto, mse, l1, huber, bce, cross_entropy, or a torch loss module. auto reads the
            data: integer labels and K > 1 outputs -> cross_entropy; 0/1 labels and 1 output
            -> bce; float targets -> mse.
        optimizer: sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, or a torch optimizer
            over the model's parameters; `lr` sets a named optimizer's learning rate.
        batch_size: 1 (stochastic), N (mini-batch) or "full" (the whole training set).
        verbose: 0 quiet; 1 the live display (a bar in a terminal, a table and curve updated
            in place in a notebook, one line per epoch in a log) and the diagnosis at the end.
        patience: stop after this many epochs without improvement of `monitor` (None: never).
        monitor: val_loss or any history column (val_accuracy, ...); without validation data
            its train_ counterpart. `min_delta`: the least change that counts as improvement.
        restore_best: put the best epoch's weights back into `model` at the end.
        out: a folder to write the run to, as `treino train` does: history.csv, steps.csv,
            metrics.json (with the diagnosis), model/ (safetensors) and report.html.
        callbacks: your own treino.engine.Callback objects, run after treino's.
        task: regression, binary or multiclass; None: from the loss and the data.
        l1, l2: weight penalties; clip_grad: the gradient norm's limit.
        device: auto (the GPU when there is one), cpu or cuda; seed: shuffling and dropout.
        resume: a checkpoint dict (treino.engine.checkpoint) to continue from.
        threads: CPU threads (None: chosen from the work of a step); compile: torch.compile.
        freeze: layers (or parameters) by name that do not train; their batch norms keep their
            statistics. reset: layers re-initialized first (a new head). unfreeze_at: the epoch
            from which the frozen layers train too. See docs/models.md, "Transfer learning".

    Returns:
        The History: `frame()` per epoch, `best_epoch`, `plot()`; a notebook shows it.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        >>> history = treino.fit(net, (X, y), (X_val, y_val), epochs=30, patience=5)
        >>> history.best_epoch, history.plot()
    """
    started = time.perf_counter()
    if verbose < 0:
        raise ValueError(f"verbose {verbose}: must be 0 (quiet), 1 or 2")
    if patience is not None and patience < 1:
        raise ValueError(f"patience {patience}: must be a number of epochs of at least 1, or None")
    more = transfer.for_fit(model, freeze, reset, unfreeze_at, _say if verbose else None)  # before training
    task = task or _task(loss, model, train, batch_size)
    has_val = val is not None
    monitor = _check_monitor(monitor, task, has_val)
    run_dir = Path(out).expanduser() if out is not None else None
    lock = folder = None
    if run_dir is not None:
        lock, folder = rundir.open_folder(run_dir, resume=False)
    try:
        if verbose:
            _say(_task_line(task, loss, model))
        extra = standard(
            task, has_val, patience=patience, monitor=monitor, min_delta=min_delta,
            restore_best=restore_best, progress=verbose >= 1, verbose=verbose,
        )  # fmt: skip
        history = engine.fit(
            model, train, val, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
            callbacks=[*extra, *more, *callbacks], task=task, lr=lr, l1=l1, l2=l2, clip_grad=clip_grad,
            schedule=schedule, device=device, seed=seed, train_metrics=train_metrics, resume=resume,
            threads=threads, compile=compile,
        )  # fmt: skip
        history.restored = restore_best and history.best_epoch is not None
        found = diagnosis.diagnose(history.frame(), history.steps_frame(), history.status, history.best_epoch)
        history.findings = [{**f, "message": in_fit_terms(f["message"])} for f in found]
        if run_dir is not None:
            settings = {"loss": _name(loss), "optimizer": _name(optimizer), "lr": lr, "epochs": epochs,
                        "batch_size": batch_size, "seed": seed, "l1": l1, "l2": l2, "patience": patience,
                        "monitor": monitor, "restore_best": restore_best}  # fmt: skip
            _write(run_dir, history, model, train, val, task, loss, batch_size, device, settings, started)
    except BaseException:
        if folder is not None:
            folder.discard()
        raise
    finally:
        if lock is not None:
            lock.release()
    if verbose:
        _end(history, run_dir)
    return history


def _task(loss: str | nn.Module, model: nn.Module, train: Any, batch_size: int | str) -> TaskName:
    """The task, before training: the display and early stopping's direction depend on it."""
    from treino.batches.source import as_source

    if not (isinstance(loss, str) and loss == "auto"):
        return checks.task_of(loss, model, None)  # the loss says it: the data need not be looked at
    rows = None if batch_size == "full" or isinstance(batch_size, str) else int(batch_size)
    try:
        source = as_source(train, rows, None)
    except (TypeError, ValueError):
        return "regression"  # the engine's fit refuses this data in its own words
    return checks.task_of(loss, model, source)


def _check_monitor(monitor: str, task: TaskName, has_val: bool) -> str:
    """A monitor the history will hold; a wrong one is refused before training, not ignored."""
    from treino.engine import metrics as M

    names = ["loss", *M.for_task(task)]
    split, _, name = monitor.partition("_")
    if split not in ("train", "val") or name not in names:
        raise ValueError(
            f"monitor '{monitor}': not a column of a {task} history; use val_<metric> (or train_<metric>) "
            f"with one of: {', '.join(names)}"
        )
    return monitor


def _task_line(task: TaskName, loss: str | nn.Module, model: nn.Module) -> str:
    """What the run is, in a line: 'treino.fit: multiclass, loss cross_entropy (auto: ...)'."""
    name = _name(loss)
    if name == "auto":
        why = {
            "multiclass": "integer labels and several outputs",
            "binary": "0/1 labels and one output",
            "regression": "float targets, or numbers other than 0/1 with one output",
        }[task]
        name = f"{losses.AUTO[task]} (auto: {why})"
    params = sum(p.numel() for p in model.parameters())
    return f"treino.fit: {type(model).__name__}, {params:,} parameters; {task} task, loss {name}"


# the diagnosis names treino train's config keys; treino.fit's user has arguments and a module
FIT_TERMS = [
    (r"--set train\.epochs=(\d+)", r"epochs=\1"),
    (r"train\.epochs: (\d+)", r"epochs=\1"),
    (r"train\.early_stopping on", "patience= on"),
    (r"optimizer\.lr", "lr"),
    (r"train\.(clip_grad|batch_size|l2|l1)", r"\1="),
    (r"model\.init: ([a-z_]+(?: or [a-z_]+)?)", r"\1 initialization in your module"),
    (r"model\.activation: ([a-z_]+(?: or [a-z_]+)?)", r"\1 activations in your module"),
    (r"model\.batch_norm", "batch norm layers"),
    (r"model\.dropout", "nn.Dropout layers"),
    (r"model\.kind: mlp, more model\.hidden units", "more layers or units in your module"),
    (r"more model\.hidden units", "more units"),
    (r"keep data\.scale: standard", "standardize the inputs"),
    (r"data\.scale: standard", "standardized inputs"),
    (r"schedule\.name: cosine", "a cosine schedule"),
]


def in_fit_terms(message: str) -> str:
    """A diagnosis' advice in treino.fit's words: `lr`, `epochs=`, your module's layers."""
    for pattern, replacement in FIT_TERMS:
        message = re.sub(pattern, replacement, message)
    return message


def _name(thing: Any) -> str:
    return thing if isinstance(thing, str) else type(thing).__name__


def _end(history: History, run_dir: Path | None) -> None:
    """After training: how it ended, the best epoch, the diagnosis and the run folder."""
    last = history.epochs[-1] if history.epochs else {}
    shown = {k: v for k, v in last.items() if k in ("train_loss", "val_loss", "val_accuracy", "val_r2")}
    line = f"{history.status} after {len(history.epochs)} epochs"
    if history.best_epoch is not None:
        line += f", best epoch {history.best_epoch}" + (" (weights restored)" if history.restored else "")
    if shown:
        line += "; last: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
    _say(line)
    if history.stop_reason:
        _say(history.stop_reason)
    diagnosis.describe(history.findings or [], file=sys.stdout)
    if run_dir is not None:
        _say(f"run folder: {run_dir} (report: {run_dir / 'report.html'})")


def _say(message: str) -> None:
    print(message, file=sys.stdout, flush=True)


def _write(
    run_dir: Path, history: History, model: nn.Module, train: Any, val: Any, task: TaskName,
    loss: str | nn.Module, batch_size: int | str, device: str | torch.device, settings: dict[str, Any],
    started: float,
) -> None:  # fmt: skip
    """The run folder of `treino train`, from what treino.fit has: no config to train from (the
    data came from Python), so config.yaml records the settings for the report and for you."""
    import yaml

    from treino import models, report

    kind = f"{type(model).__module__}:{type(model).__qualname__}"
    header = ("# written by treino.fit: your own model and data from Python. These are the settings it "
              "ran with;\n# this is not a config for `treino train` (the data were not a file).\n")  # fmt: skip
    files.write_text(run_dir / "config.yaml", header + yaml.safe_dump({"fit": {"model": kind, **settings}}))
    frame = rundir.write_history(run_dir, history)
    dev = engine.resolve_device(device)
    loss_fn = losses.build(loss, task) if isinstance(loss, str) else loss
    scores, shape, sizes, classes = {}, [], {}, []
    for split, data in (("train", train), ("val", val)):
        if data is None:
            continue
        rows = None if batch_size == "full" else int(batch_size)
        source = engine.batch_source(data, rows, torch.Generator().manual_seed(0), task, model)
        sizes[split] = source.rows
        if history.epochs and history.status != "diverged":
            found = engine.evaluate(model, source.to(dev), loss_fn.to(dev), task, dev, prefix=split)
            scores[split] = {k.removeprefix(f"{split}_"): v for k, v in found.items()}
            if split == "val":  # the report's held-out plots: confusion matrix, ROC, residuals
                classes = _predictions(run_dir, *engine.predict(model, source.to(dev), dev), task)
        x = getattr(source, "x", None)
        shape = list(x.shape[1:]) if x is not None and not shape else shape
    summary: dict[str, Any] = {}
    example = getattr(engine.batch_source(train, 2, None, task, model), "x", None)
    if example is not None:
        summary = models.summarize(model, example[:2].to(dev))
        summary["summary"] = models.format_summary(summary, kind)
    metrics = {
        "status": history.status,
        "stop_reason": history.stop_reason,
        "task": task,
        "epochs_run": len(frame),
        "best_epoch": history.best_epoch,
        **scores,
        "timing": rundir.timing(history, frame, time.perf_counter() - started),
        "model": {"kind": kind, **summary},
        "data": {
            "source": "tensors from Python (treino.fit)",
            "task": task,
            "input_shape": shape,
            "sizes": sizes,
            "classes": classes,
        },
        "seed": settings["seed"],
        "versions": rundir.versions(),
        "diagnosis": history.findings,
    }
    data_info = {"task": task, "kind": "table" if len(shape) == 1 else "image", "input_shape": shape}
    rundir.save_bundle(run_dir / "model", model, {"fit": {"model": kind, **settings}}, data_info, {})
    files.write_json(run_dir / "metrics.json", metrics)
    report.write(run_dir)


def _predictions(run_dir: Path, outputs: torch.Tensor, targets: torch.Tensor, task: TaskName) -> list[str]:
    """predictions.csv of the validation split, as `treino train` writes the test split's (the
    report then draws them); the classes are the label numbers. Returns the classes."""
    import numpy as np
    import pandas as pd

    from treino.tasks import predict_labels, probabilities

    outputs, targets = outputs.float().cpu(), targets.cpu()
    frame = pd.DataFrame({"row": np.arange(len(targets)), "split": "val"})
    classes: list[str] = []
    if task == "regression":
        frame["y_true"], frame["y_pred"] = (
            targets.reshape(len(frame), -1)[:, 0],
            outputs.reshape(len(frame), -1)[:, 0],
        )
    else:
        probs = probabilities(outputs, task).numpy()
        classes = [str(k) for k in range(probs.shape[1])]
        frame["y_true"] = targets.reshape(-1).long().numpy().astype(str)
        frame["y_pred"] = predict_labels(outputs, task).numpy().astype(str)
        for k, label in enumerate(classes):
            frame[f"p_{label}"] = probs[:, k].round(5)
    frame.to_csv(run_dir / "predictions.csv.tmp", index=False)
    (run_dir / "predictions.csv.tmp").replace(run_dir / "predictions.csv")
    return classes
