"""What predict and evaluate read: the files and folders users give them, read as training read them, never overwritten."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A regression run trained on a CSV, in a folder beside its train.csv."""
    import treino

    root = tmp_path_factory.mktemp("csv_run")
    frame = pd.DataFrame({"a": range(40), "b": [i % 7 for i in range(40)]})
    frame["y"] = frame.a * 0.5 + frame.b
    frame.to_csv(root / "train.csv", index=False)
    treino.train(None, {"data.source": str(root / "train.csv"), "data.target": "y", "train.epochs": 1},
                 out=root / "run", quiet=True)  # fmt: skip
    return root


def test_output_that_is_the_input_file_is_refused(cli, csv_run):
    """`predict RUN data.csv --output data.csv` replaced the data with the predictions."""
    data = csv_run / "train.csv"
    before = data.read_text()
    result = cli(["predict", csv_run / "run", data, "--output", data])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: --output {data}: is the input file itself (the predictions would replace it); "
        f"write them to another file"
    )
    assert data.read_text() == before


def test_evaluate_on_a_table_prints_no_torch_warning(csv_run):
    """A regression target handed torch a read-only array: a 'not writable' UserWarning on stderr."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "treino",
            "evaluate",
            str(csv_run / "run"),
            "--data",
            str(csv_run / "train.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr


def test_a_folder_given_to_a_table_model_is_not_called_missing(cli, csv_run):
    """A folder given to a table model was called 'no such file' though it exists."""
    folder = csv_run / "photos"
    folder.mkdir(exist_ok=True)
    result = cli(["predict", csv_run / "run", folder])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {folder}: is a folder, but this model takes a table file (CSV/TSV/Parquet/JSONL)"
    )


def test_predict_on_a_latin1_csv_says_the_same(tmp_path):
    """predict on a Latin-1 CSV is named 'not UTF-8', as training does, not 'binary'."""
    import pytest

    from treino.errors import DataError
    from treino.serve.inputs import _file_frames

    path = tmp_path / "novos.csv"
    path.write_bytes("cidade,área\nBogotá,1\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        list(_file_frames(path, 100))
    assert str(info.value) == (
        f"{path}: not UTF-8 text (byte 0xe1 cannot be decoded; saved as Latin-1/Windows-1252?); "
        f"save the file as UTF-8 (Excel: 'CSV UTF-8')"
    )


def test_predict_reads_a_trailing_separator_table_as_training_does(tmp_path):
    """predict read a trailing-separator table shifted, unlike training."""
    from treino.serve.inputs import _file_frames

    path = tmp_path / "trailing.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i * 2},\n" for i in range(5)))
    frame = next(_file_frames(path, 100))
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == list(range(5))


def test_predict_reads_npz_arrays_as_evaluate_does(cli, tmp_path):
    """`treino predict RUN x.npz` said 'unknown table format .npz' though training and evaluate read it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    np.savez(tmp_path / "new.npz", x=x[:5])
    out = tmp_path / "r"
    result = cli(["train", "--data", tmp_path / "train.npz", "--set", "train.epochs=1", "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    result = cli(["predict", out, tmp_path / "new.npz", "--output", tmp_path / "p.csv", "-q"])
    assert result.exit_code == 0, result.output
    import treino

    predictor = treino.load(out)
    written = pd.read_csv(tmp_path / "p.csv")
    assert written["prediction"].astype(str).tolist() == predictor.predict(x[:5]).tolist()
    np.savez(tmp_path / "wide.npz", x=x[:, :2])
    result = cli(["predict", out, tmp_path / "wide.npz"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'wide.npz'}: array 'x' has shape (40, 2), but the model takes rows of 3 raw "
        f"columns (x0, x1, x2); save (N, 3) as x"
    )
    np.savez(tmp_path / "labels.npz", y=np.zeros(3))
    result = cli(["predict", out, tmp_path / "labels.npz"])
    assert result.output.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'labels.npz'}: arrays y; name the input array x (or images)"
    )


def test_predict_reads_npz_images_at_the_models_size(cli, tmp_path):
    """predict on .npz images reads them as training did, resized to the model's size."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(24, 8, 8), dtype=np.uint8)  # (N, H, W) 0..255, as saved
    np.savez(tmp_path / "train.npz", images=images, labels=np.arange(24) % 2)
    np.savez(tmp_path / "new.npz", images=rng.integers(0, 256, size=(3, 16, 16), dtype=np.uint8))
    out = tmp_path / "r"
    args = ["--set", "train.epochs=1", "--set", "model.kind=mlp", "--set", "model.hidden=[4]"]
    result = cli(["train", "--data", tmp_path / "train.npz", *args, "--out", out, "-q"])
    assert result.exit_code == 0, result.output
    import treino

    predictor = treino.load(out)
    assert predictor.predict(tmp_path / "new.npz").shape == (3,)  # resized 16x16 -> 8x8
    direct = predictor.predict_proba(tmp_path / "train.npz")
    again = predictor.predict_proba(images[:, None].astype(np.float32) / 255)
    np.testing.assert_allclose(direct, again, rtol=1e-5)
