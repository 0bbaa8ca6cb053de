#!/usr/bin/env python3
"""dropkit against the dropout of PyTorch, NumPy and JAX, side by side.

Loads dropkit's shared library with ctypes and times a training dropout
(rate 0.1, f32) in the same process: one thread, then all threads, sizes
16K to 16M elements. Every contender reads the same input values at every
size: one buffer of ones per size, which dropkit reads in place and the
peers wrap without a copy (JAX copies it once into its own array, outside
the timing). Peers that are not installed are skipped. Prints ns/element
and each peer's time as a multiple of dropkit's.

The ratio is kernel against kernel: dropkit writes into an output buffer
allocated once, before the timing; each peer allocates its output on every
call, as its API does. The end-to-end figure (allocation included) comes
with the Python package.

    cargo build --release -p dropkit-capi
    python3 bench/peers.py [path/to/libdropkit.so] [--quick]

--quick: sizes 16K to 1M only (a smoke run).
"""
import array
import ctypes
import os
import sys
import time

RATE = 0.1
SIZES = [1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24]
QUICK_SIZES = [1 << 14, 1 << 16, 1 << 18, 1 << 20]
VALUE = 1.0  # every input element, for every contender


class Dropout(ctypes.Structure):
    """dk_dropout, as include/dropkit.h lays it out."""
    _fields_ = [("rate", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("scaling", ctypes.c_uint32), ("threading", ctypes.c_uint32),
                ("isa", ctypes.c_uint32), ("threads", ctypes.c_size_t),
                ("parallel_min", ctypes.c_size_t)]


class Site(ctypes.Structure):
    """dk_site, passed by value."""
    _fields_ = [("stream", ctypes.c_uint64), ("offset", ctypes.c_uint64)]


def load(path):
    lib = ctypes.CDLL(path)
    fptr = ctypes.c_void_p
    # dk_forward_f32(d, site, x, y, n, opt): opt NULL (None), the defaults.
    lib.dk_forward_f32.argtypes = [ctypes.POINTER(Dropout), Site, fptr, fptr,
                                   ctypes.c_size_t, ctypes.c_void_p]
    lib.dk_forward_f32.restype = ctypes.c_int32
    lib.dk_dropout_new.argtypes = [ctypes.c_double, ctypes.c_uint64, ctypes.c_uint32,
                                   ctypes.POINTER(Dropout)]
    lib.dk_dropout_new.restype = ctypes.c_int32
    lib.dk_dropout_check.argtypes = [ctypes.POINTER(Dropout)]
    lib.dk_dropout_check.restype = ctypes.c_int32
    lib.dk_last_error.restype = ctypes.c_char_p
    return lib


def ok(lib, status):
    """Asserts a dk_status is DK_OK, with dk_last_error()'s message."""
    assert status == 0, f"dropkit status {status}: {lib.dk_last_error().decode()}"


def best(f, n):
    """Best seconds per call over a few batches of about 20 ms."""
    f()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.02:
        f()
        calls += 1
    times = []
    for _ in range(5 if n < (1 << 22) else 3):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        times.append((time.perf_counter() - t) / calls)
    return min(times)


def input_buffer(n):
    """The input of every contender at size n: n float32 elements, all VALUE
    (filled in C by array's repetition, fast at 16M)."""
    buf = array.array("f", [VALUE]) * n
    assert buf.itemsize == 4 and len(buf) == n
    return buf


def peers(threads):
    """(name, make(buf) -> callable) of every installed peer; each reads the
    float32 values of buf, the buffer dropkit reads."""
    out = []
    try:
        import torch
        torch.set_num_threads(threads)
        def make_torch(buf):
            x = torch.frombuffer(buf, dtype=torch.float32)  # no copy
            return lambda: torch.nn.functional.dropout(x, RATE, training=True)
        out.append((f"torch {torch.__version__.split('+')[0]}", make_torch))
    except ImportError:
        pass
    try:
        import numpy as np
        rng = np.random.default_rng(0)
        def make_numpy(buf):
            x = np.frombuffer(buf, dtype=np.float32)  # no copy
            n = len(x)
            scale = np.float32(1.0 / (1.0 - RATE))
            return lambda: x * (rng.random(n, dtype=np.float32) >= RATE) * scale
        out.append((f"numpy {np.__version__}", make_numpy))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        import numpy as np
        key = jax.random.PRNGKey(0)
        def make_jax(buf):
            # The same values, copied once into a JAX array (outside the timing).
            x = jnp.asarray(np.frombuffer(buf, dtype=np.float32))
            f = jax.jit(lambda k, x: jnp.where(jax.random.bernoulli(k, 1 - RATE, x.shape),
                                                 x / (1 - RATE), 0.0))
            return lambda: f(key, x).block_until_ready()
        out.append((f"jax {jax.__version__}", make_jax))
    except ImportError:
        pass
    return out


def check_output(buf_y, n):
    """dropkit's output of the all-VALUE input: every element 0 or
    VALUE / (1 - RATE) in float32, about RATE of them 0 (a wrong or stale
    input shows here)."""
    kept = ctypes.c_float(VALUE / (1.0 - RATE)).value
    y = memoryview(buf_y).cast("B").cast("f")
    zeros = 0
    for i in range(0, n, max(1, n // 4096)):
        assert y[i] in (0.0, kept), f"n={n}: y[{i}] = {y[i]}, not 0 or {kept}"
        zeros += y[i] == 0.0
    seen = len(range(0, n, max(1, n // 4096)))
    assert abs(zeros / seen - RATE) < 0.05, f"n={n}: {zeros} of {seen} dropped"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = [a for a in sys.argv[1:] if a != "--quick"]
    sizes = QUICK_SIZES if "--quick" in sys.argv[1:] else SIZES
    path = args[0] if args else os.path.join(root, "target/release/libdropkit.so")
    lib = load(path)
    base = Dropout()
    ok(lib, lib.dk_dropout_new(RATE, 42, 0, ctypes.byref(base)))
    site = Site(1, 0)  # stream 1, offset 0
    cpus = os.cpu_count() or 1
    print(f"dropout rate {RATE}, f32, training; best of several batches; {cpus} CPUs")
    print("'x' = peer time / dropkit time (same process, same input values; kernel against "
          "kernel: dropkit's output preallocated, each peer allocates its own per call)")
    for threads, mode in [(1, 1), (cpus, 0)]:  # DK_THREADS_SEQUENTIAL, DK_THREADS_AUTO
        d = Dropout.from_buffer_copy(base)
        d.threading = mode
        ok(lib, lib.dk_dropout_check(ctypes.byref(d)))
        names = peers(threads)
        print(f"\n{threads} thread(s):")
        print(f"{'n':>10} {'dropkit ns/el':>14}" + "".join(f" {name:>20}" for name, _ in names))
        for n in sizes:
            buf = input_buffer(n)
            buf_x = (ctypes.c_float * n).from_buffer(buf)  # dropkit reads buf itself
            buf_y = (ctypes.c_float * n)()
            px, py = ctypes.addressof(buf_x), ctypes.addressof(buf_y)
            t_dk = best(lambda: lib.dk_forward_f32(ctypes.byref(d), site, px, py, n, None), n)
            ok(lib, lib.dk_forward_f32(ctypes.byref(d), site, px, py, n, None))
            check_output(buf_y, n)
            row = f"{n:>10} {t_dk * 1e9 / n:>14.3f}"
            for _, make in names:
                t = best(make(buf), n)
                row += f" {t * 1e9 / n:>9.3f} ns {t / t_dk:>6.1f}x"
            print(row)


if __name__ == "__main__":
    main()
