"""The callbacks every run gets, `treino train` and `treino.fit` alike: early stopping (which
also tracks the best epoch) and the progress display."""

from __future__ import annotations

from treino.engine import metrics as M
from treino.engine.callbacks import Callback, EarlyStopping
from treino.engine.display import choose_display
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
    verbose: int = 1,
    loss_label: str = "loss",
    display: str | None = None,
) -> list[Callback]:
    """Early stopping on `monitor` (on the training split's when there is no validation data),
    then, when `progress` and `verbose` > 0, the progress display for where output goes
    (treino.engine.display.choose_display: `verbose` 2 shows every column, `loss_label` names
    the loss, e.g. "loss (standardized y)", `display` forces terminal, notebook or plain)."""
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
    shown = choose_display(
        "r2" if task == "regression" else "accuracy", verbose=verbose if progress else 0,
        loss_label=loss_label, mode=display,
    )  # fmt: skip
    if shown is not None:
        callbacks.append(shown)
    return callbacks
