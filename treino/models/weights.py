"""Start from saved weights (`model.weights`): a .safetensors file, a state dict saved with
torch.save (read with weights_only=True: nothing is unpickled), a treino checkpoint, or a run
folder. Strict by default; `model.weights_strict: false` loads the tensors that match.
The layers of `model.reset` are not loaded: they keep their new initialization, whatever the
source holds for them (a new output layer for new classes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from treino.errors import ModelError

PREFIXES = ("module.", "_orig_mod.")  # added by DistributedDataParallel and torch.compile
SHOWN = 5  # keys listed per kind of mismatch


def read_state(path: str | Path) -> dict[str, Tensor]:
    """The tensors saved at `path`, by name."""
    path = Path(path).expanduser()
    if path.is_dir():
        for candidate in (path / "weights.safetensors", path / "model" / "weights.safetensors"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise ModelError(f"model.weights: folder {path} holds no weights.safetensors (nor model/)")
    if not path.is_file():
        raise ModelError(
            f"model.weights: {path} not found; give a .safetensors file, a state dict or a run folder"
        )
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"model.weights: {path} is not a valid safetensors file ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle of code, a truncated file, or no weights at all (a CSV)
        first = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            if str(exc).strip()
            else type(exc).__name__
        )
        raise ModelError(
            f"model.weights: {path} is neither safetensors nor a weights-only state dict ({first}); "
            f"save it with torch.save(model.state_dict(), path) or safetensors"
        ) from None
    if isinstance(state, dict):
        for key in ("model", "state_dict"):  # a treino or Lightning checkpoint
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ModelError(
            f"model.weights: {path} holds a {type(state).__name__}, not a state dict of tensors; "
            f"save it with torch.save(model.state_dict(), path)"
        )
    return state


def _clean(state: dict[str, Tensor], own: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop the prefixes DDP / torch.compile add, and unwrap a saved regression model's core."""
    out = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            key = key.removeprefix(prefix)
        out[key] = value
    if any(k.startswith("core.") for k in out) and not any(k.startswith("core.") for k in own):
        out = {k.removeprefix("core."): v for k, v in out.items() if not k.startswith("rescale.")}
    return out


def load_into(model: nn.Module, path: str | Path, strict: bool = True, reset: Sequence[str] = ()) -> str:
    """Copy the saved tensors into `model`; returns a one-line note of what was loaded.

    Strict: any missing, unexpected or reshaped tensor is an error that lists them; not
    strict: the matching tensors load and the note lists the rest. Tensors of the layers
    `reset` (names or name prefixes) are neither loaded nor checked.

    Example:
        >>> load_into(model, "runs/digits-cnn/model", strict=False)
        'model.weights: loaded 10 of 12 tensors from ...; kept the initial out.weight, out.bias'
    """
    ranges = _input_ranges(model)  # statistics of this run's data, not weights: never copied
    own = {k: v for k, v in model.state_dict().items() if k not in ranges}
    state = {k: v for k, v in _clean(read_state(path), own).items() if k.split(".")[-1] not in ("low", "high")
             or k in own}  # fmt: skip
    fresh = [k for k in own if _under(k, reset)]
    own = {k: v for k, v in own.items() if k not in fresh}
    state = {k: v for k, v in state.items() if not _under(k, reset)}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and state[k].shape != own[k].shape]
    matching = {k: state[k].to(own[k].dtype) for k in own if k in state and k not in reshaped}
    problems = _describe(missing, unexpected, reshaped, own, state)
    if problems and (strict or not matching):
        fix = (
            f"set model.weights_strict: false to load the {len(matching)} matching tensors"
            if matching
            else "no tensor matches: are these weights of this model?"
        )
        if reshaped:  # new classes, new inputs: those layers start afresh
            layers = list(dict.fromkeys(k.rpartition(".")[0] or k for k in reshaped))
            fix = f"re-initialize {'that layer' if len(layers) == 1 else 'those layers'} with model.reset: [{', '.join(layers)}], or {fix}"
        raise ModelError(f"model.weights: {path} does not fit the model: {problems}; {fix}")
    model.load_state_dict(matching, strict=False)
    kept = [*missing, *reshaped]
    tail = f"; kept the initial {_names(kept)}" if kept else ""
    tail += f"; re-initialized {_names(fresh)} (model.reset)" if fresh else ""
    return f"model.weights: loaded {len(matching)} of {len(own) + len(fresh)} tensors from {path}{tail}"


def _under(key: str, names: Sequence[str]) -> bool:
    return any(key == name or key.startswith(name + ".") for name in names)


def _input_ranges(model: nn.Module) -> set[str]:
    """State keys of the input ranges of bounded MLPs (model.clip_inputs)."""
    from treino.models.mlp import MLP

    return {
        f"{name}.{key}" if name else key
        for name, module in model.named_modules()
        if isinstance(module, MLP) and module.bounded
        for key in ("low", "high")
    }


def _describe(missing: list[str], unexpected: list[str], reshaped: list[str], own: dict, state: dict) -> str:
    """'missing a, b; unexpected c; shape differs: d (3, 4) in file vs (2, 4)'."""
    parts = []
    if missing:
        parts.append(f"missing {_names(missing)}")
    if unexpected:
        parts.append(f"unexpected {_names(unexpected)}")
    if reshaped:
        shapes = [f"{k} {tuple(state[k].shape)} in file vs {tuple(own[k].shape)}" for k in reshaped[:SHOWN]]
        more = f" (+{len(reshaped) - SHOWN} more)" if len(reshaped) > SHOWN else ""
        parts.append(f"shape differs: {', '.join(shapes)}{more}")
    return "; ".join(parts)


def _names(keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more
