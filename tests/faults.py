"""Run `treino train ARGS` and hit it with a fault at one chosen point (resume/signal tests).

usage: python tests/faults.py POINT N [SIGNAL] -- ARGS...

SIGNAL (default KILL) is sent by the process to itself at the point: KILL, INT or TERM.
POINT is one of
  step              right after optimizer step N (mid-epoch)
  checkpoint        right after checkpoints/last.pt of epoch N is in place
  checkpoint-write  half-way through writing last.pt of epoch N (a truncated .tmp is left)
  bundle            after model/weights.safetensors, before the rest of the bundle
  final             just before metrics.json is written
  data              while the data is being loaded (before training)
  poison            at the start of epoch N, the first weight becomes inf (no signal sent)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

SIGNAL = signal.SIGKILL


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), SIGNAL)  # KILL ends here; INT/TERM run the handler right after


def main() -> None:
    global SIGNAL
    point, n = sys.argv[1], int(sys.argv[2])
    split = sys.argv.index("--")
    if split > 3:
        SIGNAL = signal.Signals["SIG" + sys.argv[3]]
    args = sys.argv[split + 1 :]
    import torch

    import treino.run.train
    from treino import files
    from treino.engine import checkpoint
    from treino.engine.callbacks import Callback

    if point in ("step", "poison"):

        class Fault(Callback):
            def on_batch_end(self, state: Any, loss: torch.Tensor) -> None:
                if point == "step" and state.step == n:
                    die()

            def on_epoch_start(self, state: Any) -> None:
                if point == "poison" and state.epoch + 1 == n:
                    with torch.no_grad():
                        next(state.model.parameters()).view(-1)[0] = float("inf")

        fit = treino.run.train.fit

        def fit_with_fault(*a: Any, **k: Any) -> Any:
            k["callbacks"] = [*k["callbacks"], Fault()]
            return fit(*a, **k)

        treino.run.train.fit = fit_with_fault
    elif point == "data":
        import treino.data.load

        load = treino.data.load.load

        def load_and_die(*a: Any, **k: Any) -> Any:
            die()
            return load(*a, **k)

        treino.data.load.load = load_and_die
    elif point in ("checkpoint", "checkpoint-write"):
        save = checkpoint.atomic_save

        def save_then_die(obj: Any, path: Path) -> None:
            if path.name != "last.pt" or obj["epoch"] != n:
                return save(obj, path)
            if point == "checkpoint":
                save(obj, path)
            else:
                tmp = path.with_name(path.name + ".tmp")
                torch.save(obj, tmp)
                os.truncate(tmp, tmp.stat().st_size // 2)
            die()

        checkpoint.atomic_save = save_then_die
    elif point in ("bundle", "final"):
        write_json = files.write_json
        name = "preprocessing.json" if point == "bundle" else "metrics.json"

        def write_or_die(path: Path, obj: Any) -> None:
            if path.name == name:
                die()
            write_json(path, obj)

        files.write_json = write_or_die
    else:
        raise SystemExit(f"unknown kill point {point}")
    from treino.cli import main as cli_main

    sys.argv = ["treino", "train", *args]
    cli_main()


if __name__ == "__main__":
    main()
