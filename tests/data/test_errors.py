"""Every bad input of the data layer: one line naming the file, column/row or path and the fix,
exit 2, checked by its exact text through the real CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image


def _png(path, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, 128).save(path)


def _write(tmp, name: str) -> tuple[str, list[str]]:
    """Make the bad input `name` under tmp; return its path and the extra CLI arguments."""
    p = tmp / name
    if name == "empty.csv":
        p.write_text("")
    elif name == "header.csv":
        p.write_text("a,b,price\n")
    elif name == "ok.csv":
        pd.DataFrame({"a": [1, 2, 3, 4], "price": [1.0, 2, 3, 4]}).to_csv(p, index=False)
    elif name == "no_target.csv":
        pd.DataFrame({"a": [1, 2, 3, 4], "price": [np.nan] * 4}).to_csv(p, index=False)
    elif name == "one_class.csv":
        pd.DataFrame({"a": [1, 2, 3, 4], "kind": ["x"] * 4}).to_csv(p, index=False)
    elif name == "garbage.csv":
        ages = [str(20 + i) for i in range(10)]
        ages[6] = "abc"
        p.write_text("age,y\n" + "".join(f"{a},{i % 2}\n" for i, a in enumerate(ages)))
    elif name == "ragged.csv":
        p.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    elif name == "binary.csv":
        p.write_bytes(bytes(range(256)) * 20)
    elif name == "no_images":
        (p / "cats").mkdir(parents=True)
        (p / "cats" / "notes.md").write_text("no pictures here")
    elif name == "one_class":
        _png(p / "cats" / "a.png")
    elif name == "mixed":
        _png(p / "a" / "1.png")
        _png(p / "b" / "2.png", (9, 8))
    elif name == "bad_image":
        _png(p / "a" / "1.png")
        (p / "b").mkdir()
        (p / "b" / "2.png").write_bytes(b"not a png")
    elif name == "train-images-idx3-ubyte.gz":
        p.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    elif name == "empty_text.csv":
        pd.DataFrame({"review": ["", " "] * 6, "label": ["a", "b", "b"] * 4}).to_csv(p, index=False)
    elif name == "wordless.csv":
        texts = [f"a b {chr(97 + i)} ." for i in range(20)]  # words of one letter: no terms
        pd.DataFrame({"review": texts, "label": ["a", "b"] * 10}).to_csv(p, index=False)
    return str(p)


T = "{tmp}"
CASES = [
    ("nofile.csv", ["--target", "y"], f"{T}/nofile.csv: no such file or folder; check the path (or name a built-in dataset)"),
    ("empty.csv", ["--target", "y"], f"{T}/empty.csv: the file is empty; give a table with a header row and data rows"),
    ("header.csv", ["--target", "price"], f"{T}/header.csv: the table has a header but no data rows"),
    ("ok.csv", ["--target", "prise"],
     f"{T}/ok.csv: no target column 'prise' (did you mean 'price'?); columns: a, price"),
    ("ok.csv", [], f"{T}/ok.csv: which column is the target? pass --target COL (columns: a, price)"),
    ("no_target.csv", ["--target", "price"],
     f"{T}/no_target.csv: target column 'price' is empty in every row; choose another --target"),
    ("one_class.csv", ["--target", "kind"],
     f"{T}/one_class.csv: target 'kind' has a single class ('x'); a classifier needs at least two"),
    ("garbage.csv", ["--target", "y"],
     f"{T}/garbage.csv: column 'age' holds numbers but row 7 has 'abc'; fix that value or leave the cell empty"),
    ("ragged.csv", ["--target", "a"],
     f"{T}/ragged.csv: line 3 has 4 fields but the header has 3; fix that row (quote values that contain the separator)"),
    ("binary.csv", ["--target", "a"],
     f"{T}/binary.csv: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file"),
    ("no_images", [], f"{T}/no_images: no images found; put PNG/JPEG/BMP files in one subfolder per class "
     f"(e.g. {T}/no_images/cats/1.png), or IDX files (train-images-idx3-ubyte...)"),
    ("one_class", [],
     f"{T}/one_class: only one class folder ('cats'); a classifier needs at least two subfolders of images"),
    ("mixed", [], f"{T}/mixed: images have different sizes (8x8 in 1.png, 8x9 in 2.png); "
     f"set data.image.size: [H, W] to resize them"),
    ("bad_image", [], f"{T}/bad_image/b/2.png: cannot read this image (cannot identify image file); "
     f"remove it or set data.image.skip_bad: true"),
    ("empty_text.csv", ["--target", "label"], f"{T}/empty_text.csv: column 'review' is empty in every row and "
     f"no other input column is usable; fill it or choose the inputs with data.features"),
    ("empty_text.csv", ["--target", "label", "--set", "data.features=[review]"],
     f"{T}/empty_text.csv: column 'review' is empty in every row; remove it from data.features"),
    ("wordless.csv", ["--target", "label"],
     f"{T}/wordless.csv: text column 'review' has no words in the train split; fill it or leave it out with data.drop"),
    ("train-images-idx3-ubyte.gz", [], f"{T}/train-images-idx3-ubyte.gz: one IDX file; give the folder holding "
     f"the train-*/t10k-* images and labels files"),
    ("whatever", [], "data.source: 'whatever' is neither a file, a folder nor a built-in dataset; built-in: "),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_with_the_fix(cli, tmp_path, monkeypatch, name, args, message):
    monkeypatch.chdir(tmp_path)
    source = _write(tmp_path, name) if name != "whatever" else name
    result = cli(["train", "--data", source, *args, "--out", tmp_path / "run", "-q"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: " + message.format(tmp=tmp_path)), result.output
    assert result.output.count("\n") == 1
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_skip_bad_counts_the_unreadable_images(tmp_path):
    from treino.config import DataConfig
    from treino.data.load import load

    for i in range(4):
        _png(tmp_path / "imgs" / "a" / f"{i}.png")
        _png(tmp_path / "imgs" / "b" / f"{i}.png")
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"\x89PNG garbage")
    cfg = DataConfig(source=str(tmp_path / "imgs"), image={"skip_bad": True})
    data = load(cfg, __import__("torch").Generator().manual_seed(0), 0)
    assert sum(data.info.sizes.values()) == 8
    assert data.info.notes[0] == f"skipped 1 unreadable images (first: {tmp_path}/imgs/b/broken.png)"


def test_a_target_with_a_class_per_row_is_refused_not_trained(cli, tmp_path):
    """Prices written '$1,014.75' trained a classifier with one class per row, exiting 0."""
    path = tmp_path / "houses.csv"
    path.write_text("rooms,price\n" + "".join(f'{i % 5 + 1},"${1000 + 37 * i:,}.50"\n' for i in range(40)))
    result = cli(["train", "--data", path, "--target", "price", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: target 'price' has 40 distinct values in 40 rows (e.g. '$1,000.50'), too many "
        f"to be classes; if they are numbers, write them plainly (no currency signs, thousands "
        f"separators or decimal commas), or set data.task: multiclass to train on them as classes"
    )
    assert not (tmp_path / "r").exists()


def test_a_val_or_test_file_that_is_the_training_source_is_refused(cli, tmp_path):
    """data.val naming data.source itself put every training row in validation too (leakage)."""
    path = tmp_path / "houses.csv"
    path.write_text("rooms,price\n" + "".join(f"{i % 5},{i * 1.5}\n" for i in range(30)))
    result = cli(["train", "--data", path, "--target", "price", "--set", f"data.val={path}", "-q",
                  "--out", tmp_path / "r"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: data.val: {path} is data.source itself, so its rows would be in train and val "
        f"(leakage); give a separate file, or leave data.val out to split data.source"
    )


def test_a_table_too_small_to_split_is_refused(tmp_path):
    """3 rows trained with empty validation and test splits and were reported healthy."""
    import pytest
    import torch

    from treino import config as C
    from treino.data.load import load
    from treino.errors import DataError

    path = tmp_path / "three.csv"
    path.write_text("x,price\n1,2.5\n2,3.7\n3,4.1\n")
    cfg = C.load(None, [f"data.source={path}", "data.target=price", "data.task=regression"])
    with pytest.raises(DataError) as err:
        load(cfg.data, torch.Generator().manual_seed(0), 0)
    assert str(err.value) == (
        f"{path}: 3 rows are too few to split into train/validation/test (got 3/0/0); add rows, "
        "or set data.split.val: 0 and data.split.test: 0 to train on every row"
    )
    every_row = C.load(cfg, ["data.split.val=0", "data.split.test=0"])
    assert len(load(every_row.data, torch.Generator().manual_seed(0), 0).train) == 3
