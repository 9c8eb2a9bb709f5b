"""Your own model: `model.kind: "package.module:Class"` (or a function returning an nn.Module)
with `model.args`, imported from the working directory, and its output checked against the
task on a batch of 2 before any training."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from treino.errors import ModelError

if TYPE_CHECKING:  # the description only: importing the treino.data package would load its readers
    from treino.data.info import DataInfo

WHAT = {
    "binary": "1 logit per sample",
    "multiclass": "{n} logits per sample, one per class",
    "regression": "{n} value(s) per sample, one per target",
}


def import_object(path: str) -> Any:
    """'package.module:Name' -> the object, importable from the working directory."""
    module_name, sep, name = path.partition(":")
    if not sep or not module_name or not name:
        raise ModelError(f"model.kind: '{path}' is not 'package.module:Class'; e.g. mynets:SmallNet")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's file may fail in any way: say how, in one line
        raise ModelError(
            f"model.kind: cannot import '{path}' ({_one_line(exc)}); give 'package.module:Class' "
            f"importable from the working directory"
        ) from exc
    if not hasattr(module, name):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module))
        listed = f"; nn.Module classes there: {', '.join(found)}" if found else ""
        raise ModelError(f"model.kind: module '{module_name}' has no '{name}'{listed}")
    return getattr(module, name)


def described(info: DataInfo) -> dict[str, Any]:
    """What a custom model may ask for by parameter name, from the data's description; a name
    is left out when this data has no such thing (no vocabulary without token ids, no classes
    for a regression, no window or horizon outside a series).

    Example:
        >>> sorted(described(DataInfo("binary", "text", (200,), ["neg", "pos"], text_mode="tokens",
        ...                           vocab_size=5002)))
        ['classes', 'info', 'input_shape', 'n_classes', 'n_features', 'n_outputs', 'task', 'vocab_size']
    """
    given: dict[str, Any] = {
        "input_shape": tuple(info.input_shape),
        "n_outputs": info.n_outputs,
        "n_features": info.input_shape[-1],  # per step of a sequence, per row of a table
        "task": info.task,
        "info": info,
    }
    if info.text_mode == "tokens":
        given["vocab_size"] = info.vocab_size
    if info.task != "regression":
        given |= {"classes": list(info.classes), "n_classes": len(info.classes)}
    if info.window:
        given |= {"window": info.window, "horizon": info.horizon}
    return given


WHY_ABSENT = {
    "vocab_size": "token ids (set data.text.mode: tokens)",
    "classes": "classes (it is a regression)",
    "n_classes": "classes (it is a regression)",
    "window": "windows (set data.series)",
    "horizon": "windows (set data.series)",
}


def build_custom(path: str, args: dict[str, Any], info: DataInfo) -> nn.Module:
    """Call the class with `model.args`, adding what it asks for by parameter name from the
    data's description (see `described`: input_shape, n_outputs, n_features, vocab_size,
    classes, n_classes, task, window, horizon, info), so that nothing needs hard-coding.

    Example:
        >>> class Words(nn.Module):
        ...     def __init__(self, vocab_size, n_outputs, width=32): ...
        >>> build_custom("mynets:Words", {"width": 64}, info)  # Words(width=64, vocab_size=..., n_outputs=...)
    """
    factory = import_object(path)
    if not callable(factory):
        raise ModelError(
            f"model.kind: '{path}' is of type {type(factory).__name__}, not an nn.Module class or a "
            f"function returning one; point it at one"
        )
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    given = described(info)
    extra = {k: v for k, v in given.items() if k in params and k not in args}
    for key in WHY_ABSENT:
        needed = key in params and params[key].default is inspect.Parameter.empty
        if needed and key not in given and key not in args:
            raise ModelError(
                f"model.kind: {path.partition(':')[2]} takes {key}, but {info.source or 'the data'} has no "
                f"{WHY_ABSENT[key]}; give {key} in model.args or a default in the class"
            )
    name = path.partition(":")[2]
    try:
        model = factory(**args, **extra)
    except TypeError as exc:
        raise ModelError(f"model.args: {str(exc).splitlines()[0]}; fix model.args for {name}") from exc
    except Exception as exc:
        raise ModelError(f"model.kind: {name}(**model.args) failed: {_one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"model.kind: '{path}' gave a {type(model).__name__}, not a torch nn.Module; "
            f"point it at an nn.Module class or a function that returns one"
        )
    if not any(p.requires_grad for p in model.parameters()):  # else the optimizer or backward fails
        raise ModelError(
            f"model.kind: {path} has no trainable parameters (none, or all with requires_grad=False); "
            f"give it layers with weights to learn"
        )
    return model


def check_output(model: nn.Module, example: Tensor, task: str, n_outputs: int, kind: str) -> None:
    """One forward pass on `example` (a batch of 2, eval mode, no gradients): the output must
    be (2, n_outputs) as the task's loss needs it."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(example)
    except Exception as exc:
        shape = "x".join(map(str, example.shape[1:]))
        raise ModelError(
            f"model.kind: {kind} fails on a batch of {len(example)} inputs of shape {shape} "
            f"({_one_line(exc)}); make its first layer take {shape} per sample"
        ) from exc
    finally:
        model.train(was_training)
    expected = (len(example), n_outputs)
    if not isinstance(out, Tensor):
        raise ModelError(
            f"model.kind: {kind} returns a {type(out).__name__}, not a tensor; forward must "
            f"return the logits or values as one tensor {expected}"
        )
    if tuple(out.shape) != expected:
        what = WHAT[task].format(n=n_outputs)
        raise ModelError(
            f"model.kind: {kind} returns shape {tuple(out.shape)} for a batch of {len(example)}, "
            f"but this {task} task needs {expected} ({what}); make its last layer output {n_outputs}"
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
