"""The light description of the data (task, shapes, classes, features): what models and
prediction read. It imports neither pandas nor pyarrow, so loading a model does not load the readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from treino.tasks import TaskName

Kind = Literal["table", "image", "text", "sequence", "series"]  # sequence: (T, F) rows; series: windows


@dataclass
class DataInfo:
    """What the model and the report need to know about the data."""

    task: TaskName
    kind: Kind
    input_shape: tuple[int, ...]  # one sample, e.g. (20,) or (1, 8, 8)
    classes: list[str] = field(default_factory=list)  # original labels, in index order
    targets: list[str] = field(default_factory=list)  # target column name(s)
    features: list[str] = field(default_factory=list)  # model input columns after encoding
    roles: dict[str, str] = field(default_factory=dict)  # source column -> role
    source: str = ""
    sizes: dict[str, int] = field(default_factory=dict)  # rows per split
    class_counts: dict[str, list[int]] = field(default_factory=dict)  # per split
    notes: list[str] = field(default_factory=list)  # what was inferred, dropped, clamped
    text_mode: str = ""  # kind text: "tfidf" (x float (N, F)) or "tokens" (x long (N, L), 0 = pad)
    vocab_size: int = 0  # tokens: ids are 0..vocab_size-1 (0 = padding, 1 = unknown word)
    window: int = 0  # series: past steps one input holds (input_shape is (window, features))
    horizon: int = 0  # series: steps ahead predicted (n_outputs is horizon x targets)

    @property
    def n_outputs(self) -> int:
        if self.task == "binary":
            return 1
        if self.task == "multiclass":
            return len(self.classes)
        return max(1, len(self.targets)) * max(1, self.horizon)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["input_shape"] = list(self.input_shape)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataInfo:
        raw = dict(raw)
        raw["input_shape"] = tuple(raw["input_shape"])
        return cls(**raw)
