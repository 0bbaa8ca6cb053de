//! AVX-512 (F + VL): the 16 lanes are two 256-bit halves driven with AVX-512
//! instructions (`vprold`, `vpternlogd`, compares into mask registers,
//! zero-masked multiplies). Reached only after runtime detection (see `isa`),
//! through the `#[target_feature]` entry points below.
//!
//! Why two `ymm` halves and not one `zmm`: the Xoshiro state update is a
//! dependency chain, and on the project's machine (AMD Zen 4, which runs a
//! 512-bit operation as two 256-bit halves) one chain per 16 lanes left the
//! pipes half idle. Two independent 8-lane chains per step ran a 4096-element
//! block at 8.1 elements/ns against 6.9 for one `zmm` chain (same
//! instructions otherwise; measured with a throwaway microbenchmark, one
//! thread, data in L1).

use super::Simd16;
use core::arch::x86_64::*;

/// Sixteen `u32` lanes as two 256-bit halves (lanes 0..8, 8..16).
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m256i, __m256i);

#[inline(always)]
unsafe fn both(a: Avx512, f: impl Fn(__m256i) -> __m256i) -> Avx512 {
    Avx512(f(a.0), f(a.1))
}

#[inline(always)]
unsafe fn pair(a: Avx512, b: Avx512, f: impl Fn(__m256i, __m256i) -> __m256i) -> Avx512 {
    Avx512(f(a.0, b.0), f(a.1, b.1))
}

/// `(high, low)` of the eight 32x32-bit products of `a` and `m`.
#[inline(always)]
unsafe fn mulhilo8(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
    const ODD: __mmask8 = 0xAA;
    let even = _mm256_mul_epu32(a, m);
    let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
    let hi = _mm256_mask_blend_epi32(ODD, _mm256_srli_epi64::<32>(even), odd);
    let lo = _mm256_mask_blend_epi32(ODD, even, _mm256_slli_epi64::<32>(odd));
    (hi, lo)
}

// SAFETY: every method uses AVX-512F/VL (and AVX) only; the trait contract
// requires them to be available, which `isa` checks before any entry point.
unsafe impl Simd16 for Avx512 {
    type F = (__m256, __m256);
    type M = (__mmask8, __mmask8);
    const HAS_XOR3: bool = true;
    const UNROLL: usize = 4;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        let v = _mm256_set1_epi32(x as i32);
        Avx512(v, v)
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; 16]) -> Self {
        let p = a.as_ptr().cast::<__m256i>();
        Avx512(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        pair(self, o, |a, b| _mm256_add_epi32(a, b))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        pair(self, o, |a, b| _mm256_sub_epi32(a, b))
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        pair(self, o, |a, b| _mm256_xor_si256(a, b))
    }
    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        pair(self, o, |a, b| _mm256_or_si256(a, b))
    }
    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        Avx512(
            _mm256_ternarylogic_epi32::<0x96>(self.0, a.0, b.0),
            _mm256_ternarylogic_epi32::<0x96>(self.1, a.1, b.1),
        )
    }
    #[inline(always)]
    unsafe fn shl9(self) -> Self {
        both(self, |a| _mm256_slli_epi32::<9>(a))
    }
    #[inline(always)]
    unsafe fn shr31(self) -> Self {
        both(self, |a| _mm256_srli_epi32::<31>(a))
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        both(self, |a| _mm256_rol_epi32::<7>(a))
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        both(self, |a| _mm256_rol_epi32::<11>(a))
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        let m = _mm256_set1_epi32(m as i32);
        let (h0, l0) = mulhilo8(self.0, m);
        let (h1, l1) = mulhilo8(self.1, m);
        (Avx512(h0, h1), Avx512(l0, l1))
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
    unsafe fn store_bytes16(bits: u32, p: *mut u8) {
        super::bits_to_bytes16(bits, p)
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
    unsafe fn splat_f(s: f32) -> Self::F {
        let v = _mm256_set1_ps(s);
        (v, v)
    }
    #[inline(always)]
    unsafe fn load_f(p: *const f32) -> Self::F {
        (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
    }
    #[inline(always)]
    unsafe fn store_f(p: *mut f32, v: Self::F) {
        _mm256_storeu_ps(p, v.0);
        _mm256_storeu_ps(p.add(8), v.1);
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
