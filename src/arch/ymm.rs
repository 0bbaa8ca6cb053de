//! What the two x86-64 implementations share: both hold the 16 lanes as two
//! 256-bit halves (lanes 0..8, 8..16), so their plain integer methods are
//! the same AVX2 instructions, and their `f16` data sides the same F16C
//! conversions. Only the rotates, the compare, the keep type and the masked
//! multiply differ.

use crate::kernel::data::Data;
use crate::kernel::Gen16;
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

/// The keep word of 8 lanes on the AVX2 generator (lane masks), and the
/// selects the data sides need. (The AVX-512 generator's mask registers
/// have data sides of their own, in `avx512`.)
///
/// # Safety
/// Implemented only for the keep halves of generators whose contract
/// guarantees AVX2; the methods may use its instructions.
pub(super) unsafe trait HalfKeep: Copy {
    /// `keep ? x * s : +0.0` on 8 `f32` lanes (one multiply).
    unsafe fn mul_ps(self, x: __m256, s: __m256) -> __m256;
    /// The same on 4 `f64` lanes: lanes 4..8 of the half if `HIGH`, else
    /// lanes 0..4.
    unsafe fn mul_pd<const HIGH: bool>(self, x: __m256d, s: __m256d) -> __m256d;
}

// SAFETY: AVX2 instructions only; AVX2 generators guarantee them.
unsafe impl HalfKeep for __m256 {
    #[inline(always)]
    unsafe fn mul_ps(self, x: __m256, s: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_and_ps(_mm256_mul_ps(x, s), self) }
    }
    #[inline(always)]
    unsafe fn mul_pd<const HIGH: bool>(self, x: __m256d, s: __m256d) -> __m256d {
        // SAFETY: AVX2 is available (trait contract).
        unsafe {
            let m = _mm256_castps_si256(self);
            let m = if HIGH {
                _mm256_extracti128_si256::<1>(m)
            } else {
                _mm256_castsi256_si128(m)
            };
            let wide = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(m));
            _mm256_and_pd(_mm256_mul_pd(x, s), wide)
        }
    }
}

/// `f32`: one multiply and select per half.
pub(crate) struct F32;

// SAFETY: AVX loads and stores and `HalfKeep`'s selects, which the
// generator's ISA runs; pointers as the trait requires.
unsafe impl<G: Gen16<Keep = (K, K)>, K: HalfKeep> Data<G> for F32 {
    type E = f32;
    type S = __m256;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f32, dst: *mut f32, s: __m256, k: (K, K)) {
        // SAFETY: the ISA is available; both pointers hold 16 floats.
        unsafe {
            let (x0, x1) = (_mm256_loadu_ps(src), _mm256_loadu_ps(src.add(8)));
            _mm256_storeu_ps(dst, k.0.mul_ps(x0, s));
            _mm256_storeu_ps(dst.add(8), k.1.mul_ps(x1, s));
        }
    }
}

/// `f64`: four registers of 4 lanes, one multiply and select each.
pub(crate) struct F64;

// SAFETY: as for `F32`.
unsafe impl<G: Gen16<Keep = (K, K)>, K: HalfKeep> Data<G> for F64 {
    type E = f64;
    type S = __m256d;
    #[inline(always)]
    unsafe fn splat(s: f64) -> __m256d {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_set1_pd(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f64, dst: *mut f64, s: __m256d, k: (K, K)) {
        // SAFETY: the ISA is available; both pointers hold 16 doubles.
        unsafe {
            let x = [0, 4, 8, 12].map(|i| _mm256_loadu_pd(src.add(i)));
            _mm256_storeu_pd(dst, k.0.mul_pd::<false>(x[0], s));
            _mm256_storeu_pd(dst.add(4), k.0.mul_pd::<true>(x[1], s));
            _mm256_storeu_pd(dst.add(8), k.1.mul_pd::<false>(x[2], s));
            _mm256_storeu_pd(dst.add(12), k.1.mul_pd::<true>(x[3], s));
        }
    }
}

/// `bf16`: widen by a shift, one `f32` multiply and select, round back to
/// nearest even with integer operations (NaN kept and made quiet, exactly
/// as `half::bf16::from_f32`).
pub(crate) struct Bf16;

/// Eight `f32` (as bits) to `bf16` in the low half of each 32-bit lane.
///
/// # Safety
/// AVX2 is available.
#[inline(always)]
unsafe fn narrow_bf16(y: __m256) -> __m256i {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe {
        let b = _mm256_castps_si256(y);
        let lsb = _mm256_and_si256(_mm256_srli_epi32::<16>(b), _mm256_set1_epi32(1));
        // A NaN gets no rounding bias (its carry could reach the sign); it
        // is quiet already (it came out of a multiply), as `from_f32` makes it.
        let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(y, y));
        let bias = _mm256_andnot_si256(nan, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
        _mm256_srli_epi32::<16>(_mm256_add_epi32(b, bias))
    }
}

// SAFETY: AVX2 instructions and `HalfKeep`'s selects; pointers as the trait
// requires.
unsafe impl<G: Gen16<Keep = (K, K)>, K: HalfKeep> Data<G> for Bf16 {
    type E = half::bf16;
    type S = __m256;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const half::bf16, dst: *mut half::bf16, s: __m256, k: (K, K)) {
        // SAFETY: AVX2 is available; both pointers hold 16 `bf16`.
        unsafe {
            // Quads (0-3, 8-11 | 4-7, 12-15), so that unpacking each 128-bit
            // lane puts elements 0..8 in `lo` and 8..16 in `hi`, each in the
            // high half of a 32-bit lane: exactly its `f32` widening.
            let h = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_loadu_si256(src.cast()));
            let zero = _mm256_setzero_si256();
            let lo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, h));
            let hi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, h));
            let lo = narrow_bf16(k.0.mul_ps(lo, s));
            let hi = narrow_bf16(k.1.mul_ps(hi, s));
            // packus works per 128-bit lane: quads (0-3, 8-11 | 4-7, 12-15).
            let packed = _mm256_packus_epi32(lo, hi);
            let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(packed);
            _mm256_storeu_si256(dst.cast(), ordered);
        }
    }
}

/// A module `f16c` with the entry points of the F16C `f16` data side for
/// generator `$G`, under `$feat` (which includes `f16c`).
macro_rules! f16c_module {
    ($G:ident, $feat:literal) => {
        /// `f16` through F16C: widen 16 elements, one `f32` multiply,
        /// select, round back to nearest even. Reached only where the CPU has
        /// F16C as well.
        pub(crate) mod f16c {
            use super::$G;
            pub(crate) use crate::arch::ymm::F16c as F16;

            crate::kernel::entry_points!($G, $feat);
        }
    };
}
pub(super) use f16c_module;

/// `f16` through F16C (only behind entry points that enable it).
pub(crate) struct F16c;

// SAFETY: F16C and AVX instructions and `HalfKeep`'s selects; only
// instantiated behind entry points that enable F16C, reached after
// detection.
unsafe impl<G: Gen16<Keep = (K, K)>, K: HalfKeep> Data<G> for F16c {
    type E = half::f16;
    type S = __m256;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const half::f16, dst: *mut half::f16, s: __m256, k: (K, K)) {
        // SAFETY: AVX and F16C are available; both pointers hold 16 `f16`.
        unsafe {
            let x = load_f16x16(src);
            store_f16x16(dst, (k.0.mul_ps(x.0, s), k.1.mul_ps(x.1, s)));
        }
    }
}
