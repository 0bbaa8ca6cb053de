//! The generic bodies of the per-type C functions (`f32.rs`, `f64.rs`,
//! `f16.rs`, `bf16.rs`, one-line calls of these, written out so that
//! cbindgen sees every symbol).

use crate::{dk_dropout, dk_status, dropout, guard, overlap, slice, slice_mut, Fail, DK_OVERLAP};
use dropkit::{Element, Fused, Layout, Shaped, View, ViewMut, MAX_RANK};

/// The data and mask arguments of a forward-like call.
#[derive(Clone, Copy)]
pub(crate) enum Mask {
    None,
    Bits(*mut u64, usize),
    Bytes(*mut u8, usize),
}

impl Mask {
    fn overlaps<E>(self, p: *const E, n: usize) -> Result<bool, Fail> {
        match self {
            Mask::None => Ok(false),
            Mask::Bits(m, len) => overlap(m, len, p, n),
            Mask::Bytes(m, len) => overlap(m, len, p, n),
        }
    }
}

/// Forward (and mask-free backward): `y` may equal `x`.
///
/// # Safety
/// Pointers null or valid for their lengths; `d` null or valid.
pub(crate) unsafe fn forward<E: Element>(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const E,
    y: *mut E,
    n: usize,
    mask: Mask,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        let same = core::ptr::eq(x, y);
        if (!same && overlap(x, n, y, n)?) || mask.overlaps(x, n)? || mask.overlaps(y, n)? {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; the buffers do not overlap (checked
        // above) except `x == y`, which goes through the in-place call.
        unsafe {
            if same {
                let y = slice_mut(y, n)?;
                match mask {
                    Mask::None => d.forward_in_place(stream, offset, y)?,
                    Mask::Bits(m, w) => {
                        let m = slice_mut(m, w)?;
                        d.mask_bits(stream, offset, n, m)?;
                        d.forward_in_place(stream, offset, y)?;
                    }
                    Mask::Bytes(m, len) => {
                        let m = slice_mut(m, len)?;
                        d.mask_bytes(
                            stream,
                            offset,
                            m.get_mut(..n).ok_or(Fail(crate::DK_MASK_TOO_SMALL))?,
                        )?;
                        d.forward_in_place(stream, offset, y)?;
                    }
                }
                return Ok(());
            }
            let (x, y) = (slice(x, n)?, slice_mut(y, n)?);
            match mask {
                Mask::None => d.forward(stream, offset, x, y)?,
                Mask::Bits(m, w) => d.forward_with_mask(stream, offset, x, y, slice_mut(m, w)?)?,
                Mask::Bytes(m, len) => {
                    d.forward_with_byte_mask(stream, offset, x, y, slice_mut(m, len)?)?
                }
            }
        }
        Ok(())
    })
}

/// Backward from a stored mask: `dx` may equal `dy`.
///
/// # Safety
/// As [`forward`].
pub(crate) unsafe fn from_mask<E: Element>(
    d: *const dk_dropout,
    mask: Mask,
    dy: *const E,
    dx: *mut E,
    n: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        let same = core::ptr::eq(dy, dx);
        if (!same && overlap(dy, n, dx, n)?) || mask.overlaps(dx, n)? {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; no overlap but `dy == dx`.
        unsafe {
            let dx = slice_mut(dx, n)?;
            match (mask, same) {
                (Mask::Bits(m, w), true) => d.backward_from_mask_in_place(slice(m, w)?, dx)?,
                (Mask::Bits(m, w), false) => {
                    d.backward_from_mask(slice(m, w)?, slice(dy, n)?, dx)?
                }
                (Mask::Bytes(m, l), true) => {
                    d.backward_from_byte_mask_in_place(slice(m, l)?, dx)?
                }
                (Mask::Bytes(m, l), false) => {
                    d.backward_from_byte_mask(slice(m, l)?, slice(dy, n)?, dx)?
                }
                (Mask::None, _) => return Err(Fail(crate::DK_INTERNAL)),
            }
        }
        Ok(())
    })
}

/// Inference: `y` may equal `x`.
///
/// # Safety
/// As [`forward`].
pub(crate) unsafe fn inference<E: Element>(
    d: *const dk_dropout,
    x: *const E,
    y: *mut E,
    n: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        let same = core::ptr::eq(x, y);
        if !same && overlap(x, n, y, n)? {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; no overlap but `x == y`.
        unsafe {
            if same {
                d.inference_in_place(slice_mut(y, n)?)?;
            } else {
                d.inference(slice(x, n)?, slice_mut(y, n)?)?;
            }
        }
        Ok(())
    })
}

/// Monte-Carlo rows.
///
/// # Safety
/// As [`forward`]; `out` valid for `n * samples` elements.
pub(crate) unsafe fn mc<E: Element>(
    d: *const dk_dropout,
    stream: u64,
    x: *const E,
    n: usize,
    out: *mut E,
    samples: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        let total = n
            .checked_mul(samples)
            .ok_or(Fail(crate::DK_SHAPE_MISMATCH))?;
        if overlap(x, n, out, total)? {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; no overlap.
        unsafe { d.mc_forward(stream, slice(x, n)?, slice_mut(out, total)?, samples)? };
        Ok(())
    })
}

/// The fused epilogue: `y` may equal `x` or `residual`.
///
/// # Safety
/// As [`forward`]; `bias` null or valid for `features` elements.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn fused<E: Element>(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    x: *const E,
    bias: *const E,
    residual: *const E,
    y: *mut E,
    n: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        let has_r = !residual.is_null();
        let (on_x, on_r) = (core::ptr::eq(x, y), has_r && core::ptr::eq(residual, y));
        let clash = (on_x && on_r)
            || (!on_x && overlap(x, n, y, n)?)
            || (has_r && !on_r && overlap(residual, n, y, n)?)
            || (!bias.is_null() && overlap(bias, features, y, n)?);
        if clash {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; no overlap except the one output
        // aliasing that the in-place calls take.
        unsafe {
            let mut f = Fused::rows(features);
            if !bias.is_null() {
                f = f.bias(slice(bias, features)?);
            }
            if on_r {
                d.fused_forward_onto_residual(stream, offset, f, slice(x, n)?, slice_mut(y, n)?)?;
                return Ok(());
            }
            if has_r {
                f = f.residual(slice(residual, n)?);
            }
            if on_x {
                d.fused_forward_in_place(stream, offset, f, slice_mut(y, n)?)?;
            } else {
                d.fused_forward(stream, offset, f, slice(x, n)?, slice_mut(y, n)?)?;
            }
        }
        Ok(())
    })
}

/// The fused backward: `dx` must not overlap `dy`; `dbias` null or
/// `features` long.
///
/// # Safety
/// As [`forward`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn fused_backward<E: Element>(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    dy: *const E,
    dx: *mut E,
    n: usize,
    dbias: *mut E,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        if overlap(dy, n, dx, n)?
            || (!dbias.is_null()
                && (overlap(dbias, features, dx, n)? || overlap(dbias, features, dy, n)?))
        {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; no overlap.
        unsafe {
            let dbias = if dbias.is_null() {
                None
            } else {
                Some(slice_mut(dbias, features)?)
            };
            d.fused_backward(
                stream,
                offset,
                features,
                slice(dy, n)?,
                slice_mut(dx, n)?,
                dbias,
            )?;
        }
        Ok(())
    })
}

/// A shaped forward (`backward`: the mask-free backward): `y` may equal
/// `x` (in place, with equal strides); `x_len`, `y_len` are the buffers'
/// elements.
///
/// The shape's rank is checked against `MAX_RANK` before any slice of
/// its arrays is made.
///
/// # Safety
/// Pointers null or valid for their lengths (the shape's arrays for
/// `rank`, when `rank` is at most `MAX_RANK`); `d` and `shape` null or
/// valid.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn shaped<E: Element>(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    shape: *const crate::dk_shape,
    x: *const E,
    x_len: usize,
    y: *mut E,
    y_len: usize,
    backward: bool,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { dropout(d) }?;
        // SAFETY: null is checked; otherwise the caller's contract.
        let s = unsafe { shape.as_ref() }.ok_or(Fail(crate::DK_NULL_POINTER))?;
        // The rank first: no array of more than `MAX_RANK` values is ever
        // made from the caller's pointers (rank 0 is refused by `Layout`).
        if s.rank > MAX_RANK {
            return Err(Fail(crate::DK_UNSUPPORTED_RANK));
        }
        let opt = |p: *const usize| -> Result<Option<&[usize]>, Fail> {
            if p.is_null() {
                Ok(None)
            } else {
                // SAFETY: the caller's contract: a non-null array holds
                // `rank` values.
                unsafe { slice(p, s.rank) }.map(Some)
            }
        };
        // SAFETY: as above, for the extents.
        let dims = unsafe { slice(s.dims, s.rank) }?;
        let (xs, ys, mask) = (opt(s.x_strides)?, opt(s.y_strides)?, opt(s.mask_dims)?);
        let layout = |strides: Option<&[usize]>| match strides {
            Some(st) => Layout::strided(dims, st),
            None => Layout::dense(dims),
        };
        let (xl, yl) = (layout(xs)?, layout(ys)?);
        let mut spec = mask.map_or(Shaped::elementwise(), Shaped::noise_shape);
        if s.slab_total > 0 {
            spec = spec.slab(s.slab_start, s.slab_total);
        }
        if core::ptr::eq(x, y) {
            if xl != yl {
                return Err(Fail(DK_OVERLAP));
            }
            // SAFETY: the caller's contract.
            let mut v = ViewMut::new(unsafe { slice_mut(y, y_len) }?, yl)?;
            if backward {
                d.backward_shaped_in_place(stream, offset, &spec, &mut v)?;
            } else {
                d.forward_shaped_in_place(stream, offset, &spec, &mut v)?;
            }
            return Ok(());
        }
        if overlap(x, x_len, y, y_len)? {
            return Err(Fail(DK_OVERLAP));
        }
        // SAFETY: the caller's contract; the buffers do not overlap.
        let (xb, yb) = unsafe { (slice(x, x_len)?, slice_mut(y, y_len)?) };
        let (xv, mut yv) = (View::new(xb, xl)?, ViewMut::new(yb, yl)?);
        if backward {
            d.backward_shaped(stream, offset, &spec, &xv, &mut yv)?;
        } else {
            d.forward_shaped(stream, offset, &spec, &xv, &mut yv)?;
        }
        Ok(())
    })
}
