"""QA: `treino predict` must not destroy what it reads."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    import treino

    root = tmp_path_factory.mktemp("qa_predict")
    frame = pd.DataFrame({"a": range(40), "b": [i % 7 for i in range(40)]})
    frame["y"] = frame.a * 0.5 + frame.b
    frame.to_csv(root / "train.csv", index=False)
    treino.train(None, {"data.source": str(root / "train.csv"), "data.target": "y", "train.epochs": 1},
                 out=root / "run", quiet=True)  # fmt: skip
    return root


def test_output_that_is_the_input_file_is_refused(cli, table_run):
    # `treino predict RUN data.csv --output data.csv` replaced the data with the predictions
    data = table_run / "train.csv"
    before = data.read_text()
    result = cli(["predict", table_run / "run", data, "--output", data])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --output {data}: is the input file itself (the predictions would replace it); "
        f"write them to another file"
    )
    assert data.read_text() == before


def test_evaluate_on_a_table_prints_no_torch_warning(table_run):
    # a regression target handed torch a read-only array: "UserWarning: The given NumPy array is
    # not writable ..." on stderr. A fresh process: torch warns about it once per process.
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "treino",
            "evaluate",
            str(table_run / "run"),
            "--data",
            str(table_run / "train.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr


def test_a_folder_given_to_a_table_model_is_not_called_missing(cli, table_run):
    # "photos: no such file" for a folder that exists: the model takes a table, not a folder
    folder = table_run / "photos"
    folder.mkdir(exist_ok=True)
    result = cli(["predict", table_run / "run", folder])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {folder}: is a folder, but this model takes a table file (CSV/TSV/Parquet/JSONL)"
    )
