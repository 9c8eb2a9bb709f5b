"""treino: train and validate PyTorch neural networks, from one command to your own module.

    run = treino.train("config.yaml", {"optimizer.lr": 0.01})    # a config -> a run folder
    history = treino.fit(net, (X, y), (X_val, y_val), loss="mse")  # your own nn.Module
    predictor = treino.load("runs/iris-20260101-120000")           # a trained model at work

The names resolve on first use, so `import treino` stays light (no torch until needed), and
each is the real function: `help(treino.fit)` shows its arguments.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from treino.engine.state import History
    from treino.run.fit import fit
    from treino.run.train import Run, train
    from treino.serve.predict import Predictor, load

# public name -> the module that defines it
_PUBLIC = {
    "train": "treino.run.train",
    "Run": "treino.run.train",
    "fit": "treino.run.fit",
    "History": "treino.engine.state",
    "load": "treino.serve.predict",
    "Predictor": "treino.serve.predict",
}


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'treino' has no attribute '{name}'")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = ["History", "Predictor", "Run", "__version__", "fit", "load", "train"]
