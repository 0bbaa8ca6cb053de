"""Speed an engine sees: dropkit.torch against PyTorch's own dropout, f32,
rate 0.1, through autograd, one thread and all threads.

    python python/bench.py            # both thread counts, 1K to 16M
    python python/bench.py --quick    # fewer repetitions

Each size alternates the two contenders in blocks of 8 calls (interleaved,
so that both see the same machine, while each runs as a training loop
would: the same call again and again) and prints the medians of the single
calls in microseconds and the ratio (PyTorch's time over dropkit's). "fwd+bwd": y = module(x); y.backward(g) with x.requires_grad,
x.grad reset each time (what a training step pays). "fwd": F.dropout(x)
against dropkit.torch.dropout(x) on a tensor without grad. Each thread
count runs in its own process (RAYON_NUM_THREADS and torch.set_num_threads
are fixed at start).
"""

import os
import statistics
import subprocess
import sys
import time

SIZES = [1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24]


def child(threads, quick):
    import torch
    import dropkit.torch as dkt

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    p = 0.1
    ref_mod, dk_mod = torch.nn.Dropout(p), dkt.Dropout(p)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"{threads} thread(s), torch {torch.__version__}, {cpu}")
    print(f"{'n':>9} {'fwd+bwd torch':>14} {'dropkit':>9} {'ratio':>6}   {'fwd torch':>10} {'dropkit':>9} {'ratio':>6}")
    for n in SIZES:
        reps = max(16, min(400, (1 << 24) // n // (4 if quick else 1)))
        x = torch.ones(n).requires_grad_()
        g = torch.ones(n)
        xf = torch.ones(n)

        def fb(mod):
            x.grad = None
            mod(x).backward(g)

        def fw_ref():
            torch.nn.functional.dropout(xf, p)

        def fw_dk():
            dkt.dropout(xf, p)

        row = []
        for a, b in ((lambda: fb(ref_mod), lambda: fb(dk_mod)), (fw_ref, fw_dk)):
            ta, tb = [], []
            for _ in range(max(2, reps // 8)):
                for f, times in ((a, ta), (b, tb)):
                    f()  # the block's first call settles the allocator
                    for _ in range(8):
                        t0 = time.perf_counter()
                        f()
                        times.append(time.perf_counter() - t0)
            ma, mb = statistics.median(ta) * 1e6, statistics.median(tb) * 1e6
            row += [ma, mb, ma / mb]
        print(f"{n:>9} {row[0]:>11.1f} us {row[1]:>6.1f} us {row[2]:>5.1f}x   "
              f"{row[3]:>7.1f} us {row[4]:>6.1f} us {row[5]:>5.1f}x", flush=True)


def main():
    quick = "--quick" in sys.argv
    if "--child" in sys.argv:
        child(int(sys.argv[sys.argv.index("--child") + 1]), quick)
        return
    for threads in (1, os.cpu_count() or 1):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        args = [sys.executable, __file__, "--child", str(threads)] + (["--quick"] if quick else [])
        subprocess.run(args, env=env, check=True)
        print()


if __name__ == "__main__":
    main()
