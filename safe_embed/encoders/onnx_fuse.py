"""Attention fusion for an exported fp32 graph: each layer's attention becomes one ONNX Runtime
``com.microsoft.MultiHeadAttention`` node.

``torch.onnx.export`` writes scaled dot-product attention as a chain of a dozen nodes per layer (reshape and
transpose Q, K and V into heads, scale, Q·Kᵀ, add the padding mask, softmax, zero the NaN rows, ·V, transpose and
reshape back), which ONNX Runtime's own optimizer does not recognize. :func:`fuse_attention` replaces each chain
with one node that reads the three projections (their biases packed into its ``bias`` input) and a key-padding
mask cast from ``attention_mask``; the nodes left without consumers are dropped. A chain is fused only when it has
exactly that shape and its additive mask is computed from ``attention_mask`` alone (no learned position bias, as
MPNet adds); anything else is left as exported. The caller checks the fused graph's output against torch.
Export-time code.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

MS_DOMAIN = "com.microsoft"
MASK = "attention_mask"
KEY_PADDING_MASK = "attention_mask/int32"
HIDDEN_OPS = {"MatMul", "Gemm", "Softmax", "LayerNormalization", "MultiHeadAttention"}  # not in a padding mask


def add_ms_opset(model) -> None:
    """Declare the ``com.microsoft`` operator domain in ``model`` (once), for ONNX Runtime's contrib operators."""
    from onnx import helper

    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))


class _Graph:
    """Producer, consumer and constant lookups over a graph's nodes."""

    def __init__(self, graph) -> None:
        from onnx import numpy_helper

        self.inits = {i.name: i for i in graph.initializer}
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self._array = numpy_helper.to_array

    def array(self, name: str) -> np.ndarray | None:
        return self._array(self.inits[name]) if name in self.inits else None

    def scalar(self, name: str) -> float | None:
        a = self.array(name)
        return float(a.reshape(())) if a is not None and a.size == 1 else None

    def made_by(self, name: str, op: str):
        n = self.producer.get(name)
        return n if n is not None and n.op_type == op else None

    def only_consumer(self, name: str, op: str):
        c = self.consumers.get(name, [])
        return c[0] if len(c) == 1 and c[0].op_type == op else None

    def heads_source(self, name: str) -> str:
        """Back through the Reshape/Transpose nodes that split a projection into heads, to the projection."""
        while (n := self.producer.get(name)) is not None and n.op_type in ("Reshape", "Transpose"):
            name = n.input[0]
        return name

    def is_padding_mask(self, name: str) -> bool:
        """Whether ``name`` is computed from ``attention_mask`` and shapes only: no hidden state, no learned table."""
        seen, todo, reaches_mask = set(), [name], False
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            reaches_mask |= t == MASK
            n = self.producer.get(t)
            if n is None:
                continue
            if n.op_type in HIDDEN_OPS or (n.op_type == "Gather" and n.input[0] in self.inits
                                          and self.array(n.input[0]).dtype.kind == "f"):
                return False
            todo.extend(i for i in n.input if i)
        return reaches_mask

    def bias_of(self, name: str) -> tuple[str, np.ndarray] | None:
        """``(x, b)`` when ``name`` is ``Add(x, b)`` with ``b`` a 1-D float constant."""
        add = self.made_by(name, "Add")
        if add is None:
            return None
        for j in (0, 1):
            b = self.array(add.input[j])
            if b is not None and b.ndim == 1 and b.dtype.kind == "f":
                return add.input[1 - j], b.astype(np.float32)
        return None


def _match(g: _Graph, softmax) -> dict | None:
    """The parts of one attention chain around ``softmax``, or None when it is not the exporter's chain."""
    axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
    add = g.made_by(softmax.input[0], "Add")
    if axis != -1 or add is None:
        return None
    qk = [g.made_by(i, "MatMul") for i in add.input]
    if sum(m is not None for m in qk) != 1:
        return None
    j = 0 if qk[0] is not None else 1
    qk, mask = qk[j], add.input[1 - j]
    if not g.is_padding_mask(mask):
        return None
    scales, sides = [], []
    for side in qk.input:
        mul = g.made_by(side, "Mul")
        if mul is None:
            return None
        c = [g.scalar(i) for i in mul.input]
        if sum(v is not None for v in c) != 1:
            return None
        k = 0 if c[0] is not None else 1
        scales.append(c[k])
        sides.append(g.heads_source(mul.input[1 - k]))
    probs = softmax.output[0]
    users = g.consumers.get(probs, [])
    if any(u.op_type == "IsNaN" for u in users):  # Where(IsNaN(p), 0, p): fully masked rows become zeros
        where = [u for u in users if u.op_type == "Where"]
        if len(users) != 2 or len(where) != 1 or where[0].input[2] != probs:
            return None
        probs = where[0].output[0]
    pv = g.only_consumer(probs, "MatMul")
    if pv is None or pv.input[0] != probs:
        return None
    merge = g.only_consumer(pv.output[0], "Transpose")
    perm = list(next((a.ints for a in merge.attribute if a.name == "perm"), [])) if merge is not None else []
    out = g.only_consumer(merge.output[0], "Reshape") if perm == [0, 2, 1, 3] else None
    if out is None:
        return None
    return {"q": sides[0], "k": sides[1], "v": g.heads_source(pv.input[1]), "scale": scales[0] * scales[1],
            "out": out}


def fuse_attention(model, num_heads: int) -> int:
    """Fuse every attention chain of ``model`` (an ``onnx.ModelProto``, changed in place) into a
    ``MultiHeadAttention`` node with ``num_heads`` heads; returns how many were fused (0: the graph is unchanged).

    >>> import onnx
    >>> fuse_attention(onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], [])), num_heads=2)
    0
    """
    from onnx import TensorProto, helper, numpy_helper

    g = _Graph(model.graph)
    if MASK not in {i.name for i in model.graph.input}:
        return 0
    found = [m for s in model.graph.node if s.op_type == "Softmax" and (m := _match(g, s)) is not None]
    if not found:
        return 0
    replace, new_inits = {}, []
    for k, m in enumerate(found):
        qkv = [m["q"], m["k"], m["v"]]
        biases = [g.bias_of(t) for t in qkv]
        bias = ""
        if all(b is not None for b in biases) and len({b[1].shape for b in biases}) == 1:
            qkv = [b[0] for b in biases]
            bias = f"attention_{k}/qkv_bias"
            new_inits.append(numpy_helper.from_array(np.concatenate([b[1] for b in biases]), bias))
        replace[id(m["out"])] = helper.make_node(
            "MultiHeadAttention", [*qkv, bias, KEY_PADDING_MASK], [m["out"].output[0]], name=f"attention_{k}",
            domain=MS_DOMAIN, num_heads=int(num_heads), scale=float(m["scale"]))
    nodes = [helper.make_node("Cast", [MASK], [KEY_PADDING_MASK], to=TensorProto.INT32, name=KEY_PADDING_MASK)]
    nodes += [replace.get(id(n), n) for n in model.graph.node]
    live, kept = {o.name for o in model.graph.output}, []
    for n in reversed(nodes):  # drop what no longer reaches an output
        if any(o in live for o in n.output):
            kept.append(n)
            live.update(i for i in n.input if i)
    kept.reverse()
    del model.graph.node[:]
    model.graph.node.extend(kept)
    inits = [i for i in model.graph.initializer if i.name in live] + new_inits
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)
    add_ms_opset(model)
    logger.info("fused %d attention blocks into MultiHeadAttention (%d heads)", len(found), num_heads)
    return len(found)
