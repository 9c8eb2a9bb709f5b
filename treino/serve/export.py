"""`treino export`: the trained model as ONNX (dynamic batch axis), checked against PyTorch with
onnxruntime. With `with_preprocessing`, the table's scaling, imputation and encoding (or an
image's normalization) go inside the graph, so the ONNX model takes raw inputs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino.errors import ModelError
from treino.serve.predict import Predictor, as_tensor, load

FORMATS = ("onnx", "pt2")
TOLERANCE = 1e-4  # largest |onnxruntime - PyTorch| output difference accepted
SAMPLES = 64  # rows of the parity check
INPUT, OUTPUT = "features", "output"  # graph names of the plain export
WINDOWED = ("sequence", "series")  # kinds whose inputs are (steps, features) floats


@dataclass
class ExportResult:
    """The exported file and how closely it reproduces PyTorch on sample inputs."""

    path: Path
    exporter: str  # ONNX: "dynamo" (torch.export) or "torchscript" (the fallback); "torch.export" for pt2
    inputs: list[str]
    max_abs_diff: float
    samples: int
    checked_with: str = "onnxruntime"  # what ran the exported file for the parity check

    def summary(self) -> str:
        return (
            f"exported {self.path} ({self.exporter} exporter; inputs: {', '.join(self.inputs)})\n"
            f"{self.checked_with} parity: max abs difference {self.max_abs_diff:.2e} on {self.samples} samples "
            f"(tolerance {TOLERANCE:g})"
        )


def export(
    run_dir: str | Path,
    format: str = "onnx",
    *,
    with_preprocessing: bool = False,
    output: str | Path | None = None,
    trust_code: bool = False,
) -> ExportResult:
    """Export a run's model to ONNX (checked with onnxruntime) or to a torch.export program
    (`format="pt2"`, checked after reloading it).

    The plain graph takes `features` (batch, *input_shape), already preprocessed; with
    `with_preprocessing=True` a table model takes one input per raw column (float32 (batch,)
    for numbers, NaN = missing; string (batch,) for categories, "" = missing) and an image
    model takes pixels in [0, 1]. The output is `output`: logits (classes) or values.

    Example:
        >>> result = treino.serve.export.export("runs/iris", with_preprocessing=True)
        >>> result.max_abs_diff < 1e-4
        True
    """
    if format not in FORMATS:
        raise ModelError(f"--format {format}: unknown export format; use {', '.join(FORMATS)}")
    if format == "pt2" and with_preprocessing:
        raise ModelError("--with-preprocessing: only for --format onnx; the pt2 program takes features")
    predictor = load(run_dir, trust_code=trust_code, quiet=True)
    if with_preprocessing and predictor.info.kind in WINDOWED:
        raise ModelError(
            f"--with-preprocessing: for tables and images; a {predictor.info.kind} model's graph takes the "
            f"scaled steps (features), as treino.load(run).chunks gives them; export without it"
        )
    folder = predictor.dir.parent if predictor.dir.name == "model" else predictor.dir
    if format == "pt2":
        return _export_program(predictor, Path(output) if output is not None else folder / "model.pt2")
    onnx, ort = _onnx_modules()
    name = "model_with_preprocessing.onnx" if with_preprocessing else "model.onnx"
    path = Path(output) if output is not None else folder / name
    raw, features = _samples(predictor)
    exporter = _export_plain(predictor, features[:2], path)
    model = onnx.load(str(path))
    if with_preprocessing:
        from treino.serve.export_graph import add_preprocessing

        add_preprocessing(model, predictor)
    _describe(model, predictor, with_preprocessing)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = _feeds(predictor, raw) if with_preprocessing else {INPUT: _numpy(features)}
    expected = predictor.outputs(features).numpy()
    got = session.run([OUTPUT], feeds)[0]
    one = session.run([OUTPUT], {k: v[:1] for k, v in feeds.items()})[0]  # the batch axis is dynamic
    diff = float(max(np.abs(got - expected).max(), np.abs(one - expected[:1]).max()))
    result = ExportResult(path, exporter, [i.name for i in model.graph.input], diff, len(expected))
    if not diff <= TOLERANCE:
        raise ModelError(
            f"{path}: onnxruntime differs from PyTorch by {diff:.2e} (more than {TOLERANCE:g}); the export "
            f"is not faithful for this model; use the run's model/ bundle with treino.load instead"
        )
    return result


def _export_program(p: Predictor, path: Path) -> ExportResult:
    """torch.export's ExportedProgram (batch axis dynamic), saved, reloaded and compared."""
    _, features = _samples(p)
    x = as_tensor(features)
    with _hushed():
        try:
            program = torch.export.export(
                p.model.cpu().eval(), (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},)
            )
        except Exception as exc:  # torch.export rejects some Python in forward(): say which
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"export --format pt2: torch.export cannot trace this model ({first}); use --format onnx "
                f"or the run's model/ bundle"
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.export.save(program, str(path))
        module = torch.export.load(str(path)).module()
    with torch.inference_mode():
        got, one = module(x), module(x[:1])
    expected = p.outputs(features)
    diff = float(max((got - expected).abs().max(), (one - expected[:1]).abs().max()))
    if not diff <= TOLERANCE:
        raise ModelError(f"{path}: the reloaded program differs from the model by {diff:.2e}; use the bundle")
    return ExportResult(path, "torch.export", [INPUT], diff, len(expected), "reloaded program")


def _onnx_modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ModelError(
            "export: onnx and onnxruntime are not installed; pip install 'treino[export]'"
        ) from None
    return onnx, onnxruntime


@contextlib.contextmanager
def _hushed() -> Iterator[None]:
    """torch.onnx logs a line per missing optional op library (torchvision) and a few
    deprecation warnings, none of which the user can act on."""
    logs = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Mute file descriptor 2, where C++ code writes its warnings past Python's warnings filter."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _export_plain(p: Predictor, example: Any, path: Path) -> str:
    """torch.export-based ONNX export; the TorchScript exporter where torch.export fails, and
    straight away for packed sequences (an rnn on token ids), which torch.export cannot trace."""
    from treino.models.rnn import RNN

    x = as_tensor(example)
    model = p.model.cpu().eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    packs = any(isinstance(m, RNN) and m.embed is not None for m in model.modules())
    with _hushed():
        if not packs:
            try:
                torch.onnx.export(
                    model, (x,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                    dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, optimize=True, verbose=False,
                )  # fmt: skip
                return "dynamo"
            except Exception:  # any torch.export failure: try the older exporter
                pass
        try:
            with _quiet_stderr():  # its C++ warnings (packed sequences' shape inference) are not the user's
                torch.onnx.export(
                    model, (x,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                    dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, dynamo=False,
                )  # fmt: skip
        except Exception as exc:  # neither exporter handles this forward(): one line, not a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"export: torch.onnx cannot export this model ({first}); try --format pt2, or use the "
                f"run's model/ bundle with treino.load"
            ) from None
        return "torchscript"


def _numpy(x: Any) -> np.ndarray:
    """Features as the graph takes them: dense rows (scipy TF-IDF made dense), token ids as int64."""
    return as_tensor(x).numpy()


def _describe(model: Any, p: Predictor, with_preprocessing: bool) -> None:
    """What a consumer needs to read the outputs, as ONNX metadata."""
    meta = {
        "treino.task": p.task,
        "treino.classes": json.dumps(p.classes),
        "treino.targets": json.dumps(p.info.targets),
        "treino.output": "logits" if p.task != "regression" else "values",
        "treino.inputs": "raw" if with_preprocessing else "preprocessed features",
        "treino.version": str(p.meta.get("treino")),
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


# ---- sample inputs for the parity check ------------------------------------------------


def _samples(p: Predictor) -> tuple[Any, Any]:
    """Raw sample inputs and their features: a synthetic table drawn from the saved statistics
    (with missing values and an unseen category), random images, or random sequences/windows
    (standard normal: a series' windows are already scaled)."""
    rng = np.random.default_rng(0)
    if p.info.kind in WINDOWED:  # (steps, features) floats; a sequence's go through its scaling
        x = rng.standard_normal((SAMPLES, *p.info.input_shape)).astype(np.float32)
        if p.info.kind == "series":
            return x, x
        return x, np.concatenate([c.features for c in p.chunks(x)])
    if p.info.kind == "image":
        pixels = rng.random((SAMPLES, *p.preprocessing["shape"]), dtype=np.float32)
        return pixels, np.concatenate([c.features for c in p.chunks(pixels)])
    frame = pd.DataFrame({c["name"]: _column(c, rng) for c in p.preprocessing["columns"]})
    return frame, np.concatenate([_dense(c.features) for c in p.chunks(frame)])


def _dense(x: Any) -> np.ndarray:
    return x.toarray() if hasattr(x, "toarray") else np.asarray(x)


def _column(c: dict[str, Any], rng: np.random.Generator) -> Any:
    n = SAMPLES
    if c["role"] == "numeric":
        values = c["shift"] + c["scale"] * rng.standard_normal(n)
        values[rng.random(n) < 0.1] = np.nan
        return values.astype(np.float32).astype(np.float64)  # what a float32 ONNX input can hold
    if c["role"] == "categorical":
        pool = [*c["categories"], "never-seen-in-training", None]
        return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]
    if c["role"] == "datetime":
        days = rng.integers(0, 3650, n)
        return pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D")
    words = c.get("text", {}).get("vocabulary") or ["word"]
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 8)))) for _ in range(n)]


def _feeds(p: Predictor, raw: Any) -> dict[str, np.ndarray]:
    """onnxruntime inputs of the with-preprocessing graph for the raw samples."""
    if p.info.kind == "image":
        return {"pixels": np.asarray(raw, dtype=np.float32)}
    feeds = {}
    for c in p.preprocessing["columns"]:
        col = raw[c["name"]]
        if c["role"] == "numeric":
            feeds[c["name"]] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float32)
        else:
            feeds[c["name"]] = np.asarray(["" if pd.isna(v) else str(v) for v in col], dtype=object)
    return feeds
