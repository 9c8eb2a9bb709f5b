"""docs/config.md is generated from the schema and the registries; this fails when it is stale."""

from pathlib import Path

from treino.config.doc import render
from treino.run.names import available, reference


def test_config_reference_is_current():
    page = Path(__file__).parents[2] / "docs" / "config.md"
    assert page.read_text(encoding="utf-8") == reference(), (
        "docs/config.md is stale: run `python -m treino.run.names > docs/config.md`"
    )


def test_every_key_is_listed():
    text = reference()
    for key in (
        "`train.batch_size`",
        "`optimizer.lr`",
        "`train.early_stopping.patience`",
        "`data.split.val`",
    ):
        assert key in text


def test_every_registered_name_is_listed_as_its_keys_type():
    text = reference()
    for key, names in available().items():
        listed = " \\| ".join(names)  # a table cell escapes its bars
        assert f"| `{key}` | `{listed}` |" in text


def test_without_names_a_name_key_reads_as_text():
    assert "| `optimizer.name` | `str` |" in render()
