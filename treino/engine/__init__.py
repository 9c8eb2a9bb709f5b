"""The loop on plain torch objects; knows nothing of YAML, files or datasets."""

from treino.batches.source import InMemory, Loader, as_source
from treino.engine.callbacks import Callback, EarlyStopping, ProgressBar
from treino.engine.loop import evaluate, fit, predict, resolve_device
from treino.engine.state import History, TrainState

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "InMemory",
    "Loader",
    "ProgressBar",
    "TrainState",
    "as_source",
    "evaluate",
    "fit",
    "predict",
    "resolve_device",
]
