//! The C functions on `float` elements (generic bodies in `typed.rs`).

use crate::typed::*;
use crate::{dk_dropout, dk_status};

type E = f32;

/// Training forward pass of `n` elements at global index `offset` of
/// `stream`: kept elements times the training factor, dropped ones `+0.0`.
/// `y` may equal `x` (in place).
///
/// Errors: `DK_OFFSET_OVERFLOW`, `DK_NULL_POINTER`, `DK_OVERLAP`,
/// `DK_SIZE_OVERFLOW` (a buffer's end address overflows), any error of
/// `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { forward::<E>(d, stream, offset, x.cast(), y.cast(), n, Mask::None) }
}

/// The forward pass writing the keep bit mask in the same pass (bit
/// `i % 64` of `mask[i / 64]`, 1 = kept; `mask_words >= (n + 63) / 64`).
///
/// Errors: as the forward pass, and `DK_MASK_TOO_SMALL`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_with_mask_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const f32,
    y: *mut f32,
    n: usize,
    mask: *mut u64,
    mask_words: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        forward::<E>(
            d,
            stream,
            offset,
            x.cast(),
            y.cast(),
            n,
            Mask::Bits(mask, mask_words),
        )
    }
}

/// The forward pass writing one byte per element (1 kept, 0 dropped;
/// `mask_len >= n`).
///
/// Errors: as the forward pass, and `DK_MASK_TOO_SMALL`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_with_byte_mask_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const f32,
    y: *mut f32,
    n: usize,
    mask: *mut u8,
    mask_len: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        forward::<E>(
            d,
            stream,
            offset,
            x.cast(),
            y.cast(),
            n,
            Mask::Bytes(mask, mask_len),
        )
    }
}

/// Backward pass with the mask regenerated from `(stream, offset)`:
/// nothing stored. `dx` may equal `dy`.
///
/// Errors: as the forward pass.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { forward::<E>(d, stream, offset, dy.cast(), dx.cast(), n, Mask::None) }
}

/// Backward pass from a stored bit mask. `dx` may equal `dy`.
///
/// Errors: `DK_MASK_TOO_SMALL`, `DK_NULL_POINTER`, `DK_OVERLAP`,
/// `DK_SIZE_OVERFLOW`, any error of `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_from_mask_f32(
    d: *const dk_dropout,
    mask: *const u64,
    mask_words: usize,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        from_mask::<E>(
            d,
            Mask::Bits(mask.cast_mut(), mask_words),
            dy.cast(),
            dx.cast(),
            n,
        )
    }
}

/// Backward pass from a stored byte mask (non-zero = kept). `dx` may
/// equal `dy`.
///
/// Errors: as the backward pass from a bit mask.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_from_byte_mask_f32(
    d: *const dk_dropout,
    mask: *const u8,
    mask_len: usize,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        from_mask::<E>(
            d,
            Mask::Bytes(mask.cast_mut(), mask_len),
            dy.cast(),
            dx.cast(),
            n,
        )
    }
}

/// Inference: the identity under `DK_SCALING_INVERTED`, `x * (1 - rate)`
/// under `DK_SCALING_CLASSIC` (`+0.0` at rate 1). `y` may equal `x`.
///
/// Errors: `DK_NULL_POINTER`, `DK_OVERLAP`, `DK_SIZE_OVERFLOW`, any error
/// of `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_inference_f32(
    d: *const dk_dropout,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { inference::<E>(d, x.cast(), y.cast(), n) }
}

/// Monte-Carlo dropout: `samples` forward passes of `x`, sample `k` on
/// stream `dk_fold_in(stream, k)`, as the rows of `out` (`n * samples`
/// elements).
///
/// Errors: `DK_SHAPE_MISMATCH`, `DK_NULL_POINTER`, `DK_OVERLAP`,
/// `DK_SIZE_OVERFLOW`, any error of `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_mc_forward_f32(
    d: *const dk_dropout,
    stream: u64,
    x: *const f32,
    n: usize,
    out: *mut f32,
    samples: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { mc::<E>(d, stream, x.cast(), n, out.cast(), samples) }
}

/// The fused epilogue `y = residual + dropout(x + bias)` over rows of
/// `features` elements (`n` a multiple of it); `bias` (`features` elements)
/// and `residual` (`n`) may be null; `y` may equal `x` or `residual`. A NaN
/// result is the canonical quiet NaN.
///
/// Errors: `DK_NOT_WHOLE_ROWS`, `DK_OFFSET_OVERFLOW`, `DK_NULL_POINTER`,
/// `DK_OVERLAP`, `DK_SIZE_OVERFLOW`, any error of `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_fused_forward_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    x: *const f32,
    bias: *const f32,
    residual: *const f32,
    y: *mut f32,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        fused::<E>(
            d,
            stream,
            offset,
            features,
            x.cast(),
            bias.cast(),
            residual.cast(),
            y.cast(),
            n,
        )
    }
}

/// Backward of the fused epilogue, the mask regenerated: `dx = kept ? dy *
/// factor : 0` and, if `dbias` is not null, its column sums (summed in
/// `double` in a fixed order: the same bits for any thread count). The
/// residual's gradient is `dy` itself. `dx` must not overlap `dy`.
///
/// Errors: `DK_NOT_WHOLE_ROWS`, `DK_BIAS_MISMATCH`, `DK_OFFSET_OVERFLOW`,
/// `DK_NULL_POINTER`, `DK_OVERLAP`, `DK_SIZE_OVERFLOW`, any error of `*d`.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length (`n` elements unless said);
/// `d` null or valid.
#[no_mangle]
pub unsafe extern "C" fn dk_fused_backward_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
    dbias: *mut f32,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        fused_backward::<E>(
            d,
            stream,
            offset,
            features,
            dy.cast(),
            dx.cast(),
            n,
            dbias.cast(),
        )
    }
}

/// Training forward pass over a strided tensor with a broadcast mask (see
/// `dk_shape`): channel dropout, drop-path, locked dropout, any noise
/// shape, and strided views. `y` may equal `x` (in place, equal strides);
/// `x_len` and `y_len` are the buffers' elements.
///
/// Errors: any shape error (`DK_UNSUPPORTED_RANK`, `DK_RANK_MISMATCH`,
/// `DK_BAD_MASK_DIM`, `DK_VIEW_OUT_OF_BOUNDS`, `DK_SELF_OVERLAP`,
/// `DK_SIZE_OVERFLOW`, `DK_SLAB_OUT_OF_RANGE`), `DK_OFFSET_OVERFLOW`,
/// `DK_NULL_POINTER`, `DK_OVERLAP`, any error of `*d`. Nothing is written
/// on error. A rank above 8 is `DK_UNSUPPORTED_RANK` before the shape's
/// arrays are read. `DK_SELF_OVERLAP` is a conservative check of the
/// output strides (see its definition): some layouts with distinct
/// addresses, such as dims `{3, 3}` with strides `{2, 3}`, are refused.
///
/// Thread safe.
///
/// # Safety
/// Every pointer null or valid for its length; `d` and `shape` null or
/// valid, the shape's non-null arrays holding `rank` values (never read
/// when `rank` is above 8).
#[no_mangle]
pub unsafe extern "C" fn dk_forward_shaped_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    shape: *const crate::dk_shape,
    x: *const f32,
    x_len: usize,
    y: *mut f32,
    y_len: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        shaped::<E>(
            d,
            stream,
            offset,
            shape,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            false,
        )
    }
}

/// The gradient of `dk_forward_shaped_*` with the same stream, offset and
/// shape, regenerating the mask; `dx` may equal `dy`.
///
/// Errors: as the shaped forward pass.
///
/// Thread safe.
///
/// # Safety
/// As the shaped forward pass.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_shaped_f32(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    shape: *const crate::dk_shape,
    x: *const f32,
    x_len: usize,
    y: *mut f32,
    y_len: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe {
        shaped::<E>(
            d,
            stream,
            offset,
            shape,
            x.cast(),
            x_len,
            y.cast(),
            y_len,
            true,
        )
    }
}
