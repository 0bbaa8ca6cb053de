//! AVX2: the 16 lanes are two `__m256i`. Reached only after runtime detection
//! (see `isa`), through the `#[target_feature]` entry points below.

use super::Simd16;
use core::arch::x86_64::*;

/// Sixteen `u32` lanes in two AVX2 registers (lanes 0..8, 8..16).
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256i, __m256i);

#[inline(always)]
unsafe fn both(a: Avx2, f: impl Fn(__m256i) -> __m256i) -> Avx2 {
    Avx2(f(a.0), f(a.1))
}

#[inline(always)]
unsafe fn pair(a: Avx2, b: Avx2, f: impl Fn(__m256i, __m256i) -> __m256i) -> Avx2 {
    Avx2(f(a.0, b.0), f(a.1, b.1))
}

/// `(high, low)` of the eight 32x32-bit products of `a` and `m`.
#[inline(always)]
unsafe fn mulhilo8(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
    let even = _mm256_mul_epu32(a, m);
    let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
    let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
    let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
    (hi, lo)
}

const SIGN: i32 = i32::MIN;

// SAFETY: every method uses AVX2 only; the trait contract requires AVX2 to be
// available, which `isa` checks before any entry point is called.
unsafe impl Simd16 for Avx2 {
    type F = (__m256, __m256);
    /// All-ones for kept lanes.
    type M = (__m256, __m256);

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        let v = _mm256_set1_epi32(x as i32);
        Avx2(v, v)
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; 16]) -> Self {
        let p = a.as_ptr().cast::<__m256i>();
        Avx2(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
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
    unsafe fn shl9(self) -> Self {
        both(self, |a| _mm256_slli_epi32::<9>(a))
    }
    #[inline(always)]
    unsafe fn shr31(self) -> Self {
        both(self, |a| _mm256_srli_epi32::<31>(a))
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        both(self, |a| {
            _mm256_or_si256(_mm256_slli_epi32::<7>(a), _mm256_srli_epi32::<25>(a))
        })
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        both(self, |a| {
            _mm256_or_si256(_mm256_slli_epi32::<11>(a), _mm256_srli_epi32::<21>(a))
        })
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        let m = _mm256_set1_epi32(m as i32);
        let (h0, l0) = mulhilo8(self.0, m);
        let (h1, l1) = mulhilo8(self.1, m);
        (Avx2(h0, h1), Avx2(l0, l1))
    }
    /// Sign-flipped, so that a signed compare orders unsigned words.
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        Self::splat(t ^ SIGN as u32)
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> Self::M {
        let sign = _mm256_set1_epi32(SIGN);
        let lt = |r: __m256i, t: __m256i| {
            _mm256_castsi256_ps(_mm256_cmpgt_epi32(t, _mm256_xor_si256(r, sign)))
        };
        (lt(self.0, t.0), lt(self.1, t.1))
    }
    #[inline(always)]
    unsafe fn mask_bits(m: Self::M) -> u32 {
        (_mm256_movemask_ps(m.0) as u32) | ((_mm256_movemask_ps(m.1) as u32) << 8)
    }
    #[inline(always)]
    unsafe fn mask_from_bits(bits: u32) -> Self::M {
        let b = _mm256_set1_epi32(bits as i32);
        let lanes = |l: __m256i| _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, l), l));
        (
            lanes(_mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
            lanes(_mm256_setr_epi32(
                1 << 8,
                1 << 9,
                1 << 10,
                1 << 11,
                1 << 12,
                1 << 13,
                1 << 14,
                1 << 15,
            )),
        )
    }
    #[inline(always)]
    unsafe fn store_bytes16(bits: u32, p: *mut u8) {
        super::bits_to_bytes16(bits, p)
    }
    #[inline(always)]
    unsafe fn mask_from_bytes(p: *const u8) -> Self::M {
        let zero = _mm256_setzero_si256();
        let ones = _mm256_set1_epi32(-1);
        let nonzero = |q: *const u8| {
            let v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q.cast()));
            _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(v, zero), ones))
        };
        (nonzero(p), nonzero(p.add(8)))
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
            _mm256_and_ps(_mm256_mul_ps(x.0, s.0), m.0),
            _mm256_and_ps(_mm256_mul_ps(x.1, s.1), m.1),
        )
    }
}

super::entry_points!(Avx2, "avx2");
