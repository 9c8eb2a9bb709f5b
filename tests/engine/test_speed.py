"""The engine's speed paths: fused optimizers, thread choice, the overhead meter. Speed itself
is measured in `make bench`, never here; these check that the fast paths compute the same."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import treino
from treino.batches.source import InMemory
from treino.engine import optimizers, speed
from treino.engine.optimizers import OPTIMIZERS


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 20) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(32, 20, generator=g), torch.randn(32, 1, generator=g)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fast_optimizer_steps_give_the_weights_of_the_plain_loop(name: str) -> None:
    fast, plain = _mlp(), _mlp()
    fast_opt = optimizers.build(name, fast, weight_decay=1e-3)
    # the same optimizer and hyperparameters through torch's per-parameter Python loop
    defaults = {
        k: v for k, v in fast_opt.defaults.items() if k not in ("fused", "foreach", "decoupled_weight_decay")
    }
    plain_opt = type(fast_opt)(plain.parameters(), **defaults, foreach=False)
    _train(fast, fast_opt)
    _train(plain, plain_opt)
    for a, b in zip(fast.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_small_steps_get_one_thread_and_big_ones_every_core() -> None:
    cpu = torch.device("cpu")
    assert speed.choose_threads(_mlp(), InMemory(torch.randn(20_000, 20), torch.zeros(20_000), 32), cpu) == 1
    big = nn.Linear(2048, 2048)  # 3 x 2 x 2048^2 FLOPs per row: 25 GFLOP per step at 1024 rows
    assert speed.step_flops(big, torch.randn(8, 2048), 1024) == pytest.approx(3 * 2 * 2048**2 * 1024)
    source = InMemory(torch.randn(2048, 2048), torch.zeros(2048), 1024)
    assert speed.choose_threads(big, source, cpu) == min(speed.cpu_cores(), torch.get_num_threads())
    assert speed.choose_threads(big, source, torch.device("cuda")) is None  # torch's setting stays
    # between: a 784x256 MLP at batch 128 (156 MFLOP a step) ran 0.82x the time on 2 idle cores
    wide = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    rows = InMemory(torch.randn(512, 784), torch.zeros(512), 128)
    assert speed.choose_threads(wide, rows, cpu) == min(speed.cpu_cores(), torch.get_num_threads())
    rows.batch_size = 16  # 20 MFLOP a step: one thread
    assert speed.choose_threads(wide, rows, cpu) == 1


def test_the_flops_probe_leaves_training_untouched() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(100, 4)
    rng = torch.get_rng_state()
    speed.step_flops(model, x, 32)
    assert model.training
    assert torch.equal(torch.get_rng_state(), rng)  # dropout drew nothing
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # batch-norm statistics did not move


def test_fit_runs_small_models_on_one_thread_and_puts_the_threads_back() -> None:
    before = torch.get_num_threads()
    x, y = torch.randn(256, 20), torch.randn(256, 1)
    history = treino.fit(_mlp(), (x, y), loss="mse", epochs=2, batch_size=32, device="cpu")
    assert history.threads == 1
    assert torch.get_num_threads() == before
    assert 0.0 <= history.overhead < 1.0
    assert history.compile_seconds is None
    explicit = treino.fit(_mlp(), (x, y), loss="mse", epochs=1, batch_size=32, device="cpu", threads=2)
    assert explicit.threads == 2


def test_the_meter_counts_what_is_not_work_as_overhead() -> None:
    meter = speed.Meter(keep_steps=True)
    for seconds in (5.0, 0.01, 0.01, 0.01, 0.01):  # the first step compiled
        meter.add_step(seconds)
    meter.wall = 6.0
    assert meter.overhead == pytest.approx((6.0 - 5.04) / 6.0)
    assert meter.compile_seconds == pytest.approx(4.99)
    assert speed.Meter().overhead == 0.0


class _SeeMemoryFormat(treino.engine.Callback):
    """Records whether the first conv's weight is NHWC during training."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def on_epoch_end(self, state, logs) -> None:
        conv = [m for m in state.model.modules() if isinstance(m, nn.Conv2d)][-1]  # > 1 input channel
        self.seen.append(conv.weight.is_contiguous(memory_format=torch.channels_last))


def test_treinos_cnn_trains_channels_last_and_ends_with_contiguous_weights() -> None:
    from treino.models.cnn import CNN

    torch.manual_seed(0)
    net, seen = CNN((3, 8, 8), 3, channels=[4, 4]), _SeeMemoryFormat()
    x, y = torch.rand(96, 3, 8, 8), torch.randint(0, 3, (96,))
    history = treino.fit(net, (x, y), (x[:32], y[:32]), loss="cross_entropy", epochs=2, batch_size=16,
                         device="cpu", callbacks=[seen])  # fmt: skip
    assert history.status == "completed"
    assert seen.seen == [True, True]
    assert history.epochs[-1]["val_loss"] < history.epochs[0]["train_loss"] * 2
    assert all(p.is_contiguous() for p in net.parameters())
    assert x.is_contiguous()  # the caller's tensor is untouched


def test_a_users_cnn_that_flattens_with_view_trains_in_its_own_memory_order() -> None:
    """treino switched every model with a Conv2d to channels_last: a forward that flattens with
    x.view(x.size(0), -1), as the course's CNN does, failed with 'view size is not compatible'."""

    class LabCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 8 * 8, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
            return self.fc(x.view(x.size(0), -1))

    torch.manual_seed(0)
    seen = _SeeMemoryFormat()
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    history = treino.fit(LabCNN(), (x, y), (x, y), epochs=2, batch_size=16, device="cpu", callbacks=[seen])
    assert history.status == "completed"
    assert seen.seen == [False, False]


@pytest.mark.parametrize("width", [4, 300])  # one gather per epoch / one gather per batch
def test_an_epoch_yields_every_row_once_in_the_permutation_order(width: int) -> None:
    x = torch.arange(10 * width, dtype=torch.float32).reshape(10, width)
    source = InMemory(x, torch.arange(10), 3)
    batches = list(source.epoch(torch.Generator().manual_seed(0)))
    assert [len(b[1]) for b in batches] == [3, 3, 3, 1]
    order = torch.cat([b[1] for b in batches])
    assert torch.equal(order, torch.randperm(10, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(torch.cat([b[0] for b in batches]), x[order])


def test_a_model_without_len_trains() -> None:
    """Regression: the loop took `state.forward or model`, and torch.compile's module raises
    TypeError from __len__ (train.compile: true crashed on the first step)."""

    class NoLen(nn.Linear):
        def __len__(self) -> int:
            raise TypeError("NoLen does not support len()")

    x, y = torch.randn(64, 3), torch.randn(64, 1)
    history = treino.fit(NoLen(3, 1), (x, y), loss="mse", epochs=1, batch_size=16, device="cpu")
    assert history.status == "completed"
