"""Using a trained model: load its bundle (safetensors + JSON; nothing is unpickled), prepare
new inputs with the saved preprocessing, and predict in chunks so big files stream."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from treino import config as C
from treino import files
from treino.data import own
from treino.data.info import DataInfo
from treino.engine.loop import forward_rows, resolve_device
from treino.errors import DataError, RunError
from treino.run import folder as rundir
from treino.run.own_code import is_own
from treino.serve.inputs import Chunk, image_chunks, input_columns, npz_inputs, table_chunks
from treino.tasks import predict_labels, probabilities

CHUNK_ROWS = 65_536  # table rows read, transformed and written at a time (a few MB each)
FORWARD_ROWS = 4_096  # rows per forward pass; CHUNK_ROWS is a multiple so results never depend on it


def find_bundle(run_dir: str | Path) -> Path:
    """The model/ folder of a run folder (or the bundle folder itself)."""
    path = Path(run_dir).expanduser()
    for folder in (path / "model", path):
        if (folder / "meta.json").is_file():
            return folder
    if not path.exists():
        raise RunError(f"{path}: no such run folder; give the folder `treino train` wrote")
    raise RunError(
        f"{path}: no model bundle (model/meta.json); give a treino run folder whose training finished an epoch"
    )


@dataclass
class Predictor:
    """A trained model with its preprocessing, ready for new data.

    Example:
        >>> p = treino.load("runs/iris")
        >>> p.predict(pd.read_csv("new.csv"))  # class names (or values, for regression)
        >>> p.predict_proba("new.csv")  # (N, K), columns in the order of p.classes
    """

    model: nn.Module
    config: C.Config
    info: DataInfo
    preprocessing: dict[str, Any]
    meta: dict[str, Any]
    dir: Path
    device: torch.device
    quiet: bool = False

    def __repr__(self) -> str:  # the dataclass default would print every weight and category
        what = f"classes={self.classes}" if self.classes else f"targets={self.info.targets}"
        return f"Predictor({self.info.kind} {self.task}, {what}, dir='{self.dir}')"

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def classes(self) -> list[str]:
        """Class names in the order of predict_proba's columns; [] for regression."""
        return list(self.info.classes)

    @property
    def columns(self) -> list[str]:
        """The raw input columns a table model needs (before encoding)."""
        return input_columns(self.preprocessing)

    def predict(self, data: Any) -> np.ndarray:
        """Class names (N,) for a classifier; values (N,) or (N, targets) for regression.

        `data`: a DataFrame, one row as a dict ({"sepal length (cm)": 5.1, ...}) or a list of
        them, a table file, an image folder or file, an .npz file (array `x` or `images`), or an
        array of raw inputs (table columns in the order of `columns`, or images (N, C, H, W)
        with values in [0, 1]).
        """
        parts = [self._decide(out) for _, out in self._run(data)]
        return np.concatenate(parts) if parts else np.empty(0)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of `classes` (K = 2 for binary)."""
        if self.task == "regression":
            raise DataError("predict_proba: the model is a regression; use predict for its values")
        parts = [probabilities(out, self.task).numpy() for _, out in self._run(data)]
        return np.concatenate(parts) if parts else np.empty((0, len(self.classes)), dtype=np.float32)

    def predict_frame(self, data: Any, id_column: str | None = None) -> pd.DataFrame:
        """One row per input: its id (row number or file), the prediction and class probabilities."""
        parts = [self._frame(chunk, out) for chunk, out in self._run(data, id_column)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def predict_file(
        self,
        data: Any,
        output: str | Path | None = None,
        *,
        id_column: str | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> int:
        """Stream predictions to a CSV/TSV/Parquet/JSONL file (stdout when None); rows written."""
        from treino.serve.inputs import ChunkWriter

        if output is not None and isinstance(data, str | Path) and Path(data).is_file():
            if Path(output).resolve() == Path(data).resolve():  # the data would be lost at the rename
                raise DataError(
                    f"--output {output}: is the input file itself (the predictions would replace it); "
                    f"write them to another file"
                )
        with ChunkWriter(Path(output) if output is not None else None, sys.stdout) as writer:
            for chunk, out in self._run(data, id_column, chunk_rows):
                writer.write(self._frame(chunk, out))
            return writer.rows

    def forecast(self, data: Any, steps: int) -> pd.DataFrame:
        """A series model: the next `steps` steps after the end of each series in `data` (a
        DataFrame or table file), direct up to the horizon, recursive past it (said on stderr).

        Example:
            >>> treino.load("runs/co2").forecast(pd.read_csv("co2.csv"), 12)
        """
        from treino.serve.forecast import forecast

        frame, how = forecast(self, data, steps)
        self._say(how)
        return frame

    def outputs(self, features: Any) -> torch.Tensor:
        """Model outputs (logits or values) for already preprocessed features, FORWARD_ROWS at a time."""
        if not features.shape[0]:
            return torch.empty(0, self.info.n_outputs)
        return forward_rows(self.model, features, self.device, FORWARD_ROWS, as_tensor)

    def chunks(
        self, data: Any, id_column: str | None = None, chunk_rows: int = CHUNK_ROWS, sparse: bool = False
    ) -> Iterator[Chunk]:
        """The input, preprocessed, in chunks of at most `chunk_rows` (ids + features + raw targets);
        with `sparse`, TF-IDF features stay a scipy CSR matrix (`outputs` takes either)."""
        if own.readable(data):  # a Dataset object, or 'pkg.mod:Class' built with data.args
            with own.npz(data, self.config.data.args) as path:
                yield from self.chunks(path, id_column, chunk_rows, sparse)
            return
        data = self._rows(data)
        if self.info.kind == "sequence":  # x (N, T, F) from an .npz file or an array
            from treino.data.sequences import sequence_inputs

            x = sequence_inputs(data, self.preprocessing)
            for start in range(0, len(x), chunk_rows):
                yield Chunk(pd.DataFrame({"row": np.arange(start, min(start + chunk_rows, len(x)))}),
                            x[start : start + chunk_rows])  # fmt: skip
            return
        if isinstance(data, str | Path) and Path(data).suffix.lower() == ".npz" and Path(data).is_file():
            data = npz_inputs(Path(data).expanduser(), self.preprocessing, self.info.kind)
        if self.info.kind == "image":
            yield from image_chunks(data, self.preprocessing, self.info.targets, chunk_rows, self._say)
        else:
            yield from table_chunks(
                data, self.preprocessing, self.info.targets, id_column, chunk_rows, self._say, sparse
            )

    def _rows(self, data: Any) -> Any:
        """One row as a dict ({"sepal length (cm)": 5.1, ...}) or a list of them as a DataFrame;
        a row without one of the model's input columns is refused, naming it. Else `data` as is."""
        rows = [data] if isinstance(data, dict) else data
        if not (isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)):
            return data
        if isinstance(data, dict) and any(isinstance(v, list | tuple | np.ndarray) for v in data.values()):
            return pd.DataFrame(data)  # a dict of columns
        for i, row in enumerate(rows):
            missing = [c for c in self.columns if c not in row]
            if missing:
                where = "the row" if isinstance(data, dict) else f"row {i}"
                names = ", ".join(repr(c) for c in missing)
                raise DataError(
                    f"predict: {where} has no {names}; give every input column: {', '.join(map(repr, self.columns))}"
                )
        return pd.DataFrame(rows)

    def _run(
        self, data: Any, id_column: str | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> Iterator[tuple[Chunk, torch.Tensor]]:
        # sparse: a chunk of 65,536 texts x 5000 TF-IDF terms is 1.3 GB dense, ~10 MB as CSR
        for chunk in self.chunks(data, id_column, chunk_rows, sparse=True):
            yield chunk, self.outputs(chunk.features)

    def _decide(self, out: torch.Tensor) -> np.ndarray:
        if self.task == "regression":
            values = out.numpy()
            return values[:, 0] if values.shape[1] == 1 else values
        return np.asarray(self.classes, dtype=object)[predict_labels(out, self.task).numpy()]

    def _frame(self, chunk: Chunk, out: torch.Tensor) -> pd.DataFrame:
        frame = chunk.ids.reset_index(drop=True)
        decided = self._decide(out)
        if self.task == "regression":
            if decided.ndim == 1:
                frame["prediction"] = decided
            else:
                for k, name in enumerate(self.info.targets):
                    frame[f"prediction_{name}"] = decided[:, k]
            return frame
        frame["prediction"] = decided
        probs = probabilities(out, self.task).numpy()
        for k, label in enumerate(self.classes):
            frame[f"prob_{label}"] = probs[:, k]
        return frame

    def _say(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr)


def as_tensor(x: Any) -> torch.Tensor:
    """A forward-pass batch from numpy, a tensor, or a scipy sparse matrix (made dense, as the
    training batches were: every model kind takes it, and the outputs match training's)."""
    if isinstance(x, torch.Tensor):
        return x
    if hasattr(x, "toarray"):  # scipy.sparse TF-IDF rows: FORWARD_ROWS of them made dense
        return torch.from_numpy(x.toarray().astype(np.float32, copy=False))
    x = np.ascontiguousarray(x)
    if x.dtype != np.int64:  # int64 = token ids, kept as they are for the embedding
        x = x.astype(np.float32, copy=False)
    return torch.from_numpy(x)


def load(
    run_dir: str | Path,
    *,
    device: str = "cpu",
    trust_code: bool = False,
    quiet: bool = False,
) -> Predictor:
    """Load a run's model bundle; nothing in it is unpickled or executed.

    A model of a custom class (`model.kind: package.module:Class`) imports that module, which
    runs its code: it loads only with `trust_code=True`.

    Example:
        >>> predictor = treino.load("runs/iris-20260101-120000-000")
        >>> predictor.predict("new_flowers.csv")
    """
    from treino import models

    # auto = the GPU when one is visible; cuda without one is a one-line error, not torch's assert
    no_gpu = "use device='cpu' (or 'auto': the GPU when there is one)"
    target = resolve_device(device, caller="treino.load: ", fix=no_gpu)
    folder = find_bundle(run_dir)
    meta = rundir.load_meta(folder)
    raw = files.read_json(folder / "config.json")
    if isinstance(raw, dict) and list(raw) == [
        "fit"
    ]:  # written by treino.fit(..., out=): no config to rebuild from
        raise RunError(
            f"{folder}: the model of a treino.fit run (your own module, trained from Python); load its "
            f"weights into your model: net.load_state_dict(safetensors.torch.load_file('{folder / 'weights.safetensors'}'))"
        )
    cfg = C.validate(raw, where=str(folder / "config.json"))
    try:
        info = DataInfo.from_dict(files.read_json(folder / "data.json"))
    except (TypeError, KeyError) as exc:
        raise RunError(
            f"{folder / 'data.json'}: does not describe the data ({exc}); the bundle is damaged "
            f"or from another treino version (treino {meta.get('treino')}): train anew"
        ) from None
    prep = files.read_json(folder / "preprocessing.json")
    kind = models.resolve_kind(cfg.model, info)
    if ":" in kind and not trust_code:
        raise RunError(
            f"{folder}: the model is the custom class '{kind}', and loading it runs that module's code; "
            f"if you trust this bundle, pass trust_code=True (CLI: --trust-code)"
        )
    own = [
        f"{k} is '{v}'"
        for k, v in (("loss.name", cfg.loss.name), ("data.source", cfg.data.source))
        if is_own(v) and not v.startswith("treino.")
    ]  # treino's own classes (a lesson's data) are trusted
    if own and not trust_code:  # evaluate builds the loss; predicting may read inputs with the Dataset class
        raise RunError(f"{folder}: the run's {' and '.join(own)}, your own code, which loading may run; if you "
                       f"trust this bundle, pass trust_code=True (CLI: --trust-code)")  # fmt: skip
    weights = rundir.load_weights(folder)
    # a torch.compile'd model saves its weights under _orig_mod.
    weights = {k.replace("_orig_mod.", ""): v for k, v in weights.items()}
    target_scale = prep.get("target") if info.task == "regression" else None
    with torch.random.fork_rng(devices=[]):  # building initializes weights: keep the caller's RNG as it was
        model = models.build(cfg.model, info, target_scale)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise RunError(
            f"{folder / 'weights.safetensors'}: does not fit the model built from config.json ({first}); "
            f"the bundle's files are from different runs: train anew"
        ) from None
    model.to(target).eval()
    return Predictor(model, cfg, info, prep, meta, folder, target, quiet)
