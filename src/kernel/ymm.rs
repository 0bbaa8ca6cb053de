//! What the two x86-64 implementations share: both hold the 16 lanes as two
//! 256-bit halves (lanes 0..8, 8..16), so their plain integer, load and
//! store methods are the same AVX2 instructions. Only the rotates, the
//! compare, the mask type and the masked multiply differ.

use core::arch::x86_64::*;

/// `(high, low)` of the eight 32x32-bit products of `a` and `m` (AVX2).
///
/// # Safety
/// AVX2 is available.
#[inline(always)]
pub(super) unsafe fn mulhilo8(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
    let even = _mm256_mul_epu32(a, m);
    let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
    let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
    let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
    (hi, lo)
}

/// 16 keep bits to 16 bytes of 0 or 1: broadcast, route byte 0 to lanes
/// 0..8 and byte 1 to 8..16, test each lane's bit (SSSE3).
///
/// # Safety
/// SSSE3 (implied by AVX2) is available; `p` is valid for 16 bytes.
#[inline(always)]
pub(super) unsafe fn bits_to_bytes16(bits: u32, p: *mut u8) {
    let v = _mm_set1_epi16(bits as i16);
    let routed = _mm_shuffle_epi8(
        v,
        _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
    );
    let lane_bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    let set = _mm_cmpeq_epi8(_mm_and_si128(routed, lane_bit), lane_bit);
    _mm_storeu_si128(p.cast(), _mm_and_si128(set, _mm_set1_epi8(1)));
}

/// The `Simd16` methods that are the same for both two-halves types
/// (`$T(__m256i, __m256i)` with `F = (__m256, __m256)`); expanded inside
/// each `unsafe impl Simd16`.
macro_rules! ymm_pair_methods {
    ($T:ident) => {
        #[inline(always)]
        unsafe fn splat(x: u32) -> Self {
            let v = _mm256_set1_epi32(x as i32);
            $T(v, v)
        }
        #[inline(always)]
        unsafe fn from_array(a: [u32; 16]) -> Self {
            let p = a.as_ptr().cast::<__m256i>();
            $T(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            $T(_mm256_add_epi32(self.0, o.0), _mm256_add_epi32(self.1, o.1))
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            $T(_mm256_sub_epi32(self.0, o.0), _mm256_sub_epi32(self.1, o.1))
        }
        #[inline(always)]
        unsafe fn xor(self, o: Self) -> Self {
            $T(_mm256_xor_si256(self.0, o.0), _mm256_xor_si256(self.1, o.1))
        }
        #[inline(always)]
        unsafe fn or(self, o: Self) -> Self {
            $T(_mm256_or_si256(self.0, o.0), _mm256_or_si256(self.1, o.1))
        }
        #[inline(always)]
        unsafe fn shl9(self) -> Self {
            $T(
                _mm256_slli_epi32::<9>(self.0),
                _mm256_slli_epi32::<9>(self.1),
            )
        }
        #[inline(always)]
        unsafe fn shr31(self) -> Self {
            $T(
                _mm256_srli_epi32::<31>(self.0),
                _mm256_srli_epi32::<31>(self.1),
            )
        }
        #[inline(always)]
        unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
            let m = _mm256_set1_epi32(m as i32);
            let (h0, l0) = super::ymm::mulhilo8(self.0, m);
            let (h1, l1) = super::ymm::mulhilo8(self.1, m);
            ($T(h0, h1), $T(l0, l1))
        }
        #[inline(always)]
        unsafe fn store_bytes16(bits: u32, p: *mut u8) {
            super::ymm::bits_to_bytes16(bits, p)
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
    };
}
pub(super) use ymm_pair_methods;
