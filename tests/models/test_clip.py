"""model.clip_inputs: an MLP on a table clamps each input to the train split's range, so a
wild value in new data (a typo, a unit error) cannot send its prediction far off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from treino.models.mlp import MLP


def test_bounded_mlp_clamps_to_the_fitted_range():
    torch.manual_seed(0)
    mlp = MLP((2,), 1, [8], bounded=True)
    mlp.fit_range(torch.tensor([[0.0, -1.0], [1.0, 3.0]]))
    assert mlp.low.tolist() == [0.0, -1.0] and mlp.high.tolist() == [1.0, 3.0]
    edge = mlp(torch.tensor([[1.0, 3.0]]))
    assert torch.equal(mlp(torch.tensor([[50.0, 1e6]])), edge)  # beyond the range: its edge
    inside = torch.tensor([[0.3, 0.5]])
    plain = MLP((2,), 1, [8])
    plain.load_state_dict({k: v for k, v in mlp.state_dict().items() if k not in ("low", "high")})
    assert torch.equal(mlp(inside), plain(inside))  # inside the range: untouched


def test_unfitted_bounded_mlp_is_unbounded():
    mlp = MLP((3,), 2, [4], bounded=True)
    x = torch.randn(5, 3) * 1e3
    assert torch.equal(mlp(x), mlp.out(mlp.body(x)))


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 300)
    pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.1, 300)}).to_csv(root / "line.csv", index=False)
    return root


@pytest.mark.parametrize("clip", [True, False])
def test_prediction_far_outside_the_training_range(line, clip):
    import treino

    out = line / f"run-{clip}"
    overrides = {"data.source": str(line / "line.csv"), "data.target": "y", "train.epochs": 30,
                 "model.clip_inputs": clip}  # fmt: skip
    treino.train(None, overrides, out=out, quiet=True)
    model = treino.load(out)
    at_edge, far = model.predict(pd.DataFrame({"x": [10.0, 1000.0]})).reshape(-1)
    if clip:  # 1000 is read as 10, the largest x seen in training
        assert far == pytest.approx(at_edge, abs=1e-4) and 15 < at_edge < 25
    else:  # the ReLU network extrapolates along its last linear piece
        assert far > 10 * at_edge


def test_range_of_a_sparse_matrix_counts_its_unstored_zeros():
    dense = torch.tensor([[0.0, 2.0, -1.0], [3.0, 5.0, 0.0], [1.0, 4.0, 0.0]])
    from_sparse, from_dense = MLP((3,), 1, [2], bounded=True), MLP((3,), 1, [2], bounded=True)
    from_sparse.fit_range(dense.to_sparse_csr())
    from_dense.fit_range(dense)
    assert from_sparse.low.tolist() == from_dense.low.tolist() == [0.0, 2.0, -1.0]
    assert from_sparse.high.tolist() == from_dense.high.tolist() == [3.0, 5.0, 0.0]


def test_table_with_text_held_sparse_trains(tmp_path, cli):
    # a text column beside a numeric one, held sparse: the input range read the CSR matrix (crashed)
    rng = np.random.default_rng(0)
    words = "good bad great awful fine poor nice terrible ok superb dull fun".split()
    frame = pd.DataFrame(
        {"text": [" ".join(rng.choice(words, 6)) for _ in range(120)], "num": rng.normal(size=120)}
    )
    frame["y"] = (frame.text.str.count("good|great|nice") + frame.num > 1).astype(int)
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    result = cli(["train", "--data", tmp_path / "mixed.csv", "--target", "y", "--set", "data.text.sparse=true",
                  "--set", "train.epochs=2", "--set", "log.plots=false", "--out", tmp_path / "run", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
