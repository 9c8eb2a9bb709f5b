"""The configuration reference (docs/config.md), generated from the schema so it never drifts.

The names a key accepts (losses, optimizers, models, ...) live in registries above the config,
so the caller passes them in: run `python -m treino.run.names > docs/config.md` after changing
treino/config/schema.py or a registry.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from treino.config.load import Config, _section_type


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("NoneType", "null").replace("None", "null")
    for name in ("treino.config.", "<class '", "'>"):
        text = text.replace(name, "")
    # Literal['a', 'b'] -> a | b: the values are what a user types
    text = re.sub(r"Union\[(.*)\]$", lambda m: m.group(1).replace(", ", " | "), text)
    return re.sub(r"Literal\[([^\]]*)\]", lambda m: m.group(1).replace("'", "").replace(", ", " | "), text)


def _default(field: Any) -> str:
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()
    if isinstance(value, BaseModel):
        return "(section)"
    return json.dumps(value) if not isinstance(value, str) else value


def _rows(model: type[BaseModel], prefix: str, names: dict[str, list[str]]) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        section = _section_type(field.annotation)
        if section is not None and section is not model:
            desc = (field.description or "").replace("|", "\\|")
            if desc:
                rows.append(f"| `{key}` | section | {_default(field)} | {desc} |")
            rows += _rows(section, f"{key}.", names)
            continue
        desc = (field.description or "").replace("|", "\\|")
        typ = " | ".join(names[key]) if key in names else _type_name(field.annotation)
        typ = typ.replace("|", "\\|")
        rows.append(f"| `{key}` | `{typ}` | `{_default(field)}` | {desc} |")
    return rows


def render(names: dict[str, list[str]] | None = None) -> str:
    """The whole reference page as Markdown.

    Args:
        names: the names each registry-backed key accepts, by dotted key (`loss.name`: auto,
            mse, ...), shown as its type; see treino.run.names.available().

    Example:
        >>> render({"optimizer.name": ["sgd", "adam"]})
    """
    head = [
        "# Configuration reference",
        "",
        "Generated from `treino/config/schema.py` and the registries by "
        "`python -m treino.run.names > docs/config.md`.",
        "Every key can be set in the YAML config or with `--set key=value` (values parsed as YAML).",
        "`treino train --print-config` prints the resolved config of a command line.",
        "",
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    return "\n".join(head + _rows(Config, "", names or {})) + "\n"
