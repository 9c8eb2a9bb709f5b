"""model.kind rnn exported to ONNX: onnxruntime gives PyTorch's outputs (within 1e-4) for float
windows and for token ids, at any batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from text_data import reviews

import treino
from treino.errors import ModelError
from treino.serve.export import export

pytest.importorskip("onnxruntime")


def check_batches(path, predictor, features: np.ndarray) -> None:
    """The exported graph on batches of 1, 3 and all rows, against the model in PyTorch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = predictor.outputs(torch.from_numpy(features)).numpy()
    for n in (1, 3, len(features)):
        got = session.run(["output"], {"features": features[:n]})[0]
        np.testing.assert_allclose(got, expected[:n], rtol=0, atol=1e-4)


def test_an_lstm_on_float_sequences_exports(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 8, 3)).astype(np.float32)
    np.savez(tmp_path / "s.npz", x=x, y=x[:, :, 0].sum(1))
    result = cli(["train", "--data", tmp_path / "s.npz", "--set", "model.hidden=8", "--set", "model.layers=2",
                  "--set", "train.epochs=1", "--set", "log.plots=false", "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    done = export(tmp_path / "run")
    assert done.max_abs_diff <= 1e-4 and done.exporter == "dynamo"
    predictor = treino.load(tmp_path / "run")
    check_batches(done.path, predictor, next(predictor.chunks(x[:7])).features)
    with pytest.raises(ModelError) as err:
        export(tmp_path / "run", with_preprocessing=True)
    assert str(err.value) == (
        "--with-preprocessing: for tables and images; a sequence model's graph takes the scaled steps "
        "(features), as treino.load(run).chunks gives them; export without it"
    )


def test_a_bidirectional_gru_on_token_ids_exports(cli, tmp_path):
    reviews(100).to_csv(tmp_path / "reviews.csv", index=False)
    result = cli(["train", "--data", tmp_path / "reviews.csv", "--target", "label", "--set", "data.text.mode=tokens",
                  "--set", "data.text.min_df=1", "--set", "data.text.max_length=16", "--set", "model.kind=rnn",
                  "--set", "model.cell=gru", "--set", "model.bidirectional=true", "--set", "model.hidden=8",
                  "--set", "model.embed_dim=4", "--set", "train.epochs=1", "--set", "log.plots=false",
                  "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    done = export(tmp_path / "run")
    assert (
        done.max_abs_diff <= 1e-4 and done.exporter == "torchscript"
    )  # packed sequences: torch.export cannot
    predictor = treino.load(tmp_path / "run")
    ids = next(predictor.chunks(reviews(7, seed=3)[["review"]])).features
    ids[2, 1:] = 0  # a one-word text and an empty one: lengths 1
    ids[4, :] = 0
    check_batches(done.path, predictor, ids)
