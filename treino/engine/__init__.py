"""The loop on plain torch objects; knows nothing of YAML, files or datasets."""

from treino.batches.source import InMemory, Loader, as_source
from treino.engine.callbacks import Callback, EarlyStopping
from treino.engine.display import Display, NotebookDisplay, PlainDisplay, ProgressBar, choose_display
from treino.engine.loop import evaluate, fit, predict, resolve_device
from treino.engine.state import History, TrainState

__all__ = [
    "Callback",
    "Display",
    "EarlyStopping",
    "History",
    "InMemory",
    "Loader",
    "NotebookDisplay",
    "PlainDisplay",
    "ProgressBar",
    "TrainState",
    "as_source",
    "choose_display",
    "evaluate",
    "fit",
    "predict",
    "resolve_device",
]
