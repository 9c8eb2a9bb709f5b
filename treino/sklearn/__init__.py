"""treino as scikit-learn estimators: TreinoClassifier and TreinoRegressor work in Pipeline,
GridSearchCV and cross_val_score, train through treino's own models and loop, and save as a
bundle (safetensors + JSON). See docs/sklearn.md.

    from treino.sklearn import TreinoClassifier
    clf = TreinoClassifier(hidden=(64,), epochs=30).fit(X_train, y_train)
    clf.score(X_test, y_test)
"""

from treino.sklearn.estimators import TreinoClassifier, TreinoRegressor
from treino.sklearn.params import InputError, ParamError

__all__ = ["InputError", "ParamError", "TreinoClassifier", "TreinoRegressor"]
