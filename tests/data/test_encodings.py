"""Text encodings of tables as users save them: UTF-16 and BOMs read, Latin-1 named, binary refused."""

from __future__ import annotations

import pytest


def _rows(n: int = 30) -> str:
    """CSV rows of a number, an accented city name and a 0/1 label."""
    return "".join(f"{i * 0.5},{'São Paulo' if i % 2 else 'Bogotá'},{i % 2}\n" for i in range(n))


def test_a_utf16_csv_is_read_not_called_binary(tmp_path):
    """Excel's UTF-16 'Unicode text' exports were called 'not a text table (binary content)'."""
    from treino.data.tables import read_table

    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-8", b"\xef\xbb\xbf")):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(bom + ("área,cidade,y\n" + _rows()).encode(encoding))
        frame = read_table(path)
        assert list(frame.columns) == ["área", "cidade", "y"], encoding
        assert frame["cidade"].iloc[:2].tolist() == ["Bogotá", "São Paulo"]
        assert frame["área"].iloc[-1] == 14.5
    tab = tmp_path / "unicode.txt"  # Excel: tab-separated UTF-16 LE
    tab.write_text("área\tcidade\ty\n" + _rows().replace(",", "\t"), encoding="utf-16")
    assert read_table(tab).shape == (30, 3)
    lines = tmp_path / "rows.jsonl"
    lines.write_text('{"a": 1, "y": "sim"}\n{"a": 2, "y": "não"}\n', encoding="utf-16")
    assert read_table(lines)["y"].tolist() == ["sim", "não"]


def test_train_and_predict_on_utf16_csv(cli, tmp_path):
    """A UTF-16 CSV trains and predicts end to end, not only reads."""
    path = tmp_path / "vendas.csv"
    path.write_text("área,cidade,y\n" + _rows(), encoding="utf-16")
    out = tmp_path / "r"
    result = cli(["train", "--data", path, "--target", "y", "--set", "train.epochs=1", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    result = cli(["predict", out, path, "--output", tmp_path / "p.csv"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "p.csv")) == 30


def test_nul_bytes_without_a_bom_are_still_binary(tmp_path):
    """Reading UTF-16 must not let NUL bytes without a BOM pass as text."""

    from treino.data.tables import read_table
    from treino.errors import DataError

    path = tmp_path / "blob.csv"
    path.write_bytes(b"a,b\x00\x01\x02\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == f"{path}: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file"


def test_a_latin1_csv_is_named_as_not_utf8_not_as_binary(cli, tmp_path):
    """Excel's Windows-1252 CSV was called 'binary content' instead of 'not UTF-8'."""
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
