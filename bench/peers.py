#!/usr/bin/env python3
"""dropkit against the dropout of PyTorch, NumPy and JAX, side by side.

Loads dropkit's shared library with ctypes and times a training dropout
(rate 0.1, f32) of the same input buffer in the same process: one thread,
then all threads, sizes 16K to 16M elements. Peers that are not installed
are skipped. Prints ns/element and each peer's time as a multiple of
dropkit's.

    cargo build --release -p dropkit-capi
    python3 bench/peers.py [path/to/libdropkit.so]
"""
import ctypes
import os
import sys
import time

RATE = 0.1
SIZES = [1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24]


class Dropout(ctypes.Structure):
    _fields_ = [("rate", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("scaling", ctypes.c_uint32), ("threading", ctypes.c_uint32)]


def load(path):
    lib = ctypes.CDLL(path)
    fptr = ctypes.c_void_p
    lib.dk_forward_f32.argtypes = [ctypes.POINTER(Dropout), ctypes.c_uint64,
                                   ctypes.c_uint64, fptr, fptr, ctypes.c_size_t]
    lib.dk_dropout_new.argtypes = [ctypes.c_double, ctypes.c_uint64, ctypes.c_uint32,
                                   ctypes.POINTER(Dropout)]
    lib.dk_dropout_with_threading.argtypes = [ctypes.POINTER(Dropout), ctypes.c_uint32,
                                              ctypes.POINTER(Dropout)]
    return lib


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


def peers(threads):
    """(name, make(n) -> callable) of every installed peer."""
    out = []
    try:
        import torch
        torch.set_num_threads(threads)
        def make_torch(n):
            x = torch.ones(n, dtype=torch.float32)
            return lambda: torch.nn.functional.dropout(x, RATE, training=True)
        out.append((f"torch {torch.__version__.split('+')[0]}", make_torch))
    except ImportError:
        pass
    try:
        import numpy as np
        rng = np.random.default_rng(0)
        def make_numpy(n):
            x = np.ones(n, dtype=np.float32)
            scale = np.float32(1.0 / (1.0 - RATE))
            return lambda: x * (rng.random(n, dtype=np.float32) >= RATE) * scale
        out.append((f"numpy {np.__version__}", make_numpy))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        key = jax.random.PRNGKey(0)
        def make_jax(n):
            x = jnp.ones(n, dtype=jnp.float32)
            f = jax.jit(lambda k, x: jnp.where(jax.random.bernoulli(k, 1 - RATE, x.shape),
                                                 x / (1 - RATE), 0.0))
            return lambda: f(key, x).block_until_ready()
        out.append((f"jax {jax.__version__}", make_jax))
    except ImportError:
        pass
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/libdropkit.so")
    lib = load(path)
    base = Dropout()
    assert lib.dk_dropout_new(RATE, 42, 0, ctypes.byref(base)) == 0
    cpus = os.cpu_count() or 1
    print(f"dropout rate {RATE}, f32, training; best of several batches; {cpus} CPUs")
    print("'x' = peer time / dropkit time (same process, same input)")
    for threads, mode in [(1, 1), (cpus, 0)]:  # DK_THREADS_SEQUENTIAL, DK_THREADS_AUTO
        d = Dropout()
        assert lib.dk_dropout_with_threading(ctypes.byref(base), mode, ctypes.byref(d)) == 0
        names = peers(threads)
        print(f"\n{threads} thread(s):")
        print(f"{'n':>10} {'dropkit ns/el':>14}" + "".join(f" {name:>20}" for name, _ in names))
        for n in SIZES:
            buf_x = (ctypes.c_float * n)(*([1.0] * n)) if n <= (1 << 16) else None
            if buf_x is None:
                buf_x = (ctypes.c_float * n)()
                ctypes.memset(buf_x, 0, n * 4)
            buf_y = (ctypes.c_float * n)()
            px, py = ctypes.addressof(buf_x), ctypes.addressof(buf_y)
            t_dk = best(lambda: lib.dk_forward_f32(ctypes.byref(d), 1, 0, px, py, n), n)
            row = f"{n:>10} {t_dk * 1e9 / n:>14.3f}"
            for _, make in names:
                t = best(make(n), n)
                row += f" {t * 1e9 / n:>9.3f} ns {t / t_dk:>6.1f}x"
            print(row)


if __name__ == "__main__":
    main()
