"""The held-out predictions of a trained model, written into the run folder so that the report
can draw them without running the model: predictions.csv (one row per test example), plus
curve.csv for a one-feature regression and misclassified.npz for images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from treino.batches.source import EVAL_ROWS
from treino.engine.loop import forward_rows, predict
from treino.tasks import TaskName, predict_labels, probabilities

CURVE_POINTS = 200  # points of the fitted line/curve of a one-feature regression
MAX_MISCLASSIFIED = 32  # images kept for the report's grid


def write(run_dir: Path, model: nn.Module, data: Any, task: TaskName, device: torch.device) -> None:
    """Write predictions.csv (test split, or validation when there is no test split) and, when
    they apply, curve.csv and misclassified.npz. Does nothing when both splits are empty."""
    name, part = ("test", data.test) if data.test is not None else ("val", data.val)
    if part is None:
        return
    info = data.info
    if part.x is None:  # lazy rows: read in order, batch by batch
        outputs = predict(model, part.ordered(device, task), device)[0].float().cpu()
    else:
        outputs = _outputs(model, part.x, device)
    frame = pd.DataFrame({"row": np.arange(len(part)), "split": name})
    if info.kind == "series":  # long: one row per window, step and target, beside the baselines
        from treino.data.series_windows import forecast_frame

        frame = forecast_frame(part, outputs.numpy(), info, name)
    elif task == "regression":
        _regression_columns(frame, outputs, part.y, info.targets)
        column = _single_numeric(data.preprocessing, info.features)
        if column is not None and part.x is not None:
            frame.insert(2, "x", _raw(part.x[:, 0].numpy(), column))
            _write_curve(run_dir, model, data, column, device)
    else:
        classes = np.array(info.classes)
        true = part.y.reshape(-1).long().numpy()
        pred = predict_labels(outputs, task).numpy()
        frame["y_true"], frame["y_pred"] = classes[true], classes[pred]
        probs = probabilities(outputs, task).numpy()
        for k, label in enumerate(info.classes):
            frame[f"p_{label}"] = probs[:, k].round(5)
        if info.kind == "image":
            _write_misclassified(run_dir, part, true, pred, data.preprocessing)
    tmp = run_dir / "predictions.csv.tmp"
    frame.to_csv(tmp, index=False)
    tmp.replace(run_dir / "predictions.csv")


def _outputs(model: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Outputs of in-memory rows, EVAL_ROWS per pass as validation runs them (same float results)."""
    return forward_rows(model, x, device, EVAL_ROWS)


def _regression_columns(
    frame: pd.DataFrame, outputs: torch.Tensor, y: torch.Tensor, names: list[str]
) -> None:
    pred = outputs.reshape(len(frame), -1).numpy()
    true = y.reshape(len(frame), -1).numpy()
    if pred.shape[1] == 1:
        frame["y_true"], frame["y_pred"] = true[:, 0], pred[:, 0]
        return
    for j, name in enumerate(names):
        frame[f"y_true_{name}"], frame[f"y_pred_{name}"] = true[:, j], pred[:, j]


def _single_numeric(preprocessing: dict[str, Any], features: list[str]) -> dict[str, Any] | None:
    """The preprocessing entry of the one numeric input column, or None if there is not exactly one."""
    columns = preprocessing.get("columns") or []
    if len(features) != 1 or len(columns) != 1 or columns[0].get("role") != "numeric":
        return None
    return columns[0]


def _raw(scaled: np.ndarray, column: dict[str, Any]) -> np.ndarray:
    """Undo the input scaling, so the plot speaks the data's units (rooms, not z-scores)."""
    return scaled * column.get("scale", 1.0) + column.get("shift", 0.0)


def _write_curve(
    run_dir: Path, model: nn.Module, data: Any, column: dict[str, Any], device: torch.device
) -> None:
    xs = [s.x[:, 0] for s in (data.train, data.val, data.test) if s is not None and s.x is not None]
    every = torch.cat(xs)
    grid = torch.linspace(float(every.min()), float(every.max()), CURVE_POINTS)
    pred = _outputs(model, grid[:, None], device).reshape(CURVE_POINTS, -1)[:, 0].numpy()
    curve = pd.DataFrame({"x": _raw(grid.numpy(), column), "y_pred": pred})
    curve.to_csv(run_dir / "curve.csv.tmp", index=False)
    (run_dir / "curve.csv.tmp").replace(run_dir / "curve.csv")


def _write_misclassified(
    run_dir: Path, part: Any, true: np.ndarray, pred: np.ndarray, preprocessing: dict[str, Any]
) -> None:
    wrong = np.nonzero(true != pred)[0][:MAX_MISCLASSIFIED]
    images = part.take(torch.from_numpy(wrong)).float()  # (N, C, H, W), normalized per channel
    mean = torch.tensor(preprocessing.get("mean", [0.0] * images.shape[1]))[:, None, None]
    std = torch.tensor(preprocessing.get("std", [1.0] * images.shape[1]))[:, None, None]
    pixels = ((images * std + mean).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    with open(run_dir / "misclassified.npz.tmp", "wb") as fh:
        np.savez_compressed(fh, images=pixels, y_true=true[wrong], y_pred=pred[wrong], row=wrong)
    (run_dir / "misclassified.npz.tmp").replace(run_dir / "misclassified.npz")
