"""The command line: parse, call one library function, map TreinoError to one line + exit 2.

Each option is declared once below (its flag, type and help) and named in every command that
takes it; where commands word an option's help differently, the declaration takes the words.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

# Plain (click-style) help and usage errors: typer's rich formatting imports and renders
# enough to double the time of `treino --help` (measured in bench/results.md).
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer

app = typer.Typer(
    name="treino",
    help="Train and validate PyTorch neural networks. `treino train` trains the embedded default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigArg = Annotated[Optional[Path], typer.Argument(help="A YAML config (optional).")]
RunArg = Annotated[Path, typer.Argument(help="A run folder.")]
Data = Annotated[Optional[str], typer.Option(help="A table/image path or a built-in dataset name.")]
Target = Annotated[Optional[str], typer.Option(help="The column to predict.")]
TrustCode = Annotated[
    bool, typer.Option("--trust-code", help="Allow a custom model class (imports its module).")
]


def Set(help: str) -> Any:
    """--set KEY=VALUE, repeatable."""
    return Annotated[Optional[list[str]], typer.Option("--set", help=help)]


def Out(help: str) -> Any:
    """--out DIR, the folder a command writes."""
    return Annotated[Optional[Path], typer.Option(help=help)]


def Quiet(help: str) -> Any:
    """-q / --quiet."""
    return Annotated[bool, typer.Option("--quiet", "-q", help=help)]


def _guarded(fn: Callable[[], Any]) -> None:
    """Run `fn`; a TreinoError becomes `error: ...` on stderr and its exit code, as does a
    non-zero code that `fn` returns."""
    from treino.errors import TreinoError

    try:
        code = fn()
    except TreinoError as exc:
        if os.environ.get("TREINO_DEBUG") == "1":
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # a signal that ended the command at once (treino.run.signals)
        print(f"error: {getattr(exc, 'message', 'interrupted')}", file=sys.stderr)
        raise typer.Exit(getattr(exc, "exit_code", 130)) from None
    if code:
        raise typer.Exit(code)


def _overrides(set_: list[str] | None, data: str | None = None, target: str | None = None) -> list[str]:
    """--set items, then --data and --target as the overrides they stand for."""
    overrides = list(set_ or [])
    if data is not None:
        overrides.append(_verbatim("data.source", data))
    if target is not None:
        overrides.append(_verbatim("data.target", target))
    return overrides


def _verbatim(key: str, value: str) -> str:
    """KEY=VALUE for a flag that names a column or a path, never YAML: `--target yes` stays
    'yes', not True, `--data 2024` a path, not a number (`[a, b]` is still a list of targets)."""
    import json

    return f"{key}={value if value.lstrip().startswith('[') else json.dumps(value)}"


@app.command()
def train(
    config: ConfigArg = None,
    data: Data = None,
    target: Target = None,
    set_: Set("KEY=VALUE override, e.g. optimizer.lr=0.01.") = None,
    out: Out("The run folder (default runs/<name>-<time>).") = None,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue this run from its last checkpoint.")
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the resolved config and exit.")
    ] = False,
    quiet: Quiet("No progress bar or summary.") = False,
    devices: Annotated[
        Optional[int],
        typer.Option(help="Data-parallel processes on this machine (one per GPU), started with torchrun."),
    ] = None,
    nodes: Annotated[int, typer.Option(help="Machines taking part (each runs this command).")] = 1,
    node_rank: Annotated[int, typer.Option(help="This machine's number, 0 to nodes-1.")] = 0,
    master: Annotated[
        Optional[str], typer.Option(help="HOST:PORT of node 0, where the nodes meet (multi-node).")
    ] = None,
) -> None:
    """Train a model and write its run folder (config, history, metrics, model, report)."""
    overrides = _overrides(set_, data, target)

    def go() -> int:
        if print_config:
            from treino import config as C

            print(C.load(config, overrides).to_yaml(), end="")
            return 0
        from treino.run.launch import start

        return start(config, overrides, out=out, resume=resume, quiet=quiet,
                     devices=devices, nodes=nodes, node_rank=node_rank, master=master)  # fmt: skip

    _guarded(go)


@app.command()
def datasets() -> None:
    """List the built-in datasets (nothing is downloaded)."""
    from rich.console import Console
    from rich.table import Table

    from treino.data.builtin import DATASETS

    table = Table("name", "task", "shape", "source")
    for name in DATASETS:
        d = DATASETS.get(name)
        table.add_row(d.name, d.task, d.shape, d.source)
    Console().print(table)


@app.command()
def report(run: RunArg) -> None:
    """Rebuild the plots and report.html of a run from its folder alone."""

    def go() -> None:
        from treino import report as R

        print(R.write(run))

    _guarded(go)


@app.command("lr-find")
def lr_find(
    config: ConfigArg = None,
    data: Data = None,
    target: Target = None,
    set_: Set("KEY=VALUE override, e.g. optimizer.name=sgd.") = None,
    out: Out("Where to write the sweep (default runs/<name>-lrfind-<time>).") = None,
    iterations: Annotated[int, typer.Option(help="Steps of the sweep.")] = 200,
    start_lr: Annotated[float, typer.Option(help="The first learning rate.")] = 1e-7,
    end_lr: Annotated[float, typer.Option(help="The last learning rate.")] = 10.0,
    quiet: Quiet("Print only the config path.") = False,
) -> None:
    """Sweep the learning rate exponentially; plot the loss; write a config with the suggested rate."""
    overrides = _overrides(set_, data, target)

    def go() -> None:
        from treino.run.lrfind import lr_find as find

        found = find(config, overrides, out=out, start_lr=start_lr, end_lr=end_lr, iterations=iterations,
                     quiet=quiet)  # fmt: skip
        print(found.dir / "config.yaml")

    _guarded(go)


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="A run folder (or its model/ bundle).")],
    input: Annotated[
        str, typer.Argument(help="A table file, an image folder, an image file or .npz arrays.")
    ],
    output: Annotated[
        Optional[Path], typer.Option(help="Write here (.csv, .tsv, .parquet, .jsonl); default stdout (CSV).")
    ] = None,
    id_: Annotated[
        Optional[str], typer.Option("--id", help="Copy this input column into the output.")
    ] = None,
    trust_code: TrustCode = False,
    quiet: Quiet("No notes on stderr.") = False,
    steps: Annotated[
        Optional[int],
        typer.Option(
            help="A series model: forecast this many steps after the end of the series "
            "(direct up to its horizon, recursive past it; default: the horizon)."
        ),
    ] = None,
) -> None:
    """Predict with a trained model: row id, prediction (class name or value), class probabilities;
    a series model forecasts the steps after the end of each series."""

    def go() -> None:
        from treino.serve.predict import load

        predictor = load(run, trust_code=trust_code, quiet=quiet)
        if steps is not None or predictor.info.kind == "series":
            from treino.serve.forecast import write

            rows = write(predictor, input, steps, output)
        else:
            rows = predictor.predict_file(input, output, id_column=id_)
        if output is not None and not quiet:
            print(f"wrote {rows} predictions to {output}", file=sys.stderr)

    _guarded(go)


@app.command()
def evaluate(
    run: RunArg,
    data: Annotated[
        Optional[str],
        typer.Option(help="A labeled table/image folder or built-in name (default: the run's test split)."),
    ] = None,
    trust_code: TrustCode = False,
) -> None:
    """Every metric of the task, with the confusion matrix; written to the run folder."""

    def go() -> None:
        from treino.serve.evaluate import evaluate as run_evaluate
        from treino.serve.evaluate import show

        show(run_evaluate(run, data, trust_code=trust_code))

    _guarded(go)


@app.command()
def export(
    run: RunArg,
    format: Annotated[str, typer.Option("--format", help="onnx, or pt2 (a torch.export program).")] = "onnx",
    with_preprocessing: Annotated[
        bool,
        typer.Option(
            "--with-preprocessing", help="Scaling and one-hot inside the graph: it takes raw columns."
        ),
    ] = False,
    output: Annotated[Optional[Path], typer.Option(help="The file (default: in the run folder).")] = None,
    trust_code: TrustCode = False,
) -> None:
    """Export the model (ONNX, dynamic batch) and check it against PyTorch with onnxruntime."""

    def go() -> None:
        from treino.serve.export import export as run_export

        result = run_export(run, format, with_preprocessing=with_preprocessing, output=output,
                            trust_code=trust_code)  # fmt: skip
        print(result.summary())

    _guarded(go)


@app.command()
def compare(
    config: Annotated[Optional[Path], typer.Argument(help="A YAML config (not with --lesson).")] = None,
    vary: Annotated[
        Optional[list[str]], typer.Option("--vary", help="KEY=V1,V2,... e.g. optimizer.name=sgd,adam.")
    ] = None,
    zip_: Annotated[bool, typer.Option("--zip", help="Pair the i-th values instead of a grid.")] = False,
    repeats: Annotated[int, typer.Option(help="Seeds per variant (seed, seed+1, ...).")] = 1,
    lesson: Annotated[
        Optional[str],
        typer.Option(
            help="A ready lesson: batch-regimes, optimizers, learning-rates, dropout, regularization, init."
        ),
    ] = None,
    set_: Set("KEY=VALUE for every variant.") = None,
    out: Out("The folder (default runs/compare-<name>-<time>).") = None,
    jobs: Annotated[
        Optional[int], typer.Option(help="Runs at a time (default: 1 on <= 2 cores or a GPU).")
    ] = None,
    quiet: Quiet("No progress lines.") = False,
) -> None:
    """Train variants of a config side by side; write summary.csv, curves and compare.html."""

    def go() -> int:
        if lesson is not None:
            if config is not None or vary:
                from treino.errors import ConfigError

                raise ConfigError(
                    f"--lesson {lesson}: brings its own config and variants; drop CONFIG and --vary"
                )
            from treino.experiments.lessons import run as run_lesson

            result = run_lesson(lesson, out=out, overrides=set_, repeats=repeats if repeats > 1 else None,
                                jobs=jobs, quiet=quiet)  # fmt: skip
        else:
            from treino.experiments.compare import compare as run_compare

            result = run_compare(config, list(vary or []), zip_=zip_, repeats=repeats, out=out,
                                 overrides=set_, jobs=jobs, quiet=quiet)  # fmt: skip
        print(result.page)
        return 130 if result.interrupted else 0

    _guarded(go)


@app.command()
def tune(
    config: Annotated[Path, typer.Argument(help="A YAML config with a tune section.")],
    trials: Annotated[int, typer.Option(help="Trials to add to the study.")] = 20,
    out: Out("The tune folder (default runs/tune-<name>).") = None,
    timeout: Annotated[Optional[float], typer.Option(help="Stop starting trials after S seconds.")] = None,
    jobs: Annotated[int, typer.Option(help="Parallel trial processes sharing the study.")] = 1,
    metric: Annotated[
        Optional[str], typer.Option(help="val_<metric> to optimize (default: the early-stopping monitor).")
    ] = None,
    set_: Set("KEY=VALUE override.") = None,
    quiet: Quiet("No progress lines.") = False,
) -> None:
    """Search the config's tune section with Optuna; again with the same --out adds trials."""

    def go() -> None:
        from treino.experiments.tune import tune as run_tune

        result = run_tune(config, trials, out=out, overrides=set_, timeout=timeout, jobs=jobs,
                          metric=metric, quiet=quiet)  # fmt: skip
        print(result.page)

    _guarded(go)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
