"""What keeps a run folder trustworthy: one trainer per folder (a lock), signals that stop
training at a step boundary, and no half-made folder left behind by a run that failed before
its first checkpoint."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

from treino.engine.callbacks import Callback
from treino.errors import RunError

LOCK_NAME = ".lock"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal that ends the command at once (before training, or a second Ctrl-C).

    A KeyboardInterrupt, not a TreinoError, so that no `except Exception` on the way up can
    swallow it; the CLI prints its message and exits 128 + the signal number.
    """

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.message = message or f"interrupted by {signal.Signals(signum).name}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class RunLock:
    """An exclusive flock on RUN/.lock for as long as a trainer writes the folder.

    The kernel drops the lock when the process dies (even by SIGKILL): a lock is never stale.
    """

    def __init__(self, folder: Path, flag: str = "--out") -> None:
        self.path = folder / LOCK_NAME
        self.flag = flag
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            raise RunError(
                f"{self.flag} {self.path.parent}: no permission to write there; choose another folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunError(
                f"{self.flag} {self.path.parent}: another treino process (pid {holder}) is training "
                f"into this run folder; wait for it to end or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None


class SignalGuard:
    """SIGINT/SIGTERM handling for the whole of `treino train`.

    Before training a signal aborts at once (nothing is worth saving yet). During training it
    only sets `state.should_stop`: the loop stops at the next step boundary and the run folder
    is written as usual. After training it is remembered while the files are finished. A
    second signal always aborts at once.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.state: Any = None  # the TrainState while fit() runs
        self.started = False  # fit() has begun: from now on a first signal stops gracefully
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():  # signal() works there only
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            raise Interrupted(signum, f"interrupted by a second {signal.Signals(signum).name}")
        if not self.started:
            raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name} before training started")
        self.received = signum
        if self.state is not None:
            self.state.should_stop = True

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def callback(self) -> Callback:
        return _StopOnSignal(self)


class _StopOnSignal(Callback):
    """Connects a SignalGuard to the TrainState of one fit()."""

    def __init__(self, guard: SignalGuard) -> None:
        self.guard = guard

    def on_fit_start(self, state: Any) -> None:
        self.guard.state, self.guard.started = state, True
        if self.guard.received is not None:
            state.should_stop = True

    def on_fit_end(self, state: Any) -> None:
        self.guard.state = None

    def on_exception(self, state: Any, error: BaseException) -> None:
        self.guard.state = None


class MarkUnfinished(Callback):
    """metrics.json marks a run whose files are whole: once training (re)starts, after the
    checkpoint was restored without error, it goes until this run writes it again."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_fit_start(self, state: Any) -> None:
        (self.run_dir / "metrics.json").unlink(missing_ok=True)


class NewFolder:
    """A run folder this command made: removed again if the command fails before the first
    checkpoint, so no folder that looks like a run is left with nothing in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.existed = path.exists()

    def discard(self) -> None:
        if (self.path / "checkpoints" / "last.pt").exists():
            return  # a resumable run: keep it (it has no metrics.json, so it reads unfinished)
        if not self.existed:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for child in self.path.iterdir():  # an empty folder the user gave: empty it again
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def open_folder(out: Path, resume: bool) -> tuple[RunLock, NewFolder | None]:
    """Lock `out` (creating it for a new run) before anything in it is read or written; a new
    run then gets the folder only if it holds no other run."""
    from treino.run import folder as rundir

    flag = "--resume" if resume else "--out"
    if out.exists() and not out.is_dir():
        raise RunError(f"{flag} {out}: is a file; give a folder path for the run")
    if resume and not (out / "config.yaml").is_file():
        if not out.exists():
            raise RunError(f"--resume {out}: no such run folder; check the path")
        raise RunError(f"--resume {out}: not a treino run folder (no config.yaml)")
    folder = NewFolder(out)
    had_lock = (out / LOCK_NAME).exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise RunError(f"{flag} {out}: no permission to write there; choose another folder") from None
    except OSError as exc:  # a read-only file system, a parent that is a file, ...
        raise RunError(
            f"{flag} {out}: cannot create the folder ({exc.strerror}); choose another folder"
        ) from None
    lock = RunLock(out, flag).acquire()
    try:
        rundir.prepare(out, resume=resume)
    except BaseException:
        lock.release()
        if not folder.existed:
            shutil.rmtree(out, ignore_errors=True)
        elif not had_lock:
            (out / LOCK_NAME).unlink(missing_ok=True)
        raise
    return lock, None if resume else folder


def resume_point(run_dir: Path, overrides: Any) -> tuple[Any, dict[str, Any] | None]:
    """The config of a run folder (plus overrides) and its last checkpoint, checked against
    each other before any data is read. No checkpoint yet: the run starts from the top."""
    from treino import config as C
    from treino.engine.checkpoint import load as load_checkpoint
    from treino.errors import ConfigError

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


def check_batch_norm(model: Any, rows: int, batch: int) -> None:
    """Batch normalization cannot train on a batch of one row: refuse before the first step
    rather than crash in the middle of an epoch."""
    from torch import nn

    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    from treino.errors import ConfigError

    if batch == 1:
        raise ConfigError(
            "train.batch_size 1 with batch normalization: it needs at least 2 rows per batch; "
            "set train.batch_size to 2 or more, or model.batch_norm: false"
        )
    if rows % batch == 1:
        raise ConfigError(
            f"train.batch_size {batch} leaves a last batch of 1 row ({rows} training rows), which batch "
            f"normalization cannot train on; choose another train.batch_size or model.batch_norm: false"
        )


def check_resume_args(config: Any, out: Any, resume: Any) -> None:
    """--resume continues a run with its own config.yaml, in its own folder: say so rather
    than silently ignore a CONFIG or an --out given with it."""
    from treino.errors import ConfigError

    if resume is None:
        return
    if config is not None:
        raise ConfigError(
            f"--resume {resume} trains with {Path(resume) / 'config.yaml'}; drop the CONFIG argument "
            f"(change settings with --set KEY=VALUE)"
        )
    if out is not None and Path(out) != Path(resume):
        raise ConfigError(f"--resume {resume} continues in its own folder; drop --out {out}")
