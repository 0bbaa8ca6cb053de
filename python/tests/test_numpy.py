"""The NumPy API against the independent oracle (tests/oracle.py): every
dtype, strides, offsets across block edges, mask shapes, fused, errors."""

import numpy as np
import pytest

import dropkit
import oracle

try:
    import ml_dtypes

    BF16 = [np.dtype(ml_dtypes.bfloat16)]
except ImportError:  # pragma: no cover
    BF16 = []

DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)] + BF16
RATES = [0.0, 1e-7, 0.1, 0.5, 1 - 1e-7, 1.0]
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40, -1e-310, 3.0e38]


def values(n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 4
    x[: len(SPECIALS)] = SPECIALS[: min(n, len(SPECIALS))]
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    ua = a.view(f"u{a.dtype.itemsize}")
    ub = b.view(f"u{b.dtype.itemsize}")
    bad = np.flatnonzero(ua.ravel() != ub.ravel())
    assert bad.size == 0, f"{bad.size} elements differ, first at {bad[:5]}: {a.ravel()[bad[:5]]} vs {b.ravel()[bad[:5]]}"


def expected(x, p, seed, stream, offset, scaling="inverted"):
    kept = oracle.keep(seed, stream, offset, x.size, p).reshape(x.shape)
    return oracle.apply(x, kept, p, scaling)


def test_known_answer_bits():
    # SPEC §3: rate 0.5, seed 0, stream 0, 128 elements.
    bits = dropkit.Dropout(0.5).mask(128)
    assert [int(w) for w in bits] == [0xAC64CC78FF8A3D4E, 0x647E9BD36CF349E1]
    bits = dropkit.Dropout(0.1, seed=42).mask(128, stream=1)
    assert [int(w) for w in bits] == [0xF7BFFFFFF77FF37B, 0xFD79DFFF7FAFDEFF]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("p", RATES)
def test_forward_backward_every_dtype_and_rate(dtype, p):
    # 4096 is the block: offsets put the call across block edges.
    for n, offset in [(1, 0), (33, 4090), (4097, 4095), (9000, 123)]:
        x = values(n, dtype)
        drop = dropkit.Dropout(p, seed=42)
        want = expected(x, p, 42, 7, offset)
        same_bits(drop.forward(x, 7, offset), want)
        same_bits(drop.backward(x, 7, offset), want)
        y, bits = drop.forward(x, 7, offset, mask="bits")
        same_bits(y, want)
        keep = oracle.keep(42, 7, offset, n, p)
        assert np.array_equal(np.unpackbits(bits.view(np.uint8), bitorder="little")[:n], keep)
        y2, byts = drop.forward(x, 7, offset, mask="bytes")
        assert np.array_equal(byts.astype(bool), keep)
        same_bits(drop.backward(x, 7, offset, mask=bits), want)
        same_bits(drop.backward(x, 7, offset, mask=byts), want)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_strided_views_equal_dense_copies(dtype):
    drop = dropkit.Dropout(0.3, seed=5)
    base = values(6 * 70 * 9, dtype).reshape(6, 70, 9)
    views = [base[:, ::3, 1:8], base.transpose(2, 0, 1), base[1:5, 3:, ::2], base[::2, 5, :]]
    for v in views:
        want = expected(np.ascontiguousarray(v), 0.3, 5, 11, 1000)
        y = drop.forward(v, 11, 1000)
        same_bits(np.ascontiguousarray(y), want)
        # out= a strided view of a bigger buffer: nothing outside it changes
        big = np.full((2,) + v.shape + (2,), 7, dtype)
        out = big[1, ..., 1]
        drop.forward(v, 11, 1000, out=out)
        same_bits(np.ascontiguousarray(out), want)
        assert np.all(big[0] == 7) and np.all(big[..., 0] == 7)


def test_broadcast_input_and_memory_order():
    drop = dropkit.Dropout(0.5, seed=1)
    row = values(64, np.float32)
    x = np.broadcast_to(row, (8, 64))  # stride 0 on axis 0
    same_bits(drop.forward(x, 2, 0), expected(np.ascontiguousarray(x), 0.5, 1, 2, 0))
    f = np.asfortranarray(values(12 * 40, np.float32).reshape(12, 40))
    y = drop.forward(f, 3, 0)
    assert y.flags.f_contiguous  # empty_like keeps the memory order
    same_bits(np.ascontiguousarray(y), expected(np.ascontiguousarray(f), 0.5, 1, 3, 0))


def test_in_place_and_onto_residual():
    drop = dropkit.Dropout(0.2, seed=3)
    x = values(5000, np.float32)
    want = expected(x, 0.2, 3, 4, 9)
    y = x.copy()
    assert drop.forward(y, 4, 9, out=y) is y
    same_bits(y, want)
    dx = x.copy()
    drop.backward(dx, 4, 9, out=dx)
    same_bits(dx, want)
    # strided in place
    m = values(40 * 30, np.float64).reshape(40, 30)
    v = m[::2, 1::3]
    want = expected(np.ascontiguousarray(v), 0.2, 3, 4, 9)
    drop.forward(v, 4, 9, out=v)
    same_bits(np.ascontiguousarray(v), want)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mask_shapes(dtype):
    drop = dropkit.Dropout(0.5, seed=9)
    n, c, h, w = 3, 5, 4, 70
    x = values(n * c * h * w, dtype).reshape(n, c, h, w)
    cases = {
        "channels_first": (n, c, 1, 1),
        "per_sample": (n, 1, 1, 1),
        (1, c, 1, w): (1, c, 1, w),
    }
    for spec, mdims in cases.items():
        assert dropkit.mask_len(x.shape, spec) == int(np.prod(mdims))
        kept = oracle.keep(9, 6, 77, int(np.prod(mdims)), 0.5).reshape(mdims)
        want = oracle.apply(x, np.broadcast_to(kept, x.shape), 0.5)
        same_bits(drop.forward(x, 6, 77, mask_shape=spec), want)
        same_bits(drop.backward(x, 6, 77, mask_shape=spec), want)
        y, bits = drop.forward(x, 6, 77, mask_shape=spec, mask="bits")
        same_bits(drop.backward(x, 6, 77, mask_shape=spec, mask=bits), want)
        same_bits(drop.mask(x.shape, 6, 77, mask_shape=spec), bits)
    # channels last: (N, H, W, C) with a mask (N, 1, 1, C)
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    kept = oracle.keep(9, 6, 77, n * c, 0.5).reshape(n, 1, 1, c)
    same_bits(drop.forward(xl, 6, 77, mask_shape="channels_last"),
              oracle.apply(xl, np.broadcast_to(kept, xl.shape), 0.5))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused(dtype):
    drop = dropkit.Dropout(0.25, seed=8)
    rows, f = 37, 96
    x = values(rows * f, dtype, 2).reshape(rows, f)
    b = values(f, dtype, 3)
    r = values(rows * f, dtype, 4).reshape(rows, f)
    wide = np.float64 if dtype == np.float64 else np.float32
    kept = oracle.keep(8, 2, 500, x.size, 0.25).reshape(x.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        xb = (x.astype(wide) + b.astype(wide)).astype(wide)
        d = np.where(kept, xb * wide(1 / 0.75), wide(0))
        want = (r.astype(wide) + d).astype(dtype)
    y = drop.forward(x, 2, 500, bias=b, residual=r)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(y), nan)
    same_bits(np.where(nan, 0, y).astype(dtype), np.where(nan, 0, want).astype(dtype))
    # onto the residual and in place
    r2 = r.copy()
    drop.forward(x, 2, 500, bias=b, residual=r2, out=r2)
    same_bits(r2, y)
    x2 = x.copy()
    drop.forward(x2, 2, 500, bias=b, residual=r, out=x2)
    same_bits(x2, y)
    dy = values(rows * f, dtype, 5).reshape(rows, f)
    dx, db = drop.backward(dy, 2, 500, dbias=True)
    same_bits(dx, expected(dy, 0.25, 8, 2, 500))
    np.testing.assert_allclose(db.astype(np.float64),
                               dx.astype(np.float64).sum(0), rtol=1e-2, atol=1e-2)


def test_alpha_and_classic():
    x = values(3000, np.float32)
    for scaling in ("alpha", "classic"):
        for p in (0.0, 0.2, 1.0):
            drop = dropkit.Dropout(p, seed=4, scaling=scaling)
            same_bits(drop.forward(x, 1, 0), expected(x, p, 4, 1, 0, scaling))
    classic = dropkit.Dropout(0.2, scaling="classic")
    same_bits(classic.inference(x), (x * np.float32(0.8)).astype(np.float32))
    same_bits(dropkit.Dropout(0.2).inference(x), x)


def test_empty_and_zero_d():
    drop = dropkit.Dropout(0.5)
    assert drop.forward(np.zeros((0, 3), np.float32)).shape == (0, 3)
    z = np.array(2.0, np.float32)
    y = drop.forward(z, 0, 0)
    assert y.shape == () and float(y) in (0.0, 4.0)


def test_errors_write_nothing():
    drop = dropkit.Dropout(0.5)
    x = np.ones(10, np.float32)
    out = np.full(9, 7, np.float32)
    with pytest.raises(ValueError, match="10") as e:
        drop.forward(x, out=out)
    assert "9" in str(e.value)
    assert np.all(out == 7)
    with pytest.raises(TypeError, match="float64"):
        drop.forward(x, out=np.zeros(10, np.float64))
    with pytest.raises(TypeError, match="int32"):
        drop.forward(np.ones(4, np.int32))
    with pytest.raises(TypeError, match="list"):
        drop.forward([1.0, 2.0])
    with pytest.raises(ValueError, match="negative stride"):
        drop.forward(x[::-1])
    ro = np.ones(10, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        drop.forward(x, out=ro)
    with pytest.raises(ValueError, match="shares memory"):
        big = np.ones(20, np.float32)
        drop.forward(big[:10], out=big[5:15])
    with pytest.raises(ValueError, match="offset"):
        drop.forward(x, 0, 2**64 - 3)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            dropkit.Dropout(p)
    with pytest.raises(ValueError, match="scaling"):
        dropkit.Dropout(0.1, scaling="nope")
    with pytest.raises(ValueError, match="mask shape"):
        drop.forward(x, mask_shape="sideways")
    small = np.full(1, 5, np.uint64)
    with pytest.raises(ValueError):
        drop.forward(np.ones(100, np.float32), mask=small)
    assert small[0] == 5
    with pytest.raises(ValueError):
        drop.forward(x, bias=np.ones(3, np.float32))


def test_threads_release_the_gil():
    # Two Python threads calling at once must both finish with the right bits.
    import threading

    drop = dropkit.Dropout(0.5, seed=1)
    x = values(1 << 18, np.float32)
    want = expected(x[:5000], 0.5, 1, 3, 0)
    results = []

    def work():
        results.append(drop.forward(x, 3, 0)[:5000])

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in results:
        same_bits(r, want)


def test_arguments_a_newcomer_got_wrong():
    drop = dropkit.Dropout(0.3, scaling="classic")
    with pytest.raises(AttributeError):
        drop.scaling = "inverted"  # read-only: the kernel's scaling is fixed
    x = np.ones(8, np.float32)
    for kw in ({"stream": -1}, {"offset": 2**64}, {"stream": 1.5}):
        with pytest.raises(ValueError, match="in \\[0, 2\\*\\*64\\)"):
            drop.forward(x, **kw)
    with pytest.raises(ValueError, match="seed"):
        dropkit.Dropout(0.1, seed=-1)
    with pytest.raises(TypeError, match="str"):
        dropkit.Dropout("0.5")
    with pytest.raises(ValueError, match="^dy has a negative stride"):
        drop.backward(x[::-1])
    with pytest.raises(TypeError, match="out is float64 but dy is float32"):
        drop.backward(x, out=np.zeros(8))
    dy = values(4 * 6, np.float32).reshape(4, 6)
    buf = np.empty(6, np.float32)
    dx, db = drop.backward(dy, dbias=buf)
    assert db is buf
    bits = np.empty(1, np.uint64)
    y, m = drop.forward(x, mask=bits)
    assert m is bits
