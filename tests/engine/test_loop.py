"""The loop on plain torch objects: it learns, stops early, restores, and calls hooks in order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import treino
from treino.engine import Callback, EarlyStopping, InMemory


def line_data(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 10
    return x, 3.0 * x + 2.0 + 0.01 * torch.randn(n, 1, generator=g)


def test_linear_regression_recovers_slope_and_intercept():
    x, y = line_data()
    model = nn.Linear(1, 1)
    history = treino.fit(model, (x, y), loss="mse", optimizer="adam", lr=0.05, epochs=150, batch_size=32)
    slope, intercept = model.weight.item(), model.bias.item()
    assert abs(slope - 3.0) / 3.0 < 0.01
    assert abs(intercept - 2.0) / 2.0 < 0.01
    assert history.status == "completed"
    assert len(history.epochs) == 150
    assert history.epochs[-1]["train_loss"] < 1e-3


def test_step_losses_count_iterations_per_epoch():
    x, y = line_data(100)
    history = treino.fit(nn.Linear(1, 1), (x, y), loss="mse", epochs=3, batch_size=32)
    assert len(history.step_losses) == 3 * 4  # 100 rows at 32 per batch: 4 iterations
    assert history.step_epochs == [1] * 4 + [2] * 4 + [3] * 4


@pytest.mark.parametrize(("batch_size", "steps"), [(1, 10), (3, 4), ("full", 1), (1000, 1)])
def test_batch_regimes(batch_size, steps):
    x, y = line_data(10)
    history = treino.fit(nn.Linear(1, 1), (x, y), loss="mse", epochs=1, batch_size=batch_size)
    assert len(history.step_losses) == steps


def test_epoch_batches_cover_every_row_once():
    x = torch.arange(10.0).reshape(10, 1)
    source = InMemory(x, x.clone(), 3)
    seen = torch.cat([b for b, _ in source.epoch(torch.Generator().manual_seed(1))])
    assert sorted(seen.reshape(-1).tolist()) == list(range(10))
    assert [len(b) for b, _ in source.epoch(torch.Generator())] == [3, 3, 3, 1]


def test_early_stopping_stops_and_restores_the_best_weights():
    torch.manual_seed(0)
    x, y = line_data(64)
    xv, yv = line_data(64, seed=1)
    model = nn.Linear(1, 1)
    seen: list[dict[str, torch.Tensor]] = []

    class Keep(Callback):
        def on_epoch_end(self, state, logs):
            seen.append({k: v.clone() for k, v in state.model.state_dict().items()})

    # a learning rate far too high makes validation loss worse after the first epochs
    stopper = EarlyStopping("val_loss", patience=2)
    history = treino.fit(
        model, (x, y), (xv, yv), loss="mse", optimizer="sgd", lr=0.03, epochs=50, batch_size=8,
        callbacks=[stopper, Keep()],
    )  # fmt: skip
    assert history.status == "early_stopped"
    assert len(history.epochs) == stopper.best_epoch + 2
    best = seen[stopper.best_epoch - 1]
    assert torch.equal(model.weight, best["weight"]) and torch.equal(model.bias, best["bias"])
    val = [row["val_loss"] for row in history.epochs]
    assert min(val) == val[stopper.best_epoch - 1]


def test_callbacks_fire_in_order():
    events: list[str] = []

    class Spy(Callback):
        def on_fit_start(self, state):
            events.append("fit_start")

        def on_epoch_start(self, state):
            events.append("epoch_start")

        def on_batch_end(self, state, loss):
            events.append("batch_end")

        def on_epoch_end(self, state, logs):
            events.append(f"epoch_end:{logs['epoch']}")

        def on_fit_end(self, state):
            events.append("fit_end")

    x, y = line_data(4)
    treino.fit(nn.Linear(1, 1), (x, y), loss="mse", epochs=2, batch_size=2, callbacks=[Spy()])
    assert events == [
        "fit_start",
        "epoch_start", "batch_end", "batch_end", "epoch_end:1",
        "epoch_start", "batch_end", "batch_end", "epoch_end:2",
        "fit_end",
    ]  # fmt: skip


def test_stop_flag_mid_epoch_keeps_the_last_complete_epoch():
    class StopAt(Callback):
        def on_batch_end(self, state, loss):
            if state.step == 5:
                state.should_stop = True

    x, y = line_data(8)
    history = treino.fit(nn.Linear(1, 1), (x, y), loss="mse", epochs=5, batch_size=2, callbacks=[StopAt()])
    assert history.status == "interrupted"
    assert len(history.epochs) == 1  # 4 steps per epoch: epoch 2 was cut at step 5


def test_exception_hook_sees_the_error():
    caught: list[BaseException] = []

    class Catch(Callback):
        def on_exception(self, state, error):
            caught.append(error)

    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        treino.fit(Broken(), line_data(4), loss="mse", optimizer=torch.optim.SGD([nn.Parameter(torch.zeros(1))]),
                   epochs=1, callbacks=[Catch()])  # fmt: skip
    assert len(caught) == 1


def test_nan_loss_stops_with_diverged_status():
    x, y = line_data(32)
    history = treino.fit(
        nn.Linear(1, 1), (x, y * 1e30), loss="mse", optimizer="sgd", lr=10.0, epochs=5, batch_size=4
    )
    assert history.status == "diverged"
    assert "the loss became" in history.stop_reason


def test_l2_penalty_shrinks_weights():
    x, y = line_data(64)
    plain, penalized = nn.Linear(1, 1), nn.Linear(1, 1)
    penalized.load_state_dict(plain.state_dict())
    treino.fit(plain, (x, y), loss="mse", lr=0.05, epochs=60, batch_size=16)
    treino.fit(penalized, (x, y), loss="mse", lr=0.05, epochs=60, batch_size=16, l2=20.0)
    assert penalized.weight.abs().item() < plain.weight.abs().item() * 0.9


def test_classification_metrics_are_reported_per_epoch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    history = treino.fit(
        nn.Linear(2, 2), (x, y), (x, y), loss="cross_entropy", epochs=20, batch_size=16, lr=0.05
    )
    last = history.epochs[-1]
    assert last["val_accuracy"] > 0.95
    assert {"train_f1_macro", "val_precision_macro", "val_recall_macro"} <= set(last)


def test_same_seed_gives_identical_weights():
    def once() -> torch.Tensor:
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
        treino.fit(model, line_data(64), loss="mse", epochs=3, batch_size=8, seed=3)
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    assert torch.equal(once(), once())


class Tally(Callback):
    """Adds `step` at every epoch end; its total survives a resume."""

    def __init__(self, step: int) -> None:
        self.step, self.total = step, 0

    def on_epoch_end(self, state, logs) -> None:
        self.total += self.step

    def state_dict(self) -> dict[str, int]:
        return {"total": self.total}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.total = state["total"]


class Snapshot(Callback):
    """Keeps the checkpoint of the last epoch, as treino train's Checkpoint writes it."""

    def on_epoch_end(self, state, logs) -> None:
        from treino.engine.checkpoint import snapshot

        self.ckpt = snapshot(state)


def test_two_callbacks_of_one_class_resume_with_their_own_state():
    """Regression: callback state was keyed by class name, so the second Tally overwrote the first."""
    data, keep = line_data(32), Snapshot()
    treino.fit(nn.Linear(1, 1), data, loss="mse", epochs=2, callbacks=[Tally(1), Tally(10), keep])
    ones, tens = Tally(1), Tally(10)
    treino.fit(nn.Linear(1, 1), data, loss="mse", epochs=3, callbacks=[ones, tens], resume=keep.ckpt)
    assert (ones.total, tens.total) == (3, 30)


def test_a_checkpoint_keyed_by_class_name_alone_still_restores():
    """A checkpoint written before callbacks were keyed apart: its state goes to the first of the class."""
    data, keep = line_data(32), Snapshot()
    treino.fit(nn.Linear(1, 1), data, loss="mse", epochs=2, callbacks=[Tally(1), keep])
    keep.ckpt["callbacks"] = {"Tally": {"total": 5}}
    first, second = Tally(1), Tally(10)
    treino.fit(nn.Linear(1, 1), data, loss="mse", epochs=3, callbacks=[first, second], resume=keep.ckpt)
    assert (first.total, second.total) == (6, 10)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_fit_refuses_a_learning_rate_that_is_not_positive(lr):
    """After the engine stopped building pydantic configs, lr=0 reached torch's own bare error."""
    with pytest.raises(ValueError, match=r"^lr .*: must be a positive number, e\.g\. 0\.001$"):
        treino.fit(torch.nn.Linear(2, 1), (torch.randn(8, 2), torch.randn(8)), loss="mse", lr=lr, epochs=1)
