"""`treino train --resume RUN`: what may be given with it, and the run's config and last
checkpoint, checked against each other before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treino import config as C
from treino.engine.checkpoint import load as load_checkpoint
from treino.errors import ConfigError


def check_resume_args(config: Any, out: Any, resume: Any) -> None:
    """--resume continues a run with its own config.yaml, in its own folder: say so rather
    than silently ignore a CONFIG or an --out given with it."""
    if resume is None:
        return
    if config is not None:
        raise ConfigError(
            f"--resume {resume} trains with {Path(resume) / 'config.yaml'}; drop the CONFIG argument "
            f"(change settings with --set KEY=VALUE)"
        )
    if out is not None and Path(out) != Path(resume):
        raise ConfigError(f"--resume {resume} continues in its own folder; drop --out {out}")


def resume_point(run_dir: Path, overrides: Any) -> tuple[C.Config, dict[str, Any] | None]:
    """The config of a run folder (plus overrides) and its last checkpoint, checked against
    each other before any data is read. No checkpoint yet: the run starts from the top."""
    cfg = C.load(run_dir / "config.yaml", overrides)
    last = run_dir / "checkpoints" / "last.pt"
    if not last.exists():
        return cfg, None
    ckpt = load_checkpoint(last)
    done, planned, asked = ckpt["epoch"], ckpt.get("epochs", ckpt["epoch"]), cfg.train.epochs
    if asked == "auto":  # sized from the data when the run began: the run keeps that plan
        asked = planned
    if asked < done:
        raise ConfigError(
            f"--resume {run_dir}: train.epochs {asked} is fewer than the {done} epochs already run; "
            f"set train.epochs above {done} to extend the run"
        )
    before = C.load(run_dir / "config.yaml")
    if cfg.optimizer.name != before.optimizer.name:
        raise ConfigError(
            f"--resume {run_dir}: optimizer.name cannot change from {before.optimizer.name} to "
            f"{cfg.optimizer.name} (the checkpoint holds {before.optimizer.name}'s state); train anew"
        )
    if cfg.schedule != before.schedule:
        raise ConfigError(
            f"--resume {run_dir}: the schedule section cannot change on resume (the checkpoint holds "
            f"{before.schedule.name}'s state); train anew"
        )
    # --set optimizer.lr=... on resume: the new values replace the saved ones (see restore)
    ckpt["new_hyperparameters"] = cfg.optimizer != before.optimizer
    if asked != planned and cfg.schedule.name in ("cosine", "onecycle"):
        raise ConfigError(
            f"--resume {run_dir}: schedule.name {cfg.schedule.name} is laid out over train.epochs "
            f"{planned} and cannot stretch to {asked}; train anew with train.epochs {asked}"
        )
    return cfg, ckpt
