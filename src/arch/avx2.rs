//! AVX2: the 16 lanes are two `__m256i`. Reached only after runtime detection
//! (see `isa`), through the `#[target_feature]` entry points below.

use super::ymm::{f16c_module, ymm_pair_methods};
use crate::kernel::lanes::LANE_BITS;
use crate::kernel::{Gen16, LANES};
use core::arch::x86_64::*;

/// Sixteen `u32` lanes in two AVX2 registers (lanes 0..8, 8..16).
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256i, __m256i);

/// AVX2 has only signed compares: flipping the top bit of both sides makes a
/// signed compare order the words as unsigned.
const SIGN: i32 = i32::MIN;

/// # Safety
/// AVX2 is available.
#[inline(always)]
unsafe fn rotl<const L: i32, const R: i32>(a: __m256i) -> __m256i {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe { _mm256_or_si256(_mm256_slli_epi32::<L>(a), _mm256_srli_epi32::<R>(a)) }
}

// SAFETY: every method uses AVX2 (and the SSSE3 and AVX it implies) only; the
// trait contract requires AVX2, which `isa` checks before any entry point.
unsafe impl Gen16 for Avx2 {
    /// All-ones for kept lanes.
    type Keep = (__m256, __m256);

    ymm_pair_methods!(Avx2);

    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        // SAFETY: AVX2 is available (trait contract).
        unsafe { Avx2(rotl::<7, 25>(self.0), rotl::<7, 25>(self.1)) }
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        // SAFETY: AVX2 is available (trait contract).
        unsafe { Avx2(rotl::<11, 21>(self.0), rotl::<11, 21>(self.1)) }
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        // SAFETY: AVX2 is available (trait contract).
        unsafe { Self::splat(t ^ SIGN as u32) }
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> Self::Keep {
        // SAFETY: AVX2 is available (trait contract).
        unsafe {
            let sign = _mm256_set1_epi32(SIGN);
            let lt = |r: __m256i, t: __m256i| {
                _mm256_castsi256_ps(_mm256_cmpgt_epi32(t, _mm256_xor_si256(r, sign)))
            };
            (lt(self.0, t.0), lt(self.1, t.1))
        }
    }
    #[inline(always)]
    unsafe fn keep_bits(k: Self::Keep) -> u32 {
        // SAFETY: AVX is available (trait contract).
        unsafe { (_mm256_movemask_ps(k.0) as u32) | ((_mm256_movemask_ps(k.1) as u32) << 8) }
    }
    #[inline(always)]
    unsafe fn keep_from_bits(bits: u32) -> Self::Keep {
        // SAFETY: AVX2 is available (trait contract); `LANE_BITS` holds two
        // 256-bit halves.
        unsafe {
            let b = _mm256_set1_epi32(bits as i32);
            let lanes =
                |l: __m256i| _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, l), l));
            let p = LANE_BITS.as_ptr().cast::<__m256i>();
            (
                lanes(_mm256_loadu_si256(p)),
                lanes(_mm256_loadu_si256(p.add(1))),
            )
        }
    }
    #[inline(always)]
    unsafe fn keep_lanes(k: Self::Keep) -> [u32; LANES] {
        let mut lanes = [0u32; LANES];
        let p = lanes.as_mut_ptr().cast::<f32>();
        // SAFETY: AVX is available; `lanes` holds 16 words.
        unsafe {
            _mm256_storeu_ps(p, k.0);
            _mm256_storeu_ps(p.add(8), k.1);
        }
        lanes
    }
    #[inline(always)]
    unsafe fn keep_from_bytes(p: *const u8) -> Self::Keep {
        // SAFETY: AVX2 is available; `p` holds 16 bytes (trait contract).
        unsafe {
            let zero = _mm256_setzero_si256();
            let ones = _mm256_set1_epi32(-1);
            let nonzero = |q: *const u8| {
                let v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q.cast()));
                _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(v, zero), ones))
            };
            (nonzero(p), nonzero(p.add(8)))
        }
    }
}

crate::kernel::entry_points!(Avx2, "avx2");
crate::kernel::generator_entry!(Avx2, "avx2");
f16c_module!(Avx2, "avx2,f16c");
