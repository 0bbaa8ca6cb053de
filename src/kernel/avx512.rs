//! AVX-512F: the 16 lanes are one `__m512i`, the keep mask a `__mmask16`.
//! Reached only after runtime detection (see `isa`), through the
//! `#[target_feature]` entry points below.

use super::Simd16;
use core::arch::x86_64::*;

/// Sixteen `u32` lanes in one AVX-512 register.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512i);

// SAFETY: every method uses AVX-512F only; the trait contract requires it to
// be available, which `isa` checks before any entry point is called.
unsafe impl Simd16 for Avx512 {
    type F = __m512;
    type M = __mmask16;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Avx512(_mm512_set1_epi32(x as i32))
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; 16]) -> Self {
        Avx512(_mm512_loadu_si512(a.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Avx512(_mm512_add_epi32(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Avx512(_mm512_sub_epi32(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        Avx512(_mm512_xor_si512(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        Avx512(_mm512_or_si512(self.0, o.0))
    }
    #[inline(always)]
    unsafe fn shl9(self) -> Self {
        Avx512(_mm512_slli_epi32::<9>(self.0))
    }
    #[inline(always)]
    unsafe fn shr31(self) -> Self {
        Avx512(_mm512_srli_epi32::<31>(self.0))
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        Avx512(_mm512_rol_epi32::<7>(self.0))
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        Avx512(_mm512_rol_epi32::<11>(self.0))
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        let m = _mm512_set1_epi32(m as i32);
        let even = _mm512_mul_epu32(self.0, m);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(self.0), m);
        const ODD: __mmask16 = 0xAAAA;
        let hi = _mm512_mask_blend_epi32(ODD, _mm512_srli_epi64::<32>(even), odd);
        let lo = _mm512_mask_blend_epi32(ODD, even, _mm512_slli_epi64::<32>(odd));
        (Avx512(hi), Avx512(lo))
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        Self::splat(t)
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> __mmask16 {
        _mm512_cmplt_epu32_mask(self.0, t.0)
    }
    #[inline(always)]
    unsafe fn mask_bits(m: __mmask16) -> u32 {
        u32::from(m)
    }
    #[inline(always)]
    unsafe fn mask_from_bits(bits: u32) -> __mmask16 {
        bits as __mmask16
    }
    #[inline(always)]
    unsafe fn splat_f(s: f32) -> __m512 {
        _mm512_set1_ps(s)
    }
    #[inline(always)]
    unsafe fn load_f(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store_f(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn stream_f(p: *mut f32, v: __m512) {
        _mm512_stream_ps(p, v)
    }
    #[inline(always)]
    unsafe fn fence() {
        _mm_sfence()
    }
    #[inline(always)]
    unsafe fn scale_keep(x: __m512, s: __m512, m: __mmask16) -> __m512 {
        _mm512_maskz_mul_ps(m, x, s)
    }
}

super::entry_points!(Avx512, "avx512f");
