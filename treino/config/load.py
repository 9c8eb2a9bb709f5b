"""Loading the configuration: a YAML file, then dotted `--set key=value` overrides, validated
once against the schema (treino/config/schema.py, where every default lives); errors say what, where
and how to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from treino.config.schema import DATA_SUFFIXES, Config
from treino.errors import ConfigError
from treino.registry import did_you_mean


def load(
    source: str | Path | dict[str, Any] | Config | None = None,
    overrides: str | list[str] | dict[str, Any] | None = None,
) -> Config:
    """Build a validated Config from a YAML path, a dict or nothing, plus overrides.

    Example:
        >>> cfg = load(None, ["optimizer.lr=0.01", "train.batch_size=full"])
    """
    if isinstance(source, Config):
        raw = source.to_dict()
    elif isinstance(source, dict):
        raw = _deep_copy(source)
    elif source is None:
        raw = {}
    else:
        raw = _read_yaml(Path(source))
    overrides = [overrides] if isinstance(overrides, str) else overrides  # one "key=value"
    items = overrides.items() if isinstance(overrides, dict) else map(_split_override, overrides or [])
    for key, value in items:
        _set_dotted(raw, key, value)
    return validate(raw, where=str(source) if isinstance(source, str | Path) else "config")


def validate(raw: dict[str, Any], where: str = "config") -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    # `treino train iris` / `treino train my.csv`: data given where the config goes (--data forgotten)
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    if not path.exists():
        hint = "" if yaml_file else f" (to train on data, use --data {path})"
        raise ConfigError(f"{path}: config file not found; check the path{hint}")
    if path.is_dir():
        run = (path / "config.yaml").exists()
        hint = " (to resume a run, use --resume)" if run else f" (to train on its data, use --data {path})"
        raise ConfigError(f"{path}: is a folder, not a YAML config file{hint}")
    if path.suffix.lower() in DATA_SUFFIXES:
        raise ConfigError(f"{path}: is a data file, not a YAML config; train on it with --data {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{line}: {problem}; fix the YAML syntax there") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not a text file; give a YAML config") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (data:, model:, ...)")
    return raw


def _split_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. --set optimizer.lr=0.01")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value  # a plain string such as a path with a colon
    return key.strip(), parsed


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"--set {key}: '{where}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the section at `loc` (for 'did you mean')."""
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = _section_type(field.annotation) if field else None
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_type(arg)
        if found:
            return found
    return None


def _field_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch labels ('int', "literal['full']") from an error location."""
    labels = ("int", "str", "float", "bool", "list", "tuple", "dict", "none")
    return tuple(p for p in loc if not (isinstance(p, str) and (p in labels or "[" in p or "-" in p)))


BRANCHES = {"int": "a whole number", "float": "a number", "bool": "true or false", "string": "text"}


def _union_message(errors: list[Any]) -> str | None:
    """One message for a value that fits no branch of a union key (`data.workers: 2 | auto`):
    'must be a whole number or 'auto'', not the first branch's complaint and '(+1 more)'."""
    if len(errors) < 2 or len({_field_path(e["loc"]) for e in errors}) != 1:
        return None
    if any(e["type"] == "value_error" for e in errors):
        return None  # a validator's own message says it better
    kinds = []
    for e in errors:
        if e["type"] == "literal_error":
            kinds.append(str(e["ctx"]["expected"]))
        else:
            kind = next((v for k, v in BRANCHES.items() if e["type"].startswith(k)), None)
            if kind is None:
                return None
            kinds.append(kind)
    return "must be " + " or ".join(dict.fromkeys(kinds))


def _explain(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = _field_path(err["loc"])
    if err["type"] == "extra_forbidden":  # the last part is the user's key, whatever it reads
        loc = _field_path(err["loc"][:-1]) + tuple(err["loc"][-1:])
    path = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        options = _valid_keys(Config, loc[:-1])
        parent = ".".join(str(p) for p in loc[:-1])
        match = did_you_mean(key, options)
        hint = match.replace("'", f"'{parent}.", 1) if parent and match else match
        valid = ", ".join(options)
        return f"{where}: unknown key '{path}'{hint}; valid keys here: {valid}"
    value = err.get("input")
    shown = " (got a section of keys)" if isinstance(value, dict) else f" (got {value!r})"
    msg = _union_message(exc.errors()) or err["msg"]
    msg = msg.removeprefix("Value error, ")
    msg = msg[0].lower() + msg[1:] if msg else msg
    more = len({_field_path(e["loc"]) for e in exc.errors()}) - 1  # one key, several union branches: 1
    extra = f" (+{more} more)" if more > 0 else ""
    return f"{where}: {path}: {msg}{shown}{extra}"
