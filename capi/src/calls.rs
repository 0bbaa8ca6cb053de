//! The exported functions that exist once, not per element type, besides
//! those of `dk_dropout` (`config.rs`) and of the status (`status.rs`): the
//! keep mask alone, mask sizes, stream derivation, the version.

use crate::descriptors::{mask_out, mask_shape};
use crate::{config, dk_dropout, dk_mask_shape, dk_site, dk_status, guard, slice, Fail};
use dropkit::{Error, MaskShape, MAX_RANK};
use std::ffi::{c_char, c_void};

/// The keep mask alone, of `elements` mask elements at `site`, into `mask`
/// (`mask_kind` `DK_MASK_BITS`: `mask_len` words, at least
/// `dk_mask_words(elements)`, bits past `elements` written 0;
/// `DK_MASK_BYTES`: `mask_len` bytes, at least `elements`): the mask every
/// pass at this site uses (for a mask shape: `elements` is its
/// `dk_mask_len`).
///
/// Errors: `DK_SIZE` (mask too small), `DK_OFFSET_OVERFLOW`,
/// `DK_UNSUPPORTED` (`DK_MASK_NONE`), `DK_INVALID_ARGUMENT` (unknown mask
/// kind, misaligned mask), `DK_NULL_POINTER`, `DK_SIZE_OVERFLOW`, any error
/// of `*d`.
///
/// Thread safe.
///
/// # Safety
/// `d` null or valid; `mask` null or valid for `mask_len` words or bytes.
#[no_mangle]
pub unsafe extern "C" fn dk_mask(
    d: *const dk_dropout,
    site: dk_site,
    mask_kind: u32,
    mask: *mut c_void,
    mask_len: usize,
    elements: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let cfg = unsafe { config(d) }?;
        // SAFETY: the caller's contract.
        let out = unsafe { mask_out(mask_kind, mask, mask_len, "mask") }?;
        let drop = cfg.drop;
        cfg.exec(elements, move || drop.mask(site.into(), out, elements))
    })
}

/// The mask elements of a call with mask shape `*shape` (`NULL`:
/// elementwise) on data of `rank` axes with extents `dims` (for a slab:
/// the slab's own rows), written to `*out`: the bytes a byte mask needs,
/// and `dk_mask_words` of it the words of a bit mask.
///
/// Errors: `DK_UNSUPPORTED_RANK` (0, above 8 — before `dims` is read — or
/// below what the shape needs), `DK_RANK_MISMATCH`, `DK_BAD_MASK_DIM`,
/// `DK_BAD_AXIS`, `DK_SLAB_OUT_OF_RANGE`, `DK_SIZE_OVERFLOW`, `DK_SIZE`
/// (more than 8 broadcast axes), `DK_INVALID_ARGUMENT` (unknown kind),
/// `DK_NULL_POINTER`.
///
/// Thread safe.
///
/// # Safety
/// `shape` null or valid (its `values` for `count`, never read above 8);
/// `dims` null or valid for `rank` values (never read above 8); `out` null
/// or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn dk_mask_len(
    shape: *const dk_mask_shape,
    rank: usize,
    dims: *const usize,
    out: *mut usize,
) -> dk_status {
    guard(|| {
        if rank == 0 || rank > MAX_RANK {
            return Err(Error::UnsupportedRank {
                rank,
                min: 1,
                max: MAX_RANK,
            }
            .into());
        }
        // SAFETY: the caller's contract; `rank` is at most 8.
        let dims = unsafe { slice(dims, rank, "dims") }?;
        // SAFETY: the caller's contract.
        let s: MaskShape = unsafe { mask_shape(shape, rank) }?;
        let n = s.mask_len(dims)?;
        // SAFETY: null is checked; otherwise the caller's contract.
        *unsafe { out.as_mut() }.ok_or_else(|| Fail::null("out"))? = n;
        Ok(())
    })
}

/// The words of a bit mask of `elements` mask elements: `(elements + 63) /
/// 64`. Thread safe.
#[no_mangle]
pub extern "C" fn dk_mask_words(elements: usize) -> usize {
    dropkit::mask_words(elements)
}

/// Derives a stream from `a` and `b` (a bijection of `b` for every `a`):
/// `dk_fold_in(dk_fold_in(layer, step), micro_batch)` is a layer's stream.
/// Thread safe.
#[no_mangle]
pub extern "C" fn dk_fold_in(a: u64, b: u64) -> u64 {
    dropkit::fold_in(a, b)
}

/// The library version, a static NUL-terminated string ("0.1.0"). Thread
/// safe.
#[no_mangle]
pub extern "C" fn dk_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
