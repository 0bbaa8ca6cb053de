"""The shared library from Python with ctypes (standard library only): the
structures as the header lays them out, a site passed by value, the typed
and the dtype-generic entries, options with a mask and a mask shape, and an
error with its dk_last_error() message.

Usage: python3 capi/tests/py/test_ctypes.py target/debug/libdropkit.so
"""
import ctypes
import math
import sys

c_size_p = ctypes.POINTER(ctypes.c_size_t)


class Dropout(ctypes.Structure):
    _fields_ = [("rate", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("scaling", ctypes.c_uint32), ("threading", ctypes.c_uint32),
                ("isa", ctypes.c_uint32), ("threads", ctypes.c_size_t),
                ("parallel_min", ctypes.c_size_t)]


class Site(ctypes.Structure):
    _fields_ = [("stream", ctypes.c_uint64), ("offset", ctypes.c_uint64)]


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t),
                ("rank", ctypes.c_size_t), ("dims", c_size_p),
                ("strides", c_size_p)]


class MaskShape(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint32), ("count", ctypes.c_size_t),
                ("values", c_size_p), ("slab_start", ctypes.c_size_t),
                ("slab_total", ctypes.c_size_t)]


class Options(ctypes.Structure):
    _fields_ = [("shape", ctypes.POINTER(MaskShape)), ("mask_kind", ctypes.c_uint32),
                ("mask", ctypes.c_void_p), ("mask_len", ctypes.c_size_t),
                ("bias", ctypes.c_void_p), ("bias_len", ctypes.c_size_t),
                ("residual", ctypes.c_void_p), ("residual_len", ctypes.c_size_t),
                ("dbias", ctypes.c_void_p), ("dbias_len", ctypes.c_size_t)]


DK_OK, DK_INVALID_RATE, DK_SIZE, DK_NULL_POINTER, DK_ISA_UNAVAILABLE = 0, 1, 3, 7, 5
DK_DTYPE_F32, DK_DTYPE_F64 = 0, 1
DK_MASK_BITS = 1
DK_MASK_SHAPE_CHANNELS_FIRST = 1


def main(path):
    lib = ctypes.CDLL(path)
    P = ctypes.POINTER
    fptr = P(ctypes.c_float)
    lib.dk_status_str.restype = ctypes.c_char_p
    lib.dk_last_error.restype = ctypes.c_char_p
    lib.dk_version.restype = ctypes.c_char_p
    lib.dk_fold_in.restype = ctypes.c_uint64
    lib.dk_fold_in.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
    lib.dk_mask_words.restype = ctypes.c_size_t
    lib.dk_mask_words.argtypes = [ctypes.c_size_t]
    lib.dk_dropout_new.argtypes = [ctypes.c_double, ctypes.c_uint64, ctypes.c_uint32, P(Dropout)]
    lib.dk_dropout_check.argtypes = [P(Dropout)]
    lib.dk_forward_f32.argtypes = [P(Dropout), Site, fptr, fptr, ctypes.c_size_t, P(Options)]
    lib.dk_backward_f32.argtypes = [P(Dropout), Site, fptr, fptr, ctypes.c_size_t, P(Options)]
    lib.dk_forward.argtypes = [P(Dropout), Site, ctypes.c_uint32, P(Tensor), P(Tensor), P(Options)]
    lib.dk_mask.argtypes = [P(Dropout), Site, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t,
                            ctypes.c_size_t]
    lib.dk_mask_len.argtypes = [P(MaskShape), ctypes.c_size_t, c_size_p, c_size_p]

    assert lib.dk_version() == b"0.1.0"
    assert lib.dk_fold_in(0, 0) == 0xdfe6f312aa9cd722
    d = Dropout()
    assert lib.dk_dropout_new(math.nan, 0, 0, ctypes.byref(d)) == DK_INVALID_RATE
    assert lib.dk_status_str(DK_INVALID_RATE).startswith(b"invalid rate")
    assert lib.dk_last_error() == b"invalid dropout rate NaN: must be a number in [0, 1]"
    assert lib.dk_dropout_new(0.5, 0, 0, ctypes.byref(d)) == DK_OK
    assert lib.dk_last_error() == b""
    assert (d.threading, d.isa, d.threads, d.parallel_min) == (0, 0, 0, 0)

    bits = (ctypes.c_uint64 * 2)()
    assert lib.dk_mask(ctypes.byref(d), Site(0, 0), DK_MASK_BITS, bits, 2, 128) == DK_OK
    assert list(bits) == [0xac64cc78ff8a3d4e, 0x647e9bd36cf349e1]
    n = 128
    x = (ctypes.c_float * n)(*([1.5] * n))
    y = (ctypes.c_float * n)()
    assert lib.dk_forward_f32(ctypes.byref(d), Site(0, 0), x, y, n, None) == DK_OK
    for i in range(n):
        kept = (bits[i // 64] >> (i % 64)) & 1
        assert y[i] == (3.0 if kept else 0.0), (i, y[i])
    assert lib.dk_forward_f32(ctypes.byref(d), Site(0, 0), None, y, n, None) == DK_NULL_POINTER
    assert lib.dk_last_error() == b"null pointer: x (128 elements)"

    # A mask written by the forward pass, read by the backward pass.
    got = (ctypes.c_uint64 * 2)()
    opt = Options(mask_kind=DK_MASK_BITS, mask=ctypes.cast(got, ctypes.c_void_p), mask_len=2)
    assert lib.dk_forward_f32(ctypes.byref(d), Site(0, 0), x, y, n, ctypes.byref(opt)) == DK_OK
    assert list(got) == list(bits)
    dx = (ctypes.c_float * n)()
    assert lib.dk_backward_f32(ctypes.byref(d), Site(9, 9), x, dx, n, ctypes.byref(opt)) == DK_OK
    assert list(dx) == list(y)
    opt.mask_len = 1
    assert lib.dk_forward_f32(ctypes.byref(d), Site(0, 0), x, y, n, ctypes.byref(opt)) == DK_SIZE
    assert lib.dk_last_error() == b"wrong size: mask words (at least): expected 2, given 1"

    # Channel dropout on doubles [2, 4, 16] through the generic entry.
    dims = (ctypes.c_size_t * 3)(2, 4, 16)
    shape = MaskShape(kind=DK_MASK_SHAPE_CHANNELS_FIRST)
    m = ctypes.c_size_t()
    assert lib.dk_mask_len(ctypes.byref(shape), 3, dims, ctypes.byref(m)) == DK_OK
    assert m.value == 8 and lib.dk_mask_words(m.value) == 1
    xs = (ctypes.c_double * 128)(*([2.0] * 128))
    ys = (ctypes.c_double * 128)()
    xt = Tensor(ctypes.cast(xs, ctypes.c_void_p), 128, 3, dims, None)
    yt = Tensor(ctypes.cast(ys, ctypes.c_void_p), 128, 3, dims, None)
    cbits = (ctypes.c_uint64 * 1)()
    copt = Options(shape=ctypes.pointer(shape), mask_kind=DK_MASK_BITS,
                   mask=ctypes.cast(cbits, ctypes.c_void_p), mask_len=1)
    assert lib.dk_forward(ctypes.byref(d), Site(3, 0), DK_DTYPE_F64, ctypes.byref(xt),
                          ctypes.byref(yt), ctypes.byref(copt)) == DK_OK
    for ch in range(8):
        kept = (cbits[0] >> ch) & 1
        assert list(ys[ch * 16:(ch + 1) * 16]) == [4.0 * kept] * 16, ch

    # A forced ISA of the other architecture is refused with its name.
    import platform
    d.isa = 3 if platform.machine() in ("aarch64", "arm64") else 5  # AVX2 or NEON
    assert lib.dk_dropout_check(ctypes.byref(d)) == DK_ISA_UNAVAILABLE
    assert b"not available" in lib.dk_last_error()
    print("ctypes checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
