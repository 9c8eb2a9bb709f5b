"""Probes: what the loss curve cannot show, read once per epoch (never per step).

At the end of each epoch `Probes` adds to the epoch's row of the history:

- `grad_norm`, `grad_norm_first`, `grad_norm_last`: the gradient norm of all parameters, of
  the first and of the last weight layer (matrices and kernels, in the order the model
  registers them), from the last step of the epoch. The loop zeroes the gradients at the
  start of a step, so the last step's are still on the parameters when the epoch ends.
- `dead_relu`: the share of ReLU units (features, or channels of a convolution) that output
  zero for every example of one held batch (the first training batch's first 128 rows);
  `saturated`: the share of sigmoid / tanh outputs within 1% of their bounds on that batch.
  One forward pass per epoch, in eval mode, under no_grad, with hooks removed right after; the
  held batch is kept in the checkpoint, so a resumed run reads the same rows.
- `update_ratio`: how far the weights moved in the epoch, ||W_t - W_t-1|| / ||W_t-1||.

The names carry no train_/val_ prefix: they are not metrics, and the plots keep them apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from treino.engine.callbacks import Callback

if TYPE_CHECKING:
    from treino.engine.state import TrainState

HELD_ROWS = 128  # rows of the held batch the activations are read on (kept in the checkpoint)
SIGMOID_EDGE = 0.01  # a sigmoid output below 0.01 or above 0.99 is saturated (its slope < 0.01)
TANH_EDGE = 0.99  # a tanh output beyond +-0.99 is saturated (its slope < 0.02)
COLUMNS = ("grad_norm", "grad_norm_first", "grad_norm_last", "dead_relu", "saturated", "update_ratio")


def _norm(t: torch.Tensor) -> torch.Tensor:
    """The L2 norm of a dense or sparse tensor (a sparse gradient: its stored values)."""
    if t.layout != torch.strided:
        t = t.coalesce().values() if t.layout == torch.sparse_coo else t.values()
    return torch.linalg.vector_norm(t.float())


class Probes(Callback):
    """Gradient norms, dead and saturated units and the weights' movement, once per epoch.

    Example:
        >>> history = treino.fit(net, (X, y), callbacks=[Probes()])
        >>> history.frame()[["grad_norm_first", "grad_norm_last", "dead_relu", "update_ratio"]]
    """

    def __init__(self, activations: bool = True) -> None:
        self.activations = activations
        self.held: Any = None  # the first training batch's inputs, kept for the activation probe
        self.previous: list[torch.Tensor] = []
        self._grab: Any = None

    def on_fit_start(self, state: TrainState) -> None:
        params = self._params(state.model)
        self.previous = [p.detach().clone() for p in params]
        compiled = state.forward is not None and state.forward is not state.model
        if self.activations and self.held is None and not compiled and self._units(state.model):
            # keep the first batch the model sees: a pre-hook that removes itself
            self._grab = state.model.register_forward_pre_hook(self._keep)

    def _keep(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0] if args else None
        if isinstance(x, torch.Tensor):
            strided = x.layout == torch.strided
            self.held = x[:HELD_ROWS].detach() if strided else x.detach()
        self._grab.remove()
        self._grab = None

    def on_epoch_end(self, state: TrainState, logs: dict[str, float]) -> None:
        logs.update(self.read(state.model))

    def state_dict(self) -> dict[str, Any]:
        # the held batch travels with the checkpoint: a resumed run reads its units on the same rows
        return {"held": self.held}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.held = state.get("held")

    def on_fit_end(self, state: TrainState) -> None:
        self._drop()

    def on_exception(self, state: TrainState, error: BaseException) -> None:
        self._drop()

    def _drop(self) -> None:
        if self._grab is not None:
            self._grab.remove()
            self._grab = None
        self.held, self.previous = None, []

    @staticmethod
    def _params(model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    @staticmethod
    def _units(model: nn.Module) -> list[nn.Module]:
        return [m for m in model.modules() if isinstance(m, nn.ReLU | nn.Sigmoid | nn.Tanh)]

    def read(self, model: nn.Module) -> dict[str, float]:
        """This epoch's probe values; what does not apply (no gradient, no ReLU) is left out."""
        params = self._params(model)
        weights = [p for p in params if p.ndim > 1 and p.grad is not None]
        graded = [p.grad for p in params if p.grad is not None]
        names, parts = [], []
        if graded:
            names.append("grad_norm")
            parts.append(torch.linalg.vector_norm(torch.stack([_norm(g) for g in graded])))
        if weights:
            names += ["grad_norm_first", "grad_norm_last"]
            parts += [_norm(weights[0].grad), _norm(weights[-1].grad)]
        if self.previous and len(self.previous) == len(params):
            with torch.no_grad():
                moved = torch.stack(
                    [
                        torch.linalg.vector_norm((p - q).float())
                        for p, q in zip(params, self.previous, strict=True)
                    ]
                )
                before = torch.stack([torch.linalg.vector_norm(q.float()) for q in self.previous])
                names.append("update_ratio")
                parts.append(
                    torch.linalg.vector_norm(moved) / torch.linalg.vector_norm(before).clamp_min(1e-12)
                )
                for q, p in zip(self.previous, params, strict=True):
                    q.copy_(p.detach())
        numbers = torch.stack(parts).cpu().tolist() if parts else []  # the one host sync of these probes
        return dict(zip(names, numbers, strict=True)) | self._activations(model)

    def _activations(self, model: nn.Module) -> dict[str, float]:
        """Dead ReLU units and saturated sigmoid/tanh outputs on the held batch."""
        units = self._units(model)
        if self.held is None or not units:
            return {}
        dead, relus, saturated, squashed = [], [], [], []

        def look(module: nn.Module, args: Any, out: torch.Tensor) -> None:
            if not isinstance(out, torch.Tensor) or out.ndim < 2:
                return
            if isinstance(module, nn.ReLU):
                # a unit is a feature (B, F) or a channel (B, C, ...): dead when zero everywhere
                alive = out.detach().transpose(0, 1).reshape(out.shape[1], -1).amax(dim=1) > 0
                dead.append((~alive).sum())
                relus.append(alive.numel())
            else:
                edge = (
                    (out - 0.5).abs() > 0.5 - SIGMOID_EDGE
                    if isinstance(module, nn.Sigmoid)
                    else out.abs() > TANH_EDGE
                )
                saturated.append(edge.sum())
                squashed.append(edge.numel())

        handles = [m.register_forward_hook(look) for m in units]
        was_training = model.training
        try:
            model.eval()
            device = next(model.parameters()).device
            with torch.no_grad():
                model(self.held.to(device))
        except Exception:  # a probe never stops training: a model that needs more than x goes unread
            return {}
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)
        out: dict[str, float] = {}
        if relus:
            out["dead_relu"] = float(torch.stack(dead).sum()) / sum(relus)
        if squashed:
            out["saturated"] = float(torch.stack(saturated).sum()) / sum(squashed)
        return out
