"""dropkit's ORT op against ORT's own ``Dropout`` in training mode, through
``session.run``, at 64K, 1M and 16M float32 elements, rate 0.1, one thread
and all threads (``intra_op_num_threads``).

    cargo build --release -p dropkit-ort
    python ort/examples/bench.py            # --quick: fewer repeats

Both graphs are one node (x -> y, no mask output); both sessions run with
the same options, inputs and output handling, so the ratio is op against op
plus the same ``session.run`` overhead. The time is the median of the
repeats, after warm-up.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import dropkit_ort as dk  # noqa: E402

RATE = 0.1


def ort_dropout_model(n):
    ratio = numpy_helper.from_array(np.array(RATE, np.float32), "ratio")
    train = numpy_helper.from_array(np.array(True), "training_mode")
    node = helper.make_node("Dropout", ["x", "ratio", "training_mode"], ["y"], seed=1)
    g = helper.make_graph([node], "ort_dropout",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])],
                          [ratio, train])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def dropkit_model(n):
    node = dk.dropout_node("x", "stream", "y", rate=RATE, seed=1)
    g = helper.make_graph([node], "dropkit_dropout",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n]),
                           helper.make_tensor_value_info("stream", TensorProto.INT64, [])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), dk.opset()])
    m.ir_version = 8
    return m


def timed(sess, feeds, reps):
    for _ in range(3):
        sess.run(None, feeds)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    quick = "--quick" in sys.argv
    cpus = os.cpu_count() or 1
    print(f"onnxruntime {ort.__version__}; float32, rate {RATE}; median of repeats; "
          f"ns per element (x = ORT Dropout's time / dropkit's)")
    for threads in sorted({1, cpus}):
        print(f"\nintra_op_num_threads={threads}:")
        print(f"{'n':>10} {'dropkit ns/el':>14} {'ORT Dropout ns/el':>18} {'ratio':>8}")
        for n in (1 << 16, 1 << 20, 1 << 24):
            reps = (3 if quick else 7) if n >= 1 << 24 else (10 if quick else 50)
            x = np.ones(n, np.float32)
            so = dk.session_options(threads)
            so.inter_op_num_threads = 1
            ours = ort.InferenceSession(dropkit_model(n).SerializeToString(), so,
                                        providers=["CPUExecutionProvider"])
            theirs = ort.InferenceSession(ort_dropout_model(n).SerializeToString(), so,
                                          providers=["CPUExecutionProvider"])
            t_ours = timed(ours, {"x": x, "stream": np.array(5, np.int64)}, reps)
            t_theirs = timed(theirs, {"x": x}, reps)
            print(f"{n:>10} {t_ours / n * 1e9:>14.3f} {t_theirs / n * 1e9:>18.3f} "
                  f"{t_theirs / t_ours:>7.1f}x")


if __name__ == "__main__":
    main()
