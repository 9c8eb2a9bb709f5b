"""The probes: read once per epoch, they change nothing in training and leave no hook behind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from treino.engine.loop import fit
from treino.engine.probes import Probes


def _data(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, (x[:, 0] > 0).float()


def _net(seed: int = 0, activation: type[nn.Module] = nn.ReLU) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 16), nn.BatchNorm1d(16), activation(), nn.Dropout(0.3), nn.Linear(16, 1)
    )


def test_probes_change_no_loss_and_leave_no_hook() -> None:
    """Dropout, batch norm and the shuffle draw from the same generators with or without them."""
    plain = fit(_net(), _data(), _data(32, 1), loss="bce", epochs=3, batch_size=16, device="cpu")
    model = _net()
    probed = fit(
        model, _data(), _data(32, 1), loss="bce", epochs=3, batch_size=16, device="cpu", callbacks=[Probes()]
    )
    assert plain.step_losses == probed.step_losses
    assert [e["val_loss"] for e in plain.epochs] == [e["val_loss"] for e in probed.epochs]
    assert {"grad_norm", "grad_norm_first", "grad_norm_last", "update_ratio", "dead_relu"} <= set(
        probed.epochs[-1]
    )
    assert "saturated" not in probed.epochs[-1]  # no sigmoid or tanh: the column is left out
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_the_gradient_norm_is_the_last_steps() -> None:
    """The loop zeroes the gradients at the start of a step: at the end of the epoch (and of
    fit) the last step's are still on the parameters."""
    model = _net()
    history = fit(model, _data(), loss="bce", epochs=2, batch_size=16, device="cpu", callbacks=[Probes()])
    grads = [p.grad for p in model.parameters()]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    torch.testing.assert_close(total.item(), history.epochs[-1]["grad_norm"])
    torch.testing.assert_close(model[0].weight.grad.norm().item(), history.epochs[-1]["grad_norm_first"])
    torch.testing.assert_close(model[-1].weight.grad.norm().item(), history.epochs[-1]["grad_norm_last"])


def test_dead_and_saturated_units_are_counted() -> None:
    dead = _net()
    with torch.no_grad():
        dead[0].bias.fill_(-50.0)  # every pre-activation far below 0
        dead[1].bias.fill_(-50.0)
    history = fit(dead, _data(), loss="bce", epochs=1, batch_size=16, device="cpu", callbacks=[Probes()])
    assert history.epochs[0]["dead_relu"] == 1.0
    torch.manual_seed(0)
    squashed = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 1))
    with torch.no_grad():
        squashed[0].weight.mul_(100.0)
    history = fit(
        squashed, _data(), loss="bce", epochs=1, batch_size=16, lr=1e-6, device="cpu", callbacks=[Probes()]
    )
    assert history.epochs[0]["saturated"] > 0.9


def test_the_update_ratio_is_the_weights_relative_move() -> None:
    probes, model = Probes(), nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # norm 5
    probes.previous = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        model.weight.add_(torch.tensor([[0.0, 0.5, 0.0]]))  # moved by 0.5
    assert probes.read(model)["update_ratio"] == pytest.approx(0.1)
    assert probes.read(model)["update_ratio"] == 0.0  # the next epoch measures from here
