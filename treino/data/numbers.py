"""Numbers as people write them in tables: percents ('12.5%'), thousands grouped by a comma,
a dot or a space ('1,234', '1.234,5', '1 234'), a decimal comma ('3,5'). A column whose values
all follow one such format is numeric; the format is kept in the preprocessing state (JSON)
so prediction reads new rows the same way."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

SPACES = " \u00a0\u202f"  # a space, a no-break space, a narrow no-break space (French thousands)
# (thousands, decimal, percent), in order of preference when several read every value: a lone
# '1,234' is one thousand two hundred and thirty-four, not 1.234
FORMATS = [
    *((t, d, False) for t, d in ((",", "."), ("", ","), (" ", "."), (".", ","), (" ", ","))),
    *((t, d, True) for t, d in (("", "."), ("", ","), (",", "."), (" ", "."), (".", ","), (" ", ","))),
]
SAMPLE = 200  # values tried against every format; only the best one reads the whole column


def _pattern(thousands: str, decimal: str, percent: bool) -> re.Pattern[str]:
    group = f"[{SPACES}]" if thousands == " " else re.escape(thousands)
    whole = rf"(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)" if thousands else r"\d+"
    return re.compile(rf"[+-]?{whole}(?:{re.escape(decimal)}\d+)?" + (r"\s*%" if percent else ""))


def best_format(text: pd.Series) -> tuple[dict[str, Any] | None, int]:
    """The format that reads most of the stripped strings `text`, and how many it reads."""
    sample = text.iloc[:SAMPLE]
    counts = [int(sample.str.fullmatch(_pattern(*f)).sum()) for f in FORMATS]
    best = max(range(len(FORMATS)), key=lambda i: (counts[i], -i))
    if counts[best] == 0:
        return None, 0
    thousands, decimal, percent = FORMATS[best]
    found = {"thousands": thousands, "decimal": decimal, "percent": percent}
    return found, int(text.str.fullmatch(_pattern(thousands, decimal, percent)).sum())


def number_format(values: pd.Series) -> dict[str, Any] | None:
    """How a text column writes its numbers, when every value follows one format; else None.

    Example:
        >>> number_format(pd.Series(["1.234,5", "12,75"]))
        {'thousands': '.', 'decimal': ',', 'percent': False}
    """
    text = values.dropna()
    if len(text) == 0 or not all(isinstance(v, str) for v in text.iloc[:SAMPLE]):
        return None
    found, count = best_format(text.iloc[:SAMPLE].astype(str).str.strip())
    if found is None or count < min(SAMPLE, len(text)):  # most columns stop here, on the sample
        return None
    pattern = _pattern(found["thousands"], found["decimal"], found["percent"])
    return found if text.astype(str).str.strip().str.fullmatch(pattern).all() else None


def parse_numbers(col: pd.Series, fmt: dict[str, Any]) -> pd.Series:
    """float64 values of a column written in `fmt` (percents as fractions: '12%' -> 0.12); values
    that are numbers already stay as they are; any other string is NaN."""
    if col.dtype.kind in "iufb":
        return col.astype("float64")
    is_text = col.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    text = col[is_text].astype(str).str.strip()
    ok = text.str.fullmatch(_pattern(fmt["thousands"], fmt["decimal"], fmt["percent"]))
    if fmt["thousands"]:
        text = text.str.replace(f"[{SPACES}]" if fmt["thousands"] == " " else re.escape(fmt["thousands"]), "",
                                regex=True)  # fmt: skip
    text = text.str.replace("%", "", regex=False).str.strip().str.replace(fmt["decimal"], ".", regex=False)
    values = pd.to_numeric(text.where(ok), errors="coerce") / (100 if fmt["percent"] else 1)
    out = pd.to_numeric(col.mask(is_text), errors="coerce").astype("float64")
    out[is_text] = values.to_numpy(dtype="float64")
    return out


def number_note(name: str, fmt: dict[str, Any]) -> str:
    """What the user is told about a column read in `fmt`."""
    example = f"1{fmt['thousands'] or ''}234{fmt['decimal']}5"
    if fmt["percent"]:
        short = f"12{fmt['decimal']}5%"
        return f"column '{name}' holds percents written like '{short}': read as fractions ({short} -> 0.125)"
    return f"column '{name}' holds numbers written like '{example}': read as numbers ({example} -> 1234.5)"
