"""An estimator's bundle: a folder of weights.safetensors and estimator.json (its settings,
classes, feature names, target scaling and history). Loading it runs no code from the files:
nothing is unpickled, and a custom module is imported by its name, as the CLI imports one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from treino import files
from treino.engine import losses
from treino.errors import RunError
from treino.models.custom import import_object
from treino.sklearn import params as P
from treino.sklearn.training import build_model

FORMAT = 1
JSON_NAME, WEIGHTS_NAME = "estimator.json", "weights.safetensors"


def save(est: Any, path: str | Path) -> Path:
    """Write `est` (fitted) to the folder `path` (made if needed; its two files replaced)."""
    from safetensors.torch import save_file
    from sklearn.utils.validation import check_is_fitted

    from treino.run.folder import versions

    check_is_fitted(est)
    folder = Path(path).expanduser()
    record = {
        "format": FORMAT,
        "estimator": type(est).__name__,
        "params": _settings(est),
        "task": est.task_,
        "n_features_in": int(est.n_features_in_),
        "feature_names_in": est.feature_names_in_.tolist() if hasattr(est, "feature_names_in_") else None,
        "history": est.history_,
        "best_epoch": est.best_epoch_,
        "seed": est._seed,
        **versions(),
    }
    if hasattr(est, "classes_"):
        record["classes"] = {"values": est.classes_.tolist(), "dtype": est.classes_.dtype.str}
    else:
        record |= {
            "target_scale": est.target_scale_,
            "n_targets": est.n_targets_,
            "single_target": est._single_target,
        }
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in est.module_.state_dict().items()}
    with files.replacing(folder / WEIGHTS_NAME) as tmp:
        save_file(weights, str(tmp))
    files.write_json(folder / JSON_NAME, record)
    return folder


def load(cls: type, path: str | Path, device: str | None = None) -> Any:
    """The estimator of class `cls` saved in `path`, its model built anew and its weights loaded."""
    from treino.run.folder import load_weights

    folder = Path(path).expanduser()
    if not (folder / JSON_NAME).is_file():
        raise RunError(f"{folder}: no {JSON_NAME}; give a folder that {cls.__name__}.save wrote")
    record = files.read_json(folder / JSON_NAME)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise RunError(f"{folder}: bundle format {found} is not {FORMAT}; save it again with this treino")
    if record["estimator"] != cls.__name__:
        raise RunError(f"{folder}: holds a {record['estimator']}; load it with {record['estimator']}.load")
    settings = _restored(record["params"])
    if device is not None:
        settings["device"] = device
    est = cls(**settings)
    _restore_fitted(est, record)
    task = record["task"]
    n_outputs = 1 if task == "binary" else len(est.classes_) if task == "multiclass" else est.n_targets_
    model = build_model(est, task, est.n_features_in_, n_outputs, record.get("target_scale"))
    try:
        model.load_state_dict(load_weights(folder))
    except RuntimeError as error:  # torch lists every missing and unexpected key
        raise RunError(
            f"{folder / WEIGHTS_NAME}: does not fit the model its settings build "
            f"({str(error).splitlines()[0]}); the files were changed or come from different saves"
        ) from None
    est.module_ = model.to(P.device(est))
    est._loss_fn = losses.build(P.loss_for(est, task), task)
    if record.get("target_scale") is not None:
        scale = record["target_scale"]
        est._loss_fn = losses.ScaledLoss(est._loss_fn, scale["mean"], scale["std"])
    est._loss_fn.to(P.device(est))
    est._optimizer = None  # partial_fit starts a new one: its state is not in the bundle
    return est


def _restore_fitted(est: Any, record: dict[str, Any]) -> None:
    est.task_ = record["task"]
    est.n_features_in_ = record["n_features_in"]
    if record.get("feature_names_in") is not None:
        est.feature_names_in_ = np.asarray(record["feature_names_in"], dtype=object)
    est.history_, est.n_iter_ = record["history"], len(record["history"])
    est.best_epoch_, est._seed = record["best_epoch"], record["seed"]
    if "classes" in record:
        est.classes_ = np.asarray(record["classes"]["values"], dtype=np.dtype(record["classes"]["dtype"]))
    else:
        est.target_scale_, est.n_targets_ = record["target_scale"], record["n_targets"]
        est._single_target = record["single_target"]


def _settings(est: Any) -> dict[str, Any]:
    """get_params() as JSON: a module class by its import name; what JSON cannot hold is refused
    with the fix (pickle holds any object)."""
    out = {}
    for key, value in est.get_params(deep=False).items():
        if key == "module" and value is not None:
            value = {"import": _import_name(est, value)}
        elif key == "random_state" and not (value is None or isinstance(value, int)):
            value = est._seed  # a RandomState: the seed it gave this fit
        elif key == "device":
            value = str(value)
        elif key == "hidden" and not isinstance(value, int):
            value = [int(v) for v in value]
        out[key] = value
    try:
        json.dumps(out)  # strictly: write_json would write an unknown object as its str()
    except (TypeError, ValueError):
        raise P.ParamError(
            f"{type(est).__name__}.save: a setting is not JSON (module_args={est.module_args!r}); keep "
            f"module_args to numbers, strings and lists, or use pickle/joblib"
        ) from None
    return out


def _restored(settings: dict[str, Any]) -> dict[str, Any]:
    settings = dict(settings)
    if isinstance(settings.get("module"), dict):
        settings["module"] = import_object(settings["module"]["import"])
    if isinstance(settings.get("hidden"), list):
        settings["hidden"] = tuple(settings["hidden"])
    return settings


def _import_name(est: Any, module: Any) -> str:
    """'package.module:Class' for a class importable by that name (as the CLI names one)."""
    name = f"{getattr(module, '__module__', '')}:{getattr(module, '__qualname__', '')}"
    if "<locals>" in name or name.startswith(":") or name.endswith(":"):
        raise P.ParamError(
            f"{type(est).__name__}.save: module={getattr(module, '__name__', module)!r} cannot be imported "
            f"by name (it is defined inside a function); define it at the top of a module"
        )
    return name
