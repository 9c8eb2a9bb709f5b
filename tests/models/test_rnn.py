"""model.kind rnn: shapes for every cell, padding that never reaches the state, a sequence task
learnt, token text read in order end to end, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from text_data import reviews

import treino
from treino import models
from treino.config import ModelConfig
from treino.data.info import DataInfo
from treino.errors import ConfigError
from treino.models.rnn import RNN

CELLS = ["lstm", "gru", "rnn"]


def windows_info(task: str = "multiclass", shape: tuple[int, int] = (30, 8), **kw) -> DataInfo:
    classes = ["a", "b", "c"] if task == "multiclass" else ["no", "yes"] if task == "binary" else []
    return DataInfo(task=task, kind="sequence", input_shape=shape, classes=classes, targets=["y"],
                    source="seq.npz", **kw)  # fmt: skip


def tokens_info(vocab: int = 50, length: int = 12) -> DataInfo:
    return DataInfo(task="binary", kind="text", input_shape=(length,), classes=["neg", "pos"],
                    targets=["label"], source="reviews.csv", text_mode="tokens", vocab_size=vocab)  # fmt: skip


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_for_every_cell_depth_and_direction(cell, layers, bidirectional):
    cfg = ModelConfig(kind="rnn", cell=cell, layers=layers, bidirectional=bidirectional, hidden=[16])
    net = models.build(cfg, windows_info())
    assert net(torch.randn(5, 30, 8)).shape == (5, 3)
    recurrent = net.rnn
    assert isinstance(recurrent, models.CELLS.get(cell))
    assert (recurrent.num_layers, recurrent.bidirectional, recurrent.hidden_size) == (
        layers,
        bidirectional,
        16,
    )
    assert net.out.in_features == 16 * (2 if bidirectional else 1)  # both last states when bidirectional
    words = models.build(cfg.model_copy(update={"embed_dim": 8}), tokens_info())
    assert words(torch.randint(0, 50, (4, 12))).shape == (4, 1)
    assert words.embed.padding_idx == 0 and words.embed.embedding_dim == 8


def test_outputs_follow_the_task_and_forecast_horizon():
    series = DataInfo(task="regression", kind="series", input_shape=(24, 3), targets=["a", "b"], window=24,
                      horizon=6, source="sales.csv")  # fmt: skip
    assert models.resolve_kind(ModelConfig(), series) == "rnn"
    assert models.resolve_kind(ModelConfig(), windows_info()) == "rnn"
    net = models.build(ModelConfig(), series)
    assert net(torch.randn(2, 24, 3)).shape == (2, 12)  # horizon x targets, flat


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_output(cell, bidirectional):
    torch.manual_seed(0)
    net = RNN(None, 3, hidden=16, layers=2, cell=cell, bidirectional=bidirectional, vocab_size=50,
              embed_dim=8).eval()  # fmt: skip
    ids = torch.tensor([[5, 9, 2, 7, 0, 0], [7, 3, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4]])
    with torch.no_grad():
        out = net(ids)
        wider = net(torch.cat([ids, torch.zeros(3, 9, dtype=torch.long)], 1))  # more padding at the end
        alone = torch.cat([net(row[row != 0][None]) for row in ids])  # each text unpadded, alone
    torch.testing.assert_close(wider, out, rtol=0, atol=1e-6)
    torch.testing.assert_close(alone, out, rtol=0, atol=1e-6)


def test_a_row_of_padding_only_still_gets_an_output():
    net = RNN(None, 2, hidden=8, vocab_size=20, embed_dim=4, bidirectional=True).eval()
    out = net(torch.tensor([[0, 0, 0], [3, 0, 0]]))
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_an_lstm_learns_the_sign_of_a_sum():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 12, 2, generator=g)
    y = (x[:, :, 0].sum(1) > 0).float()  # the first feature's sum, over all steps
    torch.manual_seed(0)
    net = RNN(2, 1, hidden=32)
    treino.fit(net, (x[:1000], y[:1000]), loss="bce", epochs=12, batch_size=32, lr=0.01, verbose=0)
    with torch.no_grad():
        accuracy = ((net(x[1000:])[:, 0] > 0).float() == y[1000:]).float().mean().item()
    assert accuracy > 0.9


def test_token_text_through_treino_train_reads_words_in_order(cli, tmp_path):
    reviews(160).to_csv(tmp_path / "reviews.csv", index=False)
    result = cli(["train", "--data", tmp_path / "reviews.csv", "--target", "label", "--set", "data.text.mode=tokens",
                  "--set", "data.text.min_df=1", "--set", "model.kind=rnn", "--set", "model.cell=gru",
                  "--set", "model.hidden=16", "--set", "model.embed_dim=8", "--set", "train.epochs=2",
                  "--set", "log.plots=false", "--out", tmp_path / "run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "model: rnn, " in result.output
    assert "  rnn    GRU " in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "completed" and "accuracy" in metrics["test"]
    predicted = treino.load(tmp_path / "run").predict(reviews(6, seed=1)[["review"]])
    assert set(predicted) <= {"pos", "neg"} and len(predicted) == 6


@pytest.mark.parametrize(
    ("cfg", "data", "message"),
    [
        (
            {"cell": "lsmt"},
            windows_info(),
            "model.cell: unknown recurrent cell 'lsmt' (did you mean 'lstm'?); choose one of: lstm, gru, rnn",
        ),
        (
            {"hidden": [64, 32]},
            windows_info(),
            "model.hidden: rnn takes one state size, a positive number (got [64, 32]); e.g. model.hidden=64, "
            "and stack recurrent layers with model.layers",
        ),
        (
            {},
            DataInfo(task="binary", kind="table", input_shape=(7,), classes=["a", "b"], source="t.csv"),
            "model.kind: rnn needs sequences (T, F) or token ids but t.csv gives rows of 7 features; use mlp, "
            "or give sequences (an .npz of x (N, T, F), data.series or data.text.mode: tokens)",
        ),
        (
            {},
            DataInfo(
                task="binary",
                kind="text",
                input_shape=(500,),
                classes=["a", "b"],
                source="r.csv",
                text_mode="tfidf",
            ),
            "model.kind: rnn reads words in order, but TF-IDF features have none; set data.text.mode: tokens",
        ),
        (
            {},
            DataInfo(
                task="multiclass", kind="image", input_shape=(1, 8, 8), classes=list("abc"), source="digits"
            ),
            "model.kind: rnn needs sequences (T, F) but digits gives images; use cnn",
        ),
    ],
)
def test_build_errors_are_one_line(cfg, data, message):
    with pytest.raises(ConfigError) as err:
        models.build(ModelConfig(kind="rnn", **cfg), data)
    assert str(err.value) == message


def test_config_errors_are_one_line(cli, tmp_path):
    result = cli(["train", "--set", "model.layers=0", "--out", tmp_path / "r"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: config: model.layers: input should be greater than or equal to 1 (got 0)"
    )
    result = cli(["train", "--set", "model.cell=gruu", "--out", tmp_path / "r"])
    assert result.output.strip().splitlines()[-1] == (
        "error: model.cell: unknown recurrent cell 'gruu' (did you mean 'gru'?); choose one of: lstm, gru, rnn"
    )


def test_one_number_of_hidden_is_a_list_of_one():
    assert ModelConfig(hidden=48).hidden == [48]
    net = models.build(ModelConfig(kind="rnn", hidden=48), windows_info())
    assert net.rnn.hidden_size == 48


def test_dropout_sits_between_layers_and_before_the_head():
    net = models.build(ModelConfig(kind="rnn", layers=3, dropout=0.25), windows_info())
    assert net.rnn.dropout == 0.25 and net.drop.p == 0.25
    one = models.build(ModelConfig(kind="rnn", layers=1, dropout=0.25), windows_info())
    assert one.rnn.dropout == 0.0 and one.drop.p == 0.25  # no torch warning about a lone layer
    assert np.isclose(sum(p.numel() for p in one.parameters()), 4 * (8 * 64 + 64 * 64 + 2 * 64) + 64 * 3 + 3)


def test_a_cnn_on_sequences_points_to_rnn():
    with pytest.raises(ConfigError) as err:
        models.build(ModelConfig(kind="cnn"), windows_info(shape=(5, 1)))
    assert str(err.value) == (
        "model.kind: cnn needs images (C, H, W) but seq.npz gives sequences of 5 steps x 1 features; use rnn (or mlp)"
    )
