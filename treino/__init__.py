"""treino: train and validate PyTorch neural networks, from one command to your own module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from treino.engine.loop import History
    from treino.run.train import Run
    from treino.serve.predict import Predictor


def train(config: Any = None, overrides: Any = None, **kwargs: Any) -> Run:
    """Train from a config path/dict/Config plus dotted overrides; see treino.run.train."""
    from treino.run.train import train as _train

    return _train(config, overrides, **kwargs)


def fit(*args: Any, **kwargs: Any) -> History:
    """Train your own nn.Module on tensors, a Dataset or a DataLoader; see treino.engine.fit."""
    from treino.engine.loop import fit as _fit

    return _fit(*args, **kwargs)


def load(run_dir: Any, **kwargs: Any) -> Predictor:
    """Load a run's model bundle for prediction (never unpickles); see treino.predict.load."""
    from treino.serve.predict import load as _load

    return _load(run_dir, **kwargs)


__all__ = ["__version__", "fit", "load", "train"]
