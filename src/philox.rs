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
