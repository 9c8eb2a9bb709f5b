"""Test-set plots of a classifier, from predictions.csv and misclassified.npz: the confusion
matrix (counts and normalized), precision and recall per class, the ROC curve (binary), and a
grid of misclassified images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from treino.report.draw import TRAIN, VAL, save, subplots

MAX_LABELLED = 25  # above this many classes, the confusion matrix cells carry no numbers


def confusion(pred: pd.DataFrame, classes: list[str], path: Path) -> Path:
    """Counts (left) and rows normalized to 1, i.e. the recall of each class (right)."""
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(pred["y_true"], pred["y_pred"], labels=classes)
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    k = len(classes)
    size = min(3 + 0.3 * k, 10)
    fig, axes = subplots(1, 2, figsize=(2 * size + 1, size))
    for ax, matrix, title, fmt in (
        (axes[0], counts, "Confusion matrix (counts)", "d"),
        (axes[1], normalized, "Normalized by true class (recall)", ".2f"),
    ):
        image = ax.imshow(matrix, cmap="Blues", vmin=0)
        fig.colorbar(image, ax=ax, fraction=0.046)
        ticks = np.arange(k)
        ax.set_xticks(ticks, classes, rotation=90 if k > 8 else 0)
        ax.set_yticks(ticks, classes)
        ax.set(title=title, xlabel="predicted", ylabel="true")
        if k <= MAX_LABELLED:
            threshold = matrix.max() / 2 if matrix.max() > 0 else 1
            for i in range(k):
                for j in range(k):
                    color = "white" if matrix[i, j] > threshold else "black"
                    ax.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", color=color,
                            fontsize=8 if k > 10 else 10)  # fmt: skip
    return save(fig, path, grid=False)


def per_class(pred: pd.DataFrame, classes: list[str], path: Path, split: str = "test") -> Path:
    """Precision and recall of each class on the held-out split, side by side."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, _, support = precision_recall_fscore_support(
        pred["y_true"], pred["y_pred"], labels=classes, zero_division=0
    )
    k = len(classes)
    x = np.arange(k)
    fig, ax = subplots(figsize=(min(3 + 0.5 * k, 14), 3.5))
    ax.bar(x - 0.2, precision, width=0.4, color=TRAIN, label="precision")
    ax.bar(x + 0.2, recall, width=0.4, color=VAL, label="recall")
    ax.set_xticks(x, [f"{c}\n(n={n})" for c, n in zip(classes, support, strict=True)] if k <= 12 else classes,
                  rotation=0 if k <= 12 else 90)  # fmt: skip
    ax.set(title=f"Precision and recall per class ({split} set)", ylim=(0, 1.22))
    ax.legend(loc="upper right", ncol=2)  # above the bars, which reach 1
    return save(fig, path)


def roc(pred: pd.DataFrame, classes: list[str], path: Path) -> Path | None:
    """ROC of the positive (second) class; None when it cannot be drawn (one class in the test
    set, or probabilities missing)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(classes) != 2 or f"p_{classes[1]}" not in pred:
        return None
    column = f"p_{classes[1]}"
    truth = (pred["y_true"] == classes[1]).to_numpy()
    score = pred[column].to_numpy(dtype=float)
    if truth.all() or not truth.any() or not np.isfinite(score).all():
        return None
    fpr, tpr, _ = roc_curve(truth, score)
    area = roc_auc_score(truth, score)
    fig, ax = subplots(figsize=(4.5, 4.2))
    ax.plot(fpr, tpr, color=TRAIN, lw=2, label=f"AUC = {area:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="chance")
    ax.set(title=f"ROC (positive class: {classes[1]})", xlabel="false positive rate",
           ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    ax.legend(loc="lower right")
    return save(fig, path)


def misclassified(found: dict[str, np.ndarray], classes: list[str], path: Path) -> Path | None:
    """Up to 32 test images the model got wrong, each titled 'true -> predicted'."""
    images = found.get("images")
    if images is None or len(images) == 0:
        return None
    n = len(images)
    cols = min(8, n)
    rows = -(-n // cols)
    fig, axes = subplots(rows, cols, figsize=(1.3 * cols, 1.75 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        image = images[i]  # (C, H, W) uint8
        if image.shape[0] == 1:
            ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
        else:
            ax.imshow(np.moveaxis(image, 0, -1))
        true, guess = classes[int(found["y_true"][i])], classes[int(found["y_pred"][i])]
        ax.set_title(f"{true} → {guess}", fontsize=8, color=VAL)
    fig.suptitle("Misclassified test images (true → predicted)", fontsize=10)
    return save(fig, path, grid=False)
