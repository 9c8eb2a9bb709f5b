"""Run `treino train ARGS` and SIGKILL the process at one chosen point (for the resume tests).

usage: python tests/kill_at.py POINT N -- ARGS...

POINT is one of
  step              right after optimizer step N (mid-epoch)
  checkpoint        right after checkpoints/last.pt of epoch N is in place
  checkpoint-write  half-way through writing last.pt of epoch N (a truncated .tmp is left)
  bundle            after model/weights.safetensors, before the rest of the bundle
  final             just before metrics.json is written
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    point, n = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    import torch

    import treino.run
    from treino import rundir
    from treino.engine import checkpoint
    from treino.engine.callbacks import Callback

    if point == "step":

        class KillAtStep(Callback):
            def on_batch_end(self, state: Any, loss: torch.Tensor) -> None:
                if state.step == n:
                    die()

        fit = treino.run.fit

        def fit_with_killer(*a: Any, **k: Any) -> Any:
            k["callbacks"] = [*k["callbacks"], KillAtStep()]
            return fit(*a, **k)

        treino.run.fit = fit_with_killer
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
        write_json = rundir.write_json
        name = "preprocessing.json" if point == "bundle" else "metrics.json"

        def write_or_die(path: Path, obj: Any) -> None:
            if path.name == name:
                die()
            write_json(path, obj)

        rundir.write_json = write_or_die
    else:
        raise SystemExit(f"unknown kill point {point}")
    from treino.cli import main as cli_main

    sys.argv = ["treino", "train", *args]
    cli_main()


if __name__ == "__main__":
    main()
