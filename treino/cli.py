"""The command line: parse, call one library function, map TreinoError to one line + exit 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(
    name="treino",
    help="Train and validate PyTorch neural networks. `treino train` trains the embedded default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run `fn`; a TreinoError becomes `error: ...` on stderr and its exit code."""
    from treino.errors import TreinoError

    try:
        return fn()
    except TreinoError as exc:
        if os.environ.get("TREINO_DEBUG") == "1":
            raise
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # a signal that ended the command at once (treino.guard)
        print(f"error: {getattr(exc, 'message', 'interrupted')}", file=sys.stderr)
        raise typer.Exit(getattr(exc, "exit_code", 130)) from None


@app.command()
def train(
    config: Annotated[Optional[Path], typer.Argument(help="A YAML config (optional).")] = None,
    data: Annotated[
        Optional[str], typer.Option(help="A table/image path or a built-in dataset name.")
    ] = None,
    target: Annotated[Optional[str], typer.Option(help="The column to predict.")] = None,
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="KEY=VALUE override, e.g. optimizer.lr=0.01.")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="The run folder (default runs/<name>-<time>).")] = None,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue this run from its last checkpoint.")
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the resolved config and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Train a model and write its run folder (config, history, metrics, model, report)."""
    overrides = list(set_ or [])
    if data is not None:
        overrides.append(f"data.source={data}")
    if target is not None:
        overrides.append(f"data.target={target}")

    def go() -> int:
        from treino import config as C

        if print_config:
            print(C.load(config, overrides).to_yaml(), end="")
            return 0
        from treino.run import train as run_train

        run = run_train(config, overrides, out=out, resume=resume, quiet=quiet)
        if run.status == "diverged":
            from treino.errors import DivergedError

            raise DivergedError(
                f"training diverged: {run.metrics['stop_reason']}; lower optimizer.lr "
                f"(or check the inputs are scaled); the run folder is {run.dir}"
            )
        return run.exit_code

    code = _guarded(go)
    if code:
        raise typer.Exit(code)


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
def report(run: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Rebuild the plots and report.html of a run from its folder alone."""

    def go() -> None:
        from treino import report as R
        from treino.errors import RunError

        if not run.is_dir():
            raise RunError(f"{run}: no such run folder")
        print(R.write(run))

    _guarded(go)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
