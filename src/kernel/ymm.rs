//! What the two x86-64 implementations share: both hold the 16 lanes as two
//! 256-bit halves (lanes 0..8, 8..16), so their plain integer methods are
//! the same AVX2 instructions, and their `f16` data sides the same F16C
//! conversions. Only the rotates, the compare, the keep type and the masked
//! multiply differ.

use core::arch::x86_64::*;

/// `(high, low)` of the eight 32x32-bit products of `a` and `m`.
///
/// # Safety
/// AVX2 is available.
#[inline(always)]
pub(super) unsafe fn mulhilo8(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe {
        let even = _mm256_mul_epu32(a, m);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
        let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        (hi, lo)
    }
}

/// 16 keep bits to 16 bytes of 0 or 1: broadcast, route byte 0 to lanes
/// 0..8 and byte 1 to 8..16, test each lane's bit (SSSE3).
///
/// # Safety
/// SSSE3 (implied by AVX2) is available; `p` is valid for 16 bytes.
#[inline(always)]
pub(super) unsafe fn bits_to_bytes16(bits: u32, p: *mut u8) {
    // SAFETY: SSSE3 is available and `p` holds 16 bytes (caller's contract).
    unsafe {
        let v = _mm_set1_epi16(bits as i16);
        let routed = _mm_shuffle_epi8(
            v,
            _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
        );
        let lane_bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
        let set = _mm_cmpeq_epi8(_mm_and_si128(routed, lane_bit), lane_bit);
        _mm_storeu_si128(p.cast(), _mm_and_si128(set, _mm_set1_epi8(1)));
    }
}

/// Loads 16 `f16` and widens them to two vectors of 8 `f32` (F16C).
///
/// # Safety
/// AVX and F16C are available; `p` is valid for 16 `u16`.
#[inline(always)]
pub(super) unsafe fn load_f16x16(p: *const half::f16) -> (__m256, __m256) {
    // SAFETY: as the caller guarantees.
    unsafe {
        let lo = _mm_loadu_si128(p.cast());
        let hi = _mm_loadu_si128(p.add(8).cast());
        (_mm256_cvtph_ps(lo), _mm256_cvtph_ps(hi))
    }
}

/// Rounds two vectors of 8 `f32` to nearest-even `f16` and stores them (F16C).
///
/// # Safety
/// AVX and F16C are available; `p` is valid for 16 `u16`.
#[inline(always)]
pub(super) unsafe fn store_f16x16(p: *mut half::f16, v: (__m256, __m256)) {
    const NEAREST_EVEN: i32 = _MM_FROUND_TO_NEAREST_INT;
    // SAFETY: as the caller guarantees.
    unsafe {
        _mm_storeu_si128(p.cast(), _mm256_cvtps_ph::<NEAREST_EVEN>(v.0));
        _mm_storeu_si128(p.add(8).cast(), _mm256_cvtps_ph::<NEAREST_EVEN>(v.1));
    }
}

/// The `Gen16` methods that are the same for both two-halves types
/// (`$T(__m256i, __m256i)`); expanded inside each `unsafe impl Gen16`,
/// whose contract guarantees AVX2.
macro_rules! ymm_pair_methods {
    ($T:ident) => {
        #[inline(always)]
        unsafe fn splat(x: u32) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            let v = unsafe { _mm256_set1_epi32(x as i32) };
            $T(v, v)
        }
        #[inline(always)]
        unsafe fn from_array(a: [u32; 16]) -> Self {
            let p = a.as_ptr().cast::<__m256i>();
            // SAFETY: AVX2 is available; `a` holds two 256-bit halves.
            unsafe { $T(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1))) }
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe { $T(_mm256_add_epi32(self.0, o.0), _mm256_add_epi32(self.1, o.1)) }
        }
        #[inline(always)]
        unsafe fn sub(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe { $T(_mm256_sub_epi32(self.0, o.0), _mm256_sub_epi32(self.1, o.1)) }
        }
        #[inline(always)]
        unsafe fn xor(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe { $T(_mm256_xor_si256(self.0, o.0), _mm256_xor_si256(self.1, o.1)) }
        }
        #[inline(always)]
        unsafe fn or(self, o: Self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe { $T(_mm256_or_si256(self.0, o.0), _mm256_or_si256(self.1, o.1)) }
        }
        #[inline(always)]
        unsafe fn shl9(self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe {
                $T(
                    _mm256_slli_epi32::<9>(self.0),
                    _mm256_slli_epi32::<9>(self.1),
                )
            }
        }
        #[inline(always)]
        unsafe fn shr31(self) -> Self {
            // SAFETY: AVX2 is available (trait contract).
            unsafe {
                $T(
                    _mm256_srli_epi32::<31>(self.0),
                    _mm256_srli_epi32::<31>(self.1),
                )
            }
        }
        #[inline(always)]
        unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
            // SAFETY: AVX2 is available (trait contract).
            unsafe {
                let m = _mm256_set1_epi32(m as i32);
                let (h0, l0) = super::ymm::mulhilo8(self.0, m);
                let (h1, l1) = super::ymm::mulhilo8(self.1, m);
                ($T(h0, h1), $T(l0, l1))
            }
        }
        #[inline(always)]
        unsafe fn store_bytes16(bits: u32, p: *mut u8) {
            // SAFETY: AVX2 (so SSSE3) is available; `p` holds 16 bytes
            // (trait contract).
            unsafe { super::ymm::bits_to_bytes16(bits, p) }
        }
    };
}
pub(super) use ymm_pair_methods;

/// A module `f16c` with the F16C `f16` data side of generator `$G` (keep
/// type `(K, K)`, applied by `$select(keep half, product)`) and its entry
/// points under `$feat`.
macro_rules! f16c_module {
    ($G:ident, $feat:literal, $select:path) => {
        /// `f16` through F16C: widen 16 elements, one `f32` multiply,
        /// select, round back to nearest even. Reached only where the CPU has
        /// F16C as well.
        pub(crate) mod f16c {
            use super::$G;
            use core::arch::x86_64::*;

            /// The F16C data side.
            pub(crate) struct F16;

            // SAFETY: uses this ISA's and F16C's instructions only, which
            // the entry points below enable and the dispatcher checks.
            unsafe impl crate::kernel::data::Data<$G> for F16 {
                type E = half::f16;
                type S = __m256;
                #[inline(always)]
                unsafe fn splat(s: f32) -> __m256 {
                    // SAFETY: AVX is available (trait contract).
                    unsafe { _mm256_set1_ps(s) }
                }
                #[inline(always)]
                unsafe fn apply16(
                    src: *const half::f16,
                    dst: *mut half::f16,
                    s: __m256,
                    k: <$G as crate::kernel::Gen16>::Keep,
                ) {
                    // SAFETY: the ISA and F16C are available and both
                    // pointers hold 16 elements (trait contract).
                    unsafe {
                        let x = crate::kernel::ymm::load_f16x16(src);
                        let y = ($select(k.0, x.0, s), $select(k.1, x.1, s));
                        crate::kernel::ymm::store_f16x16(dst, y);
                    }
                }
            }

            crate::kernel::entry_points!($G, $feat);
        }
    };
}
pub(super) use f16c_module;
