"""The loop's per-step shortcuts change nothing but time: hooks that are no-ops are skipped,
overriding ones still run; grads reset as torch's zero_grad does; metrics share their labels."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn import metrics as skm
from torch import nn

import treino
from treino.engine import Callback, EarlyStopping, ProgressBar, speed
from treino.engine import metrics as M
from treino.engine.callbacks import hooks
from treino.engine.schedules import Schedule


def _data(rows: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 4, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))


class Counter(Callback):
    def __init__(self) -> None:
        self.batches = 0

    def on_batch_end(self, state, loss) -> None:
        self.batches += 1


class Inherits(Counter):  # overrides nothing itself: the parent's hook is still its hook
    pass


def test_only_callbacks_that_override_a_hook_are_called_for_it() -> None:
    quiet, counting, inheriting = EarlyStopping(), Counter(), Inherits()
    found = hooks([quiet, counting, ProgressBar(), inheriting], "on_batch_end")
    assert [type(h.__self__) for h in found] == [Counter, ProgressBar, Inherits]
    assert found[0].__self__ is counting and found[2].__self__ is inheriting
    assert hooks([quiet, counting], "on_fit_start") == []
    patched = Callback()
    patched.on_batch_end = lambda state, loss: None  # set on the instance, not the class
    assert hooks([patched], "on_batch_end") == [patched.on_batch_end]


def test_overriding_batch_hooks_run_every_step() -> None:
    counting, inheriting = Counter(), Inherits()
    history = treino.fit(_mlp(), _data(), loss="cross_entropy", epochs=2, batch_size=16,
                         callbacks=[EarlyStopping("train_loss"), counting, inheriting])  # fmt: skip
    assert counting.batches == inheriting.batches == len(history.step_losses) == 12


def test_a_schedule_with_its_own_batch_end_is_stepped_every_batch() -> None:
    class Ticks(Schedule):
        ticks = 0

        def batch_end(self) -> None:
            self.ticks += 1

    schedule = Ticks(None, per_batch=False, needs_metric=False)
    treino.fit(_mlp(), _data(), loss="cross_entropy", epochs=3, batch_size=32, schedule=schedule)
    assert schedule.ticks == 9


def test_grad_reset_clears_every_optimized_grad_like_zero_grad() -> None:
    model, scale = nn.Linear(3, 1), nn.Parameter(torch.ones(1))  # a parameter outside the model
    opt = torch.optim.SGD([*model.parameters(), scale], lr=0.1)
    (model(torch.ones(2, 3)) * scale).sum().backward()
    assert all(p.grad is not None for p in [*model.parameters(), scale])
    speed.grad_reset(opt)()
    assert all(p.grad is None for p in [*model.parameters(), scale])


def test_an_optimizer_with_its_own_zero_grad_keeps_it() -> None:
    class Counting(torch.optim.Adam):
        calls = 0

        def zero_grad(self, set_to_none: bool = True) -> None:
            self.calls += 1
            super().zero_grad(set_to_none)

    own = _mlp()
    opt = Counting(own.parameters(), lr=0.01)
    treino.fit(own, _data(), loss="cross_entropy", optimizer=opt, epochs=2, batch_size=16)
    assert opt.calls == 12
    # torch's zero_grad (the subclass) and the loop's reset give the same weights, bit for bit
    fast = _mlp()
    treino.fit(fast, _data(), loss="cross_entropy", optimizer=torch.optim.Adam(fast.parameters(), lr=0.01),
               epochs=2, batch_size=16)  # fmt: skip
    for a, b in zip(own.state_dict().values(), fast.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_shared_metrics_equal_each_metric_computed_alone(task: str) -> None:
    g = torch.Generator().manual_seed(3)
    if task == "regression":
        y = torch.randn(500, 2, generator=g)
        out = y + 0.5 * torch.randn(500, 2, generator=g)
    elif task == "binary":
        out, y = torch.randn(500, 1, generator=g), (torch.rand(500, 1, generator=g) > 0.5).float()
    else:
        out, y = torch.randn(500, 5, generator=g), torch.randint(0, 4, (500,), generator=g)  # class 4 unseen
    shared = M.compute(out, y, task)  # type: ignore[arg-type]
    alone = {name: fn(out, y) for name, fn in M.for_task(task).items()}  # type: ignore[arg-type]
    assert shared == alone and len(shared) == {"binary": 5}.get(task, 4)


def test_auc_is_sklearns_and_undefined_for_one_class() -> None:
    g = torch.Generator().manual_seed(4)
    out = torch.randn(300, 1, generator=g).round(decimals=1)  # ties
    y = (torch.rand(300, 1, generator=g) > 0.3).float()
    got = M.compute(out, y, "binary")["auc"]
    assert got == skm.roc_auc_score(y.reshape(-1).numpy(), torch.sigmoid(out).reshape(-1).numpy())
    assert math.isnan(M.compute(out, torch.ones(300, 1), "binary")["auc"])
