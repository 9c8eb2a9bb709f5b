"""docs/tutorial.ipynb, executed in a real Jupyter kernel (nbclient + ipykernel), as a learner
runs it: no error, nothing on stderr that looks like a traceback or a warning, the live display
and the figures present, and the learner's own matplotlib plot still shown after treino trained
and reported (treino once switched the notebook's inline backend off for the whole session)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).parent.parent / "docs" / "tutorial.ipynb"
pytestmark = pytest.mark.slow  # a kernel and the whole tutorial: ~40 s


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The tutorial after a run in a fresh kernel whose cwd and TMPDIR are a temporary folder."""
    folder = tmp_path_factory.mktemp("tutorial")
    patch = pytest.MonkeyPatch()
    request.addfinalizer(patch.undo)
    patch.delenv("MPLBACKEND", raising=False)  # conftest sets Agg; a kernel chooses its own (inline)
    patch.delenv("TREINO_DISPLAY", raising=False)
    patch.setenv("TMPDIR", str(folder))  # the notebook's run folders land here
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return notebook


def _outputs(notebook, source_part: str, exact: bool = False) -> list:
    cells = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and (c.source.strip() == source_part if exact else source_part in c.source)
    ]
    assert len(cells) == 1, source_part
    return cells[0].outputs


def test_the_notebook_is_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in notebook.cells
        if c.cell_type == "code"
    )


def test_no_cell_fails_or_warns(executed):
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            if out.output_type == "stream" and out.name == "stderr":
                assert "Traceback" not in out.text and "Warning" not in out.text, out.text


def test_the_live_display_and_the_figures_are_shown(executed):
    display = _outputs(executed, 'treino.train(data="iris", epochs=20')
    html = [o.data["text/html"] for o in display if o.output_type == "display_data" and "text/html" in o.data]
    live = [h for h in html if "treino-display" in h]
    assert len(live) == 1 and "<svg" in live[0]  # one area, redrawn in place, with its curves
    plot = _outputs(executed, "history.plot()")
    assert [o.output_type for o in plot] == ["execute_result"] and "image/png" in plot[0].data
    for shown in ("history", "run"):  # an object as a cell's last line shows itself
        result = [o for o in _outputs(executed, shown, exact=True) if o.output_type == "execute_result"]
        assert "data:image/png;base64," in result[0].data["text/html"]
    report = [o for o in _outputs(executed, "own.report()") if o.output_type == "execute_result"]
    assert report[0].data["text/html"].startswith("<div class='treino-page'>")


def test_early_stopping_stopped_the_overfitting_network(executed):
    text = "".join(o.get("text", "") for o in _outputs(executed, "overfit = ") if o.output_type == "stream")
    assert "diagnosis: overfitting" in text
    text = "".join(o.get("text", "") for o in _outputs(executed, "patience=5") if o.output_type == "stream")
    assert "early_stopped after" in text and "(weights restored)" in text


def test_the_learners_own_plot_still_shows_after_treino(executed):
    """treino called matplotlib.use("Agg"): a learner's plt.show() after training showed nothing."""
    outputs = _outputs(executed, "plt.show()")
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outputs)
    backend = "".join(o.text for o in outputs if o.output_type == "stream").strip()
    assert backend == "module://matplotlib_inline.backend_inline"
