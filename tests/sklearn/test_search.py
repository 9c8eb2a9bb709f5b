"""The estimators inside scikit-learn's own machinery: clone, get/set_params with nested keys,
cross_val_score, GridSearchCV (in this process and in joblib's worker processes) and a Pipeline
whose ColumnTransformer encodes a mixed table (palmerpenguins)."""

from __future__ import annotations

import numpy as np
import palmerpenguins
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from treino.sklearn import TreinoClassifier, TreinoRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]


def scaled(**settings):
    return make_pipeline(
        StandardScaler(), TreinoClassifier(**{"epochs": 15, "lr": 0.01, "device": "cpu", **settings})
    )


def test_clone_gives_an_unfitted_twin_with_the_same_settings():
    clf = TreinoClassifier(hidden=(8, 4), epochs=3, device="cpu", module_args={"a": [1]})
    clf.fit(X_IRIS, NAMES)
    twin = clone(clf)
    assert not hasattr(twin, "module_") and not hasattr(twin, "classes_") and not hasattr(twin, "history_")
    assert twin.get_params() == clf.get_params()
    assert twin.module_args is not clf.module_args  # copied, not shared
    assert repr(twin) == "TreinoClassifier(device='cpu', epochs=3, hidden=(8, 4), module_args={'a': [1]})"


def test_nested_params_reach_the_estimator_in_a_pipeline():
    pipe = scaled()
    pipe.set_params(treinoclassifier__hidden=(16,), treinoclassifier__lr=0.05)
    assert pipe.get_params()["treinoclassifier__hidden"] == (16,)
    assert pipe[-1].lr == 0.05
    assert pipe.fit(X_IRIS, NAMES)[-1].module_.body[0].out_features == 16


def test_cross_val_score():
    scores = cross_val_score(scaled(), X_IRIS, NAMES, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8


@pytest.mark.parametrize("n_jobs", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_grid_search(n_jobs):
    """n_jobs=2 runs the fits in joblib's loky worker processes: the estimator is pickled there and
    back (slow: each worker imports torch first)."""
    search = GridSearchCV(scaled(), {"treinoclassifier__hidden": [(4,), (32,)]}, cv=3, n_jobs=n_jobs)
    search.fit(X_IRIS, NAMES)
    assert set(search.cv_results_["param_treinoclassifier__hidden"]) == {(4,), (32,)}
    assert search.best_score_ > 0.8
    best = search.best_estimator_[-1]
    assert (
        best.n_iter_ == 15 and best.history_ and "val_loss" not in best.history_[0]
    )  # no hidden second split
    assert search.score(X_IRIS, NAMES) > 0.8


def test_grid_search_over_a_regressor_scores_r2():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.1 * rng.randn(120)
    search = GridSearchCV(TreinoRegressor(epochs=20, lr=0.01, device="cpu"), {"l2": [0.0, 1e-3]}, cv=2).fit(
        X, y
    )
    assert search.best_score_ > 0.9


def penguins():
    frame = palmerpenguins.load_penguins().dropna()
    return frame.drop(columns=["species"]), frame["species"].to_numpy()


def test_pipeline_with_a_column_transformer_on_a_mixed_table():
    X, y = penguins()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]),
        (StandardScaler(), ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]),
    )
    pipe = make_pipeline(encode, TreinoClassifier(epochs=20, lr=0.01, device="cpu")).fit(X_train, y_train)
    clf = pipe[-1]
    assert clf.classes_.tolist() == ["Adelie", "Chinstrap", "Gentoo"]
    assert clf.n_features_in_ == 3 + 2 + 4  # islands, sexes, measures
    assert pipe.score(X_test, y_test) > 0.95
    assert pipe.predict(X_test.head(3)).tolist() == y_test[:3].tolist()
