"""dropkit's ORT ops against dropkit's own calls, bit for bit.

Graphs are built with ``onnx.helper`` and run in ONNX Runtime with
``libdropkit_ort.so`` registered; the reference is the
``dropkit-ort-reference`` binary (dropkit on whole tensors, no ORT).
Run: ``python -m pytest ort/python`` after ``cargo build -p dropkit-ort``.
"""

import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import dropkit_ort as dk

ONNX_T = {"f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE, "f16": TensorProto.FLOAT16,
          "bf16": TensorProto.BFLOAT16}
NP_T = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": np.float32}
RAW_T = {"f32": np.float32, "f64": np.float64, "f16": np.uint16, "bf16": np.uint16}
CHUNK = 1 << 17


def u64(v):
    return v & ((1 << 64) - 1)


def reference(kind, dtype, rate, seed, stream, offset, dims, arrays, mask_shape="elementwise"):
    """(y raw, byte mask, bit words) from dropkit itself."""
    args = [dk.reference_path(), kind, dtype, repr(rate), str(u64(seed)), str(u64(stream)),
            str(offset)]
    if kind == "dropout":
        args.append(mask_shape)
    args.append(",".join(map(str, dims)))
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
    n = int(np.prod(dims, dtype=np.int64))
    size = np.dtype(RAW_T[dtype]).itemsize
    y = np.frombuffer(out[: n * size], dtype=RAW_T[dtype])
    rest = out[n * size:]
    m = (len(rest) * 8) // 9  # m bytes + ceil(m/64) * 8 bytes
    while m + ((m + 63) // 64) * 8 != len(rest):
        m -= 1
    return y, np.frombuffer(rest[:m], dtype=np.uint8), np.frombuffer(rest[m:], dtype=np.uint64)


def values(dtype, n, seed=1):
    """Random inputs: (what ORT is fed, the raw values dropkit gets)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n).astype(np.float32) * 3
    if dtype == "bf16":  # values exact in bf16, fed as float and cast in the graph
        bits = v.view(np.uint32) & np.uint32(0xFFFF0000)
        return bits.view(np.float32), (bits >> 16).astype(np.uint16)
    if dtype == "f16":
        h = v.astype(np.float16)
        return h, h.view(np.uint16)
    a = v.astype(NP_T[dtype])
    return a, a


def as_raw(dtype, y):
    """An ORT output as dropkit's raw values (bf16 comes back cast to float)."""
    if dtype == "bf16":
        bits = y.astype(np.float32).view(np.uint32)
        assert np.all(bits & 0xFFFF == 0)
        return (bits >> 16).astype(np.uint16)
    if dtype == "f16":
        return y.view(np.uint16)
    return y


def graph(nodes_fn, dtype, inputs, outputs, name="g"):
    """A model around dropkit nodes; bf16 tensors enter and leave as float
    through Cast nodes (exact both ways for the values used)."""
    nodes, g_in, g_out = [], [], []
    for nm, kind, shape in inputs:
        if kind == "T" and dtype == "bf16":
            g_in.append(helper.make_tensor_value_info(nm + "_f", TensorProto.FLOAT, shape))
            nodes.append(helper.make_node("Cast", [nm + "_f"], [nm], to=TensorProto.BFLOAT16))
        else:
            et = ONNX_T[dtype] if kind == "T" else kind
            g_in.append(helper.make_tensor_value_info(nm, et, shape))
    nodes += nodes_fn()
    for nm, kind, shape in outputs:
        if kind == "T" and dtype == "bf16":
            nodes.append(helper.make_node("Cast", [nm], [nm + "_f"], to=TensorProto.FLOAT))
            g_out.append(helper.make_tensor_value_info(nm + "_f", TensorProto.FLOAT, shape))
        else:
            et = ONNX_T[dtype] if kind == "T" else kind
            g_out.append(helper.make_tensor_value_info(nm, et, shape))
    m = helper.make_model(helper.make_graph(nodes, name, g_in, g_out),
                          opset_imports=[helper.make_opsetid("", 17), dk.opset()])
    m.ir_version = 8
    return m


def session(model, threads=None):
    return ort.InferenceSession(model.SerializeToString(), dk.session_options(threads),
                                providers=["CPUExecutionProvider"])


def feed_name(dtype, nm):
    return nm + "_f" if dtype == "bf16" else nm


def run_dropout(dtype, dims, rate, seed, stream, offset, mask_shape="elementwise",
                outs=("mask", "bits"), threads=None):
    n = int(np.prod(dims, dtype=np.int64))
    fed, raw = values(dtype, n, seed=n + 7)
    fed = fed.reshape(dims)
    nodes = lambda: [dk.dropout_node("x", "s", "y", offset="o",
                                     mask="mask" if "mask" in outs else None,
                                     mask_bits="bits" if "bits" in outs else None,
                                     rate=rate, seed=seed,
                                     mask_shape=None if mask_shape == "elementwise" else mask_shape)]
    outputs = [("y", "T", None)]
    if "mask" in outs:
        outputs.append(("mask", TensorProto.BOOL, None))
    if "bits" in outs:
        outputs.append(("bits", TensorProto.UINT64, None))
    m = graph(nodes, dtype, [("x", "T", list(dims)), ("s", TensorProto.INT64, []),
                             ("o", TensorProto.INT64, [])], outputs)
    sess = session(m, threads)
    res = sess.run(None, {feed_name(dtype, "x"): fed, "s": np.array(stream, np.int64),
                          "o": np.array(offset, np.int64)})
    y_ref, bytes_ref, words_ref = reference("dropout", dtype, rate, seed, stream, offset, dims,
                                            [raw], mask_shape)
    got = dict(zip([o[0] for o in outputs], res))
    np.testing.assert_array_equal(as_raw(dtype, got["y"]).reshape(-1).view(RAW_T[dtype]),
                                  y_ref.view(RAW_T[dtype]))
    if dtype in ("f32", "f64"):  # bit for bit, -0.0 and NaN included
        assert got["y"].reshape(-1).tobytes() == y_ref.tobytes()
    if "mask" in got:
        assert got["mask"].dtype == np.bool_
        np.testing.assert_array_equal(got["mask"].reshape(-1).astype(np.uint8), bytes_ref)
    if "bits" in got:
        assert got["bits"].shape == words_ref.shape
        np.testing.assert_array_equal(got["bits"], words_ref)
    return got


DTYPES = ["f32", "f64", "f16", "bf16"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate,seed,stream,offset", [
    (0.1, 42, 7, 0), (0.5, 0, 0, 4090), (0.3, -5, -1, 123), (0.0, 1, 2, 0), (1.0, 1, 2, 0)])
def test_dropout_small(dtype, rate, seed, stream, offset):
    run_dropout(dtype, [3, 333], rate, seed, stream, offset)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_many_pieces(dtype):
    # Larger than one piece (CHUNK elements): split over ORT's pool.
    for threads in (1, 2):
        run_dropout(dtype, [2 * CHUNK + 1000], 0.25, 9, 1234567, 77, threads=threads)


@pytest.mark.parametrize("outs", [(), ("mask",), ("bits",), ("mask", "bits")])
def test_mask_outputs_optional(outs):
    run_dropout("f32", [CHUNK + 64 * 3 + 5], 0.4, 3, 5, 0, outs=outs)


def test_known_answer():
    # SPEC §3: keep bits, rate 0.5, seed 0, stream 0, offset 0.
    got = run_dropout("f32", [128], 0.5, 0, 0, 0)
    assert [int(w) for w in got["bits"]] == [0xac64cc78ff8a3d4e, 0x647e9bd36cf349e1]
    got = run_dropout("f32", [128], 0.1, 42, 1, 0)
    assert [int(w) for w in got["bits"]] == [0xf7bffffff77ff37b, 0xfd79dfff7fafdeff]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape,dims", [
    ("channels_first", [4, 8, 5, 5]), ("channels_last", [3, 6, 6, 5]),
    ("per_sample", [7, 3, 4]), ("locked_time_major", [5, 3, 9]),
    ("locked_batch_major", [3, 5, 9]), ("channels_first", [2, 3, 10])])
def test_shaped(dtype, mask_shape, dims):
    got = run_dropout(dtype, dims, 0.5, 11, 5, 3, mask_shape=mask_shape)
    if mask_shape == "channels_first":
        assert list(got["mask"].shape) == dims[:2] + [1] * (len(dims) - 2)


@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_shaped_pieces(dtype):
    # No mask out: slabs of rows over ORT's pool.
    run_dropout(dtype, [6, 16, 48, 48], 0.3, 1, 2, 0, mask_shape="channels_first", outs=())
    run_dropout(dtype, [6, 16, 48, 48], 0.3, 1, 2, 0, mask_shape="locked_time_major", outs=())


def run_fused(dtype, dims, rate, seed, stream, offset, outs=("mask", "bits"), threads=None):
    n = int(np.prod(dims, dtype=np.int64))
    f = dims[-1]
    xf, xr = values(dtype, n, seed=1)
    bf, br = values(dtype, f, seed=2)
    rf, rr = values(dtype, n, seed=3)
    nodes = lambda: [dk.fused_node("x", "b", "r", "s", "y", offset="o",
                                   mask="mask" if "mask" in outs else None,
                                   mask_bits="bits" if "bits" in outs else None,
                                   rate=rate, seed=seed)]
    outputs = [("y", "T", None)]
    if "mask" in outs:
        outputs.append(("mask", TensorProto.BOOL, None))
    if "bits" in outs:
        outputs.append(("bits", TensorProto.UINT64, None))
    m = graph(nodes, dtype, [("x", "T", list(dims)), ("b", "T", [f]), ("r", "T", list(dims)),
                             ("s", TensorProto.INT64, []), ("o", TensorProto.INT64, [])], outputs)
    res = session(m, threads).run(None, {
        feed_name(dtype, "x"): xf.reshape(dims), feed_name(dtype, "b"): bf,
        feed_name(dtype, "r"): rf.reshape(dims), "s": np.array(stream, np.int64),
        "o": np.array(offset, np.int64)})
    y_ref, bytes_ref, words_ref = reference("fused", dtype, rate, seed, stream, offset, dims,
                                            [xr, br, rr])
    got = dict(zip([o[0] for o in outputs], res))
    np.testing.assert_array_equal(as_raw(dtype, got["y"]).reshape(-1), y_ref)
    if "mask" in got:
        np.testing.assert_array_equal(got["mask"].reshape(-1).astype(np.uint8), bytes_ref)
    if "bits" in got:
        np.testing.assert_array_equal(got["bits"], words_ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused(dtype):
    run_fused(dtype, [7, 100], 0.1, 42, 3, 0)
    run_fused(dtype, [2, 3, 64], 0.5, -2, -9, 4093)


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_pieces(threads):
    run_fused("f32", [3000, 100], 0.2, 5, 6, 11, threads=threads)
    run_fused("f16", [2100, 96], 0.2, 5, 6, 0, outs=("mask",), threads=threads)


def test_mc_streams_one_session():
    """One session, a new stream per sample: each sample is dropkit's mask
    for that stream; the same stream gives the same bits."""
    dims = [50, 20]
    m = graph(lambda: [dk.dropout_node("x", "s", "y", mask_bits="bits", rate=0.5, seed=7)],
              "f32", [("x", "T", dims), ("s", TensorProto.INT64, [])],
              [("y", "T", None), ("bits", TensorProto.UINT64, None)])
    sess = session(m)
    x = np.ones(dims, np.float32)
    seen = set()
    for stream in range(20):
        y, bits = sess.run(None, {"x": x, "s": np.array(stream, np.int64)})
        _, _, ref = reference("dropout", "f32", 0.5, 7, stream, 0, dims, [x.reshape(-1)])
        np.testing.assert_array_equal(bits, ref)
        seen.add(bits.tobytes())
    assert len(seen) == 20
    y2, bits2 = sess.run(None, {"x": x, "s": np.array(3, np.int64)})
    _, _, ref = reference("dropout", "f32", 0.5, 7, 3, 0, dims, [x.reshape(-1)])
    np.testing.assert_array_equal(bits2, ref)


def test_rate_literal_is_f64():
    # 0.1 as a float32 attribute is read as the f64 0.1 (shortest decimal form).
    run_dropout("f32", [4096], 0.1, 1, 1, 0)
    run_dropout("f32", [4096], 0.7, 1, 1, 0)


# ---- errors -----------------------------------------------------------------

def dropout_model(dims=(4, 8), **attrs):
    node = helper.make_node("Dropout", ["x", "s"], ["y"], domain="dropkit", name="d0", **attrs)
    return graph(lambda: [node], "f32", [("x", "T", list(dims)), ("s", TensorProto.INT64, [])],
                 [("y", "T", None)])


@pytest.mark.parametrize("attrs,pattern", [
    ({"rate": 1.5}, r"node 'd0'.*'rate' = 1\.5"),
    ({"rate": -0.25}, r"'rate' = -0\.25"),
    ({"rate": float("nan")}, r"'rate' = NaN"),
    ({"rate": 1}, r"'rate' must be a float.*int 1"),
    ({"seed": 0.5}, r"'seed' must be an int.*float 0\.5"),
    ({"mask_shape": "bogus"}, r"'mask_shape' = \"bogus\" is not one of elementwise, channels_first"),
    ({"mask_shape": 3}, r"'mask_shape' must be a string"),
])
def test_bad_attributes(attrs, pattern):
    with pytest.raises(Exception, match=pattern):
        session(dropout_model(**attrs))


@pytest.mark.parametrize("attrs,pattern", [
    # ONNX Dropout's attribute name: without the check the node ran at rate 0.5.
    ({"ratio": 0.2}, r"node 'd0': attribute 'ratio' is ONNX Dropout's name.*calls it 'rate'"),
    ({"rate": 0.1, "ratio": 0.2}, r"attribute 'ratio'"),
    ({"training_mode": 1}, r"attribute 'training_mode' is not an attribute of this op"),
    ({"Rate": 0.2}, r"attribute 'Rate' is not an attribute of this op: the name is 'rate'"),
    ({"ratio": [0.1, 0.2]}, r"attribute 'ratio'"),
])
def test_mistaken_attributes(attrs, pattern):
    with pytest.raises(Exception, match=pattern):
        session(dropout_model(**attrs))
    node = dk.fused_node("x", "b", "r", "s", "y", name="f9")
    extra = {a: v for a, v in attrs.items() if a != "rate"}  # fused_node sets rate
    node.attribute.extend(helper.make_node("N", [], [], **extra).attribute)
    m = graph(lambda: [node], "f32", [("x", "T", [4, 8]), ("b", "T", [8]), ("r", "T", [4, 8]),
                                      ("s", TensorProto.INT64, [])], [("y", "T", None)])
    with pytest.raises(Exception, match=r"node 'f9': attribute"):
        session(m)


def test_bad_rank_at_creation():
    with pytest.raises(Exception, match=r"channels_first.*rank 2 or more.*X is \[12\]"):
        session(dropout_model(dims=(12,), mask_shape="channels_first"))


def test_stream_shape_at_creation():
    node = helper.make_node("Dropout", ["x", "s"], ["y"], domain="dropkit", name="d1")
    m = graph(lambda: [node], "f32", [("x", "T", [4]), ("s", TensorProto.INT64, [2])],
              [("y", "T", None)])
    with pytest.raises(Exception, match=r"input 1 \('stream'\) must be one int64.*\[2\]"):
        session(m)


def test_fused_shapes_at_creation():
    def model(bias_dims, res_dims):
        node = dk.fused_node("x", "b", "r", "s", "y", name="f0")
        return graph(lambda: [node], "f32", [("x", "T", [4, 8]), ("b", "T", bias_dims),
                                             ("r", "T", res_dims), ("s", TensorProto.INT64, [])],
                     [("y", "T", None)])
    with pytest.raises(Exception, match=r"'bias'\) has 7 elements, X's last axis has 8"):
        session(model([7], [4, 8]))
    with pytest.raises(Exception, match=r"'bias'\) must be 1-D"):
        session(model([1, 8], [4, 8]))
    with pytest.raises(Exception, match=r"'residual'\) is \[4, 9\], X is \[4, 8\]"):
        session(model([8], [4, 9]))


def test_fused_scalar_x_at_creation():
    # A declared rank-0 X has no rows of bias's length: refused at session
    # creation (it used to pass and fail at the first run).
    node = dk.fused_node("x", "b", "r", "s", "y", name="f2")
    m = graph(lambda: [node], "f32", [("x", "T", []), ("b", "T", None), ("r", "T", None),
                                      ("s", TensorProto.INT64, [])], [("y", "T", None)])
    with pytest.raises(Exception, match=r"node 'f2': X must have rank 1 or more.*X is \[\]"):
        session(m)


def test_errors_at_run():
    node = dk.fused_node("x", "b", "r", "s", "y", offset="o", name="f1")
    m = graph(lambda: [node], "f32", [("x", "T", ["n", "f"]), ("b", "T", ["g"]),
                                      ("r", "T", ["n2", "f2"]), ("s", TensorProto.INT64, None),
                                      ("o", TensorProto.INT64, None)],
              [("y", "T", None)])
    sess = session(m)
    ok = {"x": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32),
          "r": np.ones((2, 3), np.float32), "s": np.array(1, np.int64), "o": np.array(0, np.int64)}
    sess.run(None, ok)
    with pytest.raises(Exception, match=r"node 'f1'.*'residual'\) is \[2, 4\], X is \[2, 3\]"):
        sess.run(None, {**ok, "r": np.ones((2, 4), np.float32)})
    with pytest.raises(Exception, match=r"'bias'\) is \[2\], X is \[2, 3\]"):
        sess.run(None, {**ok, "b": np.ones(2, np.float32)})
    with pytest.raises(Exception, match=r"'stream'\) must hold one int64.*\[2\]"):
        sess.run(None, {**ok, "s": np.array([1, 2], np.int64)})
    with pytest.raises(Exception, match=r"'offset'\) = -4.*must be >= 0"):
        sess.run(None, {**ok, "o": np.array(-4, np.int64)})


def test_shaped_error_at_run():
    node = dk.dropout_node("x", "s", "y", mask_shape="locked_batch_major", name="d2")
    m = graph(lambda: [node], "f32", [("x", "T", None), ("s", TensorProto.INT64, [])],
              [("y", "T", None)])
    sess = session(m)
    sess.run(None, {"x": np.ones((2, 3, 4), np.float32), "s": np.array(0, np.int64)})
    with pytest.raises(Exception, match=r"node 'd2': X \[2, 3\]"):
        sess.run(None, {"x": np.ones((2, 3), np.float32), "s": np.array(0, np.int64)})


# ---- the README's swap ------------------------------------------------------

def test_swap_onnx_dropout():
    """A model with two ONNX Dropout nodes (inference: identity), swapped for
    dropkit's: each node samples on the fed stream at its own offset."""
    w = numpy_helper.from_array(np.full((16, 16), 0.1, np.float32), "w")
    ratio = numpy_helper.from_array(np.array(0.25, np.float32), "ratio")
    nodes = [
        helper.make_node("Dropout", ["x", "ratio"], ["h0", "m0"], name="drop_a"),
        helper.make_node("MatMul", ["h0", "w"], ["h1"]),
        helper.make_node("Constant", [], ["ratio2"],
                         value=numpy_helper.from_array(np.array(0.5, np.float32))),
        helper.make_node("Dropout", ["h1", "ratio2"], ["y"], name="drop_b"),
    ]
    g = helper.make_graph(nodes, "two_drops",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16]),
                           helper.make_tensor_value_info("m0", TensorProto.BOOL, [4, 16])],
                          [w, ratio])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = np.ones((4, 16), np.float32)
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y_plain, _ = plain.run(None, {"x": x})
    dk.swap_dropout(model, seed=2024)
    onnx.checker.check_model(model)
    # The ratios are gone with the nodes that read them (ORT warned of them).
    assert [t.name for t in model.graph.initializer] == ["w", "dropkit_stream_offset_0",
                                                         "dropkit_stream_offset_1"]
    assert [n.op_type for n in model.graph.node] == ["Dropout", "MatMul", "Dropout"]
    sess = session(model)
    ys = [sess.run(None, {"x": x, "dropkit_stream": np.array(k, np.int64)}) for k in range(64)]
    # First node: mask and output are dropkit's for (seed, stream k, offset 0).
    for k, (y, m0) in enumerate(ys[:4]):
        _, ref_bytes, _ = reference("dropout", "f32", 0.25, 2024, k, 0, [4, 16], [x.reshape(-1)])
        np.testing.assert_array_equal(m0.reshape(-1).astype(np.uint8), ref_bytes)
    # Samples differ and average near the deterministic output.
    assert len({y.tobytes() for y, _ in ys}) == 64
    mean = np.mean([y for y, _ in ys], axis=0)
    assert abs(mean.mean() / y_plain.mean() - 1) < 0.1


def test_swap_keeps_used_constants():
    """A ratio something else still reads stays; a non-constant ratio is a
    ValueError that leaves the model as it was."""
    ratio = numpy_helper.from_array(np.array(0.25, np.float32), "ratio")
    nodes = [
        helper.make_node("Dropout", ["x", "ratio"], ["h"], name="drop_a"),
        helper.make_node("Add", ["h", "ratio"], ["y"]),
    ]
    g = helper.make_graph(nodes, "shared",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [ratio])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    dk.swap_dropout(model)
    assert [t.name for t in model.graph.initializer] == ["ratio", "dropkit_stream_offset_0"]
    session(model).run(None, {"x": np.ones(4, np.float32), "dropkit_stream": np.array(0)})

    nodes = [helper.make_node("Dropout", ["x"], ["h"], name="drop_a"),
             helper.make_node("Dropout", ["h", "r"], ["y"], name="drop_b")]
    g = helper.make_graph(nodes, "fed",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
                           helper.make_tensor_value_info("r", TensorProto.FLOAT, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    with pytest.raises(ValueError, match=r"Dropout node 'drop_b': ratio 'r' is not a constant"):
        dk.swap_dropout(model)
    assert model.SerializeToString() == before
