//! AVX-512 (F + VL): the 16 lanes are two 256-bit halves driven with AVX-512
//! instructions (`vprold`, `vpternlogd`, compares into mask registers,
//! zero-masked multiplies). Reached only after runtime detection (see `isa`),
//! through the `#[target_feature]` entry points below. The keep word of a
//! step is literally two 8-bit mask registers.
//!
//! Why two `ymm` halves and not one `zmm`: the Xoshiro state update is a
//! dependency chain, and on an AMD Zen 4 core (which runs a 512-bit
//! operation as two 256-bit halves) one chain per 16 lanes left the pipes
//! half idle. Two independent 8-lane chains per step ran a 4096-element
//! block at 8.0 elements/ns against 6.9 for one `zmm` chain, and four chains
//! (two whole blocks side by side, `PAIR_BLOCKS`) at 8.8 (a throwaway
//! microbenchmark, one thread, data in L1). With all 32 vector registers the
//! two-block state fits without spills.

use super::ymm::{f16c_module, ymm_pair_methods};
use crate::kernel::{Gen16, LANES};
use core::arch::x86_64::*;

/// Sixteen `u32` lanes as two 256-bit halves (lanes 0..8, 8..16).
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m256i, __m256i);

// SAFETY: every method uses AVX-512F/VL and the AVX2 they imply only; the
// trait contract requires them, which `isa` checks before any entry point.
unsafe impl Gen16 for Avx512 {
    type Keep = (__mmask8, __mmask8);
    const HAS_XOR3: bool = true;
    const UNROLL: usize = 4;
    const PAIR_BLOCKS: bool = true;

    ymm_pair_methods!(Avx512);

    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F/VL are available (trait contract).
        unsafe {
            Avx512(
                _mm256_ternarylogic_epi32::<0x96>(self.0, a.0, b.0),
                _mm256_ternarylogic_epi32::<0x96>(self.1, a.1, b.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        // SAFETY: AVX-512F/VL are available (trait contract).
        unsafe { Avx512(_mm256_rol_epi32::<7>(self.0), _mm256_rol_epi32::<7>(self.1)) }
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        // SAFETY: AVX-512F/VL are available (trait contract).
        unsafe {
            Avx512(
                _mm256_rol_epi32::<11>(self.0),
                _mm256_rol_epi32::<11>(self.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        // SAFETY: AVX2 is available (trait contract).
        unsafe { Self::splat(t) }
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> Self::Keep {
        // SAFETY: AVX-512F/VL are available (trait contract).
        unsafe {
            (
                _mm256_cmplt_epu32_mask(self.0, t.0),
                _mm256_cmplt_epu32_mask(self.1, t.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn keep_bits(k: Self::Keep) -> u32 {
        u32::from(k.0) | (u32::from(k.1) << 8)
    }
    #[inline(always)]
    unsafe fn keep_from_bits(bits: u32) -> Self::Keep {
        (bits as __mmask8, (bits >> 8) as __mmask8)
    }
    #[inline(always)]
    unsafe fn keep_lanes(k: Self::Keep) -> [u32; LANES] {
        let mut lanes = [0u32; LANES];
        let p = lanes.as_mut_ptr().cast::<__m256i>();
        // SAFETY: AVX-512F/VL are available; `lanes` holds 16 words.
        unsafe {
            let ones = _mm256_set1_epi32(-1);
            _mm256_storeu_si256(p, _mm256_maskz_mov_epi32(k.0, ones));
            _mm256_storeu_si256(p.add(1), _mm256_maskz_mov_epi32(k.1, ones));
        }
        lanes
    }
    #[inline(always)]
    unsafe fn keep_from_bytes(p: *const u8) -> Self::Keep {
        // SAFETY: AVX-512F/VL are available; `p` holds 16 bytes.
        unsafe {
            let lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()));
            let hi = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(8).cast()));
            (
                _mm256_test_epi32_mask(lo, lo),
                _mm256_test_epi32_mask(hi, hi),
            )
        }
    }
}

crate::kernel::entry_points!(Avx512, "avx512f,avx512vl");
crate::kernel::generator_entry!(Avx512, "avx512f,avx512vl");
f16c_module!(Avx512, "avx512f,avx512vl,f16c");
