"""The processes of a run: joining the process group torchrun prepared and leaving it, rank 0's
objects broadcast to the others, a peer's death as one line, and the elastic restart. The loop's
own share of data parallelism (sharding, the epoch's reduction, stopping together) is
treino/engine/parallel.py; the launcher behind `treino train --devices N` is treino/run/launch.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from treino.engine.parallel import Group
from treino.errors import ConfigError, RunError

TIMEOUT_ENV = "TREINO_DIST_TIMEOUT"  # seconds: rendezvous join, store reads and collectives
DEFAULT_TIMEOUT = 300


def timeout_seconds() -> int:
    """The one timeout of the distributed machinery; TREINO_DIST_TIMEOUT overrides it."""
    raw = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT))
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: must be a positive number of seconds, e.g. 300")
    return int(raw)


def env_rank() -> int:
    """This process's global rank as torchrun set it (0 when not under torchrun)."""
    return int(os.environ.get("RANK", "0"))


def env_world() -> int:
    """How many processes torchrun started (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def under_torchrun() -> bool:
    """Whether torchrun started this process (its environment names a local rank and a world)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_main() -> bool:
    """Rank 0 alone writes the run folder, the checkpoints and the report, and prints."""
    return env_rank() == 0


def uses_cuda(device: str) -> bool:
    """Whether `train.device` puts the run on a GPU here (NCCL between processes, not gloo)."""
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def setup(device: str = "auto") -> Group | None:
    """Join the process group torchrun prepared (gloo on CPU, NCCL on GPU); None when alone."""
    world = env_world()
    if world <= 1:
        return None
    owned = not dist.is_initialized()  # a user's own script may have joined already: leave it be
    if owned:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        backend = "gloo"
        if uses_cuda(device):  # untested here (no GPU): one process per GPU, NCCL between them
            torch.cuda.set_device(local_rank)
            backend = "nccl"
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds()))
    group = Group(dist.get_rank(), dist.get_world_size())
    group.owned = owned
    return group


def teardown(group: Group | None) -> None:
    """Leave the process group that setup() joined (not one the user's own code made)."""
    if group is not None and group.owned and dist.is_initialized():
        dist.destroy_process_group()


def broadcast(obj: Any, group: Group | None) -> Any:
    """Rank 0's `obj` on every rank (e.g. the checkpoint to resume from)."""
    if group is None:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextmanager
def peer_failures() -> Iterator[None]:
    """A collective that broke because another process died becomes one line, not a traceback."""
    try:
        yield
    except RuntimeError as exc:
        text = str(exc)
        if env_world() <= 1 or not any(k in text for k in ("gloo", "NCCL", "Connection")):
            raise
        # e.g. "Read error [127.0.0.1]:1234: Connection reset by peer", without gloo's source path
        detail = text.split("] ", 1)[-1].split(". ")[0]
        raise RunError(
            f"rank {env_rank()}: lost contact with another training process ({detail}); see that "
            f"process's error above (torchrun restarts the group from the last checkpoint if allowed)"
        ) from None


def resume_after_restart(out: str | Path | None, resume: str | Path | None) -> str | Path | None:
    """After torchrun's elastic restart, rank 0 continues the run folder from its last checkpoint
    (or from the top when the first attempt died before one); the others get it broadcast."""
    restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    if resume is not None or out is None or not restarted or not is_main():
        return resume
    return out if (Path(out) / "config.yaml").is_file() else None
