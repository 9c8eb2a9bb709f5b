"""`treino evaluate`: the full metric set of a trained model, with the confusion matrix, on the
run's own test split or on a new labeled source; printed and written into the run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from treino import files
from treino.engine import metrics as M
from treino.errors import DataError
from treino.run.assemble import build_loss
from treino.serve.predict import Predictor, load
from treino.tasks import predict_labels, prepare_targets


@dataclass
class Evaluation:
    """Metrics of a model on one labeled source; `path` is the JSON file they were written to."""

    source: str
    task: str
    rows: int
    metrics: dict[str, float]
    classes: list[str] = field(default_factory=list)
    confusion: list[list[int]] | None = None  # rows = true class, columns = predicted class
    per_class: dict[str, dict[str, float]] | None = None
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("path", "classes")}
        if self.confusion is not None:
            out["confusion"] = {"classes": self.classes, "matrix": self.confusion}
        return out


def evaluate(
    run_dir: str | Path,
    data: str | Path | None = None,
    *,
    trust_code: bool = False,
    quiet: bool = False,
) -> Evaluation:
    """Evaluate a run's model on its test split (data=None) or on a labeled table, image folder
    or built-in dataset; writes evaluation.json (or evaluation-<name>.json) into the run folder.

    Example:
        >>> ev = treino.serve.evaluate.evaluate("runs/iris", "new_flowers.csv")
        >>> ev.metrics["accuracy"], ev.confusion
    """
    predictor = load(run_dir, trust_code=trust_code, quiet=quiet)
    if data is None:
        source, outputs, targets = "test split", *_test_split(predictor)
        name = "evaluation.json"
    else:
        source, outputs, targets = str(data), *_labeled(predictor, data)
        name = f"evaluation-{Path(str(data)).stem or 'data'}.json"
    result = _score(predictor, source, outputs, targets)
    folder = predictor.dir
    run_folder = folder.parent if folder.name == "model" else folder
    result.path = run_folder / name
    files.write_json(result.path, result.to_dict())
    return result


def _test_split(p: Predictor) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's test split, re-read and re-split exactly as training did (same config, seed)."""
    from treino.data.load import load as load_data

    cfg = p.config
    data = load_data(cfg.data, torch.Generator().manual_seed(cfg.seed), cfg.seed)
    refit = json.loads(json.dumps(data.preprocessing, default=files.jsonable))
    if refit != p.preprocessing:
        raise DataError(
            f"{cfg.data.source}: the data changed since the model was trained (its preprocessing no "
            f"longer matches); evaluate on a labeled file with --data FILE"
        )
    if data.test is None:
        raise DataError(
            f"{p.dir}: the run has no test split (data.split.test is 0); evaluate a labeled file with --data FILE"
        )
    if data.test.x is None or data.test.x.layout != torch.strided:  # lazy rows, CSR: batch by batch
        from treino.engine.loop import predict

        outputs, _ = predict(p.model, data.test.ordered(p.device, p.task), p.device)
        return outputs.float().cpu(), data.test.y
    return p.outputs(data.test.x), data.test.y


def _labeled(p: Predictor, source: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and encoded targets for a labeled file, image folder, .npz or built-in dataset."""
    from treino.data.builtin import DATASETS, Images
    from treino.data.load import resolve
    from treino.data.sequences import Sequences

    data: Any = source
    labels: pd.DataFrame | None = None
    if (isinstance(source, str) and source in DATASETS) or Path(source).suffix.lower() == ".npz":
        # read as training reads them (the run's data.image settings apply to .npz arrays)
        cfg = p.config.data.model_copy(update={"source": str(source), "val": None, "test": None,
                                               "n_samples": None, "noise": None})  # fmt: skip
        raw, _ = resolve(cfg, p.config.seed)
        if isinstance(raw, Images):
            data, labels = raw.x, pd.DataFrame({"label": np.asarray(raw.classes, dtype=object)[raw.y]})
        elif isinstance(raw, Sequences):  # x (N, T, F) and y as read for training
            y = raw.y.reshape(len(raw.y), -1)
            labels = pd.DataFrame(y if p.task == "regression" else y.astype(str), columns=p.info.targets)
            data = raw.x
        else:
            data = raw.frame
            data.attrs["source"] = source  # messages name the dataset, not "input"
    outs, found, start = [], [], 0
    for chunk in p.chunks(data, sparse=True):  # TF-IDF chunks held sparse, as predict holds them
        n = len(chunk.ids)
        target = chunk.targets if labels is None else labels.iloc[start : start + n]
        start += n
        if target is None or (p.task != "regression" and target.shape[1] == 0):
            wanted = ", ".join(p.info.targets) or "class subfolders"
            raise DataError(
                f"{source}: no labels ({wanted}); evaluate needs labeled data; to predict without labels "
                f"use treino predict"
            )
        outs.append(p.outputs(chunk.features))
        found.append(_encode(p, target, str(source)))
    return torch.cat(outs), torch.cat(found)


def _encode(p: Predictor, target: pd.DataFrame, where: str) -> torch.Tensor:
    """Targets as the model's class indices (classification) or float values (regression)."""
    if p.task == "regression":
        missing = [t for t in p.info.targets if t not in target.columns]
        if missing:
            raise DataError(f"{where}: no target column(s) {', '.join(missing)}; evaluate needs them")
        values = target[p.info.targets].apply(pd.to_numeric, errors="coerce")
        if values.isna().any().any():
            raise DataError(f"{where}: the target has empty or non-numeric values; fix or drop those rows")
        return torch.from_numpy(values.to_numpy(dtype=np.float32, copy=True))  # writable: no torch warning
    column = target.iloc[:, 0]
    if column.isna().any():
        raise DataError(
            f"{where}: the target has {int(column.isna().sum())} empty values; fix or drop those rows"
        )
    text = _label_text(column)
    index = {c: i for i, c in enumerate(p.classes)}
    unknown = sorted(set(text) - set(index))
    if unknown:
        raise DataError(
            f"{where}: labels {', '.join(map(repr, unknown[:10]))} are not among the model's classes "
            f"({', '.join(p.classes)}); evaluate only on the classes it was trained on"
        )
    return torch.tensor([index[t] for t in text], dtype=torch.float32)


def _label_text(column: pd.Series) -> list[str]:
    """Labels as the class names training stored: str(value), integral floats as integers."""
    if column.dtype.kind == "f" and np.all(np.mod(column.to_numpy(), 1) == 0):
        column = column.astype(np.int64)
    return [str(v) for v in column]


def _score(p: Predictor, source: str, outputs: torch.Tensor, targets: torch.Tensor) -> Evaluation:
    task = p.task
    counts = p.info.class_counts.get("train") if task != "regression" else None
    scale = p.preprocessing.get("target") if task == "regression" else None
    loss_fn = build_loss(p.config.loss, task, counts, scale)
    y = prepare_targets(targets, task)
    with torch.inference_mode():
        scores = {"loss": loss_fn(outputs, y).item()} | M.compute(outputs, y, task)
    result = Evaluation(source, task, len(outputs), scores, p.classes)
    if task != "regression":
        k = len(p.classes)
        pred = predict_labels(outputs, task).numpy()
        true = y.reshape(-1).long().numpy()
        cm = np.bincount(true * k + pred, minlength=k * k).reshape(k, k)
        result.confusion = cm.tolist()
        result.per_class = _per_class(cm, p.classes)
    return result


def _per_class(cm: np.ndarray, classes: list[str]) -> dict[str, dict[str, float]]:
    """precision, recall, f1 and support of every class, from the confusion matrix."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        c: {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": int(actual[i])}
        for i, c in enumerate(classes)
    }


def show(result: Evaluation) -> None:
    """Print the metrics (and confusion matrix) as tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    print(f"{result.task} model on {result.source}: {result.rows} rows")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    if result.confusion is not None and result.per_class is not None:
        print("confusion matrix (rows: true class, columns: predicted class)")
        cm = Table()
        cm.add_column("true \\ predicted")
        for c in result.classes:
            cm.add_column(c, justify="right")
        for c in ("precision", "recall", "f1"):
            cm.add_column(c, justify="right")
        for i, c in enumerate(result.classes):
            stats = result.per_class[c]
            cm.add_row(
                c, *map(str, result.confusion[i]), *(f"{stats[s]:.3f}" for s in ("precision", "recall", "f1"))
            )
        console.print(cm)
    print(f"written: {result.path}")
