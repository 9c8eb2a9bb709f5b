"""`treino train --devices N [--nodes M --node-rank R --master HOST:PORT]`: start the training
processes through torch.distributed.run (torchrun's elastic agent, c10d rendezvous), each one
running `python -m treino train ...` as it would run under an external torchrun.

Everything that can fail before a process starts is checked here, in the launching process,
and every failure afterwards is turned into one line: a port in use, a rendezvous that times
out, a worker that died (after torchrun's elastic restarts, which resume from the last
checkpoint). `start()` is what `treino train` calls: it trains in this process unless
processes were asked for.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from treino.errors import ConfigError, DivergedError, RunError
from treino.run import processes

RESTARTS_ENV = "TREINO_MAX_RESTARTS"  # elastic restarts of a failed worker group
DEFAULT_RESTARTS = 2


def start(
    config: str | Path | None,
    overrides: list[str],
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    devices: int | None = None,
    nodes: int = 1,
    node_rank: int = 0,
    master: str | None = None,
) -> int:
    """`treino train`: in this process, or on the processes that `devices` / `nodes` ask for.

    Returns the exit code (0 done, 3 diverged, 130 interrupted); a diverged run in this
    process is a DivergedError that names the run folder.

    Example:
        >>> start(None, ["data.source=iris"], out="runs/iris")
    """
    if devices is not None or nodes > 1 or master is not None:
        return launch(config, overrides, out=out, resume=resume, quiet=quiet, devices=devices,
                      nodes=nodes, node_rank=node_rank, master=master)  # fmt: skip
    from treino.run.train import train

    with processes.peer_failures():
        run = train(config, overrides, out=out, resume=resume, quiet=quiet)
    if run.status == "diverged" and processes.is_main():  # under torchrun, rank 0 alone says it
        raise DivergedError(
            f"training diverged: {run.metrics['stop_reason']}; lower optimizer.lr "
            f"(or check the inputs are scaled); the run folder is {run.dir}"
        )
    return run.exit_code


def launch(
    config: str | Path | None,
    overrides: list[str],
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    devices: int | None = None,
    nodes: int = 1,
    node_rank: int = 0,
    master: str | None = None,
) -> int:
    """Run `treino train` on `devices` processes of this machine (one node of `nodes`).

    Returns the exit code of the training (0 done, 3 diverged, 130 interrupted).

    Example:
        >>> launch("mlp.yaml", ["train.epochs=5"], devices=2)
    """
    from treino import config as C
    from treino.run import folder as rundir

    if processes.under_torchrun():
        raise ConfigError(
            "--devices/--nodes: this treino already runs under torchrun (WORLD_SIZE is set); "
            "drop those options and let torchrun start the processes"
        )
    devices = _check_counts(devices, nodes, node_rank, master)
    cfg = C.load(Path(resume) / "config.yaml" if resume else config, overrides)  # fail before spawning
    _check_devices(devices, cfg.train.device)
    world, batch = devices * nodes, cfg.train.batch_size
    if batch != "full" and batch % world:  # every worker would fail (and be restarted) on it
        low, high = max(world, batch // world * world), (batch // world + 1) * world
        raise ConfigError(
            f"train.batch_size {batch} does not split evenly over {world} processes; "
            f"use a multiple of {world} (e.g. {low} or {high}) or 'full'"
        )
    if resume is None:  # one folder for every attempt (an elastic restart resumes it)
        out = Path(out) if out else rundir.default_dir(cfg.name)
    worker = ["-m", "treino", "train", *_worker_args(config, overrides, out, resume, quiet)]
    host, port = _endpoint(master, nodes)
    if node_rank == 0 and port:
        _check_port_free(host, port)
    timeout = processes.timeout_seconds()
    args = [
        f"--nnodes={nodes}", f"--nproc-per-node={devices}", "--rdzv-backend=c10d",
        f"--rdzv-endpoint={host}:{port}", "--rdzv-id=treino",
        # node 0 hosts the rendezvous store: it fails fast on a taken port instead of joining
        # whatever listens there
        f"--rdzv-conf=is_host={node_rank == 0},join_timeout={timeout},read_timeout={timeout}",
        f"--max-restarts={_restarts()}", "--monitor-interval=0.5", *worker,
    ]  # fmt: skip
    # Workers get a fresh store per rendezvous round: a shared one hands restarted workers the
    # dead ones' addresses (pytorch/pytorch#135712), and the elastic restart then fails.
    os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    if not processes.uses_cuda(cfg.train.device) and "OMP_NUM_THREADS" not in os.environ:
        # on CPU a process per group of cores (torchrun would leave each one a single thread)
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // devices))
    return _run(args, f"{host}:{port}", nodes, timeout, str(resume or out))


def _check_counts(devices: int | None, nodes: int, node_rank: int, master: str | None) -> int:
    devices = 1 if devices is None else devices
    if devices < 1:
        raise ConfigError(f"--devices {devices}: must be 1 or more (processes on this machine)")
    if nodes < 1:
        raise ConfigError(f"--nodes {nodes}: must be 1 or more (machines taking part)")
    if not 0 <= node_rank < nodes:
        raise ConfigError(f"--node-rank {node_rank}: must be between 0 and {nodes - 1} for --nodes {nodes}")
    if nodes > 1 and master is None:
        raise ConfigError(
            f"--nodes {nodes}: give --master HOST:PORT, the address of node 0 that every node can reach"
        )
    return devices


def _check_devices(devices: int, device: str) -> None:
    import torch

    gpus = torch.cuda.device_count()
    if device == "cuda" and gpus == 0:
        raise ConfigError("train.device cuda: no GPU is visible here; set train.device auto or cpu")
    if processes.uses_cuda(device) and devices > gpus:
        raise ConfigError(
            f"--devices {devices}: only {gpus} GPU(s) here, and treino runs one process per GPU; "
            f"use --devices {gpus} or fewer (or train.device cpu)"
        )
    cores = os.cpu_count() or 1
    if not processes.uses_cuda(device) and devices > cores:
        raise ConfigError(
            f"--devices {devices}: on CPU each process needs at least one core and there are {cores}; "
            f"use --devices {cores} or fewer"
        )


def _worker_args(
    config: str | Path | None, overrides: list[str], out: Any, resume: Any, quiet: bool
) -> list[str]:
    args = [] if config is None or resume else [str(config)]
    for item in overrides:
        args += ["--set", item]
    args += ["--resume", str(resume)] if resume else ["--out", str(out)]
    return [*args, "--quiet"] if quiet else args


def _endpoint(master: str | None, nodes: int) -> tuple[str, int]:
    if master is None:  # one machine: the store takes a free loopback port itself (port 0)
        return "127.0.0.1", 0
    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--master {master}: expected HOST:PORT, e.g. --master 10.0.0.1:29500")
    return host.strip("[]"), int(port)


def _check_port_free(host: str, port: int) -> None:
    """Node 0 hosts the rendezvous on `port`: refuse a taken one before starting anything."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the TCP store itself does
        try:
            s.bind(("", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RunError(
                    f"--master {host}:{port}: port {port} is already in use on this machine; "
                    f"choose another port (e.g. --master {host}:{port + 1}) or stop what holds it"
                ) from None
            raise RunError(f"--master {host}:{port}: cannot listen on port {port} ({exc.strerror})") from None


def _restarts() -> int:
    raw = os.environ.get(RESTARTS_ENV, str(DEFAULT_RESTARTS))
    if not raw.isdigit():
        raise ConfigError(f"{RESTARTS_ENV}={raw!r}: must be a whole number of restarts, e.g. 2")
    return int(raw)


def _run(args: list[str], endpoint: str, nodes: int, timeout: int, folder: str) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import (
        RendezvousConnectionError,
        RendezvousError,
        RendezvousTimeoutError,
    )
    from torch.distributed.run import get_args_parser, run

    # torchrun's agent logs every start and stop; treino's workers say what matters
    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    try:
        run(get_args_parser().parse_args(args))
    except ChildFailedError as exc:
        return _child_failed(exc, folder)
    except SignalException as exc:
        # Ctrl-C / SIGTERM reached torchrun's agent, which passed SIGTERM to the workers (their
        # own session): they end the epoch and rank 0 writes the folder, as on one process.
        print(f"stopped by {exc.sigval.name}; the run folder is {folder}", file=sys.stderr)
        return 128 + exc.sigval.value
    except RendezvousTimeoutError:
        raise RunError(
            f"--master {endpoint}: the rendezvous timed out after {timeout}s before all {nodes} nodes "
            f"joined; start every node with the same --master and --nodes (or raise "
            f"{processes.TIMEOUT_ENV})"
        ) from None
    except RendezvousConnectionError:
        raise RunError(
            f"--master {endpoint}: cannot reach node 0's rendezvous; start node 0 (--node-rank 0) "
            f"first and check that HOST:PORT is reachable from here"
        ) from None
    except RendezvousError as exc:
        raise RunError(f"--master {endpoint}: the rendezvous failed ({exc}); start all nodes again") from None
    return 0


def _child_failed(exc: Any, folder: str) -> int:
    """A worker's own error was printed by that worker: say which one, keep its exit code."""
    rank, failure = exc.get_first_failure()
    restarts = _restarts()
    after = f" after {restarts} restart(s)" if restarts else ""
    if failure.exitcode > 0:  # treino's codes: 2 user error (printed above), 3 diverged, 130...
        if failure.exitcode not in (2, 3) and failure.exitcode < 128:
            print(
                f"error: training process rank {rank} exited with code {failure.exitcode}{after}",
                file=sys.stderr,
            )
        return failure.exitcode
    raise RunError(
        f"training process rank {rank} (pid {failure.pid}) was killed by {failure.signal_name()}{after}; "
        f"continue from its last checkpoint with --resume {folder}"
    )
