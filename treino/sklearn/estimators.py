"""TreinoClassifier and TreinoRegressor: treino's models and loop as scikit-learn estimators, for
Pipeline, GridSearchCV and cross_val_score. __init__ stores the settings as given (sklearn's rule:
clone() copies them into an unfitted twin); fit() checks them and trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from treino.sklearn import bundle, display
from treino.sklearn import inputs as I
from treino.sklearn import params as P
from treino.sklearn import training as T
from treino.tasks import predict_labels, probabilities

# sklearn's checks these estimators do not pass, and why (check_estimator(..., expected_failed_checks=))
EXPECTED_FAILED_CHECKS = {
    "check_methods_subset_invariance": "float32 networks: a row's output may differ in its last bit "
    "(~1e-7 relative) with the number of rows in the forward pass, since torch picks its matrix kernel "
    "by shape; the check allows 1e-7. tests/sklearn checks the same invariance to 1e-5.",
}

SETTINGS = """
    Args:
        model: a treino family for rows (mlp, linear, logistic, softmax, text) or your own as
            'package.module:Class' (its arguments in module_args), as `model.kind` of the CLI.
        hidden: widths of the hidden layers, e.g. (64,) or (128, 64); () for none.
        activation: relu, tanh, sigmoid, gelu, leaky_relu or elu.
        dropout: dropout probability after each hidden layer.
        batch_norm: batch normalization after each hidden layer.
        clip_inputs: clamp each input to its training range when predicting (as the CLI does).
        module: your own nn.Module class (or a function returning one); it replaces `model` and
            its shape settings. It is given input_shape and n_outputs when it takes them.
        module_args: keyword arguments of `module` (or of a 'package.module:Class' model).
        loss: auto (bce, cross_entropy or mse, by the task), or a loss name that fits the task.
        optimizer: sgd, momentum, nesterov, adam, adamw, rmsprop or adagrad.
        lr: learning rate; None = the optimizer's default (adam 0.001, sgd 0.01).
        batch_size: rows per step: 1 (stochastic), N (mini-batch) or 'full'.
        epochs: passes over the data; 'auto' = at least 3000 steps, 20 to 200 epochs.
        patience: early stopping after this many epochs without a better loss (on the
            validation split when validation_fraction is set, else on the training loss);
            'auto' = a tenth of the epochs (5 to 20); None = no early stopping.
        validation_fraction: rows held out of training to validate on after every epoch;
            None (default) = none, so a search's own folds are the only split.
        l1, l2: penalties on the weights, added to the loss.
        random_state: the seed of weights, shuffling and the validation split; an int trains
            as `treino train --set seed=N`; None draws one from numpy's global generator.
        device: 'auto' (the GPU when one is visible), 'cpu' or 'cuda'.
        threads: CPU threads while training; None = chosen by treino for the model's size.
        verbose: 0 = silent; 1 = treino's progress display (terminal or notebook); 2 = every
            history column in it.
"""


class TreinoClassifier(ClassifierMixin, BaseEstimator):
    """A treino network as a scikit-learn classifier; labels of any type (strings, ints, bools).

    Fitted attributes: classes_, n_features_in_, feature_names_in_ (DataFrame input),
    module_ (the trained nn.Module), history_ (one dict per epoch), n_iter_ (epochs run),
    best_epoch_ (with early stopping).
    """  # the settings: see SETTINGS, appended below

    def __init__(
        self,
        model: str = "mlp",
        hidden: tuple[int, ...] | int = (64,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        clip_inputs: bool = True,
        module: Any = None,
        module_args: dict[str, Any] | None = None,
        loss: str = "auto",
        optimizer: str = "adam",
        lr: float | None = None,
        batch_size: int | Literal["full"] = 32,
        epochs: int | Literal["auto"] = "auto",
        patience: int | Literal["auto"] | None = None,
        validation_fraction: float | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
        random_state: Any = 0,
        device: str = "auto",
        threads: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.model, self.hidden, self.activation, self.dropout = model, hidden, activation, dropout
        self.batch_norm, self.clip_inputs, self.module, self.module_args = (
            batch_norm,
            clip_inputs,
            module,
            module_args,
        )
        self.loss, self.optimizer, self.lr, self.batch_size = loss, optimizer, lr, batch_size
        self.epochs, self.patience, self.validation_fraction = epochs, patience, validation_fraction
        self.l1, self.l2, self.random_state, self.device = l1, l2, random_state, device
        self.threads, self.verbose = threads, verbose

    def fit(self, X: Any, y: Any) -> TreinoClassifier:
        """Train a new model on X (numeric rows: array, DataFrame or scipy sparse) and labels y.

        Example:
            >>> clf = TreinoClassifier(hidden=(32,), epochs=20).fit(X, y)
        """
        P.check(self)
        X, y = I.rows_and_targets(self, X, y, classes=True)
        self.classes_, index = I.class_indices(self, y)
        T.train_new(self, X, index, self._task(), None)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None, epochs: int = 1) -> TreinoClassifier:
        """`epochs` more passes over X, y (a new model on the first call, which may name every
        class with `classes=`, as sklearn's own partial_fit does); the optimizer carries on.

        Example:
            >>> clf.partial_fit(X1, y1, classes=["a", "b", "c"]).partial_fit(X2, y2, epochs=5)
        """
        n = P.partial_epochs(self, epochs)
        if not hasattr(self, "module_"):
            P.check(self)
            X, y = I.rows_and_targets(self, X, y, classes=True)
            self.classes_, index = I.class_indices(self, y, classes)
            T.train_new(self, X, index, self._task(), None, epochs=n)
            return self
        if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise P.ParamError(
                f"{type(self).__name__}.partial_fit: classes={list(classes)} differ from the first call's "
                f"{self.classes_.tolist()}; pass the same classes, or none"
            )
        X, y = I.rows_and_targets(self, X, y, classes=True, reset=False)
        T.train_more(self, X, I.indices_in(self, y, self.classes_), n)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each row, as the labels y held."""
        index = predict_labels(self._outputs(X), self.task_).numpy()
        return self.classes_[index]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of classes_."""
        p = probabilities(self._outputs(X), self.task_).double()
        return (p / p.sum(dim=1, keepdim=True)).numpy()

    def _task(self) -> str:
        """binary (one logit) for 2 classes, unless loss='cross_entropy' asks for two logits."""
        return "binary" if len(self.classes_) == 2 and self.loss != "cross_entropy" else "multiclass"

    def _outputs(self, X: Any) -> Any:
        check_is_fitted(self)
        return T.outputs(self, I.rows(self, X, reset=False))

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator as a folder: weights.safetensors + estimator.json (settings,
        classes, feature names, history); nothing is pickled. Returns the folder.

        Example:
            >>> clf.save("models/penguins"); TreinoClassifier.load("models/penguins").predict(X)
        """
        return bundle.save(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> TreinoClassifier:
        """The estimator `save` wrote, ready to predict (and to partial_fit, with a new optimizer);
        `device` overrides the saved one (e.g. 'cpu' for a model trained on a GPU)."""
        return bundle.load(cls, path, device)

    def _html_repr(self) -> str:
        return display.html(self)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")  # not classes_ alone: a fit that failed after checking y

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class TreinoRegressor(RegressorMixin, BaseEstimator):
    """A treino network as a scikit-learn regressor: one target (y 1-D) or several (y 2-D).

    The network learns the standardized targets (scale_target=True, as `treino train` does) and
    predicts in their units. Fitted attributes: as TreinoClassifier's, with target_scale_ (the
    targets' mean and std, or None) instead of classes_.
    """  # the settings: see SETTINGS, appended below

    def __init__(
        self,
        model: str = "mlp",
        hidden: tuple[int, ...] | int = (64,),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        clip_inputs: bool = True,
        module: Any = None,
        module_args: dict[str, Any] | None = None,
        loss: str = "auto",
        optimizer: str = "adam",
        lr: float | None = None,
        batch_size: int | Literal["full"] = 32,
        epochs: int | Literal["auto"] = "auto",
        patience: int | Literal["auto"] | None = None,
        validation_fraction: float | None = None,
        l1: float = 0.0,
        l2: float = 0.0,
        random_state: Any = 0,
        device: str = "auto",
        threads: int | None = None,
        verbose: int = 0,
        scale_target: bool = True,
    ) -> None:
        self.model, self.hidden, self.activation, self.dropout = model, hidden, activation, dropout
        self.batch_norm, self.clip_inputs, self.module, self.module_args = (
            batch_norm,
            clip_inputs,
            module,
            module_args,
        )
        self.loss, self.optimizer, self.lr, self.batch_size = loss, optimizer, lr, batch_size
        self.epochs, self.patience, self.validation_fraction = epochs, patience, validation_fraction
        self.l1, self.l2, self.random_state, self.device = l1, l2, random_state, device
        self.threads, self.verbose, self.scale_target = threads, verbose, scale_target

    def fit(self, X: Any, y: Any) -> TreinoRegressor:
        """Train a new model on X (numeric rows: array, DataFrame or scipy sparse) and targets y.

        Example:
            >>> reg = TreinoRegressor(hidden=(32,), epochs=50).fit(X, y)  # y (N,) or (N, k)
        """
        P.check(self)
        X, y = I.rows_and_targets(self, X, y, classes=False)
        y = self._targets(y)
        T.train_new(self, X, y, "regression", self.target_scale_)
        return self

    def partial_fit(self, X: Any, y: Any, epochs: int = 1) -> TreinoRegressor:
        """`epochs` more passes over X, y (a new model on the first call); the optimizer carries
        on, and the target scaling stays the first call's.

        Example:
            >>> reg.partial_fit(X1, y1).partial_fit(X2, y2, epochs=5)
        """
        n = P.partial_epochs(self, epochs)
        if not hasattr(self, "module_"):
            P.check(self)
            X, y = I.rows_and_targets(self, X, y, classes=False)
            y = self._targets(y)
            T.train_new(self, X, y, "regression", self.target_scale_, epochs=n)
            return self
        X, y = I.rows_and_targets(self, X, y, classes=False, reset=False)
        if (y.ndim == 1) != self._single_target or (y.ndim == 2 and y.shape[1] != self.n_targets_):
            raise I.InputError(
                f"{type(self).__name__}.partial_fit: y has {1 if y.ndim == 1 else y.shape[1]} target column(s) "
                f"but the model was fitted on {self.n_targets_}; give y the first call's shape"
            )
        T.train_more(self, X, y.astype(np.float32), n)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: (N,) when fitted on a 1-D y, (N, k) for k target columns."""
        check_is_fitted(self)
        out = T.outputs(self, I.rows(self, X, reset=False)).double().numpy()
        return out.reshape(-1) if self._single_target else out

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """y as float32, and the fitted target scaling (mean, std per column; std 0 counts as 1)."""
        self._single_target = y.ndim == 1
        y = np.asarray(y, dtype=np.float64)
        columns = y.reshape(len(y), -1)
        self.n_targets_ = columns.shape[1]
        self.target_scale_ = None
        if self.scale_target:
            std = columns.std(axis=0)
            std[~(std > 0)] = 1.0  # a constant target: nothing to scale
            self.target_scale_ = {"mean": columns.mean(axis=0).tolist(), "std": std.tolist()}
        return y.astype(np.float32)

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator as a folder: weights.safetensors + estimator.json; see
        TreinoClassifier.save."""
        return bundle.save(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> TreinoRegressor:
        """The estimator `save` wrote; see TreinoClassifier.load."""
        return bundle.load(cls, path, device)

    def _html_repr(self) -> str:
        return display.html(self)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")  # not classes_ alone: a fit that failed after checking y

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


TreinoClassifier.__doc__ = (TreinoClassifier.__doc__ or "") + SETTINGS
TreinoRegressor.__doc__ = (
    (TreinoRegressor.__doc__ or "")
    + SETTINGS
    + "        scale_target: learn on standardized targets, predict in their units.\n"
)
