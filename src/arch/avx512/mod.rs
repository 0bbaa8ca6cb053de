//! AVX-512 (F, VL and BW), in two register layouts of the same 16 lanes, chosen
//! per CPU ([`crate::isa::avx512_layout`]); both give the same bits.
//!
//! - [`Avx512`]: two 256-bit halves driven with AVX-512 instructions
//!   (`vprold`, `vpternlogd`, compares into mask registers). On an AMD Zen 4
//!   core, which runs a 512-bit operation as two 256-bit halves, one
//!   dependency chain per 16 lanes left the pipes half idle: two independent
//!   8-lane chains per step ran a 4096-element block at 8.0 elements/ns
//!   against 6.9 for one `zmm` chain, and four chains (two whole blocks side
//!   by side, `PAIR_BLOCKS`) at 8.8 (a throwaway microbenchmark, one
//!   thread, data in L1). With all 32 vector registers the two-block state
//!   fits without spills. The default on AMD CPUs.
//! - [`Avx512Whole`]: one 512-bit register per 16 lanes. Intel's cores run
//!   512-bit integer operations on two ports (0 and 5) and 256-bit ones on
//!   three, so the same work takes half the instructions for two thirds of
//!   the ports: on a Sapphire Rapids, the bare generator ran 1.4-1.5x as
//!   fast as on halves (PERF.md). The default on every other CPU.
//!
//! The data sides of every element type work on whole 512-bit registers
//! under one 16-bit keep mask ([`Mask16`]) in both layouts: one load,
//! multiply and store per 16 `f32`, and the half types widened and narrowed
//! 16 at a time (see PERF.md for what each gained).

use super::ymm::ymm_pair_methods;
use crate::kernel::{Gen16, LANES};
use core::arch::x86_64::*;

mod data;
pub(crate) use data::{Bf16, F16, F32, F64};

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

/// The entry points on two 256-bit halves.
pub(crate) mod halves {
    use super::Avx512;
    crate::kernel::entry_points!(Avx512, "avx512f,avx512vl,avx512bw");
    crate::kernel::generator_entry!(Avx512, "avx512f,avx512vl,avx512bw");
}

/// The one-instruction methods of [`Avx512Whole`]: `name: intrinsic(self)`
/// or `name: intrinsic(self, o)` on the inner registers.
macro_rules! zmm_ops {
    ($($name:ident: $f:ident $(::<$n:literal>)? (self $(, $o:ident)?)),* $(,)?) => {$(
        #[inline(always)]
        unsafe fn $name(self $(, $o: Self)?) -> Self {
            // SAFETY: AVX-512F is available (trait contract).
            unsafe { Avx512Whole($f $(::<$n>)? (self.0 $(, $o.0)?)) }
        }
    )*};
}

/// Sixteen `u32` lanes in one 512-bit register.
#[derive(Clone, Copy)]
pub(crate) struct Avx512Whole(__m512i);

// SAFETY: every method uses AVX-512F/VL only; the trait contract requires
// them, which `isa` checks before any entry point.
unsafe impl Gen16 for Avx512Whole {
    type Keep = __mmask16;
    const HAS_XOR3: bool = true;
    const UNROLL: usize = 4;
    const PAIR_BLOCKS: bool = true;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { Avx512Whole(_mm512_set1_epi32(x as i32)) }
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; 16]) -> Self {
        // SAFETY: AVX-512F is available; `a` holds 64 bytes.
        unsafe { Avx512Whole(_mm512_loadu_si512(a.as_ptr().cast())) }
    }
    zmm_ops! {
        add: _mm512_add_epi32(self, o),
        sub: _mm512_sub_epi32(self, o),
        xor: _mm512_xor_si512(self, o),
        or: _mm512_or_si512(self, o),
        shl9: _mm512_slli_epi32::<9>(self),
        shr31: _mm512_srli_epi32::<31>(self),
        rotl7: _mm512_rol_epi32::<7>(self),
        rotl11: _mm512_rol_epi32::<11>(self),
    }
    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { Avx512Whole(_mm512_ternarylogic_epi32::<0x96>(self.0, a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe {
            // Even lanes' products in place, odd lanes' from the lanes
            // shifted down; the odd lanes of each result blended in.
            const ODD: __mmask16 = 0xaaaa;
            let m = _mm512_set1_epi32(m as i32);
            let even = _mm512_mul_epu32(self.0, m);
            let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(self.0), m);
            let hi = _mm512_mask_blend_epi32(ODD, _mm512_srli_epi64::<32>(even), odd);
            let lo = _mm512_mask_blend_epi32(ODD, even, _mm512_slli_epi64::<32>(odd));
            (Avx512Whole(hi), Avx512Whole(lo))
        }
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { Self::splat(t) }
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> __mmask16 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_cmplt_epu32_mask(self.0, t.0) }
    }
    #[inline(always)]
    unsafe fn keep_bits(k: __mmask16) -> u32 {
        u32::from(k)
    }
    #[inline(always)]
    unsafe fn keep_from_bits(bits: u32) -> __mmask16 {
        bits as __mmask16
    }
    #[inline(always)]
    unsafe fn keep_lanes(k: __mmask16) -> [u32; LANES] {
        let mut lanes = [0u32; LANES];
        // SAFETY: AVX-512F is available; `lanes` holds 64 bytes.
        unsafe {
            let ones = _mm512_maskz_set1_epi32(k, -1);
            _mm512_storeu_si512(lanes.as_mut_ptr().cast(), ones);
        }
        lanes
    }
    #[inline(always)]
    unsafe fn keep_from_bytes(p: *const u8) -> __mmask16 {
        // SAFETY: AVX-512F is available; `p` holds 16 bytes.
        unsafe {
            let v = _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast()));
            _mm512_test_epi32_mask(v, v)
        }
    }
    #[inline(always)]
    unsafe fn store_bytes16(bits: u32, p: *mut u8) {
        // SAFETY: AVX-512F is available; `p` holds 16 bytes.
        unsafe {
            let ones = _mm512_maskz_set1_epi32(bits as __mmask16, 1);
            _mm_storeu_si128(p.cast(), _mm512_cvtepi32_epi8(ones));
        }
    }
}

/// The entry points on one 512-bit register.
pub(crate) mod whole {
    use super::Avx512Whole;
    crate::kernel::entry_points!(Avx512Whole, "avx512f,avx512vl,avx512bw");
    crate::kernel::generator_entry!(Avx512Whole, "avx512f,avx512vl,avx512bw");
}

/// The AVX-512 generators: their keep word as one 16-bit mask register.
///
/// # Safety
/// Implemented only by generators whose contract guarantees AVX-512F, VL
/// and BW.
pub(crate) unsafe trait Mask16: Gen16 {
    /// Whether the `bf16` data side widens and narrows with `vpermw`
    /// ([`data::Bf16`]): measured faster with the whole layout on a Sapphire
    /// Rapids; the halves, AMD's layout, keep the way measured on a Zen 5.
    const WORD_PERMUTES: bool;
    /// Lane `l`'s decision in bit `l`.
    ///
    /// # Safety
    /// AVX-512F is available.
    unsafe fn mask16(k: Self::Keep) -> __mmask16;
}

// SAFETY: `Avx512`'s contract guarantees AVX-512F, VL and BW.
unsafe impl Mask16 for Avx512 {
    const WORD_PERMUTES: bool = false;
    #[inline(always)]
    unsafe fn mask16(k: Self::Keep) -> __mmask16 {
        // SAFETY: AVX-512F is available (caller's contract).
        unsafe { Avx512::keep_bits(k) as __mmask16 }
    }
}

// SAFETY: `Avx512Whole`'s contract guarantees AVX-512F, VL and BW.
unsafe impl Mask16 for Avx512Whole {
    const WORD_PERMUTES: bool = true;
    #[inline(always)]
    unsafe fn mask16(k: __mmask16) -> __mmask16 {
        k
    }
}
