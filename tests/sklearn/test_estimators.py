"""TreinoClassifier and TreinoRegressor on their own: labels of any type, several targets, sparse
rows, partial_fit, early stopping on a validation split, a module of the user's, and the one-line
errors for bad settings and bad data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import torch
from sklearn.datasets import load_iris, make_regression
from torch import nn

from treino.errors import ConfigError, DataError, DivergedError
from treino.sklearn import InputError, TreinoClassifier, TreinoRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = (X_IRIS - X_IRIS.mean(0)) / X_IRIS.std(0)
NAMES = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]


def quick(cls=TreinoClassifier, **settings):
    return cls(**{"epochs": 15, "device": "cpu", "lr": 0.01, **settings})


def test_treino_sklearn_does_not_shadow_scikit_learn():
    """a package named treino.sklearn: `import sklearn` in it (and here) is scikit-learn."""
    from treino.sklearn import estimators

    assert sklearn.__file__.endswith("sklearn/__init__.py") and "treino" not in sklearn.__file__
    assert estimators.BaseEstimator.__module__ == "sklearn.base"


@pytest.mark.parametrize(
    "labels",
    [NAMES, Y_IRIS + 10, Y_IRIS.astype(float) + 0.0, NAMES.astype(object)],
    ids=["strings", "ints", "floats", "objects"],
)
def test_labels_of_any_type_come_back_as_given(labels):
    clf = quick().fit(X_IRIS, labels)
    assert clf.classes_.dtype == np.unique(labels).dtype
    assert list(clf.classes_) == sorted(set(labels.tolist()))
    predicted = clf.predict(X_IRIS)
    assert set(predicted.tolist()) <= set(labels.tolist()) and predicted.dtype == clf.classes_.dtype
    assert clf.score(X_IRIS, labels) > 0.85
    assert clf.predict_proba(X_IRIS).shape == (150, 3)


def test_bool_labels_are_a_binary_task_with_one_logit():
    y = X_IRIS[:, 2] > 0
    clf = quick().fit(X_IRIS, y)
    assert clf.task_ == "binary" and clf.module_.out.out_features == 1
    assert clf.classes_.tolist() == [False, True] and clf.predict(X_IRIS).dtype == bool
    proba = clf.predict_proba(X_IRIS)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.score(X_IRIS, y) > 0.9


def test_cross_entropy_on_two_classes_gives_two_logits():
    clf = quick(loss="cross_entropy").fit(X_IRIS, X_IRIS[:, 2] > 0)
    assert clf.task_ == "multiclass" and clf.module_.out.out_features == 2


def test_regression_with_two_targets():
    X, y = make_regression(n_samples=300, n_features=6, n_targets=2, noise=5.0, random_state=0)
    reg = quick(TreinoRegressor, epochs=40).fit(X, y)
    out = reg.predict(X)
    assert out.shape == (300, 2) and reg.n_targets_ == 2
    assert reg.score(X, y) > 0.9
    assert len(reg.target_scale_["mean"]) == 2  # learned on standardized targets, predicts in y's units
    one = quick(TreinoRegressor, epochs=40).fit(X, y[:, 0])
    assert one.predict(X).shape == (300,)
    column = quick(TreinoRegressor, epochs=40).fit(X, y[:, :1])
    assert column.predict(X).shape == (300, 1)


def test_sparse_rows_train_as_the_same_dense_rows():
    rng = np.random.RandomState(0)
    dense = rng.rand(200, 30) * (rng.rand(200, 30) > 0.8)
    y = (dense[:, :5].sum(1) > dense[:, :5].sum(1).mean()).astype(int)
    a = quick(epochs=5).fit(sp.csr_matrix(dense), y)
    b = quick(epochs=5).fit(dense, y)
    np.testing.assert_allclose(a.predict_proba(sp.csr_matrix(dense)), b.predict_proba(dense), atol=1e-5)
    assert a.predict(sp.csc_matrix(dense)).shape == (200,)  # other sparse formats are converted


def test_partial_fit_trains_more_epochs_and_keeps_the_classes():
    clf = quick().partial_fit(X_IRIS[:50], NAMES[:50], classes=["setosa", "versicolor", "virginica"])
    assert clf.n_iter_ == 1 and clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    clf.partial_fit(X_IRIS, NAMES, epochs=3)
    assert clf.n_iter_ == 4 and [row["epoch"] for row in clf.history_] == [1, 2, 3, 4]
    with pytest.raises(InputError) as error:
        clf.partial_fit(X_IRIS[:3], ["setosa", "versicolor", "daisy"])
    assert str(error.value) == (
        "TreinoClassifier: y holds the label 'daisy', not among the classes ['setosa', 'versicolor', "
        "'virginica']; pass every class on the first partial_fit call (classes=...)"
    )
    with pytest.raises(ValueError, match="X has 3 features, but TreinoClassifier is expecting 4"):
        clf.partial_fit(X_IRIS[:, :3], NAMES)


def test_partial_fit_continues_where_fit_left_off():
    reg = quick(TreinoRegressor, epochs=3).fit(X_IRIS[:, :3], X_IRIS[:, 3])
    before = reg.score(X_IRIS[:, :3], X_IRIS[:, 3])
    reg.partial_fit(X_IRIS[:, :3], X_IRIS[:, 3], epochs=20)
    assert reg.n_iter_ == 23 and reg.score(X_IRIS[:, :3], X_IRIS[:, 3]) > before


def test_no_validation_split_unless_asked():
    clf = quick().fit(X_IRIS, NAMES)
    assert "val_loss" not in clf.history_[0] and clf.best_epoch_ is None
    stopped = quick(epochs=200, validation_fraction=0.2, patience=3, lr=0.05).fit(X_IRIS, NAMES)
    assert {"val_loss", "val_accuracy"} <= set(stopped.history_[0])
    assert stopped.n_iter_ < 200 and stopped.best_epoch_ == stopped.n_iter_ - 3


def test_same_seed_same_weights_and_fit_starts_anew():
    a, b = quick().fit(X_IRIS, NAMES), quick().fit(X_IRIS, NAMES)
    np.testing.assert_array_equal(a.predict_proba(X_IRIS), b.predict_proba(X_IRIS))
    a.fit(X_IRIS, NAMES)  # a second fit is a new model, not more epochs
    assert a.n_iter_ == 15
    np.testing.assert_array_equal(a.predict_proba(X_IRIS), b.predict_proba(X_IRIS))
    other = quick(random_state=1).fit(X_IRIS, NAMES)
    assert not np.array_equal(other.predict_proba(X_IRIS), b.predict_proba(X_IRIS))


def test_fitting_leaves_the_callers_torch_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    quick(epochs=2).fit(X_IRIS, NAMES).partial_fit(X_IRIS, NAMES)
    assert torch.equal(torch.rand(3), expected)


def test_outputs_of_a_subset_match_to_float32_precision():
    """sklearn's check_methods_subset_invariance allows 1e-7; float32 kernels differ in the last bit."""
    reg = quick(TreinoRegressor).fit(X_IRIS[:, :3], X_IRIS[:, 3])
    full = reg.predict(X_IRIS[:, :3])
    np.testing.assert_allclose(reg.predict(X_IRIS[7:9, :3]), full[7:9], rtol=1e-5, atol=1e-6)


class Net(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_shape[0], width), nn.Tanh(), nn.Linear(width, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def test_own_module_gets_its_args_and_the_shapes():
    clf = quick(module=Net, module_args={"width": 5}).fit(X_IRIS, NAMES)
    assert isinstance(clf.module_, Net) and clf.module_.layers[0].out_features == 5
    assert clf.module_.layers[2].out_features == 3 and clf.score(X_IRIS, NAMES) > 0.8


def test_dataframe_keeps_feature_names_and_refuses_text_columns():
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    clf = quick().fit(frame, NAMES)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"] and clf.n_features_in_ == 4
    with pytest.raises(InputError) as error:
        quick().fit(frame.assign(island=["x", "y", "z"] * 50), NAMES)
    assert str(error.value) == (
        "TreinoClassifier: column 'island' holds str values, not numbers; encode it first, e.g. "
        "make_pipeline(make_column_transformer((OneHotEncoder(), ['island']), remainder=StandardScaler()), "
        "TreinoClassifier())"
    )


BAD_SETTINGS = [
    (
        {"lr": -1},
        "TreinoClassifier(lr=-1): must be a positive number, e.g. 0.001, or None (the optimizer's default)",
    ),
    (
        {"optimizer": "adm"},
        "TreinoClassifier(optimizer='adm'): unknown optimizer (did you mean 'adam'?); choose one of: sgd, "
        "momentum, nesterov, adam, adamw, rmsprop, adagrad",
    ),
    (
        {"model": "cnn"},
        "TreinoClassifier(model='cnn'): is not a family for rows (an estimator's X is 2-D); use one of: "
        "linear, logistic, softmax, mlp, text",
    ),
    (
        {"hidden": (0,)},
        "TreinoClassifier(hidden=(0,)): must be positive layer widths, e.g. (64,) or (128, 64); () for none",
    ),
    (
        {"loss": "huber"},
        "TreinoClassifier(loss='huber'): is not a multiclass loss; use 'cross_entropy' (or 'auto')",
    ),
    (
        {"model": "logistic"},
        "TreinoClassifier(model='logistic'): logistic is for a binary task but the data is multiclass; use linear (or mlp)",
    ),
    (
        {"dropout": 1.0},
        "TreinoClassifier(dropout=1.0): must be a probability from 0 (none) to below 1, e.g. 0.2",
    ),
    ({"batch_size": 0}, "TreinoClassifier(batch_size=0): must be a positive number of rows or 'full'"),
    ({"device": "tpu"}, "TreinoClassifier: device 'tpu' is not a device; use device='cpu', 'cuda' or 'auto'"),
    (
        {"module": nn.Linear(4, 3)},
        "TreinoClassifier(module=Linear(in_features=4, out_features=3, bias=True)): give the class, not an "
        "instance: module=Net, module_args={...}",
    ),
    (
        {"module": Net, "module_args": {"widht": 3}},
        "TreinoClassifier(module=Net): Net.__init__() got an unexpected keyword argument 'widht'; fix module_args",
    ),
    (
        {"module": nn.Linear, "module_args": {"in_features": 4, "out_features": 2}},
        "TreinoClassifier(module=Linear): Linear returns shape (2, 2) for a batch of 2, but this multiclass "
        "task needs (2, 3) (3 logits per sample, one per class); make its last layer output 3",
    ),
    (
        {"validation_fraction": 0.01},
        "TreinoClassifier(validation_fraction=0.01): The test_size = 2 should be greater or equal to the "
        "number of classes = 3; use a larger fraction, more rows, or validation_fraction=None",
    ),
    (
        {"batch_norm": True, "batch_size": 149},
        "TreinoClassifier(batch_size=149): leaves a batch of 1 row (150 rows), which batch normalization "
        "cannot train on; choose another batch_size or batch_norm=False",
    ),
]


@pytest.mark.parametrize("settings, message", BAD_SETTINGS, ids=lambda v: str(v)[:30])
def test_a_bad_setting_is_one_line_at_fit(settings, message):
    clf = TreinoClassifier(**settings)  # stored as given: __init__ checks nothing (sklearn's rule)
    with pytest.raises(ValueError) as error:
        clf.fit(X_IRIS, NAMES)
    assert isinstance(error.value, ConfigError | DataError)  # the CLI's one-line types, and ValueError
    assert str(error.value) == message


def test_bad_data_is_one_line():
    nan = X_IRIS.copy()
    nan[3, 1] = np.nan
    with pytest.raises(InputError) as error:
        quick().fit(nan, NAMES)
    assert str(error.value) == (
        "TreinoClassifier: X[3, 1] is NaN; fill or drop the rows with NaN or inf (SimpleImputer in a Pipeline fills NaN)"
    )
    fitted = quick(epochs=1).fit(X_IRIS, NAMES)
    with pytest.raises(InputError, match=r"X\[3, 1\] is NaN"):
        fitted.predict(nan)
    with pytest.raises(
        ValueError, match=r"^X has 3 features, but TreinoClassifier is expecting 4 features as input.$"
    ):
        fitted.predict(X_IRIS[:, :3])
    with pytest.raises(
        InputError,
        match=r"^TreinoClassifier: y holds one class only \('a' in 150 rows\); a classifier needs at least 2 classes$",
    ):
        quick().fit(X_IRIS, ["a"] * 150)
    with pytest.raises(InputError, match=r"X\[0, 0\] is 1e\+39, beyond float32's range"):
        quick().fit(np.full((4, 2), 1e39), [0, 1, 0, 1])


def test_a_diverged_fit_says_so_with_the_fix():
    X, y = make_regression(n_samples=64, n_features=3, random_state=0)
    with pytest.raises(
        DivergedError, match=r"^TreinoRegressor: the loss became .* lower lr \(now 1000000.0\)"
    ):
        quick(TreinoRegressor, optimizer="sgd", lr=1e6, scale_target=False).fit(X * 1e3, y * 1e3)
