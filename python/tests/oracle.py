"""An independent NumPy model of stream v1 and the keep/scale rules, written
from the contract (Philox4x32-10 seeding 16 Xoshiro128++ lanes per block of
4096 indices), sharing no code with the package. Slow but plain."""

import numpy as np

M32 = np.uint64(0xFFFFFFFF)
BLOCK = 4096
A_PRIME = -1.7580993408473766


def _u32(v):
    return np.asarray(v, np.uint64) & M32


def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 over arrays of counters (uint64 holding u32)."""
    c0, c1, c2, c3 = (_u32(c) for c in (c0, c1, c2, c3))
    k0, k1 = _u32(k0), _u32(k1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & M32
            k1 = (k1 + np.uint64(0xBB67AE85)) & M32
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & M32,
                          (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & M32)
    return c0, c1, c2, c3


def _rotl(x, k):
    return ((x << np.uint64(k)) | (x >> np.uint64(32 - k))) & M32


def block_words(seed, stream, blocks):
    """r(g) for every g of the given blocks: an array (len(blocks), 4096)."""
    blocks = np.asarray(blocks, np.uint64)
    lanes = np.arange(16, dtype=np.uint64)
    c = ((blocks[:, None] << np.uint64(4)) | lanes[None, :]).ravel()
    s = list(philox(c & M32, c >> np.uint64(32), stream & 0xFFFFFFFF, stream >> 32,
                    seed & 0xFFFFFFFF, seed >> 32))
    zero = (s[0] == 0) & (s[1] == 0) & (s[2] == 0) & (s[3] == 0)
    s[0] = np.where(zero, np.uint64(1), s[0])
    out = np.empty((BLOCK // 16, c.size), np.uint64)
    for t in range(BLOCK // 16):
        out[t] = (_rotl((s[0] + s[3]) & M32, 7) + s[0]) & M32
        tmp = (s[1] << np.uint64(9)) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= tmp
        s[3] = _rotl(s[3], 11)
    # step t of lane l of block b is element b*4096 + t*16 + l
    return out.reshape(BLOCK // 16, blocks.size, 16).transpose(1, 0, 2).reshape(blocks.size, BLOCK)


def words(seed, stream, offset, n):
    """r(offset), ..., r(offset + n - 1) as uint64."""
    if n == 0:
        return np.zeros(0, np.uint64)
    first, last = offset // BLOCK, (offset + n - 1) // BLOCK
    w = block_words(seed, stream, np.arange(first, last + 1)).ravel()
    start = offset - first * BLOCK
    return w[start:start + n]


def keep(seed, stream, offset, n, p):
    """The keep decisions of n elements from offset."""
    if p == 0:
        return np.ones(n, bool)
    q = 1.0 - p
    t = min(int(np.floor(q * 4294967296.0 + 0.5)), 4294967295)
    return words(seed, stream, offset, n) < np.uint64(t)


def apply(x, kept, p, scaling="inverted"):
    """Training output for a float array x (any dtype of the package) and a
    boolean keep array of x's shape."""
    dt = x.dtype
    wide = np.float64 if dt == np.float64 else np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        return _apply(x.astype(wide), kept, p, scaling, wide).astype(dt)


def _apply(xw, kept, p, scaling, wide):
    q = 1.0 - p
    if scaling == "alpha":
        if p == 0:
            return xw
        if p == 1:
            return np.zeros_like(xw)
        a = 1.0 / np.sqrt((1.0 - p) * (1.0 + p * A_PRIME * A_PRIME))
        b = -a * A_PRIME * p
        dropped = wide(A_PRIME * a * (1.0 - p))
        return np.where(kept, xw * wide(a) + wide(b), dropped)
    s = 1.0 if scaling == "classic" else (1.0 / q if q > 0 else 0.0)
    return np.where(kept, xw * wide(s), wide(0.0))
