"""The configuration: the schema (every key, its default and its meaning) and its loading.

Example:
    >>> from treino import config
    >>> cfg = config.load("iris.yaml", ["optimizer.lr=0.01"])
"""

from treino.config.load import load, validate
from treino.config.schema import (
    AUTO_EPOCHS,
    AUTO_MIN_STEPS,
    AUTO_PATIENCE,
    DATA_SUFFIXES,
    Config,
    DataConfig,
    EarlyStoppingConfig,
    ImageConfig,
    LogConfig,
    LossConfig,
    MlflowConfig,
    ModelConfig,
    OptimizerConfig,
    ScheduleConfig,
    Section,
    SplitConfig,
    Task,
    TextConfig,
    TrainConfig,
)

__all__ = [
    "AUTO_EPOCHS",
    "AUTO_MIN_STEPS",
    "AUTO_PATIENCE",
    "DATA_SUFFIXES",
    "Config",
    "DataConfig",
    "EarlyStoppingConfig",
    "ImageConfig",
    "LogConfig",
    "LossConfig",
    "MlflowConfig",
    "ModelConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "Section",
    "SplitConfig",
    "Task",
    "TextConfig",
    "TrainConfig",
    "load",
    "validate",
]
