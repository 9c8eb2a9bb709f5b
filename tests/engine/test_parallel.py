"""The distributed pieces in one process: rank shards, the launcher's checks and its one-line
failures. The multi-process runs are in test_distributed.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from treino.batches.source import InMemory
from treino.engine import parallel as distributed
from treino.errors import ConfigError, RunError
from treino.run import launch, processes

CONFIG = "data: {source: wine}\ntrain: {epochs: 1, device: cpu}\n"


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    # launch() sets these for its workers: keep the test process's environment as it was
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    path = tmp_path / "cfg.yaml"
    path.write_text(CONFIG)
    return path


def _batches(source, seed: int) -> list[torch.Tensor]:
    return [x for x, _ in source.epoch(torch.Generator().manual_seed(seed))]


def test_rank_shards_split_every_global_batch_of_one_process() -> None:
    x = torch.arange(22.0).unsqueeze(1)  # 22 rows, global batch 6: steps of 6, 6, 6, 4
    whole = InMemory(x, x.squeeze(1), 6)
    ranks = [distributed.Shard(whole, r, 2) for r in (0, 1)]
    single = _batches(whole, seed=5)
    shards = [_batches(s, seed=5) for s in ranks]
    assert len(ranks[0]) == len(whole) == 4
    for k, batch in enumerate(single):
        assert len(shards[0][k]) == len(shards[1][k]) == len(batch) // 2  # equal shards
        together = torch.cat([shards[0][k], shards[1][k]]).flatten().sort().values
        assert torch.equal(together, batch.flatten().sort().values)


def test_an_uneven_row_count_is_padded_like_distributed_sampler() -> None:
    x = torch.arange(7.0).unsqueeze(1)
    whole = InMemory(x, x.squeeze(1), None)  # full batch: 7 rows over 2 ranks
    got = [_batches(distributed.Shard(whole, r, 2), seed=0)[0].flatten().tolist() for r in (0, 1)]
    assert got == [[0, 2, 4, 6], [1, 3, 5, 0]]  # row 0 repeated to make 8


def test_a_global_batch_that_does_not_split_is_refused() -> None:
    x = torch.zeros(40, 1)
    with pytest.raises(ConfigError) as err:
        distributed.Shard(InMemory(x, x.squeeze(1), 15), 0, 4)
    assert str(err.value) == (
        "train.batch_size 15 does not split evenly over 4 processes; use a multiple of 4 (e.g. 12 or 16) or 'full'"
    )


def test_a_master_port_in_use_is_refused_before_anything_starts(cfg: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(RunError) as err:
            launch.launch(cfg, [], devices=2, master=f"127.0.0.1:{port}")
    assert str(err.value) == (
        f"--master 127.0.0.1:{port}: port {port} is already in use on this machine; choose another "
        f"port (e.g. --master 127.0.0.1:{port + 1}) or stop what holds it"
    )


def test_more_devices_than_gpus_is_refused(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    cfg.write_text(CONFIG.replace("device: cpu", "device: auto"))
    with pytest.raises(ConfigError) as err:
        launch.launch(cfg, [], devices=2)
    assert str(err.value) == (
        "--devices 2: only 1 GPU(s) here, and treino runs one process per GPU; "
        "use --devices 1 or fewer (or train.device cpu)"
    )


def test_cuda_without_a_gpu_is_refused(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ConfigError, match=r"^train.device cuda: no GPU is visible here; set train.device"):
        launch.launch(cfg, ["train.device=cuda"], devices=1)


def test_more_cpu_processes_than_cores_is_refused_by_the_cli(cli, cfg: Path, monkeypatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    result = cli(["train", cfg, "--devices", "3"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: --devices 3: on CPU each process needs at least one core and there are 2; "
        "use --devices 2 or fewer"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"devices": 0}, "--devices 0: must be 1 or more (processes on this machine)"),
        (
            {"nodes": 2, "node_rank": 2, "master": "h:1"},
            "--node-rank 2: must be between 0 and 1 for --nodes 2",
        ),
        ({"nodes": 2}, "--nodes 2: give --master HOST:PORT, the address of node 0 that every node can reach"),
        ({"master": "nohost"}, "--master nohost: expected HOST:PORT, e.g. --master 10.0.0.1:29500"),
    ],
)
def test_bad_launch_options_say_how_to_fix_them(cfg: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        launch.launch(cfg, [], **kwargs)
    assert str(err.value) == message


def test_devices_under_an_external_torchrun_is_refused(cfg: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"already runs under torchrun \(WORLD_SIZE is set\)"):
        launch.launch(cfg, [], devices=2)


def test_a_rendezvous_timeout_is_one_line_and_does_not_hang(cfg: Path, monkeypatch) -> None:
    monkeypatch.setenv(processes.TIMEOUT_ENV, "2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RunError) as err:  # node 0 alone of 2: nobody joins
        launch.launch(cfg, [], nodes=2, master=f"127.0.0.1:{port}", out=cfg.parent / "run")
    assert str(err.value) == (
        f"--master 127.0.0.1:{port}: the rendezvous timed out after 2s before all 2 nodes joined; "
        f"start every node with the same --master and --nodes (or raise TREINO_DIST_TIMEOUT)"
    )
    assert not (cfg.parent / "run").exists()


def test_a_worker_killed_by_a_signal_is_named_with_the_way_to_continue() -> None:
    failure = SimpleNamespace(exitcode=-9, pid=4242, signal_name=lambda: "SIGKILL")
    error = SimpleNamespace(get_first_failure=lambda: (1, failure))
    with pytest.raises(RunError) as err:
        launch._child_failed(error, "runs/x")
    assert str(err.value) == (
        "training process rank 1 (pid 4242) was killed by SIGKILL after 2 restart(s); "
        "continue from its last checkpoint with --resume runs/x"
    )


def test_a_worker_exit_code_is_kept() -> None:
    failure = SimpleNamespace(exitcode=3, pid=1, signal_name=lambda: "")
    assert launch._child_failed(SimpleNamespace(get_first_failure=lambda: (0, failure)), "r") == 3


def test_an_elastic_restart_resumes_the_run_folder_on_rank_0(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    monkeypatch.setenv("RANK", "0")
    assert processes.resume_after_restart(tmp_path, None) is None  # no config.yaml: from the top
    (tmp_path / "config.yaml").write_text("name: x\n")
    assert processes.resume_after_restart(tmp_path, None) == tmp_path
    monkeypatch.setenv("RANK", "1")
    assert processes.resume_after_restart(tmp_path, None) is None  # rank 0 broadcasts it
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    monkeypatch.setenv("RANK", "0")
    assert processes.resume_after_restart(tmp_path, None) is None  # a first attempt is new


def test_a_bad_timeout_setting_is_refused(monkeypatch) -> None:
    monkeypatch.setenv(processes.TIMEOUT_ENV, "soon")
    with pytest.raises(ConfigError) as err:
        processes.timeout_seconds()
    assert str(err.value) == "TREINO_DIST_TIMEOUT='soon': must be a positive number of seconds, e.g. 300"


def test_lazy_data_is_read_through_a_distributed_sampler() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    from treino.batches.source import Loader

    x = torch.arange(12.0).unsqueeze(1)
    lazy = Loader(DataLoader(TensorDataset(x, x.squeeze(1)), batch_size=4))
    ranks = [distributed.Group(r, 2).shard(lazy, seed=0) for r in (0, 1)]
    seen = [torch.cat(_batches(s, seed=7)).flatten() for s in ranks]
    assert [len(b) for b in _batches(ranks[0], seed=7)] == [2, 2, 2]  # global batch 4 = 2 x 2
    assert sorted(torch.cat(seen).tolist()) == list(range(12))  # together: every row once
    assert not torch.equal(seen[0], torch.cat(_batches(ranks[0], seed=8)).flatten())  # reshuffled


def test_a_source_that_transforms_its_batches_keeps_doing_so_when_sharded() -> None:
    class Shifted(InMemory):  # like data.augment.Augmented: its own epoch() per batch
        def epoch(self, generator):
            for x, y in super().epoch(generator):
                yield x + 100, y

    x = torch.arange(8.0).unsqueeze(1)
    rows = [torch.cat(_batches(distributed.Shard(Shifted(x, x.squeeze(1), 4), r, 2), 1)) for r in (0, 1)]
    assert sorted(torch.cat(rows).flatten().tolist()) == [100.0 + i for i in range(8)]


AGREE = """
import json, sys
from types import SimpleNamespace
import torch.distributed as dist
from treino.engine import parallel as distributed
dist.init_process_group("gloo")
rank = dist.get_rank()
results = []
for stops in ([True, False], [False, True], [False, False]):  # rank 0's early stop, rank 1's signal
    state = SimpleNamespace(should_stop=stops[rank], stop_reason="patience" if stops[rank] and rank == 0 else "",
                            best_epoch=3 - rank, best_value=0.5 + rank)
    distributed.Group(rank, 2).agree_stop(state)
    results.append([state.should_stop, state.stop_reason, state.best_epoch, state.best_value])
print(json.dumps(results))
dist.destroy_process_group()
"""


def test_stopping_is_decided_on_rank_0_and_broadcast(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", AGREE], env=env | {"RANK": str(r)}, stdout=subprocess.PIPE, text=True
        )
        for r in (0, 1)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    other = "stopped because another process received a signal"
    for out in outs:  # both ranks end with rank 0's decision, reason and best epoch
        assert json.loads(out) == [[True, "patience", 3, 0.5], [True, other, 3, 0.5], [False, "", 3, 0.5]]


def test_a_collective_broken_by_a_dead_peer_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    gloo = "[/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:9: Connection reset by peer. This is typically..."
    with pytest.raises(RunError) as err, processes.peer_failures():
        raise RuntimeError(gloo)
    assert str(err.value) == (
        "rank 1: lost contact with another training process (Read error [127.0.0.1]:9: Connection reset "
        "by peer); see that process's error above (torchrun restarts the group from the last checkpoint if allowed)"
    )
    with pytest.raises(RuntimeError, match="shape mismatch"), processes.peer_failures():
        raise RuntimeError("shape mismatch")  # not a peer's failure: left as it is


def test_a_global_batch_that_does_not_split_is_refused_before_spawning(cfg: Path) -> None:
    with pytest.raises(ConfigError) as err:
        launch.launch(cfg, ["train.batch_size=15"], devices=2)
    assert str(err.value) == (
        "train.batch_size 15 does not split evenly over 2 processes; use a multiple of 2 (e.g. 14 or 16) or 'full'"
    )
