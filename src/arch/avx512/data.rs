//! The AVX-512 data sides of the four element types, generic over the
//! generator layout ([`Mask16`]): whole 512-bit registers under one 16-bit
//! keep mask, and masked loads and stores for part of a step.

use super::Mask16;
use core::arch::x86_64::*;

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
