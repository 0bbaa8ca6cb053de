//! AVX-512 (F + VL): the 16 lanes are two 256-bit halves driven with AVX-512
//! instructions (`vprold`, `vpternlogd`, compares into mask registers,
//! zero-masked multiplies). Reached only after runtime detection (see `isa`),
//! through the `#[target_feature]` entry points below.
//!
//! Why two `ymm` halves and not one `zmm`: the Xoshiro state update is a
//! dependency chain, and on the project's machine (AMD Zen 4, which runs a
//! 512-bit operation as two 256-bit halves) one chain per 16 lanes left the
//! pipes half idle. Two independent 8-lane chains per step ran a 4096-element
//! block at 8.0 elements/ns against 6.9 for one `zmm` chain, and four chains
//! (two whole blocks side by side, `PAIR_BLOCKS`) at 8.8 (same instructions
//! otherwise; a throwaway microbenchmark, one thread, data in L1). With all
//! 32 vector registers the two-block state fits without spills.

use super::ymm::ymm_pair_methods;
use super::Simd16;
use core::arch::x86_64::*;

/// Sixteen `u32` lanes as two 256-bit halves (lanes 0..8, 8..16).
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m256i, __m256i);

// SAFETY: every method uses AVX-512F/VL and the AVX2 they imply only; the
// trait contract requires them, which `isa` checks before any entry point.
unsafe impl Simd16 for Avx512 {
    type F = (__m256, __m256);
    type M = (__mmask8, __mmask8);
    const HAS_XOR3: bool = true;
    const UNROLL: usize = 4;
    const PAIR_BLOCKS: bool = true;

    ymm_pair_methods!(Avx512);

    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        Avx512(
            _mm256_ternarylogic_epi32::<0x96>(self.0, a.0, b.0),
            _mm256_ternarylogic_epi32::<0x96>(self.1, a.1, b.1),
        )
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        Avx512(_mm256_rol_epi32::<7>(self.0), _mm256_rol_epi32::<7>(self.1))
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        Avx512(
            _mm256_rol_epi32::<11>(self.0),
            _mm256_rol_epi32::<11>(self.1),
        )
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        Self::splat(t)
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> Self::M {
        (
            _mm256_cmplt_epu32_mask(self.0, t.0),
            _mm256_cmplt_epu32_mask(self.1, t.1),
        )
    }
    #[inline(always)]
    unsafe fn mask_bits(m: Self::M) -> u32 {
        u32::from(m.0) | (u32::from(m.1) << 8)
    }
    #[inline(always)]
    unsafe fn mask_from_bits(bits: u32) -> Self::M {
        (bits as __mmask8, (bits >> 8) as __mmask8)
    }
    #[inline(always)]
    unsafe fn mask_from_bytes(p: *const u8) -> Self::M {
        let lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast()));
        let hi = _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.add(8).cast()));
        (
            _mm256_test_epi32_mask(lo, lo),
            _mm256_test_epi32_mask(hi, hi),
        )
    }
    #[inline(always)]
    unsafe fn scale_keep(x: Self::F, s: Self::F, m: Self::M) -> Self::F {
        (
            _mm256_maskz_mul_ps(m.0, x.0, s.0),
            _mm256_maskz_mul_ps(m.1, x.1, s.1),
        )
    }
}

super::entry_points!(Avx512, "avx512f,avx512vl");
