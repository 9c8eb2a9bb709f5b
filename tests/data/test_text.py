"""Text: TF-IDF rebuilt from its JSON state equals scikit-learn's, token ids for the text
model, a folder of .txt files, and a text table that trains with zero config."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from text_data import reviews

from treino.config import DataConfig
from treino.data.load import load
from treino.data.preprocess import transform_frame
from treino.data.text import PAD, UNKNOWN, TextEncoder


def _load(source, **kw):
    return load(DataConfig(source=str(source), **kw), torch.Generator().manual_seed(0), 0)


def test_tfidf_from_json_equals_scikit_learn():
    docs = reviews(40)["review"]
    enc = TextEncoder.fit(docs, "tfidf", max_features=50, ngrams=(1, 2), min_df=2)
    state = json.loads(json.dumps(enc.state))
    ref = TfidfVectorizer(ngram_range=(1, 2), max_features=50, min_df=2, dtype=np.float32).fit(docs)
    assert state["vocabulary"] == ref.get_feature_names_out().tolist()
    new = pd.Series(["a great film", "boring, boring plot", None])
    got = TextEncoder(state).transform(new)
    want = ref.transform(["a great film", "boring, boring plot", ""]).toarray()
    assert np.allclose(got, want, atol=1e-6) and got.dtype == np.float32


def test_token_ids_pad_and_unknown():
    enc = TextEncoder.fit(pd.Series(["good film", "bad film", "good plot"]), "tokens", min_df=1, max_length=4)
    assert enc.state["vocabulary"] == ["film", "good", "bad", "plot"]  # most frequent first
    ids = enc.transform(pd.Series(["good zebra film film film", ""]))
    assert ids.tolist() == [[3, UNKNOWN, 2, 2], [PAD] * 4]
    assert enc.vocab_size == 6


def test_text_table_is_text_kind_and_tokens_mode(tmp_path):
    reviews().to_csv(tmp_path / "r.csv", index=False)
    data = _load(tmp_path / "r.csv", target="label")
    assert data.info.kind == "text" and data.info.text_mode == "tfidf"
    assert data.preprocessing["kind"] == "text" and data.train.x.dtype == torch.float32
    x = transform_frame(json.loads(json.dumps(data.preprocessing)), reviews(5, seed=9), "new.csv")
    assert x.shape == (5, data.info.input_shape[0])
    tokens = _load(tmp_path / "r.csv", target="label", text={"mode": "tokens", "max_length": 12})
    assert tokens.info.text_mode == "tokens" and tokens.train.x.dtype == torch.int64
    vocabulary = tokens.preprocessing["columns"][0]["text"]["vocabulary"]
    assert tokens.info.input_shape == (12,) and tokens.info.vocab_size == len(vocabulary) + 2
    assert int(tokens.train.x.max()) < tokens.info.vocab_size


def test_folder_of_text_files(tmp_path):
    frame = reviews(30)
    for i, (text, label) in enumerate(frame.itertuples(index=False)):
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / f"{i}.txt").write_text(text)
    data = _load(tmp_path)
    assert data.info.kind == "text" and data.info.classes == ["neg", "pos"]


@pytest.mark.parametrize("kind", ["mlp", "auto"])
def test_text_table_trains_with_tfidf(cli, tmp_path, kind):
    reviews(300).to_csv(tmp_path / "r.csv", index=False)
    result = cli(["train", "--data", tmp_path / "r.csv", "--target", "label", "--out", tmp_path / "run", "-q",
                  "--set", f"model.kind={kind}", "--set", "train.epochs=15", "--set", "log.plots=false"])  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.9  # two sentiment words per review decide the label
