"""`treino tune`: search the config's `tune` section with Optuna (TPE sampler, median pruner on
the epoch-level validation metric). Every trial is a normal run folder; the study lives in a
SQLite file in the tune folder, so running the same command again adds trials to it."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from treino import config as C
from treino.engine import metrics as M
from treino.engine.callbacks import Callback
from treino.errors import ConfigError, RunError, TreinoError
from treino.registry import did_you_mean
from treino.run.names import check_names

DISTRIBUTIONS = ("choice", "int_uniform", "log_uniform", "uniform")
STUDY = "treino"


@dataclass
class Param:
    """One dimension of the search space: a dotted config key and its distribution."""

    key: str
    kind: str
    args: list[Any]


@dataclass
class Tuning:
    """A finished `treino tune`: its folder, the best value and config, and the trial counts."""

    dir: Path
    metric: str
    best_value: float | None
    best_config: Path | None
    counts: dict[str, int]
    page: Path


def space(cfg: C.Config, where: str = "config") -> list[Param]:
    """Read and check the `tune` section: known distributions, sane bounds, real config keys.

    Example:
        >>> cfg = C.load(None, {"tune": {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]}}})
        >>> space(cfg)[0].kind
        'log_uniform'
    """
    if not cfg.tune:
        raise ConfigError(
            f"{where}: no tune section; add one, e.g. tune: {{optimizer.lr: {{log_uniform: [0.0001, 0.1]}}}}"
        )
    params = []
    for key, spec in cfg.tune.items():
        at = f"{where}: tune.{key}"
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"{at}: expected one distribution, e.g. {{log_uniform: [0.0001, 0.1]}}")
        kind, args = next(iter(spec.items()))
        if kind not in DISTRIBUTIONS:
            raise ConfigError(
                f"{at}: unknown distribution '{kind}'{did_you_mean(str(kind), DISTRIBUTIONS)}; "
                f"use one of: {', '.join(DISTRIBUTIONS)}"
            )
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise ConfigError(f"{at}: choice needs a non-empty list, e.g. {{choice: [32, 128, full]}}")
            values = args
        else:
            numeric = isinstance(args, list) and len(args) == 2 and all(_is_number(a) for a in args)
            if not numeric or not args[0] < args[1] or (kind == "log_uniform" and args[0] <= 0):
                low = "0 < low < high" if kind == "log_uniform" else "low < high"
                raise ConfigError(f"{at}: {kind} needs [low, high] with {low} (got {args!r})")
            if kind == "int_uniform" and not all(float(a).is_integer() for a in args):
                raise ConfigError(f"{at}: int_uniform needs whole-number bounds (got {args!r})")
            values = [int(a) for a in args] if kind == "int_uniform" else args
        for value in values:  # every choice and both bounds must make a valid config
            try:
                check_names(C.load(cfg, {key: value}))
            except ConfigError as exc:
                msg = str(exc).removeprefix("config: ")
                raise ConfigError(f"{at}: {msg}") from None
        params.append(Param(key, kind, list(values)))
    return params


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _label(value: Any) -> Any:
    """Optuna stores only plain values as choices: lists and dicts travel as JSON text."""
    return value if value is None or isinstance(value, bool | int | float | str) else json.dumps(value)


def suggest(trial: Any, param: Param) -> Any:
    """The trial's value for one parameter."""
    if param.kind == "log_uniform":
        return trial.suggest_float(param.key, param.args[0], param.args[1], log=True)
    if param.kind == "uniform":
        return trial.suggest_float(param.key, param.args[0], param.args[1])
    if param.kind == "int_uniform":
        return trial.suggest_int(param.key, param.args[0], param.args[1])
    labels = [_label(v) for v in param.args]
    return param.args[labels.index(trial.suggest_categorical(param.key, labels))]


class ReportToTrial(Callback):
    """Report the monitored metric to Optuna each epoch; stop the run when the pruner says so."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(value, state.epoch)
        if self.trial.should_prune():
            self.pruned_at = state.epoch
            state.should_stop = True
            state.stop_reason = f"pruned by optuna at epoch {state.epoch} ({self.monitor} {value:.4g})"


class _TrialFailed(Exception):
    """A trial's run failed (its error is kept in the trial); the study goes on."""


def _objective(base: dict[str, Any], params: list[Param], metric: str, folder: Path) -> Any:
    from treino.run.train import train

    def objective(trial: Any) -> float:
        import optuna

        overrides = {p.key: suggest(trial, p) for p in params}
        run_dir = folder / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("run", str(run_dir.relative_to(folder)))
        report = ReportToTrial(trial, metric)
        try:
            run = train(base, overrides, out=run_dir, quiet=True, callbacks=[report])
        except TreinoError as exc:
            trial.set_user_attr("error", str(exc))
            raise _TrialFailed(str(exc)) from None
        trial.set_user_attr("epochs", run.metrics["epochs_run"])
        if report.pruned_at is not None:
            raise optuna.TrialPruned(run.metrics["stop_reason"])
        if run.status == "diverged":
            trial.set_user_attr("error", run.metrics["stop_reason"] or "diverged")
            raise _TrialFailed("diverged")
        name = metric.removeprefix("val_")
        if name not in run.metrics.get("val", {}):
            found = ", ".join(f"val_{k}" for k in run.metrics.get("val", {}))
            raise ConfigError(
                f"--metric {metric}: not measured for this {run.metrics['task']} task; use one of: {found}"
            )
        return float(run.metrics["val"][name])

    return objective


def optimize(
    folder: str, base: dict[str, Any], metric: str, n_trials: int, timeout: float | None, seed: int,
    quiet: bool = True, threads: int | None = None,
) -> None:  # fmt: skip
    """Run `n_trials` trials of the study in `folder` (one process; called by each of --jobs)."""
    import optuna

    if threads:
        import torch

        torch.set_num_threads(threads)  # parallel trials share the cores
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # optuna logs every failed trial with its traceback; treino's progress line and trials.csv
    # show the trial's error, and an error that ends the command is its one line
    logging.getLogger("optuna.study._optimize").setLevel(logging.ERROR)
    path = Path(folder)
    cfg = C.load(base)
    study = optuna.load_study(study_name=STUDY, storage=_storage(path), pruner=_pruner(cfg.train.epochs),
                              sampler=optuna.samplers.TPESampler(seed=seed))  # fmt: skip
    params = space(cfg)
    base = {**base, "tune": {}}  # the trials are plain runs
    shown = [] if quiet else [_progress]
    study.optimize(_objective(base, params, metric, path), n_trials=n_trials, timeout=timeout,
                   catch=(_TrialFailed,), callbacks=shown)  # fmt: skip


def _pruner(epochs: int | str) -> Any:
    import optuna

    if epochs == "auto":  # sized by each trial's data and batch: judge from the fewest it can be
        epochs = C.AUTO_EPOCHS[0]

    # 5 finished trials before any pruning; no trial is judged before half its epochs, because a
    # slow start (small lr, large batch) often ends as well as a fast one
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(3, epochs // 2))


def baseline(cfg: C.Config, params: list[Param]) -> dict[str, Any] | None:
    """The config's own values as a trial (lr null = the optimizer's default), or None when one
    of them lies outside the search space."""
    from treino.engine.optimizers import learning_rate

    raw = cfg.to_dict()
    found: dict[str, Any] = {}
    for p in params:
        node: Any = raw
        for part in p.key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if p.key == "optimizer.lr" and node is None:
            node = learning_rate(cfg.optimizer.name, cfg.optimizer.lr)
        if p.kind == "choice":
            if node not in p.args:
                return None
            found[p.key] = _label(node)
        elif not _is_number(node) or not p.args[0] <= node <= p.args[1]:
            return None
        else:
            found[p.key] = node
    return found


def _storage(folder: Path) -> Any:
    import optuna

    # parallel --jobs write to one SQLite file: wait for its lock rather than fail
    return optuna.storages.RDBStorage(f"sqlite:///{folder.resolve() / 'study.db'}",
                                      engine_kwargs={"connect_args": {"timeout": 60}})  # fmt: skip


def _progress(study: Any, trial: Any) -> None:
    value = "" if trial.value is None else f" {trial.value:.4g}"
    try:
        best = f", best {study.best_value:.4g} (trial {study.best_trial.number})"
    except ValueError:
        best = ""
    params = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    error = f": {trial.user_attrs['error']}" if "error" in trial.user_attrs else ""
    print(f"trial {trial.number}: {trial.state.name.lower()}{value}{best}  [{params}]{error}",
          file=sys.stderr, flush=True)  # fmt: skip


def tune(
    config: str | Path | dict[str, Any] | C.Config | None,
    trials: int,
    *,
    out: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    timeout: float | None = None,
    jobs: int = 1,
    metric: str | None = None,
    quiet: bool = False,
) -> Tuning:
    """Add `trials` trials to the study in `out` (created, or resumed when it exists), then
    write trials.csv, best.yaml and tune.html there.

    Example:
        >>> t = tune("digits.yaml", 20, out="runs/tune-digits")
        >>> t.best_value, t.best_config
    """
    import optuna

    cfg = C.load(config, overrides)
    check_names(cfg)
    where = str(config) if isinstance(config, str | Path) else "config"
    space(cfg, where)
    if trials < 1 or jobs < 1:
        raise ConfigError(f"--trials {trials} --jobs {jobs}: both must be at least 1")
    metric = metric or (cfg.train.early_stopping.monitor if cfg.train.early_stopping else "val_loss")
    name = metric.removeprefix("val_")
    if not metric.startswith("val_") or name not in M.HIGHER_IS_BETTER:
        options = sorted(M.HIGHER_IS_BETTER)
        raise ConfigError(f"--metric {metric}: not a validation metric{did_you_mean(metric, [f'val_{o}' for o in options])}; "
                          f"use val_<metric> with one of: {', '.join(options)}")  # fmt: skip
    if cfg.data.split.val == 0 and cfg.data.val is None:
        raise ConfigError(
            f"{where}: data.split.val is 0; tune scores trials on the validation split, set it > 0"
        )
    folder = Path(out) if out else Path("runs") / f"tune-{cfg.name}"
    from treino.run.folder import check_out, make_folder

    check_out(folder, "study")  # a folder holding a study.db gets more trials
    make_folder(folder)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if M.higher_is_better(metric) else "minimize"
    study = optuna.create_study(study_name=STUDY, storage=_storage(folder), direction=direction,
                                load_if_exists=True)  # fmt: skip
    known = study.user_attrs.get("metric")
    if known and known != metric:
        raise ConfigError(f"--out {folder}: its study optimizes {known}, not {metric}; "
                          f"give --metric {known} or another --out")  # fmt: skip
    study.set_user_attr("metric", metric)
    before = len(study.trials)
    start = baseline(cfg, space(cfg, where)) if before == 0 else None
    if start is not None:  # trial 0 is the untuned config: the page shows what tuning gained
        study.enqueue_trial(start, user_attrs={"baseline": True})
    _say(
        f"tune: {metric} ({direction}), {trials} new trials after {before}, {jobs} at a time; {folder}", quiet
    )
    base = cfg.to_dict()
    started = time.perf_counter()
    # a different seed per session and per worker, so a resumed study does not replay its start
    seed = cfg.seed + before
    if jobs == 1:
        optimize(str(folder), base, metric, trials, timeout, seed, quiet)
    else:
        shares = [trials // jobs + (i < trials % jobs) for i in range(jobs)]
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(optimize, str(folder), base, metric, n, timeout, seed + 1000 * i, quiet, threads)
                       for i, n in enumerate(shares) if n]  # fmt: skip
            for future in futures:
                future.result()
    _say(f"tune: {trials} trials in {time.perf_counter() - started:.0f} s", quiet)
    return finish(folder, quiet)


def finish(folder: Path, quiet: bool = True) -> Tuning:
    """Write trials.csv, best.yaml and tune.html from the study in `folder`."""
    import optuna

    from treino.files import replacing, write_text
    from treino.report import tune as tune_report

    study = optuna.load_study(study_name=STUDY, storage=_storage(folder))
    metric = study.user_attrs.get("metric", "val_loss")
    frame = tune_report.trials_frame(study)
    with replacing(folder / "trials.csv") as tmp:
        frame.to_csv(tmp, index=False)
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    best_value, best_config = None, None
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        best_value = float(best.value)
        config_text = (folder / best.user_attrs["run"] / "config.yaml").read_text(encoding="utf-8")
        header = (f"# treino tune: the best of {len(complete)} completed trials: trial {best.number}, "
                  f"{metric} {best_value:.6g}\n# run it with: treino train best.yaml\n")  # fmt: skip
        best_config = folder / "best.yaml"
        write_text(best_config, header + config_text)
    page = tune_report.write(folder, study, frame)
    if best_value is None:
        raise RunError(f"tune: no trial completed ({counts}); see the errors in {folder / 'trials.csv'}")
    _say(f"tune: best {metric} {best_value:.4g}; {best_config}, {page}", quiet)
    return Tuning(folder, metric, best_value, best_config, counts, page)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)
