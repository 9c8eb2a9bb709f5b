"""The bad-input corpus: every case through the real CLI exits 2 with exactly one line
`error: ...` (what, where, how to fix), no traceback, and no run folder left that looks
complete. Most cases run in-process (typer's runner); a few in real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

QUIET = ["--set", "log.plots=false", "--set", "log.progress=false", "-q"]
ROWS = "a,b,y\n" + "".join(f"{i % 7},{i % 5},{'xyz'[i % 3]}\n" for i in range(30))
FILES: dict[str, str | bytes] = {
    "t.csv": ROWS,
    "bad.yaml": "data:\n  source: [iris\n",
    "list.yaml": "- a\n- b\n",
    "unknown.yaml": "epochs: 3\n",
    "binary.yaml": b"\xff\xfe\x00\x01garbage",
    "empty.csv": "",
    "empty.parquet": "",
    "header.csv": "a,b,y\n",
    "commas.tsv": ROWS,  # a .tsv whose fields are separated by commas
    "inf.csv": ROWS.replace("\n3,3,", "\ninf,3,", 1),
    "one.csv": "a,y\n" + "".join(f"{i},k\n" for i in range(20)),
    "binary.csv": bytes(range(256)) * 4,
    "ragged.csv": "a,b,y\n1,2,x\n3,4,5,6,7\n1,2,y\n",
    "no-target.csv": "a,y\n1,\n2,\n3,\n",
    "sheet.xlsx": "abc",
    "unseen.csv": ROWS.replace(",x\n", ",w\n"),  # a class the model never saw
}

# (name, CLI args, the exact error line); {t} is the corpus folder, {run} a finished 2-epoch run
CASES: list[tuple[str, list[str], str]] = [
    # config
    ("yaml syntax", ["train", "{t}/bad.yaml"],
     "{t}/bad.yaml: line 3: expected ',' or ']', but got '<stream end>'; fix the YAML syntax there"),
    ("yaml not a mapping", ["train", "{t}/list.yaml"],
     "{t}/list.yaml: the top level must be a mapping of sections (data:, model:, ...)"),
    ("yaml not text", ["train", "{t}/binary.yaml"], "{t}/binary.yaml: is not a text file; give a YAML config"),
    ("config missing", ["train", "{t}/nope.yaml"], "{t}/nope.yaml: config file not found; check the path"),
    ("unknown top key", ["train", "{t}/unknown.yaml"],
     "{t}/unknown.yaml: unknown key 'epochs'; valid keys here: name, seed, data, model, loss, optimizer, "
     "schedule, train, tune, log"),
    ("unknown nested key", ["train", "--set", "train.epoch=3"],
     "config: unknown key 'train.epoch' (did you mean 'train.epochs'?); valid keys here: epochs, batch_size, "
     "l1, l2, early_stopping, restore_best, clip_grad, device, threads, compile, unfreeze_at"),
    ("wrong type", ["train", "--set", "train.epochs=abc"],
     "config: train.epochs: input should be a valid integer, unable to parse string as an integer (got 'abc')"),
    ("epochs 0", ["train", "--set", "train.epochs=0"], "config: train.epochs: input should be greater than 0 (got 0)"),
    ("lr negative", ["train", "--set", "optimizer.lr=-1"],
     "config: optimizer.lr: input should be greater than 0 (got -1)"),
    ("batch 0", ["train", "--set", "train.batch_size=0"],
     "config: train.batch_size: must be a positive integer or 'full' (got 0)"),
    ("batch fraction", ["train", "--set", "train.batch_size=1.5"],
     "config: train.batch_size: must be a positive integer or 'full' (got 1.5)"),
    ("dropout 1.5", ["train", "--set", "model.dropout=1.5"],
     "config: model.dropout: input should be less than 1 (got 1.5)"),
    ("--set without =", ["train", "--set", "train.epochs"],
     "--set train.epochs: expected KEY=VALUE, e.g. --set optimizer.lr=0.01"),
    ("splits leave nothing", ["train", "--set", "data.split.val=0.6", "--set", "data.split.test=0.5"],
     "config: data.split.test: val 0.6 + test 0.5 leaves no rows to train on; keep their sum below 1 (got 0.5)"),
    ("unknown optimizer", ["train", "--data", "iris", "--set", "optimizer.name=adamm"],
     "optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); choose one of: sgd, momentum, "
     "nesterov, adam, adamw, rmsprop, adagrad"),
    ("bce on 3 classes", ["train", "--data", "iris", "--set", "loss.name=bce"],
     "loss.name: 'bce' is a binary loss but the data is a multiclass task; use loss.name: cross_entropy "
     "(or auto), or set data.task"),
    ("binary task on 3 classes", ["train", "--data", "iris", "--set", "data.task=binary"],
     "data.task: binary, but target 'target' has 3 classes; use multiclass"),
    ("batch norm on 1 row", ["train", "--data", "iris", "--set", "model.batch_norm=true", "--set", "train.batch_size=1"],
     "train.batch_size 1 with batch normalization: it needs at least 2 rows per batch; set train.batch_size "
     "to 2 or more, or model.batch_norm: false"),
    ("batch norm on a last row", ["train", "--data", "iris", "--set", "model.batch_norm=true", "--set", "train.batch_size=101"],
     "train.batch_size 101 leaves a last batch of 1 row (102 training rows), which batch normalization cannot "
     "train on; choose another train.batch_size or model.batch_norm: false"),
    # data
    ("unknown dataset", ["train", "--data", "irsi"],
     "data.source: 'irsi' is neither a file, a folder nor a built-in dataset (did you mean 'iris'?); built-in: "),
    ("no --target", ["train", "--data", "{t}/t.csv"],
     "{t}/t.csv: which column is the target? pass --target COL (columns: a, b, y)"),
    ("target not a column", ["train", "--data", "{t}/t.csv", "--target", "yy"],
     "{t}/t.csv: no target column 'yy' (did you mean 'y'?); columns: a, b, y"),
    ("0-byte csv", ["train", "--data", "{t}/empty.csv", "--target", "y"],
     "{t}/empty.csv: the file is empty; give a table with a header row and data rows"),
    ("0-byte parquet", ["train", "--data", "{t}/empty.parquet", "--target", "y"],
     "{t}/empty.parquet: the file is empty; give a table with a header row and data rows"),
    ("header only", ["train", "--data", "{t}/header.csv", "--target", "y"],
     "{t}/header.csv: the table has a header but no data rows"),
    ("wrong delimiter", ["train", "--data", "{t}/commas.tsv", "--target", "y"],
     "{t}/commas.tsv: no target column 'y'; columns: a,b,y"),
    ("infinite value", ["train", "--data", "{t}/inf.csv", "--target", "y"],
     "{t}/inf.csv: column 'a' has 1 infinite values (first inf at row 4); replace them with finite numbers, "
     "or empty cells to be imputed"),
    ("single class", ["train", "--data", "{t}/one.csv", "--target", "y"],
     "{t}/one.csv: target 'y' has a single class ('k'); a classifier needs at least two"),
    ("binary content", ["train", "--data", "{t}/binary.csv", "--target", "y"],
     "{t}/binary.csv: not a text table (binary content); give a CSV/TSV/Parquet/JSONL file"),
    ("ragged rows", ["train", "--data", "{t}/ragged.csv", "--target", "y"],
     "{t}/ragged.csv: line 3 has 5 fields but the header has 3; fix that row (quote values that contain "
     "the separator)"),
    ("regression on words", ["train", "--data", "{t}/t.csv", "--target", "y", "--set", "data.task=regression"],
     "{t}/t.csv: target column 'y' has a non-numeric value 'x' at row 1; a regression target must be "
     "numbers (or set data.task: multiclass)"),
    ("target all empty", ["train", "--data", "{t}/no-target.csv", "--target", "y"],
     "{t}/no-target.csv: target column 'y' is empty in every row; choose another --target"),
    ("unknown format", ["train", "--data", "{t}/sheet.xlsx", "--target", "y"],
     "{t}/sheet.xlsx: unknown table format '.xlsx'; use .csv, .tsv, .parquet, .jsonl or .npz"),
    # CLI and run folders
    ("resume missing folder", ["train", "--resume", "{t}/norun"], "--resume {t}/norun: no such run folder; check the path"),
    ("resume not a run", ["train", "--resume", "{t}"], "--resume {t}: not a treino run folder (no config.yaml)"),
    ("out is a file", ["train", "--data", "iris", "--out", "{t}/t.csv"],
     "--out {t}/t.csv: is a file; give a folder path for the run"),
    ("out not writable", ["train", "--data", "iris", "--out", "/sys/treino-run"],
     "--out /sys/treino-run: no permission to write there; choose another folder"),
    ("out not empty", ["train", "--data", "iris", "--out", "{t}"],
     "--out {t}: the folder is not empty; give a new or empty folder"),
    ("out holds a run", ["train", "--data", "iris", "--out", "{run}"],
     "--out {run}: already holds a run; choose another folder, delete it, or continue it with --resume {run}"),
    ("resume with a config", ["train", "{t}/list.yaml", "--resume", "{run}"],
     "--resume {run} trains with {run}/config.yaml; drop the CONFIG argument (change settings with --set KEY=VALUE)"),
    ("resume with --out", ["train", "--resume", "{run}", "--out", "{t}/elsewhere"],
     "--resume {run} continues in its own folder; drop --out {t}/elsewhere"),
    ("resume fewer epochs", ["train", "--resume", "{run}", "--set", "train.epochs=1"],
     "--resume {run}: train.epochs 1 is fewer than the 2 epochs already run; set train.epochs above 2 to "
     "extend the run"),
    ("resume another optimizer", ["train", "--resume", "{run}", "--set", "optimizer.name=sgd"],
     "--resume {run}: optimizer.name cannot change from adam to sgd (the checkpoint holds adam's state); train anew"),
    ("resume another schedule", ["train", "--resume", "{run}", "--set", "schedule.name=step"],
     "--resume {run}: the schedule section cannot change on resume (the checkpoint holds cosine's state); "
     "train anew"),
    ("resume stretch cosine", ["train", "--resume", "{run}", "--set", "train.epochs=5"],
     "--resume {run}: schedule.name cosine is laid out over train.epochs 2 and cannot stretch to 5; train "
     "anew with train.epochs 5"),
    ("resume another model", ["train", "--resume", "{run}", "--set", "model.hidden=[5]"],
     "the checkpoint does not fit the model built from the config (size mismatch for body.0.weight: copying a "
     "param with shape torch.Size([64, 2]) from checkpoint, the shape in current model is torch.Size([5, 2])); "
     "resume with the run's own model/optimizer settings or train anew"),
    ("report missing folder", ["report", "{t}/norun"], "{t}/norun: no such run folder; give the folder that treino train wrote"),
    ("predict missing folder", ["predict", "{t}/norun", "{t}/t.csv"],
     "{t}/norun: no such run folder; give the folder `treino train` wrote"),
    ("evaluate missing folder", ["evaluate", "{t}/norun"],
     "{t}/norun: no such run folder; give the folder `treino train` wrote"),
    # transfer learning (issue 18)
    ("freeze unknown layer", ["train", "--data", "{t}/t.csv", "--target", "y", "--set", "model.freeze=[bdy]"],
     "model.freeze: 'bdy' is not a layer of MLP; its layers are body, out (or a part, e.g. body.0 or "
     "body.0.weight); the model summary lists them"),
    ("reset unknown layer", ["train", "--data", "{t}/t.csv", "--target", "y", "--set", "model.reset=head"],
     "model.reset: 'head' is not a layer of MLP; its layers are body, out (or a part, e.g. body.0 or "
     "body.0.weight); the model summary lists them"),
    ("unfreeze without freeze", ["train", "--data", "{t}/t.csv", "--target", "y", "--set", "train.unfreeze_at=3"],
     "train.unfreeze_at 3: no layer is frozen; name them in model.freeze (e.g. model.freeze: [features]) or "
     "remove train.unfreeze_at"),
    ("backbone rate without reset", ["train", "--data", "{t}/t.csv", "--target", "y", "--set",
                                     "optimizer.backbone_lr_mult=0.1"],
     "optimizer.backbone_lr_mult 0.1: the new layers that train at the full rate are those of model.reset, and "
     "it is empty; name them (e.g. model.reset: [out])"),
    ("weights of another shape", ["train", "--data", "iris", "--set", "model.weights={run}"],
     "model.weights: {run} does not fit the model: shape differs: body.0.weight (64, 2) in file vs (64, 4); "
     "re-initialize that layer with model.reset: [body.0], or set model.weights_strict: false to load the 3 "
     "matching tensors"),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    t = tmp_path_factory.mktemp("corpus")
    for name, content in FILES.items():
        (t / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    run = tmp_path_factory.mktemp("runs") / "done"
    args = ["train", "--data", f"{t}/t.csv", "--target", "y", "--set", "train.epochs=2", "--out", str(run)]
    args += ["--set", "schedule.name=cosine"]
    assert invoke([*args, *QUIET]).exit_code == 0
    return {"t": t, "run": run}


def invoke(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from treino.cli import app

    return CliRunner().invoke(app, args)


def fill(text: str, where: dict[str, Path]) -> str:
    return text.replace("{t}", str(where["t"])).replace("{run}", str(where["run"]))


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(
    name: str, args: list[str], message: str, corpus: dict[str, Path], tmp_path: Path
) -> None:
    args = [fill(a, corpus) for a in args]
    out = tmp_path / "out"
    if args[0] == "train" and "--out" not in args and "--resume" not in args:
        args += ["--out", str(out)]
    before = sorted(p.name for p in corpus["run"].rglob("*"))
    metrics = (corpus["run"] / "metrics.json").read_text()
    result = invoke([*args, *QUIET] if args[0] == "train" else args)

    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    expected = "error: " + fill(message, corpus)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    if name == "unknown dataset":  # the list of built-ins grows; the head of the line is the case
        assert lines[0].startswith(expected) and lines[0].endswith("(see treino datasets)")
    else:
        assert lines[0] == expected
    assert not out.exists()  # nothing left that looks like a run
    # the finished run used by some cases is untouched, and still reads as finished
    assert sorted(p.name for p in corpus["run"].rglob("*")) == before
    assert (corpus["run"] / "metrics.json").read_text() == metrics


def test_checkpoint_from_another_format_or_truncated(corpus: dict[str, Path], tmp_path: Path) -> None:
    for case, expected in [
        ("format", "checkpoint format 99 is not 1; it was written by another treino version: train anew"),
        (
            "truncated",
            "damaged or not a treino checkpoint; delete it (--resume then starts at epoch 1) or train anew",
        ),
    ]:
        run = tmp_path / case
        shutil.copytree(corpus["run"], run)
        last = run / "checkpoints" / "last.pt"
        if case == "format":
            ckpt = torch.load(last, weights_only=True)
            torch.save({**ckpt, "format": 99}, last)
        else:
            os.truncate(last, last.stat().st_size // 3)
        result = invoke(["train", "--resume", str(run), "--set", "train.epochs=3", *QUIET])
        assert result.exit_code == 2
        assert result.output.strip() == f"error: {last}: {expected}"
        assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 2


def test_labels_unseen_in_training_are_named(corpus: dict[str, Path]) -> None:
    result = invoke(["evaluate", str(corpus["run"]), "--data", f"{corpus['t']}/unseen.csv"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {corpus['t']}/unseen.csv: labels 'w' are not among the model's classes (x, y, z); "
        f"evaluate only on the classes it was trained on\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{t}/bad.yaml"],
         "{t}/bad.yaml: line 3: expected ',' or ']', but got '<stream end>'; fix the YAML syntax there"),
        (["train", "--data", "{t}/inf.csv", "--target", "y", "--out", "{t}/fresh"],
         "{t}/inf.csv: column 'a' has 1 infinite values (first inf at row 4); replace them with finite "
         "numbers, or empty cells to be imputed"),
        (["train", "--resume", "{t}/norun"], "--resume {t}/norun: no such run folder; check the path"),
    ],
)  # fmt: skip
def test_real_process_prints_one_line(args: list[str], message: str, corpus: dict[str, Path]) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    argv = [sys.executable, "-m", "treino", *(fill(a, corpus) for a in args), "-q"]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert result.stderr == f"error: {fill(message, corpus)}\n"
    assert result.stdout == ""
    assert not (corpus["t"] / "fresh").exists()
