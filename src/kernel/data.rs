//! The data side of the kernel, one per element type: load 16 elements,
//! convert, scale-and-select by the step's keep word, convert back, store.
//! [`Lanewise`] does it for any type and ISA in plain per-lane code (which
//! the compiler vectorizes under each ISA's target features); the ISA
//! modules add hand-written data sides where that is faster (`f32`
//! everywhere, `f16` with F16C).

use super::lanes::Gen16;
use super::LANES;
use crate::num::{sealed::Sealed, Factor};
use core::marker::PhantomData;

/// How one element type turns 16 inputs and a keep word into 16 outputs.
///
/// # Safety
/// Methods may use `G`'s instructions: call them only where `G`'s ISA (and
/// any feature the implementation names) is available.
pub unsafe trait Data<G: Gen16> {
    /// The element type.
    type E: Sealed;
    /// The factor, in the form [`Data::apply16`] wants.
    type S: Copy;
    /// Prepares the factor once per call.
    ///
    /// # Safety
    /// The ISA is available.
    unsafe fn splat(s: Factor<Self::E>) -> Self::S;
    /// `dst[l] = keep(l) ? src[l] * s : +0.0` for `l in 0..16`.
    ///
    /// # Safety
    /// The ISA is available; `src` readable and `dst` writable for 16
    /// elements (they may be equal, but not partly overlap).
    unsafe fn apply16(src: *const Self::E, dst: *mut Self::E, s: Self::S, k: G::Keep);

    /// Whether [`Data::apply_lanes`] touches only its lanes' elements (masked
    /// loads and stores, as fast as [`Data::apply16`]) rather than going
    /// through a stack buffer: the strided walker then takes it for steps
    /// that cross a row's end.
    const MASKED_LANES: bool = false;

    /// Lanes `lo..lo + cnt` of a step (`lo + cnt <= 16`): `dst[l - lo] =
    /// keep(l) ? src[l - lo] * s : +0.0`, the pointers at lane `lo`'s
    /// element; nothing outside those `cnt` elements is read or written.
    ///
    /// # Safety
    /// As [`Data::apply16`], for those `cnt` elements.
    #[inline(always)]
    unsafe fn apply_lanes(
        src: *const Self::E,
        dst: *mut Self::E,
        s: Self::S,
        k: G::Keep,
        lo: usize,
        cnt: usize,
    ) {
        let mut buf = [<Self::E as Sealed>::ZERO; LANES];
        let p = buf.as_mut_ptr();
        // SAFETY: `cnt` elements are valid at both pointers and
        // `lo + cnt <= 16` (caller's contract); the step runs on the stack
        // buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(src, p.add(lo), cnt);
            Self::apply16(p, p, s, k);
            core::ptr::copy_nonoverlapping(p.add(lo), dst, cnt);
        }
    }
}

/// The per-lane data side of any element type.
pub struct Lanewise<E>(PhantomData<E>);

// SAFETY: plain Rust plus `G::keep_lanes`, which the caller's ISA runs.
unsafe impl<G: Gen16, E: Sealed> Data<G> for Lanewise<E> {
    type E = E;
    type S = Factor<E>;
    #[inline(always)]
    unsafe fn splat(s: Factor<E>) -> Factor<E> {
        s
    }
    #[inline(always)]
    unsafe fn apply16(src: *const E, dst: *mut E, s: Factor<E>, k: G::Keep) {
        // SAFETY: the caller guarantees the ISA and 16 valid elements.
        unsafe {
            let keep = G::keep_lanes(k);
            let x = src.cast::<[E; LANES]>().read_unaligned();
            let mut y = [E::ZERO; LANES];
            for l in 0..LANES {
                y[l] = E::lane(x[l], s, keep[l]);
            }
            dst.cast::<[E; LANES]>().write_unaligned(y);
        }
    }
}
