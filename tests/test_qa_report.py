"""QA: what report.html shows for the numbers a run records."""

from __future__ import annotations

from treino.report import run_page


def test_parameter_counts_are_whole_numbers_not_scientific():
    # a 23,722-parameter CNN read "2.372e+04 parameters"
    head = run_page.model_summary({"kind": "cnn", "parameters": 23722, "summary": "..."})
    assert head.startswith("<p>cnn, 23,722 parameters</p>")


def test_timing_leaves_out_what_was_not_measured():
    # "compile seconds None" was shown for every run without train.compile
    table = run_page.timing({"timing": {"total_seconds": 1.5, "compile_seconds": None, "threads": 1}})
    assert (
        table
        == "<table><tr><td>total seconds</td><td>1.5</td></tr><tr><td>threads</td><td>1</td></tr></table>"
    )
