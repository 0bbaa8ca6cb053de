"""Monte-Carlo dropout in ONNX Runtime with dropkit's op.

The digits MLP trained by ``mc_train.rs`` (dropkit's 64-128-10 network with
hidden dropout 0.5) as an ONNX graph: MatMul, Add, Relu, dropkit Dropout
(stream a graph input), MatMul, Add, Softmax. One session; each of the 100
samples is one ``session.run`` over the 797 test digits with a new stream.
Prints accuracy and the confident/unsure spread as ``examples/mc_dropout.rs``
does, then checks against dropkit's ``mc_mean_var`` over the same weights:
every sample's mask bit for bit, means and variances within float tolerance.

    cargo run --release -p dropkit-ort --example mc_train -- /tmp/mc
    cargo build --release -p dropkit-ort
    python ort/examples/mc_dropout.py /tmp/mc
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dropkit_ort as dk  # noqa: E402


def load(d):
    meta = dict(line.split() for line in open(os.path.join(d, "meta.txt")))
    IN, HID, OUT = int(meta["in"]), int(meta["hidden"]), int(meta["out"])
    n, S = int(meta["test"]), int(meta["samples"])
    w = np.fromfile(os.path.join(d, "weights.bin"), np.float32)
    sizes = [HID * IN, HID, OUT * HID, OUT]
    parts = np.split(w, np.cumsum(sizes)[:-1])
    w1, b1 = parts[0].reshape(HID, IN), parts[1]
    w2, b2 = parts[2].reshape(OUT, HID), parts[3]
    x = np.fromfile(os.path.join(d, "test_x.bin"), np.float32).reshape(n, IN)
    y = np.fromfile(os.path.join(d, "test_y.bin"), np.uint8).astype(np.int64)
    streams = np.fromfile(os.path.join(d, "streams.bin"), np.uint64)
    words = (n * HID + 63) // 64
    masks = np.fromfile(os.path.join(d, "masks.bin"), np.uint64).reshape(S, words)
    mean = np.fromfile(os.path.join(d, "mean.bin"), np.float32).reshape(n, OUT)
    var = np.fromfile(os.path.join(d, "var.bin"), np.float32).reshape(n, OUT)
    return meta, (w1, b1, w2, b2), x, y, streams, masks, mean, var


def mlp_graph(w1, b1, w2, b2, rate, seed):
    inits = [numpy_helper.from_array(np.ascontiguousarray(w1.T), "w1t"),
             numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(np.ascontiguousarray(w2.T), "w2t"),
             numpy_helper.from_array(b2, "b2")]
    nodes = [
        helper.make_node("MatMul", ["x", "w1t"], ["z1"]),
        helper.make_node("Add", ["z1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["h"]),
        dk.dropout_node("h", "stream", "hd", mask_bits="mask_bits", rate=rate, seed=seed,
                        name="hidden_dropout"),
        helper.make_node("MatMul", ["hd", "w2t"], ["z2"]),
        helper.make_node("Add", ["z2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    g = helper.make_graph(
        nodes, "digits_mlp_mc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", w1.shape[1]]),
         helper.make_tensor_value_info("stream", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", w2.shape[0]]),
         helper.make_tensor_value_info("mask_bits", TensorProto.UINT64, None)],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), dk.opset()])
    m.ir_version = 8
    return m


def main(d):
    meta, (w1, b1, w2, b2), x, y, streams, masks, ref_mean, ref_var = load(d)
    rate, seed = float(meta["rate"]), int(meta["seed"])
    model = mlp_graph(w1, b1, w2, b2, rate, seed)
    sess = ort.InferenceSession(model.SerializeToString(), dk.session_options(),
                                providers=["CPUExecutionProvider"])
    S, n = len(streams), len(y)
    probs = np.empty((S, n, w2.shape[0]), np.float32)
    t0 = time.perf_counter()
    for k, s in enumerate(streams):
        # A new stream per sample (the int64 with the stream's bits).
        p, bits = sess.run(None, {"x": x, "stream": np.array(s.astype(np.int64), np.int64)})
        probs[k] = p
        assert np.array_equal(bits, masks[k]), f"sample {k}: mask differs from dropkit's"
    secs = time.perf_counter() - t0
    mean = probs.mean(axis=0, dtype=np.float64)
    pred = mean.argmax(axis=1)
    sd = np.sqrt(((probs[:, np.arange(n), pred] - mean[np.arange(n), pred]) ** 2).mean(axis=0))
    conf = mean[np.arange(n), pred]
    right = pred == y
    print(f"test digits: {n}; {S} dropout samples each (rate {rate} on the hidden layer), "
          f"{S} session.run calls in {secs:.2f} s")
    print(f"deterministic (inference) accuracy: {float(meta['deterministic_accuracy']) * 100:.2f}%")
    print(f"MC-averaged accuracy (ORT):         {right.mean() * 100:.2f}%")
    print(f"correct ({right.sum()}): mean confidence {conf[right].mean():.3f}, "
          f"mean spread {sd[right].mean():.3f}")
    print(f"wrong   ({(~right).sum()}): mean confidence {conf[~right].mean():.3f}, "
          f"mean spread {sd[~right].mean():.3f}")
    var = probs.var(axis=0, dtype=np.float64)
    dm, dv = np.abs(mean - ref_mean).max(), np.abs(var - ref_var).max()
    print(f"vs dropkit mc_mean_var: masks {S}/{S} bit for bit; "
          f"max |mean diff| {dm:.2e}, max |var diff| {dv:.2e}")
    assert dm < 1e-4 and dv < 1e-4, "means/variances differ from dropkit's beyond tolerance"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dropkit-mc")
