"""QA: tables as users save them."""

from __future__ import annotations


def test_a_latin1_csv_is_named_as_not_utf8_not_as_binary(cli, tmp_path):
    # Excel's plain "CSV" on Windows writes Windows-1252: it was called "binary content"
    path = tmp_path / "vendas.csv"
    rows = "".join(f"{i},{'São Paulo' if i % 2 else 'Bogotá'},{i * 1.5}\n" for i in range(30))
    path.write_bytes(("id,cidade,preço\n" + rows).encode("latin-1"))
    text = (
        f"{path}: not UTF-8 text (byte 0xe7 cannot be decoded; saved as Latin-1/Windows-1252?); "
        f"save the file as UTF-8 (Excel: 'CSV UTF-8')"
    )
    result = cli(["train", "--data", path, "--target", "preço", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {text}"


def test_predict_on_a_latin1_csv_says_the_same(tmp_path):
    import pytest

    from treino.errors import DataError
    from treino.serve.inputs import _file_frames

    path = tmp_path / "novos.csv"
    path.write_bytes("cidade,área\nBogotá,1\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        list(_file_frames(path, 100))
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte 0xe1 cannot be decoded; saved as Latin-1/Windows-1252?); "
        f"save the file as UTF-8 (Excel: 'CSV UTF-8')"
    )


def test_a_target_with_a_class_per_row_is_refused_not_trained(cli, tmp_path):
    # prices written "$1,014.75" (or "1014,75" with decimal commas) were read as text: a 40-class
    # classifier with every row its own class, val 0 and test 0 rows, exit 0
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


def test_a_separator_at_the_end_of_every_row_does_not_shift_the_columns(tmp_path):
    # pandas takes the first field as the row index when every row has one field more than the
    # header: "a,b,y\n1,2,3,\n" became a=2, b=3, y=NaN
    from treino.data.tables import read_table

    path = tmp_path / "trailing.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 3},\n" for i in range(10)))
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b", "y"]
    assert frame["a"].tolist() == list(range(10))
    assert frame["y"].tolist() == [i % 3 for i in range(10)]


def test_an_unquoted_separator_in_every_row_is_refused_not_shifted(tmp_path):
    # "rooms,price\n1,1,000\n" was read as rooms=1, price=0 (the 1 went to the index)
    import pytest

    from treino.data.tables import read_table
    from treino.errors import DataError

    path = tmp_path / "shift.csv"
    path.write_text("rooms,price\n" + "".join(f"{i},{i},{i * 7 % 1000:03d}\n" for i in range(1, 10)))
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == (
        f"{path}: every data row has one field more than the header (2 names); quote values that "
        f'hold the separator (e.g. "1,000") or give the extra column a name'
    )


def test_predict_reads_a_trailing_separator_table_as_training_does(tmp_path):
    from treino.serve.inputs import _file_frames

    path = tmp_path / "trailing.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2},\n" for i in range(5)))
    frame = next(_file_frames(path, 100))
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == list(range(5))


def test_a_val_or_test_file_that_is_the_training_source_is_refused(cli, tmp_path):
    # data.val: the same file as data.source put every training row in the validation split too
    path = tmp_path / "houses.csv"
    path.write_text("rooms,price\n" + "".join(f"{i % 5},{i * 1.5}\n" for i in range(30)))
    result = cli(["train", "--data", path, "--target", "price", "--set", f"data.val={path}", "-q",
                  "--out", tmp_path / "r"])  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: data.val: {path} is data.source itself, so its rows would be in train and val "
        f"(leakage); give a separate file, or leave data.val out to split data.source"
    )


def test_16_bit_grayscale_images_keep_their_levels(tmp_path):
    # Pillow's convert("L"/"RGB") clips 16-bit values at 255: every pixel above 255 became white
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


def test_a_table_too_small_to_split_is_refused(tmp_path):
    # regression: 3 rows trained with empty validation and test splits and reported "healthy"
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
