"""The shared library from Python with ctypes (standard library only).

Usage: python3 capi/tests/py/test_ctypes.py target/debug/libdropkit.so
"""
import ctypes
import math
import sys


class Dropout(ctypes.Structure):
    _fields_ = [("rate", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("scaling", ctypes.c_uint32), ("threading", ctypes.c_uint32)]


def main(path):
    lib = ctypes.CDLL(path)
    lib.dk_status_str.restype = ctypes.c_char_p
    lib.dk_version.restype = ctypes.c_char_p
    lib.dk_fold_in.restype = ctypes.c_uint64
    lib.dk_fold_in.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
    lib.dk_dropout_new.argtypes = [ctypes.c_double, ctypes.c_uint64, ctypes.c_uint32,
                                   ctypes.POINTER(Dropout)]
    fptr = ctypes.POINTER(ctypes.c_float)
    lib.dk_forward_f32.argtypes = [ctypes.POINTER(Dropout), ctypes.c_uint64, ctypes.c_uint64,
                                   fptr, fptr, ctypes.c_size_t]
    lib.dk_mask_bits.argtypes = [ctypes.POINTER(Dropout), ctypes.c_uint64, ctypes.c_uint64,
                                 ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]

    assert lib.dk_version() == b"0.1.0"
    assert lib.dk_fold_in(0, 0) == 0xdfe6f312aa9cd722
    d = Dropout()
    assert lib.dk_dropout_new(math.nan, 0, 0, ctypes.byref(d)) == 1
    assert lib.dk_status_str(1).startswith(b"invalid rate")
    assert lib.dk_dropout_new(0.5, 0, 0, ctypes.byref(d)) == 0
    bits = (ctypes.c_uint64 * 2)()
    assert lib.dk_mask_bits(ctypes.byref(d), 0, 0, 128, bits, 2) == 0
    assert list(bits) == [0xac64cc78ff8a3d4e, 0x647e9bd36cf349e1]
    n = 128
    x = (ctypes.c_float * n)(*([1.5] * n))
    y = (ctypes.c_float * n)()
    assert lib.dk_forward_f32(ctypes.byref(d), 0, 0, x, y, n) == 0
    for i in range(n):
        kept = (bits[i // 64] >> (i % 64)) & 1
        assert y[i] == (3.0 if kept else 0.0), (i, y[i])
    assert lib.dk_forward_f32(ctypes.byref(d), 0, 0, None, y, n) == 10  # DK_NULL_POINTER
    print("ctypes checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
