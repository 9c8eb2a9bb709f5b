"""The model summary: layers, output shapes, parameters, FLOPs; printed by `treino train`."""

from __future__ import annotations

import torch
from torch import nn

from treino.models.cnn import CNN
from treino.models.mlp import MLP
from treino.models.summary import format_summary, summarize
from treino.models.text import TokenBag


def test_summary_of_an_mlp():
    s = summarize(MLP((64,), 10, [32]), torch.zeros(2, 64))
    assert s["parameters"] == s["trainable"] == 2410
    assert s["flops_per_sample"] == 2 * (64 * 32 + 32 * 10)  # 2 FLOPs per multiply-add
    assert [(layer["name"], layer["type"], layer["output_shape"], layer["parameters"], layer["flops"])
            for layer in s["layers"]] == [
        ("body.0", "Linear", [32], 64 * 32 + 32, 2 * 64 * 32),
        ("body.1", "ReLU", [32], 0, 0),
        ("out", "Linear", [10], 330, 2 * 32 * 10),
    ]  # fmt: skip
    assert format_summary(s, "mlp") == (
        "model: mlp, 2,410 parameters, 4.7K FLOPs per sample\n"
        "  layer   type        output   params    FLOPs\n"
        "  body.0  Linear          32     2.1K     4.1K\n"
        "  out     Linear          10      330      640"
    )


def test_summary_of_a_cnn_counts_convolutions_per_output_pixel():
    s = summarize(CNN((1, 8, 8), 10, [32, 64], hidden=[64], head="global"), torch.zeros(2, 1, 8, 8))
    by_name = {layer["name"]: layer for layer in s["layers"]}
    assert by_name["features.0"]["output_shape"] == [32, 8, 8]
    assert by_name["features.0"]["flops"] == 2 * (1 * 3 * 3) * 32 * (8 * 8)
    assert by_name["features.3"]["output_shape"] == [32, 4, 4]  # max pooling halves
    assert by_name["features.4"]["flops"] == 2 * (32 * 3 * 3) * 64 * (4 * 4)
    assert by_name["pool"]["output_shape"] == [64, 1, 1]
    assert s["parameters"] == 23_722
    assert s["flops_per_sample"] == sum(layer["flops"] for layer in s["layers"])


def test_summary_leaves_the_model_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 4)
    rng = torch.get_rng_state()
    s = summarize(model, x)
    assert model.training  # train mode restored
    assert torch.equal(torch.get_rng_state(), rng)  # no dropout draw
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # batch-norm statistics unchanged
    assert [layer["name"] for layer in s["layers"]] == ["0", "1", "2", "3"]


def test_summary_of_token_ids():
    s = summarize(TokenBag(100, 3, embed_dim=8, hidden=[]), torch.zeros(2, 5, dtype=torch.long))
    assert s["layers"][0] == {"name": "embed", "type": "EmbeddingBag", "output_shape": [8],
                              "parameters": 800, "flops": 0}  # fmt: skip
    assert s["input_shape"] == [5]


def test_cli_prints_the_summary(cli, tmp_path):
    result = cli(["train", "--data", "iris", "--set", "model.kind=mlp", "--set", "model.hidden=[16]",
                  "--set", "train.epochs=1", "--set", "log.plots=false", "--out", tmp_path / "run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "model: mlp, 131 parameters, 224 FLOPs per sample" in result.output  # 2 * (4*16 + 16*3)
    assert "  body.0  Linear          16       80      128" in result.output


def test_summary_counts_recurrent_layers_by_hand():
    """Regression: torch's counter saw nothing inside the fused LSTM kernel (an LSTM model counted 32 FLOPs)."""
    from treino.models.rnn import RNN

    for cell, gates in (("lstm", 4), ("gru", 3), ("rnn", 1)):
        s = summarize(RNN(8, 3, hidden=64, cell=cell), torch.zeros(2, 30, 8))
        by_name = {layer["name"]: layer for layer in s["layers"]}
        per_step = gates * (8 * 64 + 64 * 64)  # multiply-adds: input->gates and state->gates
        assert by_name["rnn"]["flops"] == 2 * per_step * 30, cell
        assert by_name["rnn"]["parameters"] == gates * (8 * 64 + 64 * 64 + 2 * 64)
        assert s["flops_per_sample"] == 2 * per_step * 30 + 2 * 64 * 3  # + the head
    # 2 layers x 2 directions: the second layer reads both directions of the first (2 x 16 inputs)
    s = summarize(RNN(4, 1, hidden=16, layers=2, bidirectional=True, cell="gru"), torch.zeros(2, 10, 4))
    per_step = 2 * 3 * (4 * 16 + 16 * 16) + 2 * 3 * (32 * 16 + 16 * 16)
    assert s["flops_per_sample"] == 2 * per_step * 10 + 2 * 32 * 1


def test_summary_of_token_ids_counts_the_steps_run_not_the_padding():
    from treino.models.rnn import RNN

    net = RNN(None, 1, hidden=16, vocab_size=50, embed_dim=8)
    ids = torch.zeros(2, 40, dtype=torch.long)
    ids[0, :6], ids[1, :10] = 3, 4  # 16 true tokens in all; 64 padding ids are never run
    s = summarize(net, ids)
    assert s["flops_per_sample"] == (2 * 4 * (8 * 16 + 16 * 16) * 16) // 2 + 2 * 16
    assert "rnn    LSTM" in format_summary(s, "rnn")
