"""The run folder: its files, written atomically, and the model bundle (safetensors + JSON,
never pickle)."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from treino.errors import RunError

BUNDLE_FORMAT = 1


def write_text(path: Path, text: str) -> None:
    """Write a temporary file, then os.replace: readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {path.parent} a treino run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunError(f"{path}: not valid JSON; the run folder is damaged") from None


def default_dir(name: str) -> Path:
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')[:-3]}"


def prepare(out: Path, resume: bool = False) -> Path:
    """Create the run folder; refuse a file, or a folder that already holds a run."""
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out}: is a file; give a folder path for the run")
    if out.is_dir() and not resume and any(p.name != ".lock" for p in out.iterdir()):  # .lock: guard.py
        if (out / "config.yaml").exists() and (
            (out / "checkpoints").exists() or (out / "metrics.json").exists()
        ):
            raise RunError(
                f"--out {out}: already holds a run; choose another folder, delete it, "
                f"or continue it with --resume {out}"
            )
        raise RunError(f"--out {out}: the folder is not empty; give a new or empty folder")
    try:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        (out / "model").mkdir(exist_ok=True)
    except PermissionError:
        raise RunError(f"--out {out}: no permission to write there; choose another folder") from None
    return out


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
    tmp = folder / "weights.safetensors.tmp"
    save_file(weights, str(tmp))
    os.replace(tmp, folder / "weights.safetensors")
    write_json(folder / "config.json", config)
    write_json(folder / "data.json", info)
    write_json(folder / "preprocessing.json", preprocessing)
    write_json(folder / "meta.json", {"format": BUNDLE_FORMAT, **versions()})


def load_meta(folder: Path) -> dict[str, Any]:
    """meta.json of a bundle; a bundle of another format is refused with the versions involved."""
    meta = read_json(folder / "meta.json")
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
