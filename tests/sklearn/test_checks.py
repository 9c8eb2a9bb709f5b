"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks) on both estimators, each
check a test. Few epochs keep the run short; enough that the checks' score floors are met."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from treino.sklearn import TreinoClassifier, TreinoRegressor
from treino.sklearn.estimators import EXPECTED_FAILED_CHECKS

ESTIMATORS = [
    TreinoClassifier(epochs=10, device="cpu"),
    TreinoRegressor(epochs=10, lr=0.01, device="cpu"),  # R^2 > 0.5 on the check's data in 10 epochs
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_check(estimator, check):
    check(estimator)
