"""Images: class folders, path,label tables, .npz, IDX folders (gzipped or not), resizing,
channels, train-only normalization and augmentation; a cnn trains on each from the CLI."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from treino.batches.augment import Augmented, augment
from treino.config import DataConfig
from treino.data.idx import read_idx
from treino.data.load import load


def _load(source, **kw):
    return load(DataConfig(source=str(source), **kw), torch.Generator().manual_seed(0), 0)


def _shapes_folder(root, n: int = 12, size: int = 16, rgb: bool = False) -> None:
    """Two learnable classes: a bright square on the left or on the right."""
    rng = np.random.default_rng(0)
    for label, left in (("left", True), ("right", False)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = rng.integers(0, 40, (size, size)).astype(np.uint8)
            cols = slice(1, size // 2 - 1) if left else slice(size // 2 + 1, size - 1)
            img[4:12, cols] = 220
            pil = Image.fromarray(img).convert("RGB") if rgb else Image.fromarray(img)
            pil.save(root / label / f"{i}.{'jpg' if rgb and i % 2 else 'png'}")


def _write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def test_image_folder_normalized_on_train_only(tmp_path):
    _shapes_folder(tmp_path / "imgs")
    data = _load(tmp_path / "imgs")
    assert data.info.kind == "image" and data.info.task == "binary"
    assert data.info.classes == ["left", "right"] and data.info.input_shape == (1, 16, 16)
    assert abs(float(data.train.x.mean())) < 1e-5  # the train split's own statistics
    assert abs(float(data.train.x.std()) - 1) < 1e-3
    assert data.preprocessing["kind"] == "image" and data.preprocessing["shape"] == [1, 16, 16]
    json.dumps(data.preprocessing)


def test_rgb_auto_channels_resize_and_grayscale(tmp_path):
    _shapes_folder(tmp_path / "imgs", rgb=True)
    assert _load(tmp_path / "imgs").info.input_shape == (3, 16, 16)
    small = _load(tmp_path / "imgs", image={"size": [8, 10], "channels": 1})
    assert small.info.input_shape == (1, 8, 10)


def test_split_subfolders_fix_the_test_split(tmp_path):
    _shapes_folder(tmp_path / "d" / "train", n=10)
    _shapes_folder(tmp_path / "d" / "test", n=3)
    data = _load(tmp_path / "d")
    assert data.info.sizes["test"] == 6 and data.info.sizes["train"] + data.info.sizes["val"] == 20


def test_image_table_of_paths_and_labels(tmp_path):
    _shapes_folder(tmp_path / "imgs", n=6)
    rows = [(f"imgs/{c}/{i}.png", c) for c in ("left", "right") for i in range(6)]
    pd.DataFrame(rows, columns=["file", "side"]).to_csv(tmp_path / "index.csv", index=False)
    data = _load(tmp_path / "index.csv", target="side")
    assert data.info.kind == "image" and sum(data.info.sizes.values()) == 12


def test_npz_images_and_features(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (30, 10, 10, 3)).astype(np.uint8)  # channels last
    np.savez(
        tmp_path / "a.npz", x_train=x[:20], y_train=np.arange(20) % 2, x_test=x[20:], y_test=np.arange(10) % 2
    )
    data = _load(tmp_path / "a.npz")
    assert data.info.input_shape == (3, 10, 10) and data.info.sizes["test"] == 10
    np.savez(tmp_path / "b.npz", x=rng.normal(size=(40, 5)), y=rng.normal(size=40))
    table = _load(tmp_path / "b.npz")
    assert table.info.kind == "table" and table.info.task == "regression" and table.info.input_shape == (5,)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_uses_t10k_as_test(tmp_path, gz):
    rng = np.random.default_rng(0)
    end = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{end}", rng.integers(0, 255, (40, 6, 6)), gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{end}", np.arange(40) % 3, gz)
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{end}", rng.integers(0, 255, (9, 6, 6)), gz)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{end}", np.arange(9) % 3, gz)
    assert read_idx(tmp_path / f"t10k-labels-idx1-ubyte{end}").tolist() == [0, 1, 2] * 3
    data = _load(tmp_path)
    assert data.info.sizes["test"] == 9 and data.info.sizes["train"] + data.info.sizes["val"] == 40
    assert data.info.input_shape == (1, 6, 6) and data.info.classes == ["0", "1", "2"]


def test_idx_labels_that_are_not_0_to_k_minus_1_become_class_indices(tmp_path):
    """Labels 3, 7, 9 (a subset of MNIST's, or 1-based ones): indices 0..2, named by the labels;
    they once reached the loss as they were and crashed it (IndexError: Target 9 is out of bounds)."""
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 255, (30, 6, 6)), False)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([3, 7, 9] * 10), False)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 255, (6, 6, 6)), False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([9, 3, 7] * 2), False)
    data = _load(tmp_path)
    assert data.info.classes == ["3", "7", "9"]
    assert data.test.y.tolist() == [2.0, 0.0, 1.0] * 2


def test_augmentation_is_seeded_and_train_only(tmp_path):
    _shapes_folder(tmp_path / "imgs")
    data = _load(tmp_path / "imgs", image={"augment": True})
    assert data.train.augment and not data.val.augment
    source = data.train.source(4)
    assert isinstance(source, Augmented)
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    a = augment(x, torch.Generator().manual_seed(3), pad=1)
    b = augment(x, torch.Generator().manual_seed(3), pad=1)
    assert torch.equal(a, b) and a.shape == x.shape
    # a shifted crop keeps the values it shows: every output is an input pixel or the zero padding
    assert set(a.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    batches = list(source.epoch(torch.Generator().manual_seed(0)))
    assert sum(len(y) for _, y in batches) == len(data.train)


@pytest.mark.parametrize("kind", ["folder", "idx"])
def test_cnn_trains_from_the_cli(cli, tmp_path, kind):
    if kind == "folder":
        _shapes_folder(tmp_path / "d", n=20)
    else:
        rng = np.random.default_rng(0)
        (tmp_path / "d").mkdir()
        _write_idx(tmp_path / "d" / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (60, 8, 8)), True)
        _write_idx(tmp_path / "d" / "train-labels-idx1-ubyte.gz", np.arange(60) % 2, True)
    result = cli(["train", "--data", tmp_path / "d", "--out", tmp_path / "run", "-q", "--set", "train.epochs=2",
                  "--set", "log.plots=false", "--set", "data.image.augment=true"])  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"]["kind"] == "cnn" and metrics["epochs_run"] == 2


def test_image_table_names_a_missing_file_and_separate_val_folder(tmp_path):
    from treino.errors import DataError

    _shapes_folder(tmp_path / "imgs", n=4)
    rows = [("imgs/left/0.png", "left"), ("imgs/right/9.png", "right")]
    pd.DataFrame(rows, columns=["file", "side"]).to_csv(tmp_path / "index.csv", index=False)
    with pytest.raises(DataError) as err:
        _load(tmp_path / "index.csv", target="side")
    assert str(err.value) == (
        f"{tmp_path}/imgs/right/9.png: no such image (from column 'file'); "
        f"fix the path or set data.image.skip_bad: true"
    )
    _shapes_folder(tmp_path / "more", n=3)
    data = _load(tmp_path / "imgs", val=str(tmp_path / "more"))
    assert data.info.sizes["val"] == 6 and data.info.sizes["train"] + data.info.sizes["test"] == 8


def test_train_and_test_folders_still_get_a_validation_split(tmp_path):
    # regression: train/ rows were fixed, so no validation split was drawn and early stopping
    # watched the training loss
    _shapes_folder(tmp_path / "d" / "train", n=10)
    _shapes_folder(tmp_path / "d" / "test", n=3)
    sizes = _load(tmp_path / "d").info.sizes
    assert sizes["test"] == 6 and sizes["val"] > 0 and sizes["train"] + sizes["val"] == 20


@pytest.mark.parametrize("channels", [1, 3])
def test_training_lazy_reading_and_prediction_decode_every_image_alike(tmp_path, channels):
    # one decoder for all three: prediction must never convert or resize differently from training
    from treino.config import ImageConfig
    from treino.data.images import decode
    from treino.data.lazy_images import ImageFiles
    from treino.serve.inputs import _read_image

    rng = np.random.default_rng(0)
    paths = []
    for i, (mode, size) in enumerate([("RGB", (13, 9)), ("L", (7, 11)), ("P", (10, 10)), ("I;16", (6, 8))]):
        pixels = rng.integers(0, 65535 if mode == "I;16" else 255, (size[1], size[0], 3), dtype=np.int64)
        if mode == "RGB":
            img = Image.fromarray(pixels.astype(np.uint8), "RGB")
        elif mode == "P":
            img = Image.fromarray(pixels.astype(np.uint8), "RGB").convert("P")
        elif mode == "L":
            img = Image.fromarray(pixels[..., 0].astype(np.uint8), "L")
        else:
            img = Image.fromarray(pixels[..., 0].astype(np.uint16))
        paths.append(tmp_path / f"{i}.png")
        img.save(paths[-1])
    cfg = ImageConfig(channels=channels, size=[5, 6])
    trained = decode(paths, np.zeros(len(paths), dtype=np.int64), ["a"], cfg, str(tmp_path)).x
    shape = (channels, 5, 6)
    c = torch.zeros(channels)
    lazy = ImageFiles([str(p) for p in paths], torch.zeros(len(paths)), shape, True, c, c + 1)
    assert torch.equal(lazy.__getitems__(list(range(len(paths))))[0], torch.from_numpy(trained))
    predicted = np.stack([_read_image(p, shape)[0] for p in paths])
    assert predicted.dtype == np.float32 and np.array_equal(predicted, trained)


def test_16_bit_grayscale_images_keep_their_levels(tmp_path):
    """Pillow's convert clipped 16-bit pixels at 255: every level above 255 became white."""
    import numpy as np
    from PIL import Image

    from treino.config import ImageConfig
    from treino.data.images import decode

    levels = np.array([[0, 16384], [32768, 65535]], dtype=np.uint16)
    path = tmp_path / "depth.png"
    Image.fromarray(levels).save(path)
    images = decode([path], np.array([0]), ["a"], ImageConfig(), str(tmp_path))
    assert images.x.shape == (1, 1, 2, 2)
    assert np.allclose(images.x[0, 0], levels / 65535, atol=1 / 255)
    from treino.serve.inputs import _read_image

    predicted, resized = _read_image(path, (1, 2, 2))  # predict reads it as training did
    assert not resized
    assert np.allclose(predicted, images.x[0])
