"""`treino lr-find CONFIG`: the learning-rate range test. Train a throwaway copy of the model
for a few hundred iterations while the rate grows exponentially from tiny to huge, watch the
loss, and suggest a rate: a tenth of the one where the (smoothed) loss was lowest, i.e. well
before the steps become too big. The suggestion is written into a config the user can run."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from treino import config as C
from treino import files
from treino.batches.source import Source
from treino.engine.loop import batch_source, resolve_device
from treino.errors import ConfigError
from treino.run import folder as rundir
from treino.run.assemble import assemble

SMOOTHING = 0.9  # exponential moving average of the loss (bias-corrected)
STOP_FACTOR = 4.0  # stop the sweep once the smoothed loss is 4x its best: the rate is too big
BELOW_MIN = 10.0  # suggestion = the rate of the lowest loss / 10


@dataclass
class LRFind:
    """The sweep: one row per iteration (iteration, lr, loss, smoothed), and the suggestion."""

    dir: Path
    sweep: pd.DataFrame
    suggested: float
    best_lr: float


def lr_find(
    config: str | Path | dict[str, Any] | C.Config | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    iterations: int = 200,
    quiet: bool = False,
) -> LRFind:
    """Sweep the learning rate from `start_lr` to `end_lr` over `iterations` steps.

    Writes into `out` (default runs/<name>-lrfind-<time>): lr_find.csv, lr_find.png and
    config.yaml, the config with optimizer.lr set to the suggestion.

    Example:
        >>> found = treino.run.lrfind.lr_find("iris.yaml")
        >>> found.suggested
        0.0123
    """
    if iterations < 20:
        raise ConfigError(f"--iterations {iterations}: too few for a sweep; use at least 20 (default 200)")
    if not 0 < start_lr < end_lr:
        raise ConfigError(
            f"--start-lr {start_lr} / --end-lr {end_lr}: need 0 < start < end, e.g. 1e-7 and 10"
        )
    cfg = C.load(config, overrides)
    folder = Path(out) if out else Path("runs") / f"{cfg.name}-lrfind-{datetime.now():%Y%m%d-%H%M%S}"
    rundir.check_out(folder, "sweep")  # no training run or user's config.yaml to replace

    parts = assemble(cfg)  # the model `treino train` would train: weights, input range, augmentation
    device = resolve_device(cfg.train.device)
    model, loss_fn = (
        parts.model.to(device),
        parts.loss_fn.to(device),
    )  # the optimizer holds these same tensors
    # as fit() takes it: a batch source, targets as the loss takes them
    source = batch_source(parts.train, parts.batch, parts.generator, parts.task, model)
    lrs = (start_lr, end_lr)
    sweep = _sweep(model, loss_fn, parts.optimizer, source, parts.generator, lrs, iterations, device)
    finite = sweep[sweep["smoothed"].map(math.isfinite)]
    if finite.empty:
        raise ConfigError(
            f"lr-find: the loss was not finite even at lr {start_lr:g}; check the data "
            f"(NaN or huge inputs) or lower --start-lr"
        )
    best_lr = float(finite.loc[finite["smoothed"].idxmin(), "lr"])
    suggested = float(f"{best_lr / BELOW_MIN:.2g}")
    folder.mkdir(parents=True, exist_ok=True)  # only now: a refused sweep leaves no folder behind
    _write(folder, cfg, sweep, suggested, best_lr)
    if not quiet:
        if finite["smoothed"].idxmin() < len(sweep) // 10:
            print(
                "warning: the loss did not fall at any rate of the sweep; check the data and the model "
                "(or lower --start-lr)",
                file=sys.stderr,
            )
        print(
            f"suggested optimizer.lr: {suggested:g} (a tenth of {best_lr:.3g}, where the loss was lowest)\n"
            f"plot: {folder / 'lr_find.png'}\ntrain with: treino train {folder / 'config.yaml'}",
            file=sys.stderr,
        )
    return LRFind(folder, sweep, suggested, best_lr)


def _sweep(
    model: torch.nn.Module,
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    source: Source,
    generator: torch.Generator,
    lrs: tuple[float, float],
    iterations: int,
    device: torch.device,
) -> pd.DataFrame:
    """The exponential sweep; stops early once the loss has clearly blown up."""
    start_lr, end_lr = lrs
    growth = (end_lr / start_lr) ** (1 / (iterations - 1))  # per iteration
    rows: list[dict[str, float]] = []
    average, best = 0.0, math.inf
    model.train()
    while len(rows) < iterations:
        for xb, yb in source.epoch(generator):
            i = len(rows)
            lr = start_lr * growth**i
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(model(xb.to(device)), yb.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = loss.item()  # one host sync per step: fine for a few hundred steps
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (i + 1))
            rows.append({"iteration": i + 1, "lr": lr, "loss": value, "smoothed": smoothed})
            if not math.isfinite(smoothed) or smoothed > STOP_FACTOR * best:
                return pd.DataFrame(rows)
            best = min(best, smoothed)
            if len(rows) == iterations:
                break
    return pd.DataFrame(rows)


def _write(folder: Path, cfg: C.Config, sweep: pd.DataFrame, suggested: float, best_lr: float) -> None:
    from treino.report import curves

    sweep.to_csv(folder / "lr_find.csv", index=False)
    curves.lr_sweep(sweep, suggested, best_lr, folder / "lr_find.png")
    tuned = cfg.model_copy(deep=True)
    tuned.optimizer.lr = suggested
    files.write_text(folder / "config.yaml", tuned.to_yaml())
