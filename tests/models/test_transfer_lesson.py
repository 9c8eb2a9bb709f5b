"""`treino compare --lesson transfer`: the CNN pretrained once and cached (reused by the next
run), the three variants on a small labelled set of classes it never saw, the frozen variant's
backbone bit-identical to the cached source. Kept short: tiny pretraining, one epoch each."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from treino.experiments import lessons
from treino.experiments import transfer as T


@pytest.mark.slow
def test_transfer_lesson_pretrains_once_and_compares_three_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TREINO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(T, "PRETRAIN_ROWS", 400)
    monkeypatch.setattr(T, "PRETRAIN_EPOCHS", 1)
    lessons.run("transfer", out=tmp_path / "a", overrides=["train.epochs=1", "log.plots=false"], repeats=1)
    source = tmp_path / "cache" / "lessons" / f"transfer-{T.base()}-v{T.VERSION}"
    weights = source / "model" / "weights.safetensors"
    assert weights.is_file()
    assert f"pretraining a CNN on {T.base()} classes 0-4 once (cached in {source})" in capsys.readouterr().out
    stamp = weights.stat().st_mtime_ns
    runs = sorted((tmp_path / "a" / "runs").iterdir())
    assert [r.name for r in runs] == [
        "01-from_scratch-seed0",
        "02-fine-tuned-seed0",
        "03-frozen_new_head-seed0",
    ]
    pre, frozen = load_file(weights), load_file(runs[2] / "model" / "weights.safetensors")
    for key in (k for k in pre if k.startswith("features.")):  # conv kernels and batch-norm statistics
        assert torch.equal(pre[key], frozen[key]), key
    assert T.pretrained() == source  # what the next `treino compare --lesson transfer` starts with
    assert f"the pretrained CNN from the cache, {source}" in capsys.readouterr().out
    assert weights.stat().st_mtime_ns == stamp  # reused, not trained again


def test_part_keeps_the_classes_asked_for():
    part = T.Part("digits", [5, 7], rows=50, seed=3)
    assert len(part) == 50 and part.classes == ["5", "7"]
    x, y = part[0]
    assert x.shape == (1, 8, 8) and y in (0, 1)
    assert set(part.y.tolist()) == {0, 1}
