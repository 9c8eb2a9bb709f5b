"""Data-parallel training end to end: real torchrun processes talking gloo on 127.0.0.1.

The reference is one process with global batch 16; every multi-process run must end with the
same weights (max abs difference <= 1e-5, float32) on a small MLP without dropout.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

CONFIG = """\
name: dist
seed: 3
data: {source: wine}
model: {kind: mlp, hidden: [16], dropout: 0.0}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 2, batch_size: 16, device: cpu, early_stopping: null}
log: {plots: false, progress: false}
"""  # wine: 124 training rows, 8 steps of 16 per epoch (the last of 12 rows), even shards

# A treino MLP (same init as kind mlp) that SIGKILLs its own process once: rank 1, first
# attempt, at its 12th training step (epoch 2, after epoch 1's checkpoint).
CRASHNET = """\
import os, signal
import torch
from treino.models.mlp import MLP

class CrashNet(MLP):
    def __init__(self, input_shape, n_outputs, die_at=0):
        super().__init__(input_shape, n_outputs, hidden=[16], bounded=True)  # as kind mlp on a table
        self.die_at, self.steps = die_at, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled() and x.shape[0] == 8:
            self.steps += 1
            first = os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0"
            if self.steps == self.die_at and os.environ.get("RANK") == "1" and first:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(x)
"""

TIMEOUT = 150  # seconds for any one command: a hang fails the test instead of blocking it


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, TREINO_DIST_TIMEOUT="60", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("TREINO_DEBUG", None)
    return env | extra


def treino(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "treino", "train", *args],
        cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "weights.safetensors"))


def max_diff(a: Path, b: Path) -> float:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the config, a single-process run in `one/` and a two-process one in `two/`."""
    root = tmp_path_factory.mktemp("dist")
    (root / "cfg.yaml").write_text(CONFIG)
    (root / "crashnet.py").write_text(CRASHNET)
    ok(treino("cfg.yaml", "--out", "one", "-q", cwd=root))
    ok(treino("cfg.yaml", "--out", "two", "--devices", "2", "-q", cwd=root))
    return root


def test_two_processes_end_with_the_weights_of_one(work: Path) -> None:
    assert max_diff(work / "one", work / "two") <= 1e-5
    one = (work / "one" / "history.csv").read_text().splitlines()
    two = (work / "two" / "history.csv").read_text().splitlines()
    assert len(two) == len(one) == 3  # header + 2 epochs, written once (by rank 0)
    loss_one = [float(line.split(",")[1]) for line in one[1:]]
    loss_two = [float(line.split(",")[1]) for line in two[1:]]
    assert loss_two == pytest.approx(loss_one, abs=1e-6)  # train loss reduced over both ranks
    assert not (work / "runs").exists()  # the other rank made no folder of its own


def test_two_nodes_on_localhost_match_one(work: Path) -> None:
    """Node 0 through `treino train --nodes 2`, node 1 through an external torchrun."""
    port = free_port()
    node0 = subprocess.Popen(
        [sys.executable, "-m", "treino", "train", "cfg.yaml", "--out", "nodes", "-q",
         "--nodes", "2", "--node-rank", "0", "--master", f"127.0.0.1:{port}"],
        cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):  # node 0 hosts the rendezvous: node 1 joins it
            assert node0.poll() is None and time.monotonic() < deadline, node0.communicate()[1][-2000:]
            time.sleep(0.2)
        node1 = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
             "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=treino",
             "-m", "treino", "train", "cfg.yaml", "--out", "nodes-1", "-q"],
            cwd=work, env=_env(TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1"), capture_output=True,
            text=True, timeout=TIMEOUT,
        )  # fmt: skip
        _, err0 = node0.communicate(timeout=TIMEOUT)
    finally:
        if node0.poll() is None:
            node0.kill()
    ok(node1)
    assert node0.returncode == 0, err0[-3000:]
    # torchrun ranks nodes by join order: the run folder is wherever global rank 0 ran
    written = [p for p in (work / "nodes", work / "nodes-1") if (p / "metrics.json").exists()]
    assert len(written) == 1
    assert max_diff(work / "one", written[0]) <= 1e-5


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_resume_with_another_process_count(work: Path) -> None:
    """Epochs 1-2 on one process, epoch 3 on two == epochs 1-2 on two, epoch 3 on one."""
    shutil.copytree(work / "one", work / "one-then-two")
    shutil.copytree(work / "two", work / "two-then-one")
    ok(treino("--resume", "one-then-two", "--set", "train.epochs=3", "--devices", "2", "-q", cwd=work))
    ok(treino("--resume", "two-then-one", "--set", "train.epochs=3", "-q", cwd=work))
    assert max_diff(work / "one-then-two", work / "two-then-one") <= 1e-5
    assert len((work / "one-then-two" / "history.csv").read_text().splitlines()) == 4


def test_a_dead_worker_is_restarted_and_resumes_from_the_checkpoint(work: Path) -> None:
    crash = CONFIG.replace("kind: mlp, hidden: [16]", "kind: 'crashnet:CrashNet', args: {die_at: 12}")
    (work / "crash.yaml").write_text(crash)
    result = treino("crash.yaml", "--out", "crashed", "--devices", "2", "-q", cwd=work)
    ok(result)
    assert "exitcode: -9" in result.stderr  # torchrun saw rank 1 die, then restarted the group
    assert max_diff(work / "one", work / "crashed") <= 1e-5  # resumed from epoch 1, not restarted
