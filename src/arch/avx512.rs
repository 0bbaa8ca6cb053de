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
    /// ([`Bf16`]): measured faster with the whole layout on a Sapphire
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

/// For [`Data::apply_lanes`](crate::kernel::data::Data::apply_lanes): the
/// 16-bit mask of lanes `lo..lo + cnt` (`lo + cnt <= 16`) and the step's
/// lane-0 addresses, from lane `lo`'s (computed with wrapping arithmetic:
/// masked loads and stores touch only the lanes in the mask).
#[inline(always)]
fn masked_step<E>(
    src: *const E,
    dst: *mut E,
    lo: usize,
    cnt: usize,
) -> (__mmask16, *const E, *mut E) {
    (
        (((1u32 << cnt) - 1) << lo) as __mmask16,
        src.wrapping_sub(lo),
        dst.wrapping_sub(lo),
    )
}

/// `f16` rounding of `vcvtps2ph`: to nearest even.
const NEAREST_EVEN: i32 = _MM_FROUND_TO_NEAREST_INT;

/// `f64` in two 512-bit registers: each byte of the 16-bit keep mask
/// selects one register of 8 doubles (the `ymm` data side splits each
/// 8-lane mask over two registers of 4).
pub(crate) struct F64;

// SAFETY: AVX-512F loads, stores and zero-masked multiplies only, which `Mask16`'s
// contract guarantees; pointers as the trait requires.
unsafe impl<G: Mask16> crate::kernel::data::Data<G> for F64 {
    type E = f64;
    type S = __m512d;
    #[inline(always)]
    unsafe fn splat(s: f64) -> __m512d {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_set1_pd(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f64, dst: *mut f64, s: __m512d, k: G::Keep) {
        // SAFETY: AVX-512F is available; both pointers hold 16 doubles.
        unsafe {
            let keep = G::mask16(k);
            let (x0, x1) = (_mm512_loadu_pd(src), _mm512_loadu_pd(src.add(8)));
            _mm512_storeu_pd(dst, _mm512_maskz_mul_pd(keep as __mmask8, x0, s));
            _mm512_storeu_pd(
                dst.add(8),
                _mm512_maskz_mul_pd((keep >> 8) as __mmask8, x1, s),
            );
        }
    }
    const MASKED_LANES: bool = true;
    #[inline(always)]
    unsafe fn apply_lanes(
        src: *const f64,
        dst: *mut f64,
        s: __m512d,
        k: G::Keep,
        lo: usize,
        cnt: usize,
    ) {
        let (m, src, dst) = masked_step(src, dst, lo, cnt);
        // SAFETY: AVX-512F is available; lane `l` of the step is at
        // `src + l` / `dst + l`, valid for the lanes in `m` (caller's
        // contract), and masked loads and stores touch no other lane.
        unsafe {
            let keep = G::mask16(k);
            for (h, m, keep) in [
                (0, m as __mmask8, keep as __mmask8),
                (8, (m >> 8) as __mmask8, (keep >> 8) as __mmask8),
            ] {
                let x = _mm512_maskz_loadu_pd(m, src.wrapping_add(h));
                _mm512_mask_storeu_pd(dst.wrapping_add(h), m, _mm512_maskz_mul_pd(keep, x, s));
            }
        }
    }
}

/// `bf16` in one 512-bit register: widen 16 elements to `f32`, one `f32`
/// multiply under the 16-bit keep mask, round to nearest even with integer
/// operations (a NaN keeps its high half, so it stays the quiet NaN the
/// multiply made, exactly as `half::bf16::from_f32`), narrow. Two ways,
/// by generator layout ([`Mask16::WORD_PERMUTES`]):
/// - whole layout (measured on a Sapphire Rapids): `vpermw` widens and
///   narrows, one instruction each, and the rounding is a bit test and two
///   adds: 6 vector instructions per 16 elements against 11, 1.03-1.07x
///   the elements per ns of the other way (PERF.md);
/// - halves (the AMD default, measured on a Zen 5): a zero-extension and a
///   shift, the rounding bias masked to ordered lanes, `vpmovdw`.
///
/// AVX-512 BF16's `vcvtneps2bf16` was tried in place of the integer
/// rounding: it flushes subnormal results to zero, and the test for them
/// (`vfpclassps`, a branch per 16 elements) made it slower than the
/// integer rounding on a Zen 5 (0.82x the `f32` forward's elements per ns
/// in cache, against 0.87x; 1.05x without the test, which is not exact)
/// and no faster on a Sapphire Rapids.
pub(crate) struct Bf16;

/// `vpermw` indices: word `j` of the result from word `j / 2` (the odd
/// words are kept, the even ones zeroed by the mask).
const WIDEN: [u16; 32] = {
    let mut a = [0u16; 32];
    let mut j = 0;
    while j < 32 {
        a[j] = (j / 2) as u16;
        j += 1;
    }
    a
};

/// `vpermw` indices: word `l < 16` of the result from word `2l + 1`.
const NARROW: [u16; 32] = {
    let mut a = [0u16; 32];
    let mut l = 0;
    while l < 16 {
        a[l] = (2 * l + 1) as u16;
        l += 1;
    }
    a
};

// SAFETY: AVX-512F, VL and BW instructions only, which `Mask16`'s contract
// guarantees; pointers as the trait requires.
unsafe impl<G: Mask16> crate::kernel::data::Data<G> for Bf16 {
    type E = half::bf16;
    type S = __m512;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const half::bf16, dst: *mut half::bf16, s: __m512, k: G::Keep) {
        // SAFETY: AVX-512F/BW are available; both pointers hold 16 `bf16`.
        unsafe {
            let y = bf16_step::<G>(_mm256_loadu_si256(src.cast()), s, k);
            _mm256_storeu_si256(dst.cast(), y);
        }
    }
    const MASKED_LANES: bool = true;
    #[inline(always)]
    unsafe fn apply_lanes(
        src: *const half::bf16,
        dst: *mut half::bf16,
        s: __m512,
        k: G::Keep,
        lo: usize,
        cnt: usize,
    ) {
        let (m, src, dst) = masked_step(src, dst, lo, cnt);
        // SAFETY: AVX-512F/BW/VL are available; lane `l` of the step is at
        // `src + l` / `dst + l`, valid for the lanes in `m` (caller's
        // contract), and masked loads and stores touch no other lane.
        unsafe {
            let y = bf16_step::<G>(_mm256_maskz_loadu_epi16(m, src.cast()), s, k);
            _mm256_mask_storeu_epi16(dst.cast(), m, y);
        }
    }
}

/// [`Bf16`]'s 16 lanes in registers: the `bf16` bits in, the results out.
///
/// # Safety
/// AVX-512F and BW are available.
#[inline(always)]
unsafe fn bf16_step<G: Mask16>(raw: __m256i, s: __m512, k: G::Keep) -> __m256i {
    // SAFETY: AVX-512F/BW are available (caller's contract); register
    // operations only (and the index tables, which are in bounds).
    unsafe {
        let keep = G::mask16(k);
        if G::WORD_PERMUTES {
            // Word `l` to the high half of dword `l`, the low half zero:
            // the `f32` of the same value.
            let raw = _mm512_castsi256_si512(raw);
            let widen = _mm512_loadu_si512(WIDEN.as_ptr().cast());
            let x = _mm512_maskz_permutexvar_epi16(0xaaaa_aaaa, widen, raw);
            let y = _mm512_maskz_mul_ps(keep, _mm512_castsi512_ps(x), s);
            // Round to nearest even at bit 16: add 0x7fff, and one more
            // where bit 16 is set. The factor is never a NaN, so a NaN here
            // is a quieted input NaN or the default NaN of 0 * inf; the low
            // 16 bits of both are zero, so the add leaves the high half
            // alone.
            let b = _mm512_castps_si512(y);
            let odd = _mm512_test_epi32_mask(b, _mm512_set1_epi32(0x1_0000));
            let up = _mm512_add_epi32(b, _mm512_set1_epi32(0x7fff));
            let rounded = _mm512_mask_add_epi32(up, odd, b, _mm512_set1_epi32(0x8000));
            // The high word of each dword, in order, in the low half.
            let narrow = _mm512_loadu_si512(NARROW.as_ptr().cast());
            _mm512_castsi512_si256(_mm512_permutexvar_epi16(narrow, rounded))
        } else {
            let wide = _mm512_cvtepu16_epi32(raw);
            let x = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(wide));
            let y = _mm512_maskz_mul_ps(keep, x, s);
            let b = _mm512_castps_si512(y);
            let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
            let bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff));
            let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(y, y);
            let rounded = _mm512_mask_add_epi32(b, ordered, b, bias);
            _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(rounded))
        }
    }
}

/// `f32` in one 512-bit register under the 16-bit keep mask.
pub(crate) struct F32;

// SAFETY: AVX-512F loads, stores and zero-masked multiplies only, which `Mask16`'s
// contract guarantees; pointers as the trait requires.
unsafe impl<G: Mask16> crate::kernel::data::Data<G> for F32 {
    type E = f32;
    type S = __m512;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f32, dst: *mut f32, s: __m512, k: G::Keep) {
        // SAFETY: AVX-512F is available; both pointers hold 16 floats.
        unsafe {
            let keep = G::mask16(k);
            _mm512_storeu_ps(dst, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(src), s));
        }
    }
    const MASKED_LANES: bool = true;
    #[inline(always)]
    unsafe fn apply_lanes(
        src: *const f32,
        dst: *mut f32,
        s: __m512,
        k: G::Keep,
        lo: usize,
        cnt: usize,
    ) {
        let (m, src, dst) = masked_step(src, dst, lo, cnt);
        // SAFETY: AVX-512F is available; lane `l` of the step is at
        // `src + l` / `dst + l`, valid for the lanes in `m` (caller's
        // contract), and masked loads and stores touch no other lane.
        unsafe {
            let x = _mm512_maskz_loadu_ps(m, src);
            _mm512_mask_storeu_ps(dst, m, _mm512_maskz_mul_ps(G::mask16(k), x, s));
        }
    }
}

/// `f16` in one 512-bit register: AVX-512F's own `vcvtph2ps` and
/// `vcvtps2ph` (no F16C needed), one `f32` multiply under the 16-bit keep
/// mask, rounded back to nearest even (subnormals kept).
pub(crate) struct F16;

// SAFETY: AVX-512F, VL and BW instructions only, which `Mask16`'s
// contract guarantees; pointers as the trait requires.
unsafe impl<G: Mask16> crate::kernel::data::Data<G> for F16 {
    type E = half::f16;
    type S = __m512;
    #[inline(always)]
    unsafe fn splat(s: f32) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_set1_ps(s) }
    }
    #[inline(always)]
    unsafe fn apply16(src: *const half::f16, dst: *mut half::f16, s: __m512, k: G::Keep) {
        // SAFETY: AVX-512F is available; both pointers hold 16 `f16`.
        unsafe {
            let x = _mm512_cvtph_ps(_mm256_loadu_si256(src.cast()));
            let keep = G::mask16(k);
            let y = _mm512_maskz_mul_ps(keep, x, s);
            _mm256_storeu_si256(dst.cast(), _mm512_cvtps_ph::<NEAREST_EVEN>(y));
        }
    }
    const MASKED_LANES: bool = true;
    #[inline(always)]
    unsafe fn apply_lanes(
        src: *const half::f16,
        dst: *mut half::f16,
        s: __m512,
        k: G::Keep,
        lo: usize,
        cnt: usize,
    ) {
        let (m, src, dst) = masked_step(src, dst, lo, cnt);
        // SAFETY: AVX-512F/BW/VL are available; lane `l` of the step is at
        // `src + l` / `dst + l`, valid for the lanes in `m` (caller's
        // contract), and masked loads and stores touch no other lane.
        unsafe {
            let x = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src.cast()));
            let y = _mm512_maskz_mul_ps(G::mask16(k), x, s);
            _mm256_mask_storeu_epi16(dst.cast(), m, _mm512_cvtps_ph::<NEAREST_EVEN>(y));
        }
    }
}
