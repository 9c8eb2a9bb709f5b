"""docs/config.md is generated from the schema; this fails when it is stale."""

from pathlib import Path

from treino.config.doc import render


def test_config_reference_is_current():
    page = Path(__file__).parent.parent / "docs" / "config.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/config.md is stale: run `python -m treino.config.doc > docs/config.md`"
    )


def test_every_key_is_listed():
    text = render()
    for key in (
        "`train.batch_size`",
        "`optimizer.lr`",
        "`train.early_stopping.patience`",
        "`data.split.val`",
    ):
        assert key in text
