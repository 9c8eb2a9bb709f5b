"""The configuration schema (pydantic v2): every section, key, default and description.
Loading (YAML, --set overrides, error messages) is in treino/config.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from treino.config.series import SeriesConfig

Task = Literal["auto", "regression", "binary", "multiclass"]
Names = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]  # `out` = [out]
DATA_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".jsonl", ".ndjson", ".npz")  # not configs


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SplitConfig(Section):
    val: float = Field(0.15, ge=0, lt=1, description="Fraction of the rows for validation.")
    test: float = Field(0.15, ge=0, lt=1, description="Fraction of the rows for the test.")
    stratify: Literal["auto", True, False] = Field(
        "auto", description="Keep class proportions in each split (auto: for classification)."
    )
    column: str | None = Field(
        None, description="A column whose values (train/val/test) assign each row to a split."
    )

    @field_validator("test")
    @classmethod
    def _leaves_training_rows(cls, test: float, info: ValidationInfo) -> float:
        val = info.data.get("val", 0.0)
        if val + test >= 1:
            raise ValueError(f"val {val} + test {test} leaves no rows to train on; keep their sum below 1")
        return test


class ImageConfig(Section):
    size: tuple[int, int] | None = Field(None, description="Resize every image to (H, W).")
    channels: Literal["auto", 1, 3] = Field("auto", description="1 = grayscale, 3 = RGB.")
    augment: bool = Field(False, description="Random flips and shifted crops on train only.")
    skip_bad: bool = Field(False, description="Skip unreadable images (counted) instead of failing.")


class TextConfig(Section):
    mode: Literal["tfidf", "tokens"] = Field(
        "tfidf",
        description="tfidf: TF-IDF features (see sparse); tokens: padded token ids, for model.kind text "
        "(the mean of the word vectors) or rnn (read in order).",
    )
    max_features: int | None = Field(
        None,
        gt=0,
        description="TF-IDF terms (or token vocabulary) kept; null = 5000 for a text dataset, "
        "max(20, train rows / 10) for a text column beside other inputs.",
    )
    ngrams: tuple[int, int] = Field((1, 2), description="TF-IDF n-gram range (min, max).")
    min_df: int = Field(2, gt=0, description="Ignore terms found in fewer training rows than this.")
    max_length: int = Field(200, gt=0, description="tokens: ids kept per text (longer texts are cut).")
    sparse: Literal["auto"] | bool = Field(
        "auto",
        description="tfidf: hold the features as a sparse (CSR) matrix, densified batch by batch; auto = when "
        "the train split has 1000+ features and at most 5% of them are non-zero.",
    )


UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20,
         "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def parse_bytes(value: str) -> int | None:
    """'2GB' -> 2_000_000_000, '512MiB', '1e9', 'auto' -> None (the machine decides)."""
    import re

    text = str(value).strip().upper().replace(" ", "")
    if text == "AUTO":
        return None
    found = re.fullmatch(r"([0-9]*\.?[0-9]+(?:E[0-9]+)?)([KMGT]I?B|B)?", text)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a size; write e.g. '2GB', '500MB', '512MiB' or auto")
    return int(float(found.group(1)) * UNITS[found.group(2) or ""])


class DataConfig(Section):
    source: str = Field("digits", description="A built-in dataset, a path, or your Dataset as 'pkg.mod:Class'.")  # fmt: skip
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments of your own Dataset class.")
    target: str | list[str] | None = Field(
        None, description="Target column(s) of a table; a list means multi-output regression."
    )
    task: Task = Field("auto", description="Inferred from the target when auto.")
    features: list[str] | None = Field(None, description="Use only these columns as inputs.")
    drop: list[str] = Field(default_factory=list, description="Columns never used as inputs.")
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Scaling of numeric inputs, fitted on the train split only."
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    val: str | None = Field(None, description="A separate validation source.")
    test: str | None = Field(None, description="A separate test source.")
    n_samples: int | None = Field(None, gt=0, description="Rows of a synthetic dataset.")
    noise: float | None = Field(None, ge=0, description="Noise of a synthetic dataset.")
    sequence: Literal["auto"] | bool = Field(
        "auto",
        description=".npz x of 3 axes: true = sequences (N, steps, features), false = images (N, H, W); auto = "
        "sequences when x holds floats with at most 16 features per step, fewer than its steps.",
    )
    image: ImageConfig = Field(default_factory=ImageConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    series: SeriesConfig | None = Field(None, description="Forecast a time series (docs/data.md); null = no.")
    categorical: Literal["onehot", "index"] = Field(
        "onehot", description="Categorical inputs: one-hot columns, or one index column (0 = unknown)."
    )
    datetime: Literal["expand", "drop"] = Field(
        "expand", description="Date columns: expanded to year/month/day/weekday/hour numbers, or dropped."
    )
    drop_missing_target: bool = Field(True, description="Drop rows whose target is empty.")
    scale_target: bool = Field(
        True, description="Regression: learn on the standardized target, predict in its units."
    )
    memory_budget: str = Field(
        "auto",
        description="Memory the decoded data may take, e.g. '2GB' or '500MB'; over it, image folders are "
        "read lazily by a DataLoader and Parquet tables streamed by row groups. auto = a quarter of RAM.",
    )
    workers: int | Literal["auto"] = Field(
        "auto", description="DataLoader worker processes for lazy data; auto = CPU cores - 1, at most 4."
    )

    @field_validator("memory_budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> str:
        value = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        if not isinstance(value, str):
            raise ValueError("must be a size such as '2GB', '500MB', '512MiB', a number of bytes, or auto")
        parse_bytes(value)  # raises with the accepted forms
        return value

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 (read in the training process), a positive number, or auto")
        return value

    @field_validator("target")
    @classmethod
    def _target_columns(cls, target: str | list[str] | None) -> str | list[str] | None:
        if isinstance(target, list):
            if not target:
                raise ValueError(
                    "an empty list; name the target column (several for multi-output regression)"
                )
            twice = next((t for i, t in enumerate(target) if t in target[:i]), None)
            if twice is not None:
                raise ValueError(f"names '{twice}' twice; list each target column once")
        return target


class ModelConfig(Section):
    # the names of model.kind, .activation and .init live in their registries (treino/models/),
    # checked when a run loads its config (treino/run/names.py)
    kind: str = Field(
        "auto",
        description="A model family, your own as 'package.module:Class', "
        "or auto (cnn for images, text for text, rnn for sequences and series, mlp otherwise).",
    )
    hidden: list[int] = Field(
        default_factory=lambda: [64],
        description="mlp/cnn/text: sizes of the hidden dense layers (one number = one layer); "
        "rnn: the size of the recurrent state, one number (stack layers with model.layers).",
    )
    activation: str = Field("relu", description="After each hidden layer and conv block.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout probability after each layer.")
    clip_inputs: bool = Field(
        True,
        description="mlp on tables: clamp each input to its range in the train split, so a wild value in "
        "new data (a typo, a unit error) cannot send the prediction far off; false = extrapolate.",
    )
    batch_norm: bool | None = Field(
        None, description="Batch normalization after each layer; null = on for cnn, off for mlp."
    )
    channels: list[int] = Field(
        default_factory=lambda: [32, 64], description="CNN: output channels of each conv block."
    )
    kernel: int = Field(3, gt=0, description="CNN: convolution kernel size.")
    pool: Literal["max", "avg", "none"] = Field("max", description="CNN: pooling after each block.")
    stride: int = Field(1, gt=0, description="CNN: convolution stride.")
    padding: int | Literal["same"] = Field(
        "same", description="CNN: zero padding of each convolution; same = kernel // 2."
    )
    head: Literal["auto", "global", "flatten"] = Field(
        "auto",
        description="CNN: what the dense head sees: auto = the last feature map flattened, averaged down to "
        "at most 8x8 positions first; global = its average per channel; flatten = all of it.",
    )
    embed_dim: int = Field(64, gt=0, description="text, rnn: embedding size for token-id inputs.")
    cell: str = Field("lstm", description="rnn: the recurrent cell, lstm, gru or rnn (plain tanh RNN).")
    layers: int = Field(1, ge=1, description="rnn: recurrent layers stacked, each reading the one below.")
    bidirectional: bool = Field(
        False, description="rnn: also read each sequence backwards; the head sees both last states."
    )
    init: str = Field("default", description="Weight initialization (biases start at zero unless default).")
    init_std: float = Field(0.01, gt=0, description="Standard deviation for init: normal.")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments of a custom model.")
    weights: str | None = Field(
        None, description="Start from these weights: .safetensors, a torch state dict, or a run folder."
    )
    weights_strict: bool = Field(
        True, description="Every tensor must match; false loads the matching ones and lists the rest."
    )
    freeze: Names = Field(default_factory=list, description="Layers (or parameters) that do not train, by their "
                          "names in the model summary, e.g. [features]; their batch norms keep their statistics.")  # fmt: skip
    reset: Names = Field(default_factory=list, description="Layers re-initialized after model.weights loads, e.g. "
                         "[out] for new classes; their tensors may differ in shape from the source's.")  # fmt: skip

    @field_validator("hidden", mode="before")
    @classmethod
    def _one_size(cls, value: Any) -> Any:
        # `hidden: 64` is one layer (mlp) or the state size (rnn): the list [64]
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class LossConfig(Section):
    name: str = Field(
        "auto", description="auto: mse for regression, bce for binary, cross_entropy for classes; or your "
        "own as 'package.module:Class' (an nn.Module called with loss.args).",
    )  # fmt: skip
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    class_weights: Literal["balanced"] | list[float] | None = Field(
        None, description="Weights per class for cross_entropy/bce: a list or 'balanced'."
    )
    delta: float = Field(1.0, gt=0, description="Huber: where the loss turns from square to linear.")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments of your own loss class.")


class OptimizerConfig(Section):
    name: str = Field("adam", description="sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad.")
    lr: float | None = Field(None, gt=0, description="Learning rate; null = the optimizer's default.")
    momentum: float | None = Field(None, ge=0, lt=1, description="null = the optimizer's default.")
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, gt=0)
    backbone_lr_mult: float = Field(
        1.0, gt=0, description="The layers outside model.reset (pretrained) learn at lr x this, e.g. 0.1."
    )


class ScheduleConfig(Section):
    name: str = "none"
    step_size: int = Field(10, gt=0, description="step: epochs between decays.")
    gamma: float = Field(0.1, gt=0, le=1, description="step/exponential: decay factor.")
    factor: float = Field(0.1, gt=0, lt=1, description="plateau: decay factor.")
    patience: int = Field(3, ge=0, description="plateau: epochs without improvement.")
    max_lr: float | None = Field(None, gt=0, description="onecycle: peak rate (default 10x lr).")
    min_lr: float = Field(0.0, ge=0, description="cosine: final learning rate.")


# train.epochs and early_stopping.patience "auto" (the defaults), sized by the optimizer steps
# of an epoch: 240 training rows at batch 32 are 8 steps, and 20 epochs (160 steps) left an MLP
# far from trained on real tables (bench/defaults.md); large tables keep 20 epochs, patience 5
AUTO_MIN_STEPS = 3000  # optimizer steps that auto epochs reach at least
AUTO_EPOCHS = (20, 200)  # the range of auto epochs
AUTO_PATIENCE = (5, 20)  # auto patience: a tenth of the epochs, in this range
_POSITIVE = TypeAdapter(Annotated[int, Field(gt=0)])


def _int_or_auto(value: Any) -> Any:
    """'auto', or a positive integer with pydantic's own message when it is not one."""
    if isinstance(value, str) and value == "auto":
        return value
    try:
        return _POSITIVE.validate_python(value)
    except ValidationError as exc:
        raise PydanticCustomError(exc.errors()[0]["type"], exc.errors()[0]["msg"]) from None


class EarlyStoppingConfig(Section):
    monitor: str = Field("val_loss", description="A history column, e.g. val_loss, val_accuracy.")
    patience: int | Literal["auto"] = Field(
        "auto",
        description=f"Epochs without improvement before stopping; auto: a tenth of the epochs, "
        f"{AUTO_PATIENCE[0]} to {AUTO_PATIENCE[1]}.",
    )
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as improvement.")

    @field_validator("patience", mode="before")
    @classmethod
    def _patience(cls, value: Any) -> Any:
        return _int_or_auto(value)


class TrainConfig(Section):
    epochs: int | Literal["auto"] = Field(
        "auto",
        description=f"Passes over the training set; auto: {AUTO_EPOCHS[0]}, or more on small data so "
        f"that training takes at least {AUTO_MIN_STEPS} optimizer steps (at most {AUTO_EPOCHS[1]} "
        f"epochs; early stopping may end it sooner).",
    )
    batch_size: int | Literal["full"] = Field(
        32, description="1 = stochastic, N = mini-batch, full = the whole training set."
    )
    l1: float = Field(0.0, ge=0, description="L1 penalty on the weights, added to the loss.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on the weights, added to the loss.")
    early_stopping: EarlyStoppingConfig | None = Field(
        default_factory=EarlyStoppingConfig, description="null turns early stopping off."
    )
    restore_best: bool = Field(True, description="End with the weights of the best epoch.")
    clip_grad: float | None = Field(None, gt=0, description="Clip the gradient norm to this.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, gt=0, description="CPU threads; null = chosen by treino.")
    compile: bool = Field(False, description="torch.compile the model.")
    unfreeze_at: int | None = Field(
        None, ge=1, description="From this epoch on (1 = the first) the layers of model.freeze train too."
    )

    @field_validator("epochs", mode="before")
    @classmethod
    def _epochs(cls, value: Any) -> Any:
        return _int_or_auto(value)

    def planned(self, steps_per_epoch: int) -> tuple[int, int | None]:
        """(epochs, early-stopping patience or None) as numbers; auto sizes them by the steps."""
        epochs = self.epochs
        if epochs == "auto":
            low, high = AUTO_EPOCHS
            epochs = min(high, max(low, -(-AUTO_MIN_STEPS // max(1, steps_per_epoch))))
        patience = self.early_stopping.patience if self.early_stopping else None
        if patience == "auto":
            low, high = AUTO_PATIENCE
            patience = min(high, max(low, epochs // 10))
        return epochs, patience

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> int | str:
        if value == "full":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError("must be a positive integer or 'full'")
        return value


class MlflowConfig(Section):
    tracking_uri: str | None = Field(
        None, description="Where MLflow stores runs; null = a local SQLite file, <runs folder>/mlflow.db."
    )
    experiment: str = Field("treino", description="The MLflow experiment the runs go to.")


class LogConfig(Section):
    progress: bool = Field(True, description="Show the progress bar.")
    steps: bool = Field(True, description="Write the loss of every iteration to steps.csv.")
    plots: bool = Field(True, description="Draw plots and report.html.")
    tensorboard: bool = Field(
        False, description="TensorBoard events in <run>/tensorboard (pip install 'treino[tensorboard]')."
    )
    mlflow: MlflowConfig | None = Field(
        None, description="Log to MLflow (pip install 'treino[mlflow]'); true = the defaults below."
    )

    @field_validator("mlflow", mode="before")
    @classmethod
    def _mlflow_on(cls, value: Any) -> Any:
        if value is True:
            return {}  # `log.mlflow: true` turns it on with the defaults
        if value is False:
            return None
        return value


class Config(Section):
    name: str = Field("run", description="Names the run folder.")
    seed: int = Field(0, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    tune: dict[str, Any] = Field(default_factory=dict, description="Search space for treino tune.")
    log: LogConfig = Field(default_factory=LogConfig)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
