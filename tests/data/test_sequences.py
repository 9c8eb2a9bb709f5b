""".npz sequences x (N, T, F): which arrays are sequences, their scaling and splits, training
with the rnn default through `treino train`, predicting and evaluating them, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import treino
from treino.config import DataConfig
from treino.data.load import load
from treino.data.sequences import looks_like_sequences
from treino.errors import DataError


def save(path, x, y, **more):
    np.savez(path, x=x, y=y, **more)
    return path


def windows(n: int = 595, steps: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5, 1) windows of a noisy sum: the case that was read as images with 595 classes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, steps, 1))
    return x, x[:, :, 0].sum(1) + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize(
    ("shape", "dtype", "expected"),
    [
        ((10, 5, 1), "float64", True),
        ((10, 30, 8), "float32", True),
        ((10, 28, 28), "float32", False),  # square: grayscale images
        ((10, 32, 64), "float32", False),  # wider than tall: images
        ((10, 40, 20), "float32", False),  # 20 > 16 values per step: an image's width
        ((10, 30, 8), "uint8", False),  # integer pixels
        ((10, 30, 8, 1), "float32", False),  # 4-D: images
    ],
)
def test_which_arrays_are_sequences(shape, dtype, expected):
    assert looks_like_sequences(np.zeros(shape, dtype=dtype)) is expected


def test_windows_are_sequences_for_a_regression_not_images_with_595_classes(tmp_path):
    """Regression: an .npz of (N, 5, 1) windows was read as 5x1 images with one class per target value."""
    x, y = windows()
    data = load(DataConfig(source=str(save(tmp_path / "w.npz", x, y))), torch.Generator().manual_seed(0))
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.targets) == ("sequence", "regression", (5, 1), ["y"])
    assert sum(info.sizes.values()) == 595 and data.train.x.shape[1:] == (5, 1)
    flat = data.train.x.reshape(-1, 1)  # each feature standardized on the train split, over all steps
    assert abs(flat.mean().item()) < 1e-5 and abs(flat.std(unbiased=False).item() - 1) < 1e-4
    assert "sequences: 595 of 5 steps x 1 features" in info.notes[0]
    assert "target" in data.preprocessing  # the target standardized, as a table's


def test_data_sequence_forces_either_reading(tmp_path):
    g = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    square = save(tmp_path / "sq.npz", rng.random((60, 12, 12)).astype(np.float32), np.arange(60) % 2)
    assert load(DataConfig(source=str(square)), g).info.kind == "image"
    forced = load(DataConfig(source=str(square), sequence=True), g)
    assert (forced.info.kind, forced.info.input_shape, forced.info.task) == ("sequence", (12, 12), "binary")
    flat = save(tmp_path / "flat.npz", rng.random((60, 9)), np.arange(60) % 2)
    assert load(DataConfig(source=str(flat), sequence=True), g).info.input_shape == (
        9,
        1,
    )  # (N, T) -> (N, T, 1)
    x, _ = windows(60)
    as_images = load(
        DataConfig(source=str(save(tmp_path / "w.npz", x, np.arange(60) % 2)), sequence=False), g
    )
    assert (as_images.info.kind, as_images.info.input_shape) == ("image", (1, 5, 1))


def test_train_and_test_arrays_fix_the_test_split(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tt.npz"
    np.savez(path, x_train=rng.standard_normal((80, 6, 2)), y_train=np.arange(80) % 3,
             x_test=rng.standard_normal((20, 6, 2)), y_test=np.arange(20) % 3)  # fmt: skip
    data = load(DataConfig(source=str(path)), torch.Generator().manual_seed(0))
    assert data.info.task == "multiclass" and data.info.sizes["test"] == 20
    assert data.info.classes == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("arrays", "cfg", "message"),
    [
        (
            {"x": np.zeros((10, 2, 3, 4)), "y": np.zeros(10)},
            {"sequence": True},
            "data.sequence is true but x has shape (10, 2, 3, 4); save sequences as x (N, steps, features), "
            "or set data.sequence: auto",
        ),
        (
            {"x": np.zeros((10, 5, 1)), "y": np.zeros(9)},
            {},
            "x has 10 sequences but y has 9 targets; give one target per sequence",
        ),
        (
            {"x": np.where(np.arange(50).reshape(10, 5, 1) == 13, np.nan, 0.5), "y": np.arange(10.0)},
            {},
            "x has 1 missing or infinite values (first nan in sequence 3, step 4, feature 1); fill them with "
            "numbers before training",
        ),
    ],
)
def test_bad_sequences_are_one_line(tmp_path, arrays, cfg, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as err:
        load(DataConfig(source=str(path), **cfg), torch.Generator().manual_seed(0))
    assert str(err.value) == f"{path}: {message}"


def test_sequences_train_with_an_rnn_then_predict_and_evaluate(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 10, 2)).astype(np.float32)
    y = np.where(x[:, :, 0].sum(1) > 0, "up", "down")
    source = save(tmp_path / "signs.npz", x, y)
    result = cli(["train", "--data", source, "--set", "model.hidden=16", "--set", "train.epochs=2",
                  "--set", "log.plots=false", "--out", tmp_path / "run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "signs.npz (sequence, binary, 2 classes)" in result.output
    assert "model: rnn, 1,297 parameters" in result.output  # 4 * (2*16 + 16*16 + 2*16) + 17
    predictor = treino.load(tmp_path / "run")
    labels = predictor.predict(source)
    assert len(labels) == 300 and set(labels) <= {"up", "down"}
    assert list(predictor.predict(x[0])) == [labels[0]]  # one sequence (T, F) alone
    with pytest.raises(DataError) as err:
        predictor.predict(x[:, :5])
    assert str(err.value) == (
        "input array: sequences of shape (5, 2), but the model takes (10, 2) (steps, features); save x as (N, 10, 2)"
    )
    result = cli(["evaluate", tmp_path / "run", "--data", source])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((tmp_path / "run" / "evaluation-signs.json").read_text())
    assert 0 <= evaluation["metrics"]["accuracy"] <= 1
