"""treino.fit on what users hand it: numpy float64, pandas frames, DataLoaders, odd shapes and names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import treino
from treino.errors import TreinoError


def _xy(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))  # float64, numpy's default
    return x, x @ np.array([1.0, 2.0, 3.0])


def test_fit_takes_float64_numpy_arrays():
    """numpy's default float64 arrays train as float32, not a dtype error."""
    x, y = _xy()
    torch.manual_seed(0)
    history = treino.fit(nn.Linear(3, 1), (x, y), (x, y), loss="mse", epochs=2, batch_size=8)
    assert len(history.epochs) == 2
    assert np.isfinite(history.frame()["val_loss"]).all()


def test_fit_takes_a_pandas_frame_and_series():
    """A pandas DataFrame and Series are taken as (x, y), not refused."""
    x, y = _xy()
    frame, series = pd.DataFrame(x, columns=["a", "b", "c"]), pd.Series(y, name="y")
    history = treino.fit(nn.Linear(3, 1), (frame, series), loss="mse", epochs=1, batch_size=8)
    assert len(history.epochs) == 1


def test_fit_refuses_a_batch_size_of_zero():
    """batch_size=0 is refused in one line before any batch is drawn."""
    x, y = _xy()
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(3, 1), (x, y), loss="mse", epochs=1, batch_size=0)
    assert str(info.value) == "batch_size 0: must be a positive number of rows or 'full'"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_asked_for_without_a_gpu_is_one_line(cli, tmp_path):
    """device cuda without a GPU ended in torch's 'not compiled with CUDA' traceback."""
    text = "device 'cuda': no GPU is visible here; use train.device auto or cpu (treino.fit: device='cpu')"
    result = cli(["train", "--data", "iris", "--set", "train.device=cuda", "--out", tmp_path / "r", "-q"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == f"error: {text}"
    x, y = _xy()
    with pytest.raises(TreinoError) as info:
        treino.fit(nn.Linear(3, 1), (x, y), loss="mse", epochs=1, device="cuda")
    assert str(info.value) == text


def test_an_optimizer_over_another_model_is_refused():
    """An optimizer built over another model trained nothing, silently."""
    x, y = _xy()
    other = nn.Linear(3, 1)
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(3, 1), (x, y), loss="mse", optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    assert str(info.value) == (
        "optimizer: it holds none of the model's parameters; build it from this model, e.g. "
        "torch.optim.SGD(model.parameters(), lr=0.01)"
    )


def test_a_dataloader_of_dicts_says_what_a_batch_must_be():
    """A DataLoader of dicts failed with "'str' object has no attribute 'to'"."""
    from torch.utils.data import DataLoader, Dataset

    x, y = (torch.as_tensor(v, dtype=torch.float32) for v in _xy())

    class Rows(Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return {"x": x[i], "y": y[i]}

    with pytest.raises(TypeError) as info:
        treino.fit(nn.Linear(3, 1), DataLoader(Rows(), batch_size=8), loss="mse", epochs=1)
    assert str(info.value) == (
        "a DataLoader batch must be (x, y), but it is a dict with keys 'x', 'y'; make the Dataset "
        "return (x, y) pairs (or give a collate_fn that does)"
    )


def test_an_unknown_loss_name_is_one_line():
    """An unknown loss name raised pydantic's multi-line ValidationError."""
    x, y = _xy()
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(3, 1), (x, y), loss="mse2", epochs=1)
    assert str(info.value) == (
        "loss 'mse2': unknown (did you mean 'mse'?); use one of auto, mse, l1, huber, bce, cross_entropy, "
        "or a torch loss module"
    )


def test_a_batch_size_that_is_neither_a_number_nor_full():
    """A batch_size that is neither a number nor 'full' is refused in one line."""
    x, y = _xy()
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(3, 1), (x, y), loss="mse", epochs=1, batch_size="all")
    assert str(info.value) == "batch_size 'all': must be a positive number of rows or 'full'"


@pytest.mark.parametrize(
    ("outputs", "loss", "y", "message"),
    [
        # trained a whole epoch on a broadcast MSE (torch only warned), then failed in the metrics
        # with "shape '[32, 2]' is invalid for input of size 32"
        (2, "mse", "values", "the model outputs (2, 2) for 2 rows but the targets are (2, 1); make its last layer "
                             "output 1 value per row"),
        (3, "bce", "classes", "the model outputs (2, 3) for 2 rows but the targets are (2, 1); make its last layer "
                              "output 1 logit per row"),
        (1, "cross_entropy", "classes", "the model outputs 1 logit per row but the targets hold class 1 "
                                        "(2 classes); make its last layer output at least 2"),
    ],
)  # fmt: skip
def test_a_model_output_that_does_not_fit_the_targets_fails_before_training(outputs, loss, y, message):
    """Outputs that do not fit the targets trained an epoch on a broadcast loss, then crashed."""
    x, values = _xy()
    target = values if y == "values" else (values > 0).astype(np.int64)
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(3, outputs), (x, target), loss=loss, epochs=1, batch_size=8)
    assert str(info.value) == message


def test_a_flat_regression_output_would_broadcast_and_is_refused():
    """(N,) outputs against (N, 1) targets broadcast MSE to (N, N) with only a warning."""
    x, y = _xy()
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)), (x, y), loss="mse", epochs=1)
    assert str(info.value) == (
        "the model outputs (2,) for 2 rows but the targets are (2, 1); make its last layer output 1 value per row"
    )


def test_a_loss_of_the_users_own_may_take_other_output_shapes():
    """The output-shape check must not refuse a user's own loss (e.g. mean and log-variance)."""

    class GaussianNLL(nn.Module):
        def forward(self, out, y):
            mean, log_var = out[:, :1], out[:, 1:]
            return (log_var + (y - mean) ** 2 / log_var.exp()).mean() / 2

    x, y = _xy()
    history = treino.fit(
        nn.Linear(3, 2), (x, y), loss=GaussianNLL(), epochs=1, batch_size=8, train_metrics=False
    )
    assert len(history.epochs) == 1


def test_fit_casts_integer_inputs_for_a_float_model_and_keeps_token_ids():
    """Integer inputs failed deep in torch (mat1 and mat2 dtype); token ids for embeddings stay integer."""
    import torch
    from torch import nn

    import treino

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 5, (40, 3), generator=g)  # counts: int64
    y = torch.randint(0, 2, (40,), generator=g)
    trained = []
    for inputs in (x, x.float(), x.numpy().astype("int32"), x > 2):
        torch.manual_seed(0)
        net = nn.Linear(3, 2)
        treino.fit(net, (inputs, y), loss="cross_entropy", optimizer="sgd", epochs=1, batch_size=8)
        trained.append(net.weight.detach().clone())
    torch.testing.assert_close(trained[0], trained[1])  # int64 trains as its float32 values
    torch.testing.assert_close(trained[0], trained[2])

    class Bag(nn.Module):  # token ids: an embedding's input must stay integer
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.EmbeddingBag(5, 4)
            self.out = nn.Linear(4, 2)
            self.seen: set[torch.dtype] = set()

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            self.seen.add(ids.dtype)
            return self.out(self.embed(ids))

    bag = Bag()
    treino.fit(bag, (x, y), (x, y), loss="cross_entropy", epochs=1, batch_size=8)
    assert bag.seen == {torch.int64}


def _classes(n: int = 60, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), np.arange(n) % k  # int64 labels 0..k-1


def test_loss_auto_with_k_outputs_and_integer_labels_is_multiclass():
    """loss auto with a 3-output network and integer labels said 'make its last layer output 1
    value per row': it told a learner to turn a classifier into a regressor."""
    x, y = _classes()
    history = treino.fit(nn.Linear(4, 3), (x, y), (x, y), epochs=1, batch_size=16)
    assert {"train_accuracy", "val_accuracy", "val_f1_macro"} <= set(history.epochs[0])
    assert "val_mse" not in history.epochs[0]


def test_loss_auto_with_one_output_and_01_labels_is_binary_and_float_targets_regression():
    x, y = _classes(k=2)
    binary = treino.fit(nn.Linear(4, 1), (x, y), epochs=1, batch_size=16)
    assert "train_auc" in binary.epochs[0]
    regression = treino.fit(nn.Linear(4, 1), (x, y.astype(np.float32)), epochs=1, batch_size=16)
    assert "train_r2" in regression.epochs[0]


def test_loss_auto_from_a_dataloader_looks_at_its_first_batch():
    """A DataLoader of integer labels and a 3-output network is multiclass too."""
    from torch.utils.data import DataLoader, TensorDataset

    x, y = _classes()
    loader = DataLoader(
        TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)), batch_size=16
    )
    history = treino.fit(nn.Linear(4, 3), loader, epochs=1)
    assert "train_accuracy" in history.epochs[0]


def test_loss_auto_with_too_few_outputs_for_the_classes_names_the_fix():
    x, y = _classes(k=5)
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(4, 3), (x, y), epochs=1)
    assert str(info.value) == (
        "the model outputs 3 logits per row but the targets hold class 4 (5 classes); "
        "make its last layer output at least 5"
    )


def test_an_explicit_loss_keeps_its_task():
    """loss='mse' with 3 outputs and integer labels stays a regression: its message is unchanged."""
    x, y = _classes()
    with pytest.raises(ValueError) as info:
        treino.fit(nn.Linear(4, 3), (x, y), loss="mse", epochs=1)
    assert str(info.value) == (
        "the model outputs (2, 3) for 2 rows but the targets are (2, 1); make its last layer output 1 value per row"
    )
