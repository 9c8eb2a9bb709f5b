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
