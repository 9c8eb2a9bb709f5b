"""`treino export --format onnx`: parity with PyTorch under onnxruntime, a dynamic batch axis,
and --with-preprocessing (raw columns in, the saved scaling/imputation/one-hot in the graph)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

import treino
from treino.errors import ModelError
from treino.serve.export import export


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch 3-class MLP on numbers and a category, with missing values in training."""
    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(1)
    n = 90
    x2 = rng.uniform(0, 10, n)
    x2[::9] = np.nan
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[::11] = None
    x1 = rng.normal(size=n)
    label = np.where(x1 > 0.5, "a", np.where(color == "red", "b", "c"))
    pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label}).to_csv(root / "t.csv", index=False)
    cfg = {
        "data": {"source": str(root / "t.csv"), "target": "label"},
        "model": {"hidden": [16, 8], "batch_norm": True},
        "train": {"epochs": 2, "batch_size": 16},
        "log": {"plots": False, "progress": False},
    }
    return treino.train(cfg, out=root / "run", quiet=True).dir


def test_onnx_export_matches_pytorch_with_a_dynamic_batch(run_dir: Path) -> None:
    result = export(run_dir)
    assert result.path == run_dir / "model.onnx" and result.path.is_file()
    assert result.max_abs_diff <= 1e-4 and result.samples == 64
    model = onnx.load(str(result.path))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert model.graph.input[0].name == "features" and batch.dim_param  # symbolic: any batch size
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["treino.classes"]) == ["a", "b", "c"] and meta["treino.output"] == "logits"
    predictor = treino.load(run_dir, quiet=True)
    frame = pd.DataFrame({"x1": [0.2, -1.0, 3.0], "x2": [1.0, None, 9.0], "color": ["red", None, "pink"]})
    features = next(predictor.chunks(frame)).features
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"features": features})[0]
    np.testing.assert_allclose(got, predictor.outputs(features).numpy(), rtol=0, atol=1e-4)


def test_cli_export_with_preprocessing_takes_raw_columns(run_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "treino", "export", str(run_dir), "--format", "onnx", "--with-preprocessing"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    path = run_dir / "model_with_preprocessing.onnx"
    lines = done.stdout.splitlines()
    assert lines[0] == f"exported {path} (dynamo exporter; inputs: x1, x2, color)"
    found = re.fullmatch(
        r"onnxruntime parity: max abs difference (\S+) on 64 samples \(tolerance 0.0001\)", lines[1]
    )
    assert found and float(found.group(1)) <= 1e-4
    # raw inputs: NaN is a missing number, "" a missing category, "pink" was never seen
    raw = pd.DataFrame({"x1": [0.2, -1.0, 3.0, 0.0], "x2": [1.0, None, 9.0, 4.0],
                        "color": ["red", None, "pink", "blue"]})  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        "x1": raw["x1"].to_numpy(np.float32),
        "x2": raw["x2"].to_numpy(np.float32),
        "color": np.array(["red", "", "pink", "blue"], dtype=object),
    }
    got = session.run(["output"], feeds)[0]
    predictor = treino.load(run_dir, quiet=True)
    expected = predictor.outputs(next(predictor.chunks(raw)).features).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_unknown_format_is_refused(run_dir: Path) -> None:
    with pytest.raises(ModelError) as caught:
        export(run_dir, "tflite")
    assert str(caught.value) == "--format tflite: unknown export format; use onnx, pt2"


def test_pt2_program_reloads_and_matches(run_dir: Path) -> None:
    import torch

    result = export(run_dir, "pt2")
    assert result.path == run_dir / "model.pt2" and result.max_abs_diff <= 1e-4
    assert result.summary().splitlines()[1].startswith("reloaded program parity: max abs difference ")
    module = torch.export.load(str(result.path)).module()
    predictor = treino.load(run_dir, quiet=True)
    frame = pd.DataFrame({"x1": [0.2] * 5, "x2": [1.0] * 5, "color": ["red"] * 5})
    features = torch.from_numpy(next(predictor.chunks(frame)).features)
    torch.testing.assert_close(module(features), predictor.outputs(features), rtol=0, atol=1e-5)


def test_columns_the_graph_cannot_prepare_are_refused() -> None:
    from treino.serve.export_graph import _Graph

    with pytest.raises(ModelError) as caught:
        _Graph().column({"name": "review", "role": "text", "indicator": False})
    assert str(caught.value) == (
        "export --with-preprocessing: column 'review' is text, which is not in the ONNX graph yet; "
        "export without --with-preprocessing and prepare inputs with treino.load(RUN)"
    )


def test_image_model_with_preprocessing_takes_pixels(tmp_path: Path) -> None:
    cfg = {"data": {"source": "digits", "n_samples": 300}, "model": {"channels": [4]},
           "train": {"epochs": 1, "batch_size": 64}, "log": {"plots": False, "progress": False}}  # fmt: skip
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    result = export(run.dir, with_preprocessing=True)
    assert result.inputs == ["pixels"] and result.max_abs_diff <= 1e-4
    pixels = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    predictor = treino.load(run.dir, quiet=True)
    expected = predictor.outputs(next(predictor.chunks(pixels)).features).numpy()
    np.testing.assert_allclose(session.run(["output"], {"pixels": pixels})[0], expected, rtol=0, atol=1e-4)


def test_the_torchscript_exporter_is_the_fallback(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    real = torch.onnx.export

    def no_dynamo(*args, dynamo: bool = True, **kwargs):  # torch.export failing on a model
        if dynamo:
            raise RuntimeError("torch.export could not trace")
        return real(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", no_dynamo)
    result = export(run_dir, output=tmp_path / "legacy.onnx")
    assert result.exporter == "torchscript" and result.max_abs_diff <= 1e-4
