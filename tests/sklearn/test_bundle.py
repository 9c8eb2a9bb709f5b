"""Saving and loading: the bundle (safetensors + JSON, nothing unpickled) gives identical
predictions, settings, classes and feature names; pickle works too; the notebook display shows
the settings and, once fitted, the loss curve."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_regression

from treino.errors import RunError
from treino.sklearn import ParamError, TreinoClassifier, TreinoRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True, as_frame=True)
NAMES = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]


def fitted_classifier(**settings):
    return TreinoClassifier(**{"epochs": 4, "device": "cpu", **settings}).fit(X_IRIS, NAMES)


def test_save_and_load_give_identical_predictions(tmp_path):
    clf = fitted_classifier(hidden=(16, 8), dropout=0.1)
    folder = clf.save(tmp_path / "iris")
    assert sorted(p.name for p in folder.iterdir()) == ["estimator.json", "weights.safetensors"]
    loaded = TreinoClassifier.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))
    assert loaded.get_params() == clf.get_params()
    assert loaded.classes_.tolist() == clf.classes_.tolist() and loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.feature_names_in_.tolist() == list(X_IRIS.columns)
    assert loaded.history_ == clf.history_ and loaded.n_iter_ == 4
    record = json.loads((folder / "estimator.json").read_text())
    assert record["estimator"] == "TreinoClassifier" and record["params"]["hidden"] == [16, 8]


def test_a_loaded_estimator_trains_on_with_partial_fit(tmp_path):
    loaded = TreinoClassifier.load(fitted_classifier().save(tmp_path / "m"))
    loaded.partial_fit(X_IRIS, NAMES, epochs=2)
    assert loaded.n_iter_ == 6 and [r["epoch"] for r in loaded.history_][-2:] == [5, 6]


@pytest.mark.parametrize("labels", [Y_IRIS.to_numpy() > 1, Y_IRIS.to_numpy() + 3], ids=["bools", "ints"])
def test_labels_keep_their_type_through_the_bundle(tmp_path, labels):
    clf = TreinoClassifier(epochs=2, device="cpu").fit(X_IRIS, labels)
    loaded = TreinoClassifier.load(clf.save(tmp_path / "m"))
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.predict(X_IRIS), clf.predict(X_IRIS))


def test_regressor_with_two_targets_round_trips(tmp_path):
    X, y = make_regression(n_samples=100, n_features=5, n_targets=2, random_state=0)
    reg = TreinoRegressor(epochs=3, device="cpu").fit(X, y)
    loaded = TreinoRegressor.load(reg.save(tmp_path / "r"))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.target_scale_ == reg.target_scale_ and loaded.predict(X).shape == (100, 2)
    with pytest.raises(RunError, match=r"holds a TreinoRegressor; load it with TreinoRegressor.load$"):
        TreinoClassifier.load(tmp_path / "r")


def test_own_module_is_saved_by_its_import_name(tmp_path, monkeypatch):
    (tmp_path / "mynets.py").write_text(
        "from torch import nn\n"
        "class Small(nn.Module):\n"
        "    def __init__(self, input_shape, n_outputs, width=6):\n"
        "        super().__init__()\n"
        "        self.net = nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width, n_outputs))\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from mynets import Small

    clf = fitted_classifier(module=Small, module_args={"width": 7})
    folder = clf.save(tmp_path / "own")
    assert json.loads((folder / "estimator.json").read_text())["params"]["module"] == {
        "import": "mynets:Small"
    }
    loaded = TreinoClassifier.load(folder)
    assert loaded.module is Small and loaded.module_.net[0].out_features == 7
    np.testing.assert_array_equal(loaded.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))


def test_a_module_defined_in_a_function_cannot_be_saved_by_name(tmp_path):
    class Local(torch.nn.Linear):
        def __init__(self, input_shape, n_outputs):
            super().__init__(input_shape[0], n_outputs)

    clf = fitted_classifier(module=Local)
    with pytest.raises(ParamError) as error:
        clf.save(tmp_path / "local")
    assert str(error.value) == (
        "TreinoClassifier.save: module='Local' cannot be imported by name (it is defined inside a function); "
        "define it at the top of a module"
    )


def test_weights_that_do_not_fit_are_refused(tmp_path):
    folder = fitted_classifier().save(tmp_path / "m")
    record = json.loads((folder / "estimator.json").read_text())
    record["params"]["hidden"] = [3]
    (folder / "estimator.json").write_text(json.dumps(record))
    with pytest.raises(RunError, match=r"weights.safetensors: does not fit the model its settings build"):
        TreinoClassifier.load(folder)
    with pytest.raises(RunError, match=r"no estimator.json; give a folder that TreinoClassifier.save wrote$"):
        TreinoClassifier.load(tmp_path / "nothing")


def test_pickle_round_trip():
    clf = fitted_classifier()
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))
    assert again.get_params() == clf.get_params() and again.history_ == clf.history_


def test_html_shows_the_settings_and_once_fitted_the_curve():
    clf = TreinoClassifier(epochs=3, device="cpu", validation_fraction=0.2)
    before = clf._repr_html_()
    assert "TreinoClassifier" in before and "<img" not in before
    clf.fit(X_IRIS, NAMES)
    after = clf._repr_mimebundle_()["text/html"]
    assert after.startswith(before[:200]) and 'alt="loss per epoch (3 epochs)"' in after
    assert after.count("data:image/png;base64,") == 1


def test_the_curve_never_touches_pyplot():
    """the curve is a Figure on its own Agg canvas: pyplot (the notebook's own plots) is left alone."""
    import sys

    had_pyplot = "matplotlib.pyplot" in sys.modules
    figures = sys.modules["matplotlib.pyplot"].get_fignums() if had_pyplot else None
    assert "<img" in fitted_classifier()._repr_html_()
    if had_pyplot:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == figures
    else:
        assert "matplotlib.pyplot" not in sys.modules
