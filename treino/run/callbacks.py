"""The callbacks every run gets, `treino train` and `treino.fit` alike: early stopping (which
also tracks the best epoch) and the progress display."""

from __future__ import annotations

from treino.engine import metrics as M
from treino.engine.callbacks import Callback, EarlyStopping, ProgressBar
from treino.engine.probes import Probes


def standard(
    task: str,
    has_val: bool,
    *,
    patience: int | None,
    monitor: str = "val_loss",
    min_delta: float = 0.0,
    restore_best: bool = True,
    progress: bool = True,
) -> list[Callback]:
    """Early stopping on `monitor` (on the training split's when there is no validation data),
    then the progress display when `progress`."""
    if not has_val and monitor.startswith("val_"):
        monitor = "train_" + monitor.removeprefix("val_")
    callbacks: list[Callback] = [
        EarlyStopping(
            monitor=monitor,
            patience=patience,
            min_delta=min_delta,
            higher_is_better=M.higher_is_better(monitor, task),  # type: ignore[arg-type]
            restore_best=restore_best,
        ),
        Probes(),  # once per epoch: gradient norms, dead/saturated units, weight movement (diagnosis)
    ]
    if progress:
        callbacks.append(ProgressBar("loss" if task == "regression" else "accuracy"))
    return callbacks
