//! Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11), the counter-based
//! generator that seeds every `(block, lane)` of stream v1.
//!
//! This is the plain one-call-at-a-time form; the SIMD kernels run the same
//! rounds on 16 counters at once (see `kernel`).

/// Multiplier of the first pair of words.
pub(crate) const M0: u32 = 0xD251_1F53;
/// Multiplier of the second pair of words.
pub(crate) const M1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 between rounds.
pub(crate) const W0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 between rounds.
pub(crate) const W1: u32 = 0xBB67_AE85;
/// Number of rounds.
pub(crate) const ROUNDS: usize = 10;

/// Returns `(high, low)` halves of the 64-bit product `a * b`.
#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds: maps a 128-bit counter and a 64-bit key to 128
/// random bits.
pub(crate) fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..ROUNDS {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Derives a new 64-bit stream (or seed) from `a` and `b`, like JAX's
/// `fold_in`. Frozen, like stream v1.
///
/// For every `a` it is a **bijection of `b`**: distinct steps (samples,
/// micro-batches) of one layer never share a stream. The construction makes
/// that a fact, not a probability: two 64-bit round keys `k0, k1` are drawn
/// from `a` (Philox4x32-10 of `a`), and the result is
/// `mix(mix(b ^ k0) ^ k1)`, where `mix` is the SplitMix64 finalizer
/// (`x ^= x >> 30; x *= C1; x ^= x >> 27; x *= C2; x ^= x >> 31` with odd
/// `C1`, `C2`). Each step (xor with a constant, xor with a right shift of
/// itself, multiplication by an odd constant modulo 2^64) is invertible, so
/// their composition is a permutation of `b`. Every output bit depends on
/// every bit of `a` and of `b`.
///
/// ```
/// use dropkit::fold_in;
/// let (layer, step, sample) = (3u64, 1000u64, 7u64);
/// let stream = fold_in(fold_in(layer, step), sample);
/// assert_ne!(stream, fold_in(fold_in(layer, step), sample + 1));
/// ```
pub fn fold_in(a: u64, b: u64) -> u64 {
    const FOLD: [u32; 2] = [0x666f_6c64, 0x5f69_6e00]; // "fold", "_in"
    let k = philox4x32_10([a as u32, (a >> 32) as u32, FOLD[0], FOLD[1]], [0, 0]);
    let k0 = u64::from(k[0]) | (u64::from(k[1]) << 32);
    let k1 = u64::from(k[2]) | (u64::from(k[3]) << 32);
    mix(mix(b ^ k0) ^ k1)
}

/// The SplitMix64 finalizer: a bijection of `u64` with full avalanche.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
