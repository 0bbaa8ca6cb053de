"""dropkit's ONNX Runtime ops from Python: find the library, register it,
build nodes, and swap a model's ONNX ``Dropout`` nodes for dropkit's.

The library is ``libdropkit_ort.so`` (``cargo build -p dropkit-ort``):
``$DROPKIT_ORT_LIB`` if set, else ``$CARGO_TARGET_DIR`` (default the
repository's ``target``) ``/{release,debug}/libdropkit_ort.so``.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DOMAIN = "dropkit"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def _find(name, env):
    if os.environ.get(env):
        return os.environ[env]
    target = _target_dir()
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(
        f"{name} not found under {target}/{{release,debug}}: run `cargo build -p dropkit-ort` "
        f"or set {env}"
    )


def library_path():
    """Path of ``libdropkit_ort.so``."""
    return _find("libdropkit_ort.so", "DROPKIT_ORT_LIB")


def reference_path():
    """Path of the ``dropkit-ort-reference`` helper binary (tests only)."""
    return _find("dropkit-ort-reference", "DROPKIT_ORT_REF")


def session_options(threads=None):
    """``SessionOptions`` with the dropkit ops registered; ``threads`` sets
    ``intra_op_num_threads`` (the op's threads too)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.register_custom_ops_library(library_path())
    if threads is not None:
        so.intra_op_num_threads = threads
    return so


def opset():
    """The opset import a graph with dropkit ops needs."""
    return helper.make_opsetid(DOMAIN, 1)


def dropout_node(x, stream, y, offset=None, mask=None, mask_bits=None, rate=0.5, seed=0,
                 mask_shape=None, name=None):
    """A dropkit ``Dropout`` node (output names ``""`` or None are left out)."""
    inputs = [x, stream] + ([offset] if offset else [])
    outputs = [y, mask or "", mask_bits or ""]
    while outputs[-1] == "":
        outputs.pop()
    attrs = {"rate": float(rate), "seed": int(seed)}
    if mask_shape:
        attrs["mask_shape"] = mask_shape
    return helper.make_node("Dropout", inputs, outputs, domain=DOMAIN, name=name, **attrs)


def fused_node(x, bias, residual, stream, y, offset=None, mask=None, mask_bits=None, rate=0.5,
               seed=0, name=None):
    """A dropkit ``BiasDropoutResidual`` node: ``y = residual + dropout(x + bias)``."""
    inputs = [x, bias, residual, stream] + ([offset] if offset else [])
    outputs = [y, mask or "", mask_bits or ""]
    while outputs[-1] == "":
        outputs.pop()
    return helper.make_node("BiasDropoutResidual", inputs, outputs, domain=DOMAIN, name=name,
                            rate=float(rate), seed=int(seed))


def _constant_value(node):
    """The value of a ``Constant`` node holding one tensor or number, else None."""
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name == "value_float":
            return np.array(a.f, np.float32)
        if a.name == "value_int":
            return np.array(a.i, np.int64)
    return None


def _used_names(graph):
    """Every name a node of ``graph`` or of its subgraphs takes as an input."""
    used = set()
    for n in graph.node:
        used.update(n.input)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                used |= _used_names(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    used |= _used_names(sub)
    return used


def swap_dropout(model, seed=0, stream_input="dropkit_stream"):
    """Replaces every ONNX ``Dropout`` node of ``model`` (main graph) with
    dropkit's, which samples at inference: one new int64 graph input
    ``stream_input`` (feed a new value per Monte-Carlo sample), node ``i`` at
    offset ``i << 40`` of that stream (so two nodes never share a mask),
    ``rate`` from the node's ``ratio`` (an initializer or ``Constant``;
    default 0.5; anything else is a ``ValueError``), the bool mask output
    kept. The ratio initializers and ``Constant`` nodes that no node uses
    any more are removed (ORT would warn of them). Returns the model
    (changed in place)."""
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            v = _constant_value(n)
            if v is not None:
                consts[n.output[0]] = v
    nodes, k, ratios, offsets = [], 0, set(), []  # the model changes only after the loop
    for n in g.node:
        if n.op_type != "Dropout" or n.domain not in ("", "ai.onnx"):
            nodes.append(n)
            continue
        rate = 0.5
        if len(n.input) > 1 and n.input[1]:
            if n.input[1] not in consts:
                raise ValueError(f"Dropout node {n.name!r}: ratio {n.input[1]!r} is not a constant "
                                 "(an initializer or a Constant node)")
            rate = float(consts[n.input[1]])
            ratios.add(n.input[1])
        for a in n.attribute:  # opset < 12: ratio is an attribute
            if a.name == "ratio":
                rate = a.f
        off = f"{stream_input}_offset_{k}"
        offsets.append(numpy_helper.from_array(np.array(k << 40, dtype=np.int64), off))
        nodes.append(dropout_node(n.input[0], stream_input, n.output[0], offset=off,
                                  mask=n.output[1] if len(n.output) > 1 else None,
                                  rate=rate, seed=seed, name=n.name or f"dropkit_{k}"))
        k += 1
    # The ratios that nothing reads any more (not a node, a subgraph or an output).
    g_nodes = onnx.GraphProto()
    g_nodes.node.extend(nodes)
    unused = ratios - _used_names(g_nodes) - {o.name for o in g.output}
    nodes = [n for n in nodes
             if not (n.op_type == "Constant" and n.domain in ("", "ai.onnx")
                     and n.output[0] in unused)]
    del g.node[:]
    g.node.extend(nodes)
    kept = [t for t in g.initializer if t.name not in unused] + offsets
    del g.initializer[:]
    g.initializer.extend(kept)
    inputs = [i for i in g.input if i.name not in unused]  # IR < 4: initializers are inputs
    del g.input[:]
    g.input.extend(inputs)
    g.input.append(helper.make_tensor_value_info(stream_input, TensorProto.INT64, []))
    if not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(opset())
    return model
