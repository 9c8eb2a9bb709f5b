"""treino compare: parsing --vary, the grid, up-front validation, a failed variant, the page."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from browser_pages import open_page

from treino.errors import ConfigError
from treino.experiments.compare import Variant, check, compare, grid, parse_vary

TINY = {
    "data": {"source": "breast_cancer"},
    "model": {"kind": "mlp", "hidden": [8]},
    "train": {"epochs": 2, "batch_size": 64},
    "log": {"progress": False},
}


def test_parse_vary_keeps_lists_and_types():
    assert parse_vary("model.hidden=[64],[128, 64]") == ("model.hidden", [[64], [128, 64]])
    assert parse_vary("train.batch_size=1,32,full") == ("train.batch_size", [1, 32, "full"])
    assert parse_vary("optimizer.lr=1e-3,0.1") == ("optimizer.lr", [0.001, 0.1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizer.lr", "--vary optimizer.lr: expected KEY=V1,V2,..., e.g. --vary optimizer.name=sgd,adam"),
        ("optimizer.lr=", "--vary optimizer.lr=: no values; list them after '=', separated by commas"),
    ],
)
def test_parse_vary_errors(text, message):
    with pytest.raises(ConfigError) as err:
        parse_vary(text)
    assert str(err.value) == message


def test_grid_is_a_product_and_zip_pairs():
    variants = grid(["optimizer.name=sgd,adam", "train.batch_size=1,full"])
    assert [v.settings for v in variants] == [
        {"optimizer.name": "sgd", "train.batch_size": 1},
        {"optimizer.name": "sgd", "train.batch_size": "full"},
        {"optimizer.name": "adam", "train.batch_size": 1},
        {"optimizer.name": "adam", "train.batch_size": "full"},
    ]
    zipped = grid(["optimizer.name=sgd,adam", "optimizer.lr=0.1,0.001"], zip_=True)
    assert [v.label for v in zipped] == [
        "optimizer.name=sgd optimizer.lr=0.1",
        "optimizer.name=adam optimizer.lr=0.001",
    ]


@pytest.mark.parametrize(
    ("vary", "zip_", "message"),
    [
        ([], False, "compare: nothing to compare; give --vary KEY=V1,V2,... (e.g. --vary optimizer.name=sgd,adam) or --lesson NAME"),
        (["optimizer.lr=0.1", "optimizer.lr=0.2"], False, "--vary optimizer.lr: given twice; list all its values in one --vary"),
        (["optimizer.name=sgd,adam", "optimizer.lr=0.1"], True, "--zip: the --vary lists differ in length (optimizer.name: 2, optimizer.lr: 1); give each the same count"),
    ],
)  # fmt: skip
def test_grid_errors(vary, zip_, message):
    with pytest.raises(ConfigError) as err:
        grid(vary, zip_)
    assert str(err.value) == message


def test_unknown_vary_key_names_the_closest_match():
    with pytest.raises(ConfigError) as err:
        check(TINY, grid(["optimizer.lrr=0.1,0.01"]), None)
    assert str(err.value) == (
        "--vary optimizer.lrr: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?); "
        "valid keys here: name, lr, momentum, betas, weight_decay, eps, backbone_lr_mult"
    )


def test_bad_value_fails_before_training_naming_variant_and_value(cli, tmp_path):
    out = tmp_path / "cmp"
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: breast_cancer}\n")
    result = cli(["compare", config, "--vary", "optimizer.lr=0.1,-1", "--out", out])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: variant 2 of 2 (optimizer.lr=-1): optimizer.lr: input should be greater than 0 "
        "(got -1); change that --vary value"
    )
    assert not out.exists()  # nothing was trained


def test_lesson_with_config_is_refused(cli, tmp_path):
    result = cli(["compare", tmp_path / "c.yaml", "--lesson", "optimizers"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --lesson optimizers: brings its own config and variants; drop CONFIG and --vary"
    )


def test_unknown_lesson_lists_the_lessons(cli):
    result = cli(["compare", "--lesson", "optimiser"])
    assert result.exit_code == 2
    from treino.experiments.lessons import LESSONS

    assert result.output.strip() == (
        "error: --lesson: unknown lesson 'optimiser' (did you mean 'optimizers'?); choose one of: "
        + ", ".join(LESSONS.names())  # every lesson, in the order they are added
    )
    assert LESSONS.names()[:6] == [
        "batch-regimes",
        "optimizers",
        "learning-rates",
        "dropout",
        "regularization",
        "init",
    ]


def test_failed_variant_is_reported_and_the_others_finish(tmp_path):
    variants = [Variant("ok", {}), Variant("bad target", {"data.target": "nope"})]
    result = compare(TINY, variants, repeats=2, out=tmp_path / "cmp", jobs=2, quiet=True)  # the pool path
    summary = pd.read_csv(tmp_path / "cmp" / "summary.csv")
    assert list(summary["variant"]) == ["ok", "bad target"]
    ok, bad = summary.iloc[0], summary.iloc[1]
    assert (ok["runs"], ok["completed"], ok["status"]) == (2, 2, "completed")
    assert 0.5 < ok["val_accuracy_mean"] <= 1 and ok["val_accuracy_std"] >= 0
    assert ok["epochs"] == 2 and ok["samples_per_second"] > 0 and ok["seconds_per_epoch"] > 0
    assert (bad["completed"], bad["status"]) == (0, "failed")
    assert "nope" in bad["error"]
    assert result.failed == ["bad target"]
    runs = sorted(p.name for p in (tmp_path / "cmp" / "runs").iterdir())
    assert runs == ["01-ok-seed0", "01-ok-seed1"]  # a run that fails before training leaves no folder
    assert (tmp_path / "cmp" / "runs" / "01-ok-seed1" / "history.csv").exists()

    page = result.page.read_text(encoding="utf-8")
    assert "Failed runs" in page and "nope" in page
    # self-contained: every image inline, nothing fetched from the network
    assert re.findall(r"<img [^>]*src=\"([^\"]{0,22})", page) == ["data:image/png;base64,"] * 2
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    seen = open_page(result.page)
    assert seen["images"] == [["curves", seen["images"][0][1]], ["metrics", seen["images"][1][1]]]
    assert all(width > 0 for _, width in seen["images"]) and seen["problems"] == []
    assert seen["requests"] == seen["url"]  # the page itself, nothing else


def test_compare_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(Exception) as err:
        compare(TINY, ["optimizer.name=sgd,adam"], out=tmp_path, quiet=True)
    assert str(err.value) == f"--out {tmp_path}: the folder is not empty; give a new or empty folder"
