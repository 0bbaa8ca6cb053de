//! The C functions on `uint16_t` bits of IEEE binary16 (`f16`) elements (generic bodies in `typed.rs`).

use crate::typed::*;
use crate::{dk_dropout, dk_status};

type E = dropkit::half::f16;

/// `dk_forward_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_forward_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { forward::<E>(d, stream, offset, x.cast(), y.cast(), n, Mask::None) }
}

/// `dk_forward_with_mask_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_forward_with_mask_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_with_mask_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const u16,
    y: *mut u16,
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

/// `dk_forward_with_byte_mask_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_forward_with_byte_mask_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_forward_with_byte_mask_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    x: *const u16,
    y: *mut u16,
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

/// `dk_backward_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_backward_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    dy: *const u16,
    dx: *mut u16,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { forward::<E>(d, stream, offset, dy.cast(), dx.cast(), n, Mask::None) }
}

/// `dk_backward_from_mask_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_backward_from_mask_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_from_mask_f16(
    d: *const dk_dropout,
    mask: *const u64,
    mask_words: usize,
    dy: *const u16,
    dx: *mut u16,
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

/// `dk_backward_from_byte_mask_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_backward_from_byte_mask_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_backward_from_byte_mask_f16(
    d: *const dk_dropout,
    mask: *const u8,
    mask_len: usize,
    dy: *const u16,
    dx: *mut u16,
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

/// `dk_inference_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_inference_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_inference_f16(
    d: *const dk_dropout,
    x: *const u16,
    y: *mut u16,
    n: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { inference::<E>(d, x.cast(), y.cast(), n) }
}

/// `dk_mc_forward_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_mc_forward_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_mc_forward_f16(
    d: *const dk_dropout,
    stream: u64,
    x: *const u16,
    n: usize,
    out: *mut u16,
    samples: usize,
) -> dk_status {
    // SAFETY: forwarded contract.
    unsafe { mc::<E>(d, stream, x.cast(), n, out.cast(), samples) }
}

/// `dk_fused_forward_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_fused_forward_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_fused_forward_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    x: *const u16,
    bias: *const u16,
    residual: *const u16,
    y: *mut u16,
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

/// `dk_fused_backward_f32` on `uint16_t` bits of IEEE binary16 (`f16`) elements.
///
/// # Safety
/// As `dk_fused_backward_f32`.
#[no_mangle]
pub unsafe extern "C" fn dk_fused_backward_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    features: usize,
    dy: *const u16,
    dx: *mut u16,
    n: usize,
    dbias: *mut u16,
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
pub unsafe extern "C" fn dk_forward_shaped_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    shape: *const crate::dk_shape,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
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
pub unsafe extern "C" fn dk_backward_shaped_f16(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    shape: *const crate::dk_shape,
    x: *const u16,
    x_len: usize,
    y: *mut u16,
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
