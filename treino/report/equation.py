"""A linear regression's equation in the data's own units.

treino trains on scaled inputs, x_s = (x - shift) / scale, and, for regression, on a
standardized target: the model outputs z = w . x_s + b0 and reports y = z * std + mean. So in
the data's units

    y = sum_j (std * w_j / scale_j) * x_j + std * (b0 - sum_j w_j * shift_j / scale_j) + mean

Columns that are not scaled numbers (one-hot categories, missing-value indicators, TF-IDF
terms) keep their own 0/1 or weight units. Plain numbers in, plain JSON out: no torch here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_FEATURES = 50  # beyond this, a list of coefficients helps nobody: no equation is given


def _input_scaling(
    preprocessing: dict[str, Any], features: list[str]
) -> tuple[np.ndarray, np.ndarray] | None:
    """(shift, scale) of each model input, in the order of `features`; None when an input is
    not a plain feature column (token ids, images)."""
    columns = preprocessing.get("columns")
    if not columns:
        return None
    numbers = {}
    for c in columns:
        if c.get("role") == "numeric":
            numbers[c["name"]] = (c.get("shift", 0.0), c.get("scale", 1.0))
        for part in c.get("parts") or []:  # date parts: standardized like numbers
            numbers[f"{c['name']}.{part['part']}"] = (part.get("shift", 0.0), part.get("scale", 1.0))
    shift = np.array([numbers.get(f, (0.0, 1.0))[0] for f in features], dtype=float)
    scale = np.array([numbers.get(f, (0.0, 1.0))[1] for f in features], dtype=float)
    return shift, scale


def linear_equation(
    weight: np.ndarray,
    bias: np.ndarray,
    preprocessing: dict[str, Any],
    features: list[str],
    targets: list[str],
) -> dict[str, Any] | None:
    """The equation of a linear regression (weight (T, D), bias (T,)) in the data's units.

    Returns {"text", "coefficients", "intercept"} for one target, and a "targets" list of those
    for several; None when the inputs are not a table's columns or there are too many of them.

    Example:
        >>> linear_equation(np.array([[0.9]]), np.array([0.1]),
        ...     {"columns": [{"name": "x", "role": "numeric", "shift": 5.0, "scale": 2.0}],
        ...      "target": {"mean": [16.0], "std": [6.0]}}, ["x"], ["y"])["text"]
        'y = 2.7·x + 3.1'
    """
    weight = np.atleast_2d(np.asarray(weight, dtype=float))
    bias = np.atleast_1d(np.asarray(bias, dtype=float))
    if weight.shape[1] != len(features) or len(features) > MAX_FEATURES:
        return None
    scaling = _input_scaling(preprocessing, features)
    if scaling is None:
        return None
    shift, scale = scaling
    target = preprocessing.get("target") or {}
    mean = np.asarray(target.get("mean", [0.0] * len(weight)), dtype=float)
    std = np.asarray(target.get("std", [1.0] * len(weight)), dtype=float)
    names = targets if len(targets) == len(weight) else [f"y{i + 1}" for i in range(len(weight))]
    out = []
    for t, name in enumerate(names):
        a = std[t] * weight[t] / scale
        b = std[t] * (bias[t] - float(np.sum(weight[t] * shift / scale))) + mean[t]
        coefficients = {f: _round(v) for f, v in zip(features, a, strict=True)}
        out.append({"target": name, "text": text(name, coefficients, _round(b)),
                    "coefficients": coefficients, "intercept": _round(b)})  # fmt: skip
    if len(out) == 1:
        return {k: v for k, v in out[0].items() if k != "target"}
    return {"text": "; ".join(e["text"] for e in out), "targets": out}


def text(target: str, coefficients: dict[str, float], intercept: float) -> str:
    """'price = 3.02·rooms + 1.97' (terms in the order given; a minus sign for negatives)."""
    terms = []
    for name, value in coefficients.items():
        sign = "-" if value < 0 else "+"
        shown = name if name.replace("_", "a").isalnum() else f"[{name}]"  # 'city=Paris' -> [city=Paris]
        terms.append((sign, f"{_fmt(abs(value))}·{shown}"))
    terms.append(("-" if intercept < 0 else "+", _fmt(abs(intercept))))
    first_sign, first = terms[0]
    body = ("-" if first_sign == "-" else "") + first
    body += "".join(f" {sign} {term}" for sign, term in terms[1:])
    return f"{target} = {body}"


def _fmt(value: float) -> str:
    """Four significant digits, no exponent for everyday sizes: 2.98, 0.0312, 1234."""
    if value == 0:
        return "0"
    if 1e-4 <= value < 1e6:
        digits = max(0, 3 - math.floor(math.log10(value)))
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return f"{value:.3e}"


def _round(value: float) -> float:
    """Six significant digits: enough for the JSON, without float noise."""
    return float(f"{value:.6g}")


def of_model(
    model: Any, kind: str, task: str, preprocessing: dict[str, Any], features: list[str], targets: list[str]
) -> dict[str, Any] | None:
    """The equation of a trained treino linear regression (model.kind: linear); None for any
    other model. `model` is the built module, possibly wrapped in the target's rescaling."""
    if kind != "linear" or task != "regression":
        return None
    core = getattr(model, "core", model)  # WithRescale(core, rescale): the affine map is the core
    layer = getattr(core, "linear", None)
    if layer is None or getattr(layer, "bias", None) is None:
        return None
    weight = layer.weight.detach().cpu().double().numpy()
    bias = layer.bias.detach().cpu().double().numpy()
    return linear_equation(weight, bias, preprocessing, features, targets)


def loss_label(task: str, preprocessing: dict[str, Any] | None) -> str:
    """How to name the loss where it is shown: a regression trained on a standardized target
    has its loss on that scale ("loss (standardized y)"), while mse/rmse/mae are in y's units."""
    scaled = task == "regression" and bool((preprocessing or {}).get("target"))
    return "loss (standardized y)" if scaled else "loss"
