"""treino.load / Predictor / `treino predict`: a fresh-process round trip, the same
preprocessing as training (unseen categories, missing values, extra and missing columns),
streaming in chunks, regression and images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import treino
from treino.errors import DataError
from treino.tasks import probabilities

TRAINED: dict[Path, torch.nn.Module] = {}  # the model as training left it, in this process
FAST = {"train": {"epochs": 2, "batch_size": 16}, "log": {"plots": False, "progress": False}}


def mixed_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Numbers and categories with missing values; the class follows x1 and the color."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    x2[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], size=n).astype(object)
    color[rng.random(n) < 0.1] = None
    score = x1 + np.where(color == "red", 1.5, 0.0)
    label = np.where(score > 0.8, "high", np.where(score < -0.5, "low", "mid"))
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 2-epoch classifier on mixed_table(); returns (run folder, its training CSV)."""
    root = tmp_path_factory.mktemp("predict")
    csv = root / "train.csv"
    mixed_table().to_csv(csv, index=False)
    cfg = {"data": {"source": str(csv), "target": "label"}, **FAST}
    run = treino.train(cfg, out=root / "run", quiet=True)
    TRAINED[run.dir] = run.model.cpu().eval()
    return run.dir, csv


def test_fresh_process_predictions_equal_in_process(table_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, csv = table_run
    predictor = treino.load(run_dir, quiet=True)
    proba = predictor.predict_proba(csv)
    labels = predictor.predict(csv)
    script = (
        "import sys, numpy as np, treino\n"
        "p = treino.load(sys.argv[1], quiet=True)\n"
        "np.save(sys.argv[3], p.predict_proba(sys.argv[2]))\n"
        "np.save(sys.argv[4], p.predict(sys.argv[2]).astype(str))\n"
    )
    out_p, out_l = tmp_path / "p.npy", tmp_path / "l.npy"
    subprocess.run([sys.executable, "-c", script, str(run_dir), str(csv), out_p, out_l], check=True)
    assert np.array_equal(np.load(out_p), proba)
    assert np.array_equal(np.load(out_l), labels.astype(str))
    # ... and both equal the model training left in memory, fed the same features
    features = torch.from_numpy(np.concatenate([c.features for c in predictor.chunks(csv)]))
    with torch.inference_mode():
        trained = probabilities(TRAINED[run_dir](features), "multiclass").numpy()
    assert np.array_equal(trained, proba)
    assert set(labels) <= {"high", "low", "mid"} and proba.shape == (120, 3)
    assert predictor.classes == ["high", "low", "mid"]


def test_cli_predict_writes_ids_labels_and_probabilities(
    table_run: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir, csv = table_run
    out = tmp_path / "pred.csv"
    done = subprocess.run(
        [sys.executable, "-m", "treino", "predict", str(run_dir), str(csv), "--output", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stderr.strip() == f"wrote 120 predictions to {out}"
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["row", "prediction", "prob_high", "prob_low", "prob_mid"]
    assert frame["row"].tolist() == list(range(120))
    expected = treino.load(run_dir, quiet=True).predict_frame(csv)
    assert frame["prediction"].tolist() == expected["prediction"].tolist()
    np.testing.assert_allclose(frame["prob_mid"], expected["prob_mid"], rtol=0, atol=1e-7)


def test_unseen_category_is_unknown_and_said(
    table_run: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    predictor = treino.load(table_run[0])
    frame = pd.DataFrame({"x1": [0.1, 0.1], "x2": [5.0, 5.0], "color": ["purple", "purple"]})
    (chunk,) = list(predictor.chunks(frame))  # the note comes once the input is read through
    names = predictor.info.features
    onehot = [i for i, n in enumerate(names) if n.startswith("color=")]
    assert len(onehot) == 3 and not chunk.features[:, onehot].any()  # all-zero one-hot: unknown
    assert capsys.readouterr().err == (
        "note: input: 2 values of column 'color' were not seen in training (e.g. 'purple'): encoded as unknown\n"
    )
    assert len(predictor.predict(frame)) == 2


def test_missing_values_are_imputed(table_run: tuple[Path, Path]) -> None:
    predictor = treino.load(table_run[0], quiet=True)
    numeric = {c["name"]: c for c in predictor.preprocessing["columns"]}
    fill = numeric["x2"]["fill"]
    frame = pd.DataFrame({"x1": [0.3, 0.3], "x2": [np.nan, fill], "color": ["red", "red"]})
    x = next(predictor.chunks(frame)).features
    missing = predictor.info.features.index("x2:missing")
    assert x[0, missing] == 1.0 and x[1, missing] == 0.0
    keep = [i for i in range(x.shape[1]) if i != missing]
    assert np.array_equal(x[0, keep], x[1, keep])  # NaN became the training median
    assert np.isfinite(predictor.predict_proba(frame)).all()


def test_extra_columns_are_ignored_and_said_once(
    table_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir, csv = table_run
    frame = pd.read_csv(csv).assign(note="x", code=1)
    path = tmp_path / "extra.csv"
    frame.to_csv(path, index=False)
    predictor = treino.load(run_dir)
    rows = predictor.predict_file(path, tmp_path / "out.csv", chunk_rows=25)  # 5 chunks
    assert rows == 120
    assert (
        capsys.readouterr().err == f"note: {path}: ignoring 2 column(s) the model does not use: note, code\n"
    )
    plain = treino.load(run_dir, quiet=True).predict_proba(csv)
    assert np.array_equal(pd.read_csv(tmp_path / "out.csv")["prediction"], treino.load(run_dir).predict(csv))
    assert plain.shape == (120, 3)


def test_missing_feature_column_is_an_error_listing_it(table_run: tuple[Path, Path]) -> None:
    frame = pd.DataFrame({"x1": [0.1]})
    with pytest.raises(DataError) as caught:
        treino.load(table_run[0], quiet=True).predict(frame)
    assert str(caught.value) == (
        "input: missing input column(s) 'x2', 'color' that the model was trained on; add them (empty cells are imputed)"
    )


def test_streaming_chunks_give_the_same_predictions(table_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, csv = table_run
    predictor = treino.load(run_dir, quiet=True)
    whole = predictor.predict_frame(csv)
    predictor.predict_file(csv, tmp_path / "p.parquet", chunk_rows=7)
    streamed = pd.read_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(streamed, whole)
    predictor.predict_file(csv, tmp_path / "p.jsonl", chunk_rows=50, id_column="x1")
    lines = pd.read_json(tmp_path / "p.jsonl", lines=True)
    assert list(lines.columns[:3]) == ["x1", "row", "prediction"] and len(lines) == 120


def test_array_input_is_raw_columns(table_run: tuple[Path, Path]) -> None:
    predictor = treino.load(table_run[0], quiet=True)
    frame = pd.DataFrame({"x1": [0.5, -1.0], "x2": [1.0, 2.0], "color": ["red", "blue"]})
    assert predictor.columns == ["x1", "x2", "color"]
    as_array = predictor.predict_proba(frame[predictor.columns].to_numpy(dtype=object))
    assert np.array_equal(as_array, predictor.predict_proba(frame))
    with pytest.raises(DataError) as caught:
        predictor.predict(np.zeros((2, 5)))
    assert str(caught.value) == (
        "input array: shape (2, 5), but the model takes rows of 3 raw columns (x1, x2, color); "
        "pass (N, 3) or a DataFrame"
    )


def test_cli_predict_missing_input_is_one_line_exit_2(table_run: tuple[Path, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    done = subprocess.run(
        [sys.executable, "-m", "treino", "predict", str(table_run[0]), str(missing)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"error: {missing}: no such file; give a table file (CSV/TSV/Parquet/JSONL) or an image\n"
    )


def test_regression_predicts_values_in_target_units(tmp_path: Path) -> None:
    cfg = {"data": {"source": "houses", "n_samples": 80}, **FAST}
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    predictor = treino.load(run.dir, quiet=True)
    rooms = pd.DataFrame({"rooms": [2.0, 8.0]})
    values = predictor.predict(rooms)
    assert values.shape == (2,) and values.dtype == np.float32 and predictor.classes == []
    assert list(predictor.predict_frame(rooms).columns) == ["row", "prediction"]
    with pytest.raises(DataError) as caught:
        predictor.predict_proba(rooms)
    assert str(caught.value) == "predict_proba: the model is a regression; use predict for its values"


def test_images_from_files_equal_the_same_pixels_as_an_array(tmp_path: Path) -> None:
    from PIL import Image

    cfg = {"data": {"source": "digits"}, "model": {"channels": [4]}, **FAST}
    cfg["train"] = {"epochs": 1, "batch_size": 64}
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    predictor = treino.load(run.dir, quiet=True)
    from sklearn.datasets import load_digits

    pixels = np.round(load_digits().images[:5] / 16.0 * 255).astype(np.uint8)  # (5, 8, 8)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(pixels):
        Image.fromarray(img, mode="L").save(folder / f"{i}.png")
    from_files = predictor.predict_frame(folder)
    assert from_files["file"].tolist() == [f"{i}.png" for i in range(5)]
    from_array = predictor.predict_proba(pixels[:, None].astype(np.float32) / 255.0)
    assert np.array_equal(from_files[[f"prob_{c}" for c in predictor.classes]].to_numpy(), from_array)
    one = predictor.predict(folder / "3.png")
    assert one.tolist() == [from_files["prediction"][3]]
    # a table of image paths, relative to the table's folder, as training reads it
    pd.DataFrame({"image": [f"imgs/{i}.png" for i in range(5)]}).to_csv(tmp_path / "paths.csv", index=False)
    from_table = predictor.predict_frame(tmp_path / "paths.csv")
    assert from_table["image"].tolist() == [f"imgs/{i}.png" for i in range(5)]
    assert from_table["prediction"].tolist() == from_files["prediction"].tolist()


def test_unknown_output_format_is_refused(table_run: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "pred.xlsx"
    with pytest.raises(DataError) as caught:
        treino.load(table_run[0], quiet=True).predict_file(table_run[1], out)
    assert str(caught.value) == f"--output {out}: unknown format '.xlsx'; use .csv, .tsv, .parquet or .jsonl"
    assert not out.exists() and not list(tmp_path.iterdir())


def test_text_table_uses_the_saved_vocabulary(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good, bad = ["great", "fun", "superb"], ["awful", "dull", "boring"]
    filler = [f"word{k}" for k in range(30)]  # varied texts: the column reads as text, not a category
    rows = [(" ".join([*rng.choice(good if i % 2 else bad, 2), *rng.choice(filler, 3)]), "pos" if i % 2 else "neg")
            for i in range(80)]  # fmt: skip
    pd.DataFrame(rows, columns=["review", "sentiment"]).to_csv(tmp_path / "reviews.csv", index=False)
    cfg = {"data": {"source": str(tmp_path / "reviews.csv"), "target": "sentiment"}, **FAST}
    run = treino.train(cfg, out=tmp_path / "run", quiet=True)
    predictor = treino.load(run.dir, quiet=True)
    assert predictor.info.kind == "text" and predictor.columns == ["review"]
    frame = pd.DataFrame({"review": ["great fun film", "a zebra", None]})  # unknown words, empty text
    x = next(predictor.chunks(frame)).features
    assert x.shape == (3, len(predictor.info.features)) and not x[1:].any()  # no known word: zeros
    assert predictor.predict_proba(frame).shape == (3, 2)


def test_load_on_cuda_without_a_gpu_names_the_fix(tmp_path):
    """treino.load on cuda without a GPU raised torch's 'not compiled with CUDA' AssertionError."""
    import pytest
    import torch

    import treino
    from treino.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: cuda is a valid device here")
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="cuda")
    assert str(info.value) == (
        "treino.load: device 'cuda': no GPU is visible here; use device='cpu' "
        "(or 'auto': the GPU when there is one)"
    )
    with pytest.raises(ConfigError) as info:
        treino.load(tmp_path / "no-run", device="gpu")
    assert str(info.value) == "treino.load: device 'gpu' is not a device; use device='cpu', 'cuda' or 'auto'"
