"""The staged benchmark: every staged run, a known way to train well or badly, gets its verdict
(the first finding); a healthy run gets `healthy` alone. The thresholds were tuned on the
"tune" part; the "held-out" part checks them. docs/report.md carries the confusion tables
(`python -m tests.report.staged --table` regenerates them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report import staged

DOC = Path(__file__).parents[2] / "docs" / "report.md"


@pytest.mark.parametrize("case", staged.CASES, ids=[c.name for c in staged.CASES])
def test_staged_run_gets_its_verdict(case: staged.Case) -> None:
    found = staged.verdict(case)
    codes = [f["code"] for f in found]
    if case.expect == "healthy":
        assert codes == ["healthy"], found
    else:
        assert codes[0] == case.expect, found
        assert "healthy" not in codes


def test_the_benchmark_covers_every_code_family_and_part() -> None:
    expected = {c.expect for c in staged.CASES}
    assert expected == set(staged.CODES)
    assert {c.family for c in staged.CASES if c.expect == "healthy"} == {
        "linear",
        "logistic",
        "softmax",
        "mlp",
        "cnn",
        "text",
    }
    for part in ("tune", "held-out"):
        assert len([c for c in staged.CASES if c.part == part]) >= 12


def test_docs_carry_the_current_confusion_tables() -> None:
    """Runs last: the staged runs are cached, so this costs only the rendering."""
    text = DOC.read_text(encoding="utf-8")
    for part in ("tune", "held-out"):
        assert staged.confusion(part) in text, (
            f"regenerate with: python -m tests.report.staged --table ({part})"
        )
