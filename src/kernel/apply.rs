//! Applying a stored mask (the backward pass from a bit or byte mask).

use super::data::Data;
use super::lanes::Gen16;
use super::walk::{Out, Scaled};
use super::{MaskPtr, LANES};
use crate::num::Factor;

/// `dst[i] = keep(i) ? src[i] * s : +0.0` with `keep(i)` read from `mask`
/// (bit `i % 64` of word `i / 64`, or byte `i` non-zero).
///
/// # Safety
/// `G`'s ISA is available; `src`, `dst` valid for `n` elements (may be
/// equal); the mask valid for `n` bits or bytes; `mask` is not `None`.
#[inline(always)]
pub unsafe fn apply_mask<G: Gen16, D: Data<G>>(
    mask: MaskPtr,
    src: *const D::E,
    dst: *mut D::E,
    n: usize,
    s: Factor<D::E>,
) {
    // SAFETY: the caller guarantees the ISA and `n` valid elements of every
    // buffer.
    unsafe { drive::<G, _>(mask, n, &mut Scaled::<G, D>::new(src, dst, s)) }
}

/// Drives `out` over `n` elements with the keep words read from `mask`.
///
/// # Safety
/// `G`'s ISA is available; `out` valid for `n` elements; the mask valid for
/// `n` bits or bytes and not `None`.
#[inline(always)]
pub unsafe fn drive<G: Gen16, O: Out<G>>(mask: MaskPtr, n: usize, out: &mut O) {
    // SAFETY: positions below stay inside `0..n` (caller's contract).
    unsafe {
        let mut i = 0;
        while i + LANES <= n {
            out.full(i, stored_keep::<G>(mask, i));
            i += LANES;
        }
        if i < n {
            let k = match mask {
                MaskPtr::Bytes(bytes) => {
                    let mut w = [0u8; LANES];
                    core::ptr::copy_nonoverlapping(bytes.add(i), w.as_mut_ptr(), n - i);
                    G::keep_from_bytes(w.as_ptr())
                }
                _ => stored_keep::<G>(mask, i),
            };
            out.partial(i, k, 0, n - i);
        }
    }
}

/// The keep word of elements `i..i + 16` of a stored mask; `i` is a
/// multiple of 16, so the 16 bits never straddle two words.
///
/// # Safety
/// `G`'s ISA is available; the mask holds those elements (for bytes: all
/// 16 of them).
#[inline(always)]
unsafe fn stored_keep<G: Gen16>(mask: MaskPtr, i: usize) -> G::Keep {
    // SAFETY: the caller guarantees the ISA and the mask's extent.
    unsafe {
        match mask {
            MaskPtr::Bits(words) => {
                G::keep_from_bits((words.add(i / 64).read() >> (i % 64)) as u32 & 0xffff)
            }
            MaskPtr::Bytes(bytes) => G::keep_from_bytes(bytes.add(i)),
            MaskPtr::None => G::keep_from_bits(0xffff),
        }
    }
}
