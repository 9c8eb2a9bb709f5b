"""Files written atomically (a temporary file, then os.replace: a reader never sees half a
file, and a crash leaves the old one whole) and JSON read back with a one-line error."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from treino.errors import RunError


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; once the block has written it, it replaces `path`.

    Example:
        >>> with replacing(folder / "weights.safetensors") as tmp:
        ...     save_file(weights, str(tmp))
    """
    tmp = path.with_name(path.name + ".tmp")
    yield tmp  # an error inside the block leaves `path` as it was
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON atomically; tensors and numpy scalars become numbers."""
    write_text(path, json.dumps(obj, indent=2, default=jsonable) + "\n")


def jsonable(value: Any) -> Any:
    """json.dumps' `default=`: a scalar tensor or numpy number as a number, a tuple or set as a list."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def read_json(path: Path) -> Any:
    """JSON from a run folder's file; missing or damaged is a one-line RunError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; is {path.parent} a treino run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunError(f"{path}: not valid JSON; the run folder is damaged") from None
