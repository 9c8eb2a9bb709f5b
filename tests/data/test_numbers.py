"""Numbers as people write them: percents, thousands separators and decimal commas, in train and predict."""

from __future__ import annotations

import pytest


def _formatted(path, rows: int = 40, sep: str = ",", bad: str | None = None) -> None:
    """rate '51.3%', amount '1,377' (or European '1.377,5' with sep ';'), y."""
    import numpy as np
    import pandas as pd

    x = np.random.default_rng(0).normal(size=rows)
    if sep == ",":
        amount = [f"{abs(v) * 3000 + 1000:,.0f}" for v in x]
    else:
        amount = [
            f"{abs(v) * 3000 + 1000:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in x
        ]
    frame = pd.DataFrame(
        {"rate": [f"{v * 10 + 50:.1f}%" for v in x], "amount": amount, "y": (x > 0).astype(int)}
    )
    if bad is not None:
        frame.loc[17, "rate"] = bad
    frame.to_csv(path, index=False, sep=sep)


def test_percents_and_thousands_separators_are_numbers_in_train_and_predict(cli, tmp_path):
    """'12%' and '1,234' were read as text distinct per row and dropped as ids."""
    import json

    import numpy as np
    import pandas as pd

    import treino

    for sep, amount_note in ((",", "'1,234.5': read as numbers (1,234.5 -> 1234.5)"),
                             (";", "'1.234,5': read as numbers (1.234,5 -> 1234.5)")):  # fmt: skip
        path, out = tmp_path / f"rates{sep}.csv", tmp_path / f"r{sep}"
        _formatted(path, sep=sep)
        args = ["--set", "train.epochs=2", "--set", "log.plots=false"]
        result = cli(["train", "--data", path, "--target", "y", *args, "--out", out, "-q"])
        assert result.exit_code == 0, result.output
        notes = json.loads((out / "metrics.json").read_text())["data"]["notes"]
        assert "inputs: numeric rate, amount" in notes
        assert (
            "column 'rate' holds percents written like '12.5%': read as fractions (12.5% -> 0.125)" in notes
        )
        assert f"column 'amount' holds numbers written like {amount_note}" in notes
        predictor = treino.load(out, quiet=True)
        raw = pd.read_csv(path, sep=sep)
        plain = pd.DataFrame({  # the same rows written plainly: 51.3% -> 0.513, 1,377 -> 1377
            "rate": raw["rate"].str.rstrip("%").astype(float) / 100,
            "amount": raw["amount"].str.replace("." if sep == ";" else ",", "").str.replace(",", ".").astype(float),
        })  # fmt: skip
        np.testing.assert_allclose(predictor.predict_proba(path), predictor.predict_proba(plain), rtol=1e-6)
        np.testing.assert_allclose(predictor.predict_proba(raw), predictor.predict_proba(plain), rtol=1e-6)


def test_a_bad_value_in_a_percent_column_is_named_in_train_and_predict(cli, tmp_path):
    """A non-number in a percent column is named by row in train and predict alike."""
    path = tmp_path / "rates.csv"
    _formatted(path, bad="about half")
    result = cli(["train", "--data", path, "--target", "y", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: column 'rate' holds numbers but row 18 has 'about half'; fix that value or leave the cell empty"
    )
    good = tmp_path / "good.csv"
    _formatted(good)
    args = ["--set", "train.epochs=1", "--set", "log.plots=false", "--out", tmp_path / "r2", "-q"]
    assert cli(["train", "--data", good, "--target", "y", *args]).exit_code == 0
    result = cli(["predict", tmp_path / "r2", path])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {path}: column 'rate' holds numbers but row 18 has 'about half'; fix that value or leave the cell empty"
    )


def test_number_formats_are_told_apart():
    """Thousands separators, decimal commas and percents are told apart, and text is not a number."""
    import pandas as pd

    from treino.data.numbers import number_format, parse_numbers

    cases = {
        ("1,234", "56", "-7,890.5"): (",", ".", False, [1234, 56, -7890.5]),
        ("1 234", "12\u00a0345,5"): (" ", ",", False, [1234, 12345.5]),
        ("1.234,5", "12,75"): (".", ",", False, [1234.5, 12.75]),
        ("3,5", "12,25"): ("", ",", False, [3.5, 12.25]),
        ("12%", "7.5 %", "-3%"): ("", ".", True, [0.12, 0.075, -0.03]),
        ("12,5%", "100%"): ("", ",", True, [0.125, 1.0]),
    }
    for values, (thousands, decimal, percent, expected) in cases.items():
        fmt = number_format(pd.Series(values))
        assert fmt == {"thousands": thousands, "decimal": decimal, "percent": percent}, values
        assert parse_numbers(pd.Series(values), fmt).tolist() == pytest.approx(expected)
    for text in (("red", "blue"), ("1,2,3", "4"), ("12%", "13"), ("2024-01-05", "2024-02-01")):
        assert number_format(pd.Series(text)) is None, text


def test_a_streamed_parquet_reads_percents_as_the_whole_table_does(tmp_path):
    """The streaming pass scaled a '12%' column from NaNs (scale 1, shift its fill)."""
    import numpy as np
    import pandas as pd
    import torch

    from treino.config import DataConfig
    from treino.data.load import load

    x = np.random.default_rng(0).normal(size=2000)
    frame = pd.DataFrame({"rate": [f"{v * 10 + 50:.1f}%" for v in x], "label": np.where(x > 0, "yes", "no")})
    frame.to_parquet(tmp_path / "rates.parquet", row_group_size=250)
    found = []
    for budget in ("1KB", "auto"):  # streamed by row groups, then read whole
        cfg = DataConfig(source=str(tmp_path / "rates.parquet"), target="label", memory_budget=budget)
        (rate,) = load(cfg, torch.Generator().manual_seed(0), 0).preprocessing["columns"]
        found.append(rate)
    for rate in found:
        assert rate["format"] == {"thousands": "", "decimal": ".", "percent": True}
        assert rate["shift"] == pytest.approx(0.5, abs=0.01) and rate["scale"] == pytest.approx(
            0.1, abs=0.005
        )
