"""`treino compare`: run a grid of config variants, each a normal run folder, then summarize
them and draw their curves side by side on fair axes (compare_report.py renders the page)."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from treino import config as C
from treino.errors import ConfigError, TreinoError
from treino.run.names import check_names

Source = str | Path | dict[str, Any] | C.Config | None


@dataclass
class Variant:
    """One point of the grid: a label and the config keys it sets."""

    label: str
    settings: dict[str, Any]


@dataclass
class Comparison:
    """A finished comparison: its folder, one summary row per variant, and the page."""

    dir: Path
    summary: Any  # pandas DataFrame
    page: Path
    interrupted: bool = False
    failed: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """A notebook's view: the summary table and the curves side by side."""
        from treino.run.notebook import comparison_html

        return comparison_html(self.dir, self.summary)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2,...` -> (key, values); values are YAML, commas inside [] or {} do not split.

    Example:
        >>> parse_vary("model.hidden=[64],[128,64]")
        ('model.hidden', [[64], [128, 64]])
    """
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--vary {text}: expected KEY=V1,V2,..., e.g. --vary optimizer.name=sgd,adam")
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(rest):
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(rest[start:i])
            start = i + 1
    parts.append(rest[start:])
    if not any(p.strip() for p in parts):
        raise ConfigError(f"--vary {text}: no values; list them after '=', separated by commas")
    values = []
    for part in parts:
        try:
            value = yaml.safe_load(part) if part.strip() else None
        except yaml.YAMLError:
            value = part.strip()  # a plain string, e.g. a path with a colon
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as text
        values.append(value)
    return key, values


_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def label_of(settings: dict[str, Any]) -> str:
    """A readable label: 'optimizer.name=sgd train.batch_size=32'."""
    return " ".join(f"{k}={_show(v)}" for k, v in settings.items())


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def grid(vary: list[str] | dict[str, list[Any]], zip_: bool = False) -> list[Variant]:
    """Every combination of the --vary values (or, with zip_, the i-th value of each key)."""
    pairs = list(vary.items()) if isinstance(vary, dict) else [parse_vary(v) for v in vary]
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ConfigError(f"--vary {key}: given twice; list all its values in one --vary")
        seen.add(key)
    if not pairs:
        raise ConfigError(
            "compare: nothing to compare; give --vary KEY=V1,V2,... (e.g. --vary optimizer.name=sgd,adam) "
            "or --lesson NAME"
        )
    keys = [k for k, _ in pairs]
    if zip_:
        lengths = {len(v) for _, v in pairs}
        if len(lengths) > 1:
            sizes = ", ".join(f"{k}: {len(v)}" for k, v in pairs)
            raise ConfigError(f"--zip: the --vary lists differ in length ({sizes}); give each the same count")
        combos = list(zip(*(v for _, v in pairs), strict=True))
    else:
        combos = list(itertools.product(*(v for _, v in pairs)))
    variants = [
        Variant(label_of(dict(zip(keys, c, strict=True))), dict(zip(keys, c, strict=True))) for c in combos
    ]
    return variants


def check(config: Source, variants: list[Variant], overrides: list[str] | dict[str, Any] | None) -> C.Config:
    """Validate every variant's config before any training; returns the base config."""
    base = C.load(config, overrides)
    where = str(config) if isinstance(config, str | Path) else "config"
    for i, variant in enumerate(variants, 1):
        try:
            check_names(C.load(base, variant.settings))  # every name of every variant, before any run
        except ConfigError as exc:
            msg = str(exc).removeprefix(f"{where}: ").removeprefix("config: ")
            if msg.startswith("unknown key"):
                key = msg.split("'")[1]
                raise ConfigError(f"--vary {key}: {msg}") from None
            raise ConfigError(
                f"variant {i} of {len(variants)} ({variant.label}): {msg}; change that --vary value"
            ) from None
    return base


def compare(
    config: Source,
    variants: list[Variant] | list[str] | dict[str, list[Any]],
    *,
    zip_: bool = False,
    repeats: int = 1,
    out: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    jobs: int | None = None,
    lesson: dict[str, Any] | None = None,
    quiet: bool = False,
) -> Comparison:
    """Train every variant `repeats` times (seeds seed, seed+1, ...), then write summary.csv,
    the curve plots and compare.html into `out`. A failed variant is reported; the rest finish.

    Example:
        >>> c = compare("digits.yaml", ["optimizer.name=sgd,momentum,adam"], repeats=2)
        >>> c.summary[["label", "val_accuracy_mean"]]
    """
    if not (isinstance(variants, list) and variants and isinstance(variants[0], Variant)):
        variants = grid(variants, zip_)  # type: ignore[arg-type]
    if repeats < 1:
        raise ConfigError(f"--repeats {repeats}: must be at least 1")
    base = check(config, variants, overrides)  # type: ignore[arg-type]
    folder = _prepare(Path(out) if out else _default_dir(base.name, lesson))
    jobs_list = []
    for i, variant in enumerate(variants):
        for r in range(repeats):
            seed = base.seed + r
            slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", variant.label)[:60].strip("_") or "base"
            run_dir = folder / "runs" / f"{i + 1:02d}-{slug}-seed{seed}"
            job = {"variant": i, "seed": seed, "dir": str(run_dir)}
            job["overrides"] = {**variant.settings, "seed": seed}
            jobs_list.append(job)
    manifest = {
        "name": base.name,
        "lesson": lesson,
        "keys": list(dict.fromkeys(k for v in variants for k in v.settings)),  # first-seen order
        "repeats": repeats,
        "base_config": base.to_dict(),
        "variants": [{"label": v.label, "settings": v.settings, "runs": []} for v in variants],
    }
    n_jobs = auto_jobs(len(jobs_list)) if jobs is None else max(1, min(jobs, len(jobs_list)))
    _say(f"compare: {len(variants)} variants x {repeats} seeds = {len(jobs_list)} runs, "
         f"{n_jobs} at a time; folder {folder}", quiet)  # fmt: skip
    started = time.perf_counter()
    results, interrupted = _execute(base.to_dict(), jobs_list, n_jobs, manifest, quiet)
    for job in jobs_list:
        result = results.get(job["dir"], {"status": "not run", "error": "the comparison was interrupted"})
        manifest["variants"][job["variant"]]["runs"].append(
            {"seed": job["seed"], "dir": str(Path(job["dir"]).relative_to(folder)), **result}
        )
    manifest["wall_seconds"] = round(time.perf_counter() - started, 2)
    manifest["jobs"] = n_jobs
    from treino.files import write_json

    write_json(folder / "compare.json", manifest)
    from treino.report import compare as compare_report

    page = compare_report.write(folder)
    summary = compare_report.summarize(folder)
    failed = [v["label"] for v in manifest["variants"] if any(r["status"] in BAD for r in v["runs"])]
    _say(f"compare: done in {manifest['wall_seconds']:.0f} s; {folder / 'summary.csv'}, {page}", quiet)
    return Comparison(folder, summary, page, interrupted, failed)


BAD = ("failed", "diverged", "not run", "interrupted")


def auto_jobs(n_runs: int) -> int:
    """Runs at a time when --jobs is not given: in sequence on a GPU or on 1-2 CPU cores, else one
    process per two cores.

    Measured on this project's 2-core machine (docs/lessons/README.md): the optimizers lesson
    took 45 s in sequence (torch using both cores) and 65 s as two 1-thread processes, because
    each worker first spends seconds importing torch, pandas and matplotlib, which these short
    runs never win back. More cores were not measured; there, one process per two cores is the
    guess that keeps intra-op threads useful for small models.
    """
    import torch

    cores = os.cpu_count() or 1
    if torch.cuda.is_available() or n_runs < 2 or cores <= 2:
        return 1
    return max(1, min(cores // 2, n_runs))


def _execute(
    base: dict[str, Any], jobs: list[dict[str, Any]], n_jobs: int, manifest: dict[str, Any], quiet: bool
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Run every job (in this process or a pool); Ctrl-C stops launching and keeps what finished."""
    results: dict[str, dict[str, Any]] = {}
    total = len(jobs)

    def done(job: dict[str, Any], result: dict[str, Any]) -> None:
        results[job["dir"]] = result
        label = manifest["variants"][job["variant"]]["label"]
        extra = f", {result['error']}" if result.get("error") else ""
        _say(f"[{len(results)}/{total}] {label} seed {job['seed']}: {result['status']} "
             f"({result['seconds']:.1f} s){extra}", quiet)  # fmt: skip

    if n_jobs == 1:
        try:
            for job in jobs:
                result = run_job(base, job)
                done(job, result)
                if result["status"] == "interrupted":  # Ctrl-C inside a run: it stopped cleanly
                    return results, True
        except KeyboardInterrupt:  # Ctrl-C between runs
            return results, True
        return results, False
    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    pool = ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(threads,))  # fmt: skip
    try:
        futures = {pool.submit(run_job, base, job): job for job in jobs}
        for future in as_completed(futures):
            done(futures[future], future.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        return results, True
    pool.shutdown()
    return results, False


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)  # the processes share the cores: no oversubscription


def run_job(base: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Train one variant and seed; any error is caught and returned, so the others go on."""
    from treino.run.train import train

    started = time.perf_counter()
    try:
        run = train(base, job["overrides"], out=job["dir"], quiet=True)
        status, error = run.status, ""
        if status == "diverged":
            error = run.metrics.get("stop_reason") or "the loss became non-finite"
    except TreinoError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # a bug in one variant must not lose the others: reported, not hidden
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    return {"status": status, "error": error, "seconds": round(time.perf_counter() - started, 2)}


def _default_dir(name: str, lesson: dict[str, Any] | None) -> Path:
    from treino.run.folder import default_dir

    return default_dir(f"compare-{lesson['name'] if lesson else name}")


def _prepare(folder: Path) -> Path:
    from treino.run.folder import check_out, make_folder

    check_out(folder, "comparison")
    return make_folder(folder, "runs")


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)
