//! The generator side of the kernel: 16 `u32` lanes ([`Gen16`]), Philox
//! seeding of a block's 16 Xoshiro128++ lanes at once, one step of all 16
//! lanes, and the keep compare. Its output is the keep word of a step
//! ([`Gen16::Keep`]); the data side ([`super::data`]) consumes it.

use super::LANES;
use crate::philox::{M0, M1, ROUNDS, W0, W1};

/// Bit `l` in lane `l`: turns a 16-bit keep word into lane masks.
pub const LANE_BITS: [u32; LANES] = {
    let mut bits = [0u32; LANES];
    let mut l = 0;
    while l < LANES {
        bits[l] = 1 << l;
        l += 1;
    }
    bits
};

/// Sixteen `u32` generator lanes and the keep word of a step.
///
/// # Safety
/// Every method may use instructions of the implementing ISA: call them only
/// where that ISA is available (the `isa` module checks before dispatch).
/// Pointer arguments must be valid as each method states.
pub unsafe trait Gen16: Copy {
    /// The keep word of one step: 16 decisions, in the form the ISA's select
    /// instruction consumes (a 16-bit mask register pair on AVX-512, lane
    /// masks elsewhere). [`Gen16::keep_bits`] and [`Gen16::keep_from_bits`]
    /// convert it to and from the plain 16-bit word exactly.
    type Keep: Copy;

    /// Whether [`Gen16::xor3`] is one instruction (AVX-512 `vpternlogd`).
    const HAS_XOR3: bool = false;
    /// Steps per iteration of the main loop (2 or 4): more hides latency,
    /// but needs registers for the extra states in flight.
    const UNROLL: usize = 2;
    /// Whether to run two whole blocks side by side (twice the state
    /// registers: only where there are 32 of them). Two output streams 16 KiB
    /// apart cost more than they gain once the data comes from DRAM, so the
    /// driver turns this off for big calls ([`super::Params::pair_blocks`]).
    const PAIR_BLOCKS: bool = false;

    /// Every lane `x`.
    unsafe fn splat(x: u32) -> Self;
    /// Lane `l` is `a[l]`.
    unsafe fn from_array(a: [u32; 16]) -> Self;
    /// Wrapping add per lane.
    unsafe fn add(self, o: Self) -> Self;
    /// Wrapping subtract per lane.
    unsafe fn sub(self, o: Self) -> Self;
    /// Bitwise xor.
    unsafe fn xor(self, o: Self) -> Self;
    /// Bitwise or.
    unsafe fn or(self, o: Self) -> Self;
    /// `self ^ a ^ b`.
    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        // SAFETY: the caller guarantees this ISA is available.
        unsafe { self.xor(a).xor(b) }
    }
    /// Shift left by 9 per lane.
    unsafe fn shl9(self) -> Self;
    /// Shift right by 31 per lane.
    unsafe fn shr31(self) -> Self;
    /// Rotate left by 7 per lane.
    unsafe fn rotl7(self) -> Self;
    /// Rotate left by 11 per lane.
    unsafe fn rotl11(self) -> Self;
    /// `(high, low)` words of each lane's 64-bit product with `m`.
    unsafe fn mulhilo(self, m: u32) -> (Self, Self);
    /// The threshold in the form [`Gen16::keep`] wants.
    unsafe fn prep_threshold(t: u32) -> Self;
    /// Unsigned `self < t` per lane, `t` from [`Gen16::prep_threshold`].
    unsafe fn keep(self, t: Self) -> Self::Keep;
    /// Bit `l` set iff lane `l` is kept (bits 16.. clear).
    unsafe fn keep_bits(k: Self::Keep) -> u32;
    /// Lane `l` kept iff bit `l` of `bits` is set (bits 16.. ignored).
    unsafe fn keep_from_bits(bits: u32) -> Self::Keep;
    /// Lane `l` all-ones if kept, zero if dropped.
    #[inline(always)]
    unsafe fn keep_lanes(k: Self::Keep) -> [u32; LANES] {
        // SAFETY: the caller guarantees this ISA is available.
        let bits = unsafe { Self::keep_bits(k) };
        LANE_BITS.map(|b| 0u32.wrapping_sub(u32::from(bits & b != 0)))
    }
    /// Writes 16 bytes, byte `l` = bit `l` of `bits` (0 or 1).
    ///
    /// `p` must be valid for writing 16 bytes.
    #[inline(always)]
    unsafe fn store_bytes16(bits: u32, p: *mut u8) {
        let words = [
            super::sink::spread_bits(bits as u8).to_le(),
            super::sink::spread_bits((bits >> 8) as u8).to_le(),
        ];
        // SAFETY: the caller guarantees `p` is valid for 16 bytes.
        unsafe { p.cast::<[u64; 2]>().write_unaligned(words) }
    }
    /// Lane `l` kept iff byte `p[l]` is non-zero.
    ///
    /// `p` must be valid for reading 16 bytes.
    #[inline(always)]
    unsafe fn keep_from_bytes(p: *const u8) -> Self::Keep {
        use super::sink::gather_nonzero;
        // SAFETY: the caller guarantees `p` is valid for 16 bytes and the ISA
        // is available.
        unsafe {
            let w = p.cast::<[u64; 2]>().read_unaligned();
            Self::keep_from_bits(
                gather_nonzero(u64::from_le(w[0])) | (gather_nonzero(u64::from_le(w[1])) << 8),
            )
        }
    }
}

/// The 16 Xoshiro128++ lane states of one block.
#[derive(Clone, Copy)]
pub struct Lanes<G> {
    s: [G; 4],
}

impl<G: Gen16> Lanes<G> {
    /// Seeds the 16 lanes of `block` with Philox4x32-10, all lanes at once.
    ///
    /// # Safety
    /// `G`'s ISA is available.
    #[inline(always)]
    pub unsafe fn seed(seed: u64, stream: u64, block: u64) -> Self {
        let c = block << 4;
        let ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        // SAFETY: the caller guarantees `G`'s ISA is available; the methods
        // below are plain register operations.
        unsafe {
            let mut c0 = G::from_array(ids).or(G::splat(c as u32));
            let mut c1 = G::splat((c >> 32) as u32);
            let mut c2 = G::splat(stream as u32);
            let mut c3 = G::splat((stream >> 32) as u32);
            let mut k0 = seed as u32;
            let mut k1 = (seed >> 32) as u32;
            for round in 0..ROUNDS {
                if round > 0 {
                    k0 = k0.wrapping_add(W0);
                    k1 = k1.wrapping_add(W1);
                }
                let (hi0, lo0) = c0.mulhilo(M0);
                let (hi1, lo1) = c2.mulhilo(M1);
                let n0 = hi1.xor(c1).xor(G::splat(k0));
                let n2 = hi0.xor(c3).xor(G::splat(k1));
                c0 = n0;
                c1 = lo1;
                c2 = n2;
                c3 = lo0;
            }
            // An all-zero state becomes [1, 0, 0, 0]: `any` has its top bit
            // set iff some word is non-zero, so `zero` is 1 exactly for such
            // lanes.
            let all = c0.or(c1).or(c2).or(c3);
            let any = all.or(G::splat(0).sub(all));
            let zero = any.shr31().xor(G::splat(1));
            Lanes {
                s: [c0.or(zero), c1, c2, c3],
            }
        }
    }

    /// One Xoshiro128++ step of all lanes: the next 16 words.
    ///
    /// # Safety
    /// `G`'s ISA is available.
    #[inline(always)]
    pub unsafe fn next(&mut self) -> G {
        let [s0, s1, s2, s3] = self.s;
        // SAFETY: the caller guarantees `G`'s ISA is available.
        unsafe {
            let result = s0.add(s3).rotl7().add(s0);
            self.s = if G::HAS_XOR3 {
                // The same xors regrouped into three-way ones, one
                // instruction each: new s0 = s0 ^ s3 ^ s1, s1 = s1 ^ s2 ^ s0,
                // s2 = s2 ^ s0 ^ (s1 << 9), s3 = rotl(s3 ^ s1, 11).
                [
                    s0.xor3(s3, s1),
                    s1.xor3(s2, s0),
                    s2.xor3(s0, s1.shl9()),
                    s3.xor(s1).rotl11(),
                ]
            } else {
                // Xoshiro128++ as published.
                let t = s1.shl9();
                let s2 = s2.xor(s0);
                let s3 = s3.xor(s1);
                let s1 = s1.xor(s2);
                let s0 = s0.xor(s3);
                [s0, s1, s2.xor(t), s3.rotl11()]
            };
            result
        }
    }
}
