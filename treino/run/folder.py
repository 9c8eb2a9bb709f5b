"""The run folder: the --out checks every command shares, one trainer per folder (a lock), no
half-made folder left behind, and the model bundle (safetensors + JSON, never pickle)."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from treino import files
from treino.engine.callbacks import Callback
from treino.errors import RunError

BUNDLE_FORMAT = 1
LOCK_NAME = ".lock"

OutKind = Literal["run", "comparison", "study", "sweep"]


def default_dir(name: str) -> Path:
    """runs/<name>-<date>-<time, to the millisecond>: a new folder for each run."""
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')[:-3]}"


def check_out(out: Path, kind: OutKind, flag: str = "--out", contents: bool = True) -> None:
    """Refuse an --out that is a file, or (with `contents`) a folder holding what a `kind`
    command would overwrite or mix with: a training run, a study of another kind, a config.

    Example:
        >>> check_out(Path("runs/sweep"), "sweep")  # RunError if it holds a training run
    """
    if out.exists() and not out.is_dir():
        raise RunError(f"{flag} {out}: is a file; give a folder {_GIVE[kind]}")
    problem = _REFUSE[kind](out) if contents and out.is_dir() else None
    if problem:
        raise RunError(f"{flag} {out}: {problem}")


def make_folder(out: Path, *subfolders: str, flag: str = "--out") -> Path:
    """Create `out` and its subfolders; a folder that cannot be made is a one-line error."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for sub in subfolders:
            (out / sub).mkdir(exist_ok=True)
    except PermissionError:
        raise RunError(f"{flag} {out}: no permission to write there; choose another folder") from None
    except OSError as exc:  # a read-only file system, a parent that is a file, ...
        raise RunError(
            f"{flag} {out}: cannot create the folder ({exc.strerror}); choose another folder"
        ) from None
    return out


_GIVE: dict[str, str] = {  # how each command's "is a file" message ends
    "run": "path for the run",
    "comparison": "path for the comparison",
    "study": "for the tune study",
    "sweep": "for the sweep",
}


def _holds_run(out: Path) -> str | None:
    if not any(p.name != LOCK_NAME for p in out.iterdir()):  # our own lock, taken first
        return None
    if (out / "config.yaml").exists() and ((out / "checkpoints").exists() or (out / "metrics.json").exists()):
        return f"already holds a run; choose another folder, delete it, or continue it with --resume {out}"
    return "the folder is not empty; give a new or empty folder"


def _not_empty(out: Path) -> str | None:
    return "the folder is not empty; give a new or empty folder" if any(out.iterdir()) else None


def _not_a_study(out: Path) -> str | None:
    if any(out.iterdir()) and not (out / "study.db").exists():  # a study.db: more trials for it
        return "the folder is not empty and holds no study.db; give a new folder"
    return None


def _not_a_sweep(out: Path) -> str | None:
    if (out / "metrics.json").exists() or (out / "checkpoints").exists():
        return "holds a training run (its config.yaml would be replaced); give a new folder"
    if (out / "config.yaml").exists() and not (out / "lr_find.csv").exists():
        # the user's own config: `treino lr-find config.yaml --out .`
        return "holds a config.yaml that is not from a sweep (it would be replaced); give a new folder"
    return None


_REFUSE: dict[str, Callable[[Path], str | None]] = {
    "run": _holds_run,
    "comparison": _not_empty,
    "study": _not_a_study,
    "sweep": _not_a_sweep,
}


def open_folder(out: Path, resume: bool) -> tuple[RunLock, NewFolder | None]:
    """Lock `out` (creating it for a new run) before anything in it is read or written; a new
    run then gets the folder only if it holds no other run."""
    flag = "--resume" if resume else "--out"
    check_out(out, "run", flag, contents=False)
    if resume and not (out / "config.yaml").is_file():
        if not out.exists():
            raise RunError(f"--resume {out}: no such run folder; check the path")
        raise RunError(f"--resume {out}: not a treino run folder (no config.yaml)")
    folder = NewFolder(out)
    had_lock = (out / LOCK_NAME).exists()
    make_folder(out, flag=flag)
    lock = RunLock(out, flag).acquire()
    try:
        if not resume:  # checked under the lock: a trainer in there is told apart from its files
            check_out(out, "run")
        make_folder(out, "checkpoints", "model", flag=flag)
    except BaseException:
        lock.release()
        if not folder.existed:
            shutil.rmtree(out, ignore_errors=True)
        elif not had_lock:
            (out / LOCK_NAME).unlink(missing_ok=True)
        raise
    return lock, None if resume else folder


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


class MarkUnfinished(Callback):
    """metrics.json marks a run whose files are whole: once training (re)starts, after the
    checkpoint was restored without error, it goes until this run writes it again."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_fit_start(self, state: Any) -> None:
        (self.run_dir / "metrics.json").unlink(missing_ok=True)


def write_history(run_dir: Path, history: Any, steps: bool = True) -> Any:
    """history.csv (one row per epoch) and, with `steps`, steps.csv (one loss per iteration),
    each written whole or not at all; returns the epochs' DataFrame."""
    frame = history.frame()
    frame.to_csv(run_dir / "history.csv.tmp", index=False)
    (run_dir / "history.csv.tmp").replace(run_dir / "history.csv")
    if steps:
        history.steps_frame().to_csv(run_dir / "steps.csv.tmp", index=False)
        (run_dir / "steps.csv.tmp").replace(run_dir / "steps.csv")
    return frame


def timing(history: Any, frame: Any, elapsed: float) -> dict[str, Any]:
    """metrics.json's timing: total and training seconds, per epoch, overhead, compile, threads."""
    return {
        "total_seconds": round(elapsed, 3),
        "train_seconds": round(float(frame["seconds"].sum()) if len(frame) else 0.0, 3),
        "seconds_per_epoch": round(float(frame["seconds"].median()) if len(frame) else 0.0, 4),
        "overhead": round(history.overhead, 4),  # outside forward/backward/step, 0..1
        "compile_seconds": history.compile_seconds,
        "threads": history.threads,
    }


def versions() -> dict[str, str]:
    from treino import __version__

    return {"treino": __version__, "torch": torch.__version__, "python": platform.python_version()}


def save_bundle(
    folder: Path,
    model: nn.Module,
    config: dict[str, Any],
    info: dict[str, Any],
    preprocessing: dict[str, Any],
) -> None:
    """model/: weights.safetensors, config.json, data.json, preprocessing.json, meta.json."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with files.replacing(folder / "weights.safetensors") as tmp:
        save_file(weights, str(tmp))
    files.write_json(folder / "config.json", config)
    files.write_json(folder / "data.json", info)
    files.write_json(folder / "preprocessing.json", preprocessing)
    files.write_json(folder / "meta.json", {"format": BUNDLE_FORMAT, **versions()})


def load_meta(folder: Path) -> dict[str, Any]:
    """meta.json of a bundle; a bundle of another format is refused with the versions involved."""
    meta = files.read_json(folder / "meta.json")
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != BUNDLE_FORMAT:
        by = meta.get("treino", "an unknown version") if isinstance(meta, dict) else "an unknown version"
        raise RunError(
            f"{folder}: bundle format {found} is not {BUNDLE_FORMAT} (written by treino {by}); "
            f"load it with that treino version, or train the model anew"
        )
    return meta


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / "weights.safetensors"
    if not path.exists():
        raise RunError(f"{path}: missing; the run has no saved model (did it finish an epoch?)")
    with path.open("rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte header length, then the JSON header; torch.save writes a zip (PK..)
    # holding a pickle, and a bare pickle starts with \x80
    if head[8:9] != b"{" and head.startswith((b"PK\x03\x04", b"\x80")):
        raise RunError(
            f"{path}: is a pickle (torch.save) file, not safetensors; treino never unpickles model "
            f"files because that can run code; save the weights with safetensors.torch.save_file"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: not a valid safetensors file ({exc}); the bundle is damaged") from None
