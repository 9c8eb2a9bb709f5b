"""A model summary from one forward pass on an example batch: each layer's output shape and
parameters, and the estimated FLOPs per sample (torch's flop counter: matrix products and
convolutions, 2 FLOPs per multiply-add; activations, norms and pooling are not counted).

Recurrent layers (LSTM, GRU, RNN) are counted by hand, since torch's counter cannot see inside
the fused LSTM kernel: per step and direction, each gate (4 LSTM, 3 GRU, 1 RNN) multiplies the
input by (hidden x input) weights and the state by (hidden x hidden) ones, so 2 x (the weights'
size) FLOPs, times the steps run (padding in packed sequences is not run, so not counted)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode


def summarize(model: nn.Module, example: Tensor) -> dict[str, Any]:
    """Layers (name, type, output shape per sample, parameters, FLOPs), totals, from `example`.

    The model runs once in eval mode without gradients, so batch-norm statistics, dropout and
    the random state are left untouched.

    Example:
        >>> s = summarize(MLP((64,), 10, [32]), torch.zeros(2, 64))
        >>> s["parameters"], s["flops_per_sample"]
        (2410, 4736)
    """
    layers: list[dict[str, Any]] = []
    recurrent: dict[str, int] = {}  # name -> FLOPs counted by hand, for the whole batch
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, nn.RNNBase):

            def count(mod: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
                recurrent[name] = recurrent_flops(mod, inputs[0])  # type: ignore[arg-type]

            hooks.append(module.register_forward_hook(count))
        if name and not any(True for _ in module.children()):  # leaves only

            def record(mod: nn.Module, inputs: Any, output: Any, name: str = name) -> None:
                layers.append({
                    "name": name,
                    "type": type(mod).__name__,
                    "output_shape": _shape(output),
                    "parameters": sum(p.numel() for p in mod.parameters(recurse=False)),
                })  # fmt: skip

            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    batch = max(1, len(example))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    root = type(model).__name__
    per_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    total = int(counter.get_total_flops())
    for name, flops in recurrent.items():  # what the counter saw of them (GRU/RNN on CPU) is replaced
        key = f"{root}.{name}" if name else root
        total += flops - int(per_module.get(key, 0))
        per_module[key] = flops
    for layer in layers:
        layer["flops"] = int(per_module.get(f"{root}.{layer['name']}", 0)) // batch
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "parameters": n_params,
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "flops_per_sample": total // batch,
        "input_shape": list(example.shape[1:]),
        "layers": layers,
    }


def recurrent_flops(module: nn.RNNBase, x: Tensor | PackedSequence) -> int:
    """FLOPs of one recurrent module's forward pass over `x` (all layers and directions):
    2 per multiply-add, for every input-to-gate and state-to-gate weight at every step run.

    Example:
        >>> recurrent_flops(nn.LSTM(8, 16, batch_first=True), torch.zeros(2, 30, 8))  # 2*4*(8*16+16*16)*30*2
        184320
    """
    if isinstance(x, PackedSequence):
        steps = int(x.batch_sizes.sum())  # the true lengths, all rows together
    elif x.dim() == 2:  # one unbatched sequence (T, F)
        steps = x.shape[0]
    else:
        steps = x.shape[0] * x.shape[1]
    per_step = sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight_"))
    return 2 * per_step * steps


def _shape(output: Any) -> list[int] | None:
    """Per-sample shape of a layer's output (batch axis dropped); None when not a tensor. A
    packed sequence shows as (longest length, width)."""
    if isinstance(output, PackedSequence):
        return [len(output.batch_sizes), output.data.shape[-1]]
    if isinstance(output, tuple | list) and output:
        return _shape(output[0])
    return list(output.shape[1:]) if isinstance(output, Tensor) else None


def human(n: float) -> str:
    """12345678 -> '12.3M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{int(n)}"


def format_summary(summary: dict[str, Any], kind: str) -> str:
    """A compact text table: layers that hold parameters or change the shape, then the totals."""
    frozen = summary["parameters"] - summary.get("trainable", summary["parameters"])
    trainable = f" ({summary['trainable']:,} trainable, {frozen:,} frozen)" if frozen else ""  # model.freeze
    lines = [
        f"model: {kind}, {summary['parameters']:,} parameters{trainable}, "
        f"{human(summary['flops_per_sample'])} FLOPs per sample"
    ]
    shown, previous = [], summary["input_shape"]
    for layer in summary["layers"]:
        if layer["parameters"] or layer["output_shape"] != previous:
            shown.append(layer)
        previous = layer["output_shape"]
    name_w = max([len(layer["name"]) for layer in shown] + [5])
    type_w = max([len(layer["type"]) for layer in shown] + [4])
    lines.append(f"  {'layer':<{name_w}}  {'type':<{type_w}}  {'output':>10}  {'params':>7}  {'FLOPs':>7}")
    for layer in shown:
        shape = "x".join(map(str, layer["output_shape"] or [])) or "-"
        lines.append(
            f"  {layer['name']:<{name_w}}  {layer['type']:<{type_w}}  {shape:>10}  "
            f"{human(layer['parameters']):>7}  {human(layer['flops']):>7}"
        )
    return "\n".join(lines)
