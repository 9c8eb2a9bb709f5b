"""ONNX nodes that redo treino's saved preprocessing, put in front of an exported model so that
it takes raw inputs: per table column, imputation + scaling (numbers) or imputation + one-hot /
index encoding (categories, with ai.onnx.ml ops), and the missing-value indicators; for
images, the per-channel normalization. The node order mirrors TablePreprocessor.transform."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from treino.errors import ModelError

ML_DOMAIN, ML_OPSET = "ai.onnx.ml", 3  # LabelEncoder with float values needs version 2 or later
FEATURES = "features"  # the plain graph's input, now computed by these nodes


class _Graph:
    """Collects nodes, constants and inputs, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.constants: list[Any] = []
        self.inputs: list[Any] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"pre_{self.count}_{hint}"

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        name = self.name("const")
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op: str, inputs: list[str], domain: str = "", **attrs: Any) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def column(self, c: dict[str, Any]) -> list[str]:
        """The feature blocks (batch, k) of one raw column, in transform's order."""
        name, role = c["name"], c["role"]
        if role == "numeric":
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch"]))
            x = self.op("Unsqueeze", [name, self.const([1], np.int64)])  # (B,) -> (B, 1)
            # in float64, as pandas computes it: (2008 - 2008.03) / 0.8 in float32 loses 1e-4
            x = self.op("Cast", [x], to=TensorProto.DOUBLE)
            missing = self.op("IsNaN", [x])
            filled = self.op("Where", [missing, self.const(c["fill"], np.float64), x])
            shifted = self.op("Sub", [filled, self.const(c["shift"], np.float64)])
            scaled = self.op("Div", [shifted, self.const(c["scale"], np.float64)])
            blocks = [self.op("Cast", [scaled], to=TensorProto.FLOAT)]
        elif role == "categorical":
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["batch"]))
            # "" is a missing value: 1 where empty, then replaced by the training fill value
            flag = self.op(
                "LabelEncoder", [name], ML_DOMAIN, keys_strings=[""], values_int64s=[1], default_int64=0
            )
            missing = self.op(
                "Unsqueeze", [self.op("Cast", [flag], to=TensorProto.BOOL), self.const([1], np.int64)]
            )
            text = self.op("Unsqueeze", [name, self.const([1], np.int64)])
            if c.get("fill") is not None:
                text = self.op("Where", [missing, self.const([c["fill"]], object), text])
            cats = [str(v) for v in c["categories"]]
            if c.get("encoding", "onehot") == "index":  # 1..K, 0 = unknown
                codes = self.op("LabelEncoder", [text], ML_DOMAIN, keys_strings=cats,
                                values_floats=[float(i + 1) for i in range(len(cats))], default_float=0.0)  # fmt: skip
                blocks = [codes]
            else:  # unknown categories one-hot to all zeros, as in training
                onehot = self.op("OneHotEncoder", [text], ML_DOMAIN, cats_strings=cats, zeros=1)  # (B, 1, K)
                blocks = [self.op("Reshape", [onehot, self.const([-1, len(cats)], np.int64)])]
        else:
            raise ModelError(
                f"export --with-preprocessing: column '{name}' is {role}, which is not in the ONNX graph yet; "
                f"export without --with-preprocessing and prepare inputs with treino.load(RUN)"
            )
        if c["indicator"]:
            blocks.append(self.op("Cast", [missing], to=TensorProto.FLOAT))
        return blocks


def add_preprocessing(model: Any, predictor: Any) -> None:
    """Replace the graph input `features` by raw inputs and the nodes that prepare them."""
    g = _Graph()
    prep = predictor.preprocessing
    if predictor.info.kind == "image":
        channels = len(prep["mean"])
        g.inputs.append(helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", *prep["shape"]]))
        mean = g.const(np.asarray(prep["mean"]).reshape(1, channels, 1, 1))
        std = g.const(np.asarray(prep["std"]).reshape(1, channels, 1, 1))
        out = g.op("Div", [g.op("Sub", ["pixels", mean]), std])
    elif prep.get("kind") == "table":
        blocks = [b for c in prep["columns"] for b in g.column(c)]
        out = g.op("Concat", blocks, axis=1) if len(blocks) > 1 else blocks[0]
    else:
        raise ModelError(
            f"export --with-preprocessing: {prep.get('kind')} preprocessing is not in the ONNX graph yet; "
            f"export without --with-preprocessing and prepare inputs with treino.load(RUN)"
        )
    g.nodes.append(helper.make_node("Identity", [out], [FEATURES], name="pre_features"))
    graph = model.graph
    kept = [i for i in graph.input if i.name != FEATURES]
    del graph.input[:]
    graph.input.extend(g.inputs + kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(g.nodes + nodes)
    graph.initializer.extend(g.constants)
    if not any(o.domain == ML_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
