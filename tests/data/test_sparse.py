"""Sparse TF-IDF: a CSR split trains like the dense one (same batches, same predictions for the
same seed), holds memory in proportion to its non-zeros, and serves every command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from text_data import reviews

import treino
from treino.batches import sparse
from treino.batches.source import InMemory
from treino.config import DataConfig
from treino.data.load import load
from treino.data.text import keep_sparse
from treino.engine.parallel import Shard
from treino.errors import DataError


def _reviews(n: int = 120, seed: int = 0) -> pd.DataFrame:
    return reviews(n, seed, lead=4)


def _wide(n: int = 300, words: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Texts of 8 words out of `words` rare ones: 1000+ TF-IDF terms, under 1% non-zero."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["a", "b"], n)
    text = [
        " ".join(f"w{i}" for i in rng.integers(0, words, 8)) + (" yes" if s == "a" else " no") for s in label
    ]
    return pd.DataFrame({"text": text, "label": label})


def _csr(rows: int = 23, width: int = 40, density: float = 0.1, seed: int = 0) -> torch.Tensor:
    return sparse.from_scipy(sp.random(rows, width, density=density, format="csr", dtype=np.float32,
                                       random_state=seed))  # fmt: skip


def test_auto_keeps_wide_rare_tfidf_sparse_and_memory_follows_the_non_zeros(tmp_path):
    _wide().to_csv(tmp_path / "w.csv", index=False)
    cfg = {"source": str(tmp_path / "w.csv"), "target": "label", "text": {"ngrams": (1, 1), "min_df": 1}}
    data = load(DataConfig(**cfg), torch.Generator().manual_seed(0))
    x = data.train.x
    assert x.layout == torch.sparse_csr and data.val.x.layout == torch.sparse_csr
    rows, width = x.shape
    nnz = x.values().numel()
    assert width >= 1000 and nnz / (rows * width) < 0.01
    assert sparse.nbytes(x) == 8 * nnz + 4 * (rows + 1)  # float32 value + int32 column per non-zero
    assert sparse.nbytes(x) < rows * width * 4 / 50
    assert any(n.startswith("TF-IDF features held sparse: 0.") for n in data.info.notes)
    # the same texts kept dense hold the same numbers
    dense = load(
        DataConfig(**cfg | {"text": cfg["text"] | {"sparse": False}}), torch.Generator().manual_seed(0)
    )
    assert dense.train.x.layout == torch.strided
    assert torch.equal(sparse.dense_rows(x, slice(None)), dense.train.x)


def test_the_auto_rule_and_its_note():
    notes: list[str] = []
    wide = sp.random(100, 1000, density=0.01, format="csr", dtype=np.float32, random_state=0)
    assert keep_sparse(wide, "auto", notes)
    assert notes == ["TF-IDF features held sparse: 1.00% non-zero, 0.0 MB instead of 0 MB for the train split "
                     "(data.text.sparse)"]  # fmt: skip
    narrow = sp.random(100, 999, density=0.01, format="csr", dtype=np.float32, random_state=0)
    dense_enough = sp.random(100, 1000, density=0.06, format="csr", dtype=np.float32, random_state=0)
    assert not keep_sparse(narrow, "auto", []) and not keep_sparse(dense_enough, "auto", [])
    assert keep_sparse(dense_enough, True, []) and not keep_sparse(wide, False, [])


@pytest.mark.parametrize("batch", [1, 7, None])
def test_sparse_batches_equal_dense_batches(batch):
    x = _csr()
    y = torch.arange(len(x), dtype=torch.float32)
    dense = sparse.dense_rows(x, slice(None))
    got = list(InMemory(x, y, batch).epoch(torch.Generator().manual_seed(3)))
    want = list(InMemory(dense, y, batch).epoch(torch.Generator().manual_seed(3)))
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        assert gx.layout == torch.strided and torch.equal(gx, wx) and torch.equal(gy, wy)
    ordered = torch.cat([b for b, _ in InMemory(x, y, batch).ordered(5)])
    assert torch.equal(ordered, dense)


def test_torch_path_for_other_devices_equals_scipy():
    x = _csr(31, 17, 0.2)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    on_torch = list(sparse._torch_batches(x, perm, 8))
    on_scipy = list(sparse._scipy_batches(x, perm, 8))
    assert [len(b) for b in on_torch] == [8, 8, 8, 7]
    assert all(torch.equal(a, b) for a, b in zip(on_torch, on_scipy, strict=True))
    index = torch.tensor([30, 0, 5, 5])
    assert torch.equal(sparse._torch_rows(x, index), sparse.dense_rows(x, index))


def test_a_data_parallel_shard_of_a_sparse_split_gets_dense_rows():
    x = _csr(20, 12, 0.3)
    y = torch.arange(20, dtype=torch.float32)
    dense = sparse.dense_rows(x, slice(None))
    for rank in (0, 1):
        got = list(Shard(InMemory(x, y, 6), rank, 2).epoch(torch.Generator().manual_seed(0)))
        want = list(Shard(InMemory(dense, y, 6), rank, 2).epoch(torch.Generator().manual_seed(0)))
        assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(got, want, strict=True))


def test_fit_takes_a_users_csr_tensor_like_the_dense_one():
    x = _csr(64, 30, 0.1)
    y = (sparse.dense_rows(x, slice(None)).sum(1) > 1.0).float()

    def losses(inputs: torch.Tensor) -> list[float]:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(30, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        history = treino.fit(net, (inputs, y[:, None]), loss="bce", epochs=3, batch_size=16, seed=0)
        return history.step_losses

    assert losses(x) == losses(sparse.dense_rows(x, slice(None)))
    assert losses(sparse._scipy(x).astype(np.float64)) == losses(x)  # scikit-learn's TF-IDF matrix as is


def test_cli_sparse_run_predicts_like_the_dense_run(cli, tmp_path):
    _reviews().to_csv(tmp_path / "r.csv", index=False)
    runs = {}
    for mode in ("true", "false"):
        out = tmp_path / f"run-{mode}"
        result = cli(["train", "--data", tmp_path / "r.csv", "--target", "label", "--out", out,
                      "--set", f"data.text.sparse={mode}", "--set", "train.epochs=3", "--set", "log.plots=false",
                      "--set", "log.progress=false"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert ("TF-IDF features held sparse" in result.output) == (mode == "true")
        runs[mode] = out
    frames = {m: pd.read_csv(d / "predictions.csv") for m, d in runs.items()}
    pd.testing.assert_frame_equal(frames["true"], frames["false"], atol=1e-5)
    metrics = {m: json.loads((d / "metrics.json").read_text())["test"] for m, d in runs.items()}
    assert metrics["true"] == pytest.approx(metrics["false"], abs=1e-6)
    # predicting new texts with the sparse run: the same as with the dense one
    _reviews(9, seed=5).drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    predicted = {}
    for mode, run in runs.items():
        result = cli(["predict", run, tmp_path / "new.csv", "--output", tmp_path / f"p-{mode}.csv"])
        assert result.exit_code == 0, result.output
        predicted[mode] = pd.read_csv(tmp_path / f"p-{mode}.csv")
    assert len(predicted["true"]) == 9
    pd.testing.assert_frame_equal(predicted["true"], predicted["false"], atol=1e-5)
    result = cli(["evaluate", runs["true"]])
    assert result.exit_code == 0, result.output
    # predict reads new texts into CSR chunks (a dense chunk of 65,536 texts was 1.3 GB)
    predictor = treino.load(runs["true"], quiet=True)
    new = pd.read_csv(tmp_path / "new.csv")
    held = next(predictor.chunks(new, sparse=True)).features
    dense = next(predictor.chunks(new)).features
    assert sp.issparse(held) and isinstance(dense, np.ndarray) and np.array_equal(held.toarray(), dense)
    assert torch.equal(predictor.outputs(held), predictor.outputs(dense))


def test_a_non_finite_value_in_a_csr_input_is_refused_with_its_place():
    x = _csr(10, 6, 0.3)
    values = x.values().clone()
    values[-1] = float("inf")
    crow, col = x.crow_indices(), x.col_indices()
    bad = sparse.csr_tensor(crow, col, values, (10, 6))
    row = int(torch.searchsorted(crow, len(values) - 1, right=True)) - 1
    net = torch.nn.Linear(6, 1)
    with pytest.raises(DataError) as caught:
        treino.fit(net, (bad, torch.zeros(10, 1)), loss="mse", epochs=1)
    assert str(caught.value) == (
        f"train data: x[{row}, {int(col[-1])}] is inf; replace or drop the non-finite values before training"
    )


def test_a_table_with_text_and_other_columns_is_held_sparse_whole(tmp_path):
    frame = _reviews(150)
    frame["price"] = np.arange(150) % 7 * 1.5
    frame["city"] = np.where(np.arange(150) % 3, "porto", "lisboa")
    frame.to_csv(tmp_path / "t.csv", index=False)
    cfg = {"source": str(tmp_path / "t.csv"), "target": "label"}
    held = load(DataConfig(**cfg, text={"sparse": True}), torch.Generator().manual_seed(0))
    dense = load(DataConfig(**cfg, text={"sparse": False}), torch.Generator().manual_seed(0))
    assert held.info.kind == "table" and held.train.x.layout == torch.sparse_csr
    assert held.info.features == dense.info.features and "price" in held.info.features
    for a, b in ((held.train, dense.train), (held.test, dense.test)):
        assert torch.allclose(sparse.dense_rows(a.x, slice(None)), b.x, atol=1e-6)
