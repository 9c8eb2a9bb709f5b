"""Image folders over data.memory_budget: read lazily (headers up front, pixels decoded batch by
batch by DataLoader workers) and every command works on them as on the same folder in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from treino.batches.source import InMemory, Loader
from treino.config import DataConfig
from treino.data.lazy_images import ImageRows, UnreadableImage
from treino.data.load import load
from treino.engine.callbacks import Callback

LAZY = ["--set", "data.memory_budget=1KB"]  # 40 images of 8x8 take 10 KB decoded
QUICK = ["--set", "train.epochs=2", "--set", "log.plots=false", "--set", "log.progress=false"]
# mini-batches (shuffled every epoch) and augmentation (random flips and crops): what a lazy
# training split must draw exactly as the same split in memory does
SHUFFLED = ["--set", "train.batch_size=8", "--set", "data.image.augment=true", "--set", "model.kind=mlp",
            "--set", "model.hidden=[16]"]  # fmt: skip


def cli(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from treino.cli import app

    return CliRunner().invoke(app, args)


def two_classes(root: Path, n: int = 20, size: int = 8) -> Path:
    """Dark and bright 8x8 grayscale PNGs, `n` per class."""
    rng = np.random.default_rng(0)
    for label, level in (("dark", 70), ("bright", 170)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = np.clip(rng.normal(level, 40, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i:02d}.png")
    return root


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "weights.safetensors")


def train(folder: Path, out: Path, *args: str) -> Any:
    result = cli(["train", "--data", str(folder), *QUICK, *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_classes(tmp_path_factory.mktemp("lazy") / "imgs")


@pytest.fixture(scope="module")
def shuffled_run(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    train(folder, out, *LAZY, *SHUFFLED, "--set", "data.workers=0", "--set", "train.epochs=3")
    return out


def test_over_the_budget_the_splits_are_lazy_and_read_as_in_memory(folder: Path) -> None:
    lazy = load(
        DataConfig(source=str(folder), memory_budget="1KB", workers=0), torch.Generator().manual_seed(0)
    )
    eager = load(DataConfig(source=str(folder), workers=0), torch.Generator().manual_seed(0))
    assert eager.train.x is not None and lazy.train.lazy and isinstance(lazy.train.rows, ImageRows)
    note = "images: 40 files would take 10.2 KB decoded (data.memory_budget 1KB): read lazily in the training process"
    assert note in lazy.info.notes[0]
    assert lazy.info.input_shape == eager.info.input_shape == (1, 8, 8)
    assert lazy.info.sizes == eager.info.sizes and lazy.info.class_counts == eager.info.class_counts
    # the sample covers the whole train split: the same statistics (float64 sums vs float32 torch.std)
    assert lazy.preprocessing["mean"] == pytest.approx(eager.preprocessing["mean"], rel=1e-6)
    assert lazy.preprocessing["std"] == pytest.approx(eager.preprocessing["std"], rel=1e-5)
    for name in ("train", "val", "test"):
        a, b = getattr(lazy, name), getattr(eager, name)
        assert torch.equal(a.y, b.y)
        batches = list(Loader(a.rows.loader(16, False, None), "binary").ordered())
        assert torch.allclose(torch.cat([x for x, _ in batches]), b.x, atol=1e-5)
        assert torch.allclose(a.take(torch.tensor([2, 0])), b.x[[2, 0]], atol=1e-5)


def test_a_lazy_epoch_draws_the_order_of_the_in_memory_one(folder: Path) -> None:
    data = load(
        DataConfig(source=str(folder), memory_budget="1KB", workers=0), torch.Generator().manual_seed(0)
    )
    lazy = Loader(data.train.rows.loader(8, True, None), "binary")  # type: ignore[union-attr]
    x = data.train.take(torch.arange(len(data.train)))
    memory = InMemory(x, data.train.y, 8)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(2):  # two epochs: a new order each, the same in both
        got = torch.cat([xb for xb, _ in lazy.epoch(g1)])
        want = torch.cat([xb for xb, _ in memory.epoch(g2)])
        assert torch.equal(got, want)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_lazy_training_matches_the_in_memory_run(folder: Path, tmp_path: Path) -> None:
    train(folder, tmp_path / "memory", *SHUFFLED)
    out = train(folder, tmp_path / "lazy", *LAZY, *SHUFFLED, "--set", "data.workers=0")
    assert "read lazily in the training process" in out.output
    memory, lazy = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("memory", "lazy"))
    for split in ("train", "val", "test"):
        assert lazy[split] == pytest.approx(memory[split], rel=1e-4, abs=1e-5), split
    for name, tensor in weights(tmp_path / "memory").items():
        assert torch.allclose(weights(tmp_path / "lazy")[name], tensor, atol=1e-4), name
    a, b = (pd.read_csv(tmp_path / r / "predictions.csv") for r in ("memory", "lazy"))
    assert a["y_pred"].tolist() == b["y_pred"].tolist() and len(a) == 6


def test_same_seed_same_weights_and_workers_change_nothing(
    folder: Path, shuffled_run: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    train(folder, again, *LAZY, *SHUFFLED, "--set", "data.workers=0", "--set", "train.epochs=3")
    assert (again / "model" / "weights.safetensors").read_bytes() == (
        shuffled_run / "model" / "weights.safetensors"
    ).read_bytes()
    worker = tmp_path / "worker"
    out = train(folder, worker, *LAZY, *SHUFFLED, "--set", "data.workers=1", "--set", "train.epochs=3")
    assert "read lazily by 1 DataLoader worker, every epoch" in out.output
    assert (worker / "model" / "weights.safetensors").read_bytes() == (
        shuffled_run / "model" / "weights.safetensors"
    ).read_bytes()


class Crash(Callback):
    """Ends training with an error at the start of epoch 2, after epoch 1's checkpoint."""

    def on_epoch_start(self, state: Any) -> None:
        if state.epoch == 1:
            raise RuntimeError("crash")


def test_crashed_lazy_run_resumes_to_the_same_weights(
    folder: Path, shuffled_run: Path, tmp_path: Path
) -> None:
    import treino

    out = tmp_path / "run"
    args = [*QUICK, *LAZY, *SHUFFLED, "--set", "data.workers=0", "--set", "train.epochs=3"]
    overrides = [a for a in args if a != "--set"] + [f"data.source={folder}"]
    with pytest.raises(RuntimeError, match="crash"):
        treino.train(None, overrides, out=out, quiet=True, callbacks=[Crash()])
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 1
    resumed = cli(["train", "--resume", str(out), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert (out / "model" / "weights.safetensors").read_bytes() == (
        shuffled_run / "model" / "weights.safetensors"
    ).read_bytes()
    history, reference = (pd.read_csv(r / "history.csv").drop(columns="seconds") for r in (out, shuffled_run))
    pd.testing.assert_frame_equal(history, reference)


def test_evaluate_predict_lrfind_and_report_on_a_lazy_run(
    folder: Path, shuffled_run: Path, tmp_path: Path
) -> None:
    evaluated = cli(["evaluate", str(shuffled_run)])
    assert evaluated.exit_code == 0, evaluated.output
    test = json.loads((shuffled_run / "metrics.json").read_text())["test"]
    got = json.loads((shuffled_run / "evaluation.json").read_text())
    assert got["metrics"]["accuracy"] == pytest.approx(test["accuracy"])
    predicted = cli(["predict", str(shuffled_run), str(folder), "--output", str(tmp_path / "p.csv")])
    assert predicted.exit_code == 0, predicted.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 40
    swept = cli(["lr-find", "--data", str(folder), *LAZY, "--set", "data.workers=0", "--iterations", "20",
                 "--out", str(tmp_path / "lr"), "--quiet"])  # fmt: skip
    assert swept.exit_code == 0, swept.output
    assert (tmp_path / "lr" / "config.yaml").exists()
    reported = cli(["report", str(shuffled_run)])
    assert reported.exit_code == 0, reported.output
    assert (shuffled_run / "report.html").exists()


def test_unreadable_header_is_named_or_skipped(tmp_path: Path) -> None:
    folder = two_classes(tmp_path / "imgs")
    (folder / "dark" / "broken.png").write_bytes(b"not an image")
    cfg = {"source": str(folder), "memory_budget": "1KB", "workers": 0}
    with pytest.raises(Exception) as caught:
        load(DataConfig(**cfg), torch.Generator().manual_seed(0))
    assert str(caught.value) == (
        f"{folder / 'dark' / 'broken.png'}: cannot read this image (cannot identify image file); remove it or "
        f"set data.image.skip_bad: true"
    )
    data = load(DataConfig(**cfg, image={"skip_bad": True}), torch.Generator().manual_seed(0))
    assert data.train.lazy and len(data.train) + len(data.val) + len(data.test) == 40  # type: ignore[arg-type]
    assert f"skipped 1 unreadable images (first: {folder / 'dark' / 'broken.png'})" in data.info.notes


@pytest.mark.parametrize("workers", [0, 1])
def test_pixels_that_do_not_decode_are_one_line_even_from_a_worker(tmp_path: Path, workers: int) -> None:
    folder = two_classes(tmp_path / "imgs")
    good = (folder / "bright" / "00.png").read_bytes()
    (folder / "bright" / "00.png").write_bytes(good[: len(good) - 30])  # header intact, pixels cut
    result = cli(["train", "--data", str(folder), *QUICK, *LAZY, "--set", f"data.workers={workers}",
                  "--out", str(tmp_path / "run")])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {folder / 'bright' / '00.png'}: cannot decode this image (image file is truncated) though its "
        f"header read; remove or replace it"
    )


def test_worker_traceback_is_cut_to_its_last_line() -> None:
    text = (
        "Caught UnreadableImage in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\ntreino.data.lazy_images.UnreadableImage: a.png: cannot decode\n'
    )
    assert str(UnreadableImage(text)) == "a.png: cannot decode"
    assert str(UnreadableImage("a.png: cannot decode")) == "a.png: cannot decode"


def test_mixed_sizes_need_a_size_and_resize_lazily(tmp_path: Path) -> None:
    folder = two_classes(tmp_path / "imgs")
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(folder / "dark" / "zz.png")
    cfg = {"source": str(folder), "memory_budget": "1KB", "workers": 0}
    with pytest.raises(Exception) as caught:
        load(DataConfig(**cfg), torch.Generator().manual_seed(0))
    assert str(caught.value) == (
        f"{folder}: images have different sizes (8x8 in 00.png, 10x12 in zz.png); set data.image.size: [H, W] "
        f"to resize them"
    )
    data = load(DataConfig(**cfg, image={"size": [6, 6], "channels": 3}), torch.Generator().manual_seed(0))
    assert data.info.input_shape == (3, 6, 6) and data.train.take(slice(0, 3)).shape == (3, 3, 6, 6)


def test_split_folders_and_path_tables_go_lazy(tmp_path: Path) -> None:
    two_classes(tmp_path / "split" / "train", n=12)
    two_classes(tmp_path / "split" / "test", n=4)
    data = load(DataConfig(source=str(tmp_path / "split"), memory_budget="1KB", workers=0), torch.Generator())
    assert data.train.lazy and len(data.test) == 8 and data.info.sizes["val"] > 0  # type: ignore[arg-type]
    folder = two_classes(tmp_path / "imgs", n=6)
    rows = [(f"imgs/{c}/{i:02d}.png", c) for c in ("dark", "bright") for i in range(6)]
    pd.DataFrame(rows, columns=["path", "label"]).to_csv(tmp_path / "t.csv", index=False)
    table = load(DataConfig(source=str(tmp_path / "t.csv"), target="label", memory_budget="1KB", workers=0),
                 torch.Generator())  # fmt: skip
    assert table.train.lazy and table.info.classes == ["bright", "dark"] and folder.exists()


@pytest.mark.parametrize("augment", [False, True])
def test_a_lazy_split_shards_over_ranks_with_its_targets_and_augmentation(
    folder: Path, augment: bool
) -> None:
    from treino.engine import parallel as distributed

    cfg = DataConfig(source=str(folder), memory_budget="1KB", workers=0, image={"augment": augment})
    data = load(cfg, torch.Generator().manual_seed(0))
    source = data.train.source(4, torch.Generator(), "multiclass")
    shards = [distributed.Group(r, 2).shard(source, seed=0) for r in (0, 1)]
    batches = [b for s in shards for b in s.epoch(torch.Generator().manual_seed(7))]
    assert all(len(x) == 2 for x, _ in batches)  # global batch 4 = 2 ranks x 2
    ys = torch.cat([y for _, y in batches])
    assert ys.dtype == torch.long and sorted(ys.tolist()) == sorted(data.train.y.long().tolist())
    originals = data.train.take(torch.arange(len(data.train))).flatten(1)  # (28, 64)
    seen = torch.cat([x for x, _ in batches]).flatten(1)
    unchanged = sum(bool((originals == row).all(1).any()) for row in seen)
    assert (unchanged < len(seen)) if augment else (unchanged == len(seen))


def test_threads_are_chosen_for_lazy_rows_as_for_rows_in_memory(folder: Path) -> None:
    from torch import nn

    from treino.engine.speed import choose_threads

    data = load(
        DataConfig(source=str(folder), memory_budget="1KB", workers=0), torch.Generator().manual_seed(0)
    )
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))  # a tiny step: one thread beats two
    lazy = data.train.source(8, torch.Generator(), "multiclass")
    assert choose_threads(model, lazy, torch.device("cpu")) == 1
    users = Loader(torch.utils.data.DataLoader(lazy.loader.dataset, batch_size=8))  # no task: not probed
    assert choose_threads(model, users, torch.device("cpu")) is None


def test_statistics_from_a_seeded_sample_of_a_big_train_split(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treino.data import lazy_images

    monkeypatch.setattr(lazy_images, "STATS_SAMPLE", 10)
    cfg = DataConfig(source=str(folder), memory_budget="1KB", workers=0)
    first, again = (load(cfg, torch.Generator().manual_seed(0)) for _ in range(2))
    assert (
        "images: per-channel mean/std from a seeded sample of 10 of the 28 train images" in first.info.notes
    )
    assert first.preprocessing == again.preprocessing  # evaluate re-reads the run's data and compares


def test_predict_reads_an_image_folder_in_chunks(
    folder: Path, shuffled_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from treino.serve import inputs as predict_inputs

    state = json.loads((shuffled_run / "model" / "preprocessing.json").read_text())
    monkeypatch.setattr(predict_inputs, "IMAGE_CHUNK", 16)
    chunks = list(predict_inputs.image_chunks(folder, state, ["label"], 10**6, print))
    assert [len(c.ids) for c in chunks] == [16, 16, 8]  # never the whole folder at once
    assert chunks[0].features.shape == (16, 1, 8, 8)


def test_a_separate_test_folder_joins_a_lazy_source_only_when_lazy_too(tmp_path: Path) -> None:
    source, test = two_classes(tmp_path / "train", n=20), two_classes(tmp_path / "test", n=4)
    cfg = {"source": str(source), "test": str(test), "workers": 0}
    data = load(DataConfig(**cfg, memory_budget="1KB"), torch.Generator().manual_seed(0))
    assert data.test is not None and data.test.lazy and len(data.test) == 8
    with pytest.raises(Exception) as caught:  # 40 images over 5 KB, the 8 test images under it
        load(DataConfig(**cfg, memory_budget="5KB"), torch.Generator().manual_seed(0))
    assert str(caught.value) == (
        f"{test}: this folder and data.source fall on different sides of data.memory_budget (one would be read "
        f"lazily, one decoded); put both in one folder as train/ and test/ subfolders"
    )
