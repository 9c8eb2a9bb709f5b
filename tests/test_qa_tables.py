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
    from treino.predict_inputs import _file_frames

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
