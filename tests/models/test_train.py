"""Each family trained end to end (Python API and CLI) on a dataset that suits it; a run that
starts from another run's weights."""

from __future__ import annotations

import json
import random

import pytest

import treino

QUICK = {"log.plots": False, "log.progress": False, "optimizer.lr": 0.01}


@pytest.mark.parametrize(
    ("source", "kind", "epochs", "metric", "floor"),
    [("houses", "linear", 20, "r2", 0.8), ("breast_cancer", "logistic", 5, "accuracy", 0.9),
     ("iris", "softmax", 10, "accuracy", 0.8), ("wine", "mlp", 10, "accuracy", 0.9),
     ("digits", "cnn", 2, "accuracy", 0.9)],
)  # fmt: skip
def test_each_family_trains_and_records_its_summary(tmp_path, source, kind, epochs, metric, floor):
    overrides = {"data.source": source, "model.kind": kind, "train.epochs": epochs, **QUICK}
    run = treino.train(None, overrides, out=tmp_path / "run", quiet=True)
    assert run.metrics["test"][metric] > floor
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]
    assert saved["kind"] == kind
    assert saved["parameters"] == sum(p.numel() for p in run.model.parameters())
    assert saved["flops_per_sample"] > 0 and saved["layers"][-1]["output_shape"] is not None
    assert saved["summary"].startswith(f"model: {kind}, {saved['parameters']:,} parameters")


def reviews(path, n: int = 80) -> str:
    """A tiny sentiment table: filler words plus two words that carry the label."""
    rng = random.Random(0)
    good, bad = "great superb lovely brilliant".split(), "awful boring dull weak".split()
    filler = "the film movie plot story was and very really quite".split()
    lines = ["review,label"]
    for i in range(n):
        words = rng.sample(filler, 4) + rng.sample(good if i % 2 else bad, 2)
        rng.shuffle(words)
        lines.append(f"{' '.join(words)},{'good' if i % 2 else 'bad'}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(("mode", "first_layer"), [("tfidf", "Linear"), ("tokens", "EmbeddingBag")])
def test_text_family_on_tfidf_and_token_ids(tmp_path, mode, first_layer):
    overrides = {"data.source": reviews(tmp_path / "reviews.csv"), "data.target": "label",
                 "data.text.mode": mode, "model.kind": "text", "train.epochs": 8, **QUICK}  # fmt: skip
    run = treino.train(None, overrides, out=tmp_path / "run", quiet=True)
    assert run.metrics["model"]["layers"][0]["type"] == first_layer
    assert run.metrics["test"]["accuracy"] >= 0.9


def test_start_from_another_runs_weights(cli, tmp_path):
    base = [
        "--data",
        "iris",
        "--set",
        "model.kind=mlp",
        "--set",
        "log.plots=false",
        "--set",
        "log.progress=false",
    ]
    first = cli(["train", *base, "--set", "train.epochs=3", "--out", tmp_path / "a"])
    assert first.exit_code == 0, first.output
    again = cli(["train", *base, "--set", "train.epochs=1", "--set", "optimizer.lr=1e-12",
                 "--set", f"model.weights={tmp_path / 'a'}", "--out", tmp_path / "b"])  # fmt: skip
    assert again.exit_code == 0, again.output
    # the MLP's input range (model.clip_inputs) is this run's data, not weights: not counted, not copied
    assert f"model.weights: loaded 4 of 4 tensors from {tmp_path / 'a'}" in again.output
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())["test"]["loss"]
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())["test"]["loss"]
    assert b == pytest.approx(a, abs=1e-5)  # a learning rate of ~0 keeps the loaded weights
    wrong = cli(["train", "--data", "wine", "--set", "model.kind=mlp", "--set", f"model.weights={tmp_path / 'a'}",
                 "--out", tmp_path / "c"])  # fmt: skip
    assert wrong.exit_code == 2
    assert wrong.output.strip().splitlines()[-1] == (
        f"error: model.weights: {tmp_path / 'a'} does not fit the model: shape differs: body.0.weight "
        f"(64, 4) in file vs (64, 13); re-initialize that layer with model.reset: [body.0], or set "
        f"model.weights_strict: false to load the 3 matching tensors"
    )
