//! The C ABI of dropkit: plain C types, a status code from every call,
//! nothing written on error, and no panic or unwind across the boundary.
//! The header `include/dropkit.h` is generated from this file by cbindgen
//! (`tests/header.rs` fails when the checked-in copy differs).
//!
//! Conventions of every function: a null pointer with a non-zero length is
//! `DK_NULL_POINTER`; a buffer whose byte length or end address (pointer
//! plus length times element size) overflows is `DK_SIZE_OVERFLOW`; an
//! input may equal its output (in place) but must not otherwise overlap it
//! (`DK_OVERLAP`); `f16` and `bf16` elements travel as their `uint16_t`
//! bits; every function is thread safe (a `dk_dropout` is an immutable
//! value, re-validated by every call).
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod bf16;
mod f16;
mod f32;
mod f64;
mod typed;

use dropkit::{Dropout, Error, Scaling, Threading};
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use bf16::*;
pub use f16::*;
pub use f32::*;
pub use f64::*;

/// The status every function returns: `DK_OK` or the reason nothing was
/// done.
pub type dk_status = i32;

/// Success.
pub const DK_OK: dk_status = 0;
/// The rate is NaN, infinite, negative or above 1.
pub const DK_INVALID_RATE: dk_status = 1;
/// The keep probability is NaN, infinite, negative or above 1.
pub const DK_INVALID_KEEP_PROB: dk_status = 2;
/// Input and output lengths differ (C calls take one length; kept for
/// symmetry with the Rust API).
pub const DK_LENGTH_MISMATCH: dk_status = 3;
/// A mask buffer is too short for the elements.
pub const DK_MASK_TOO_SMALL: dk_status = 4;
/// `offset + n` does not fit in 64 bits.
pub const DK_OFFSET_OVERFLOW: dk_status = 5;
/// A forced instruction set this CPU lacks.
pub const DK_ISA_UNAVAILABLE: dk_status = 6;
/// A length does not match the shape (Monte-Carlo rows).
pub const DK_SHAPE_MISMATCH: dk_status = 7;
/// Fused data that is not whole rows of `features` (or `features` is 0).
pub const DK_NOT_WHOLE_ROWS: dk_status = 8;
/// A fused bias of the wrong length.
pub const DK_BIAS_MISMATCH: dk_status = 9;
/// A null pointer with a non-zero length (or a null `dk_dropout`).
pub const DK_NULL_POINTER: dk_status = 10;
/// An input that overlaps its output without being equal to it.
pub const DK_OVERLAP: dk_status = 11;
/// An unknown scaling or threading value, or a zero thread count.
pub const DK_INVALID_ARGUMENT: dk_status = 12;
/// `dk_threads_init` after the pool already started.
pub const DK_THREADS_ALREADY_STARTED: dk_status = 13;
/// An internal error caught at the boundary (a bug: please report it).
pub const DK_INTERNAL: dk_status = 14;
/// A shape's rank is 0, above 8, or below what the call needs.
pub const DK_UNSUPPORTED_RANK: dk_status = 15;
/// Two shapes of a call have different ranks.
pub const DK_RANK_MISMATCH: dk_status = 16;
/// Input and output extents differ along an axis.
pub const DK_DIM_MISMATCH: dk_status = 17;
/// A mask extent is neither 1 nor the data's.
pub const DK_BAD_MASK_DIM: dk_status = 18;
/// An axis out of range.
pub const DK_BAD_AXIS: dk_status = 19;
/// A buffer is too short for its shape and strides.
pub const DK_VIEW_OUT_OF_BOUNDS: dk_status = 20;
/// An output layout (`y_strides`) whose elements dropkit cannot prove to
/// be at distinct addresses. The check is conservative, not exact: leaving
/// out axes of extent 1 and sorting the others by stride, each axis's
/// stride must be greater than the span of the axes before it (the sum of
/// `(dims[a] - 1) * strides[a]` over them; so the smallest stride must be
/// at least 1). Every layout with two elements at one address (a stride
/// 0, rows that overlap) fails it, and so do some whose addresses are all
/// distinct, which are refused too: dims `{3, 3}` with strides `{2, 3}`
/// (the second stride, 3, is not above the first axis's span, 4).
pub const DK_SELF_OVERLAP: dk_status = 21;
/// A shape's element count or largest address overflows `size_t`, or a
/// buffer's byte length (elements times element size) exceeds `PTRDIFF_MAX`
/// or its end address overflows: checked before any buffer is read.
pub const DK_SIZE_OVERFLOW: dk_status = 22;
/// A slab reaches past the tensor's first axis.
pub const DK_SLAB_OUT_OF_RANGE: dk_status = 23;
/// A configuration the call does not support (alpha dropout in the fused
/// forward pass).
pub const DK_UNSUPPORTED: dk_status = 24;

/// Inverted dropout: training scales kept elements by `1 / (1 - rate)`,
/// inference is the identity (PyTorch, TensorFlow, JAX).
pub const DK_SCALING_INVERTED: u32 = 0;
/// Classic dropout: training keeps elements unscaled, inference multiplies
/// by `1 - rate`.
pub const DK_SCALING_CLASSIC: u32 = 1;
/// Alpha dropout (self-normalizing networks): kept `x * a + b`, dropped
/// `a * ALPHA' + b`, so that mean 0 and variance 1 stay; inference is the
/// identity.
pub const DK_SCALING_ALPHA: u32 = 2;

/// The shape of a strided, broadcast-masked call (`dk_forward_shaped_*`,
/// `dk_backward_shaped_*`): a row-major tensor of `rank` axes (1 to 8)
/// with element strides. The logical index is the row-major position, so
/// a strided call gives the bits of the same call on a dense copy; padding
/// is never touched.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dk_shape {
    /// Axes (1 to 8), checked before any of the arrays below is read.
    pub rank: usize,
    /// `rank` extents of this call's data.
    pub dims: *const usize,
    /// `rank` element strides of the input; null: dense row-major.
    pub x_strides: *const usize,
    /// `rank` element strides of the output; null: dense row-major. Its
    /// elements must be provably distinct (see `DK_SELF_OVERLAP`).
    pub y_strides: *const usize,
    /// `rank` mask extents, each 1 (one decision shared along that axis) or
    /// the data's; null: one decision per element. Mask element `u`
    /// (row-major) is decided by global index `offset + u`.
    pub mask_dims: *const usize,
    /// With `slab_total > 0`: the data is rows `slab_start..slab_start +
    /// dims[0]` of a tensor of `slab_total` rows along axis 0 (mask extents
    /// refer to the whole tensor), and gives the bits of those rows of the
    /// whole call.
    pub slab_start: usize,
    /// Rows of the whole tensor; 0: no slab.
    pub slab_total: usize,
}

/// Threads: the calling thread below a size threshold, dropkit's pool above.
pub const DK_THREADS_AUTO: u32 = 0;
/// Threads: always the calling thread (engines with their own threads).
pub const DK_THREADS_SEQUENTIAL: u32 = 1;
/// Threads: always split over dropkit's pool.
pub const DK_THREADS_PARALLEL: u32 = 2;

/// A dropout operator: rate (probability of dropping), seed, scaling and
/// threading. Made by `dk_dropout_new`; an immutable value, safe to copy and
/// to share between threads. Treat the fields as read-only: every call
/// validates them again.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dk_dropout {
    /// Probability that an element is dropped, in `[0, 1]`.
    pub rate: f64,
    /// The seed.
    pub seed: u64,
    /// `DK_SCALING_INVERTED`, `DK_SCALING_CLASSIC` or `DK_SCALING_ALPHA`.
    pub scaling: u32,
    /// `DK_THREADS_AUTO`, `DK_THREADS_SEQUENTIAL` or `DK_THREADS_PARALLEL`.
    pub threading: u32,
}

/// The status of an error of the Rust crate.
fn status(e: Error) -> dk_status {
    match e {
        Error::InvalidRate { .. } => DK_INVALID_RATE,
        Error::InvalidKeepProb { .. } => DK_INVALID_KEEP_PROB,
        Error::LengthMismatch { .. } => DK_LENGTH_MISMATCH,
        Error::MaskTooSmall { .. } => DK_MASK_TOO_SMALL,
        Error::OffsetOverflow { .. } => DK_OFFSET_OVERFLOW,
        Error::IsaUnavailable { .. } => DK_ISA_UNAVAILABLE,
        Error::ShapeMismatch { .. } => DK_SHAPE_MISMATCH,
        Error::NotWholeRows { .. } => DK_NOT_WHOLE_ROWS,
        Error::BiasMismatch { .. } => DK_BIAS_MISMATCH,
        Error::UnsupportedRank { .. } => DK_UNSUPPORTED_RANK,
        Error::RankMismatch { .. } => DK_RANK_MISMATCH,
        Error::DimMismatch { .. } => DK_DIM_MISMATCH,
        Error::BadMaskDim { .. } => DK_BAD_MASK_DIM,
        Error::BadAxis { .. } => DK_BAD_AXIS,
        Error::ViewOutOfBounds { .. } => DK_VIEW_OUT_OF_BOUNDS,
        Error::SelfOverlap => DK_SELF_OVERLAP,
        Error::SizeOverflow => DK_SIZE_OVERFLOW,
        Error::SlabOutOfRange { .. } => DK_SLAB_OUT_OF_RANGE,
        Error::Unsupported { .. } => DK_UNSUPPORTED,
        _ => DK_INTERNAL,
    }
}

/// Runs `f`, turning its error and any panic into a status.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> dk_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => DK_OK,
        Ok(Err(Fail(s))) => s,
        Err(_) => DK_INTERNAL,
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail(status(e))
    }
}

/// A failed call's status, so that `?` works on both kinds of error.
pub(crate) struct Fail(pub(crate) dk_status);

/// The validated operator behind `d`.
///
/// # Safety
/// `d` is null or points to a `dk_dropout`.
pub(crate) unsafe fn dropout(d: *const dk_dropout) -> Result<Dropout, Fail> {
    // SAFETY: null is checked; otherwise the caller's contract.
    let d = unsafe { d.as_ref() }.ok_or(Fail(DK_NULL_POINTER))?;
    let scaling = match d.scaling {
        DK_SCALING_INVERTED => Scaling::Inverted,
        DK_SCALING_CLASSIC => Scaling::Classic,
        DK_SCALING_ALPHA => Scaling::Alpha,
        _ => return Err(Fail(DK_INVALID_ARGUMENT)),
    };
    let threading = match d.threading {
        DK_THREADS_AUTO => Threading::Auto,
        DK_THREADS_SEQUENTIAL => Threading::Sequential,
        DK_THREADS_PARALLEL => Threading::Parallel,
        _ => return Err(Fail(DK_INVALID_ARGUMENT)),
    };
    Ok(Dropout::new(d.rate)?
        .with_seed(d.seed)
        .with_scaling(scaling)
        .with_threading(threading))
}

/// `n` elements at `p` as a slice (empty for `n == 0`, whatever `p`).
///
/// # Safety
/// `p` is null or valid for reading `n` elements for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, n: usize) -> Result<&'a [T], Fail> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail(DK_NULL_POINTER));
    }
    end(p, n)?;
    // SAFETY: non-null and valid for `n` elements (caller's contract), of
    // at most `isize::MAX` bytes not wrapping the address space (checked).
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// `n` elements at `p` as a mutable slice.
///
/// # Safety
/// `p` is null or valid for reading and writing `n` elements for `'a`, and
/// nothing else accesses them meanwhile.
pub(crate) unsafe fn slice_mut<'a, T>(p: *mut T, n: usize) -> Result<&'a mut [T], Fail> {
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Fail(DK_NULL_POINTER));
    }
    end(p, n)?;
    // SAFETY: non-null and valid for `n` elements (caller's contract), of
    // at most `isize::MAX` bytes not wrapping the address space (checked).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// The end address of `n` elements at `p` (`p + n * size_of::<T>()`),
/// checked: `DK_SIZE_OVERFLOW` if the byte length exceeds `isize::MAX` (no
/// Rust slice or C object is that long) or the end passes the address
/// space.
pub(crate) fn end<T>(p: *const T, n: usize) -> Result<usize, Fail> {
    n.checked_mul(size_of::<T>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .and_then(|bytes| (p as usize).checked_add(bytes))
        .ok_or(Fail(DK_SIZE_OVERFLOW))
}

/// Whether `[a, a + n)` and `[b, b + m)` (in elements of `T` and `U`)
/// overlap; `DK_SIZE_OVERFLOW` if either end address overflows (see
/// [`end`]).
pub(crate) fn overlap<T, U>(a: *const T, n: usize, b: *const U, m: usize) -> Result<bool, Fail> {
    let (ea, eb) = (end(a, n)?, end(b, m)?);
    let (a, b) = (a as usize, b as usize);
    Ok(n > 0 && m > 0 && a < eb && b < ea)
}

/// Makes a dropout operator: `rate` is the probability of **dropping** an
/// element; `scaling` is `DK_SCALING_INVERTED`, `DK_SCALING_CLASSIC` or
/// `DK_SCALING_ALPHA`;
/// threading starts as `DK_THREADS_AUTO`. Writes `*out` only on success.
///
/// Errors: `DK_INVALID_RATE` (NaN, infinite, below 0 or above 1),
/// `DK_INVALID_ARGUMENT` (unknown scaling), `DK_NULL_POINTER` (`out` null).
///
/// # Safety
/// `out` is null or valid for writing one `dk_dropout`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_new(
    rate: f64,
    seed: u64,
    scaling: u32,
    out: *mut dk_dropout,
) -> dk_status {
    guard(|| {
        let d = dk_dropout {
            rate,
            seed,
            scaling,
            threading: DK_THREADS_AUTO,
        };
        // SAFETY: `d` is a local value.
        unsafe { dropout(&d) }?;
        // SAFETY: null is checked; otherwise the caller's contract.
        *unsafe { out.as_mut() }.ok_or(Fail(DK_NULL_POINTER))? = d;
        Ok(())
    })
}

/// `dk_dropout_new` from the probability of **keeping** an element: exactly
/// `dk_dropout_new(1 - keep_prob, ...)`.
///
/// Errors: `DK_INVALID_KEEP_PROB`, `DK_INVALID_ARGUMENT`, `DK_NULL_POINTER`.
///
/// # Safety
/// As `dk_dropout_new`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_with_keep_prob(
    keep_prob: f64,
    seed: u64,
    scaling: u32,
    out: *mut dk_dropout,
) -> dk_status {
    if !(0.0..=1.0).contains(&keep_prob) {
        return DK_INVALID_KEEP_PROB;
    }
    // SAFETY: forwarded contract.
    unsafe { dk_dropout_new(1.0 - keep_prob, seed, scaling, out) }
}

/// A copy of `*d` with threading `threading` (`DK_THREADS_AUTO`,
/// `DK_THREADS_SEQUENTIAL` or `DK_THREADS_PARALLEL`) written to `*out`
/// (`out` may equal `d`). The output bits never depend on it.
///
/// Errors: `DK_INVALID_ARGUMENT`, `DK_NULL_POINTER`, or any error of `*d`.
///
/// # Safety
/// `d` null or valid for reading, `out` null or valid for writing, one
/// `dk_dropout` each.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_with_threading(
    d: *const dk_dropout,
    threading: u32,
    out: *mut dk_dropout,
) -> dk_status {
    guard(|| {
        // SAFETY: null is checked; otherwise the caller's contract.
        let mut copy = *unsafe { d.as_ref() }.ok_or(Fail(DK_NULL_POINTER))?;
        copy.threading = threading;
        // SAFETY: `copy` is a local value.
        unsafe { dropout(&copy) }?;
        // SAFETY: null is checked; otherwise the caller's contract.
        *unsafe { out.as_mut() }.ok_or(Fail(DK_NULL_POINTER))? = copy;
        Ok(())
    })
}

/// Sizes dropkit's thread pool once, before any parallel call (otherwise it
/// has one thread per CPU). Thread safe.
///
/// Errors: `DK_INVALID_ARGUMENT` (`threads == 0`),
/// `DK_THREADS_ALREADY_STARTED`.
#[no_mangle]
pub extern "C" fn dk_threads_init(threads: usize) -> dk_status {
    if threads == 0 {
        return DK_INVALID_ARGUMENT;
    }
    guard(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|_| Fail(DK_THREADS_ALREADY_STARTED))
    })
}

/// The keep bit mask of `n` elements at global index `offset` of `stream`:
/// bit `i % 64` of `mask[i / 64]` is 1 iff element `i` is kept; bits past
/// `n` in the last word are 0. `mask_words` is the length of `mask`, at
/// least `(n + 63) / 64`.
///
/// Errors: `DK_MASK_TOO_SMALL`, `DK_OFFSET_OVERFLOW`, `DK_NULL_POINTER`,
/// `DK_SIZE_OVERFLOW`, any error of `*d`.
///
/// # Safety
/// `d` null or valid; `mask` null or valid for `mask_words` words.
#[no_mangle]
pub unsafe extern "C" fn dk_mask_bits(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    n: usize,
    mask: *mut u64,
    mask_words: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract for `d` and `mask`.
        let (d, mask) = unsafe { (dropout(d)?, slice_mut(mask, mask_words)?) };
        Ok(d.mask_bits(stream, offset, n, mask)?)
    })
}

/// The keep byte mask of `n` elements (1 kept, 0 dropped).
///
/// Errors: `DK_OFFSET_OVERFLOW`, `DK_NULL_POINTER`, `DK_SIZE_OVERFLOW`, any
/// error of `*d`.
///
/// # Safety
/// `d` null or valid; `mask` null or valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn dk_mask_bytes(
    d: *const dk_dropout,
    stream: u64,
    offset: u64,
    mask: *mut u8,
    n: usize,
) -> dk_status {
    guard(|| {
        // SAFETY: the caller's contract for `d` and `mask`.
        let (d, mask) = unsafe { (dropout(d)?, slice_mut(mask, n)?) };
        Ok(d.mask_bytes(stream, offset, mask)?)
    })
}

/// Derives a stream from `a` and `b` (a bijection of `b` for every `a`):
/// `dk_fold_in(dk_fold_in(layer, step), micro_batch)` is a layer's stream.
#[no_mangle]
pub extern "C" fn dk_fold_in(a: u64, b: u64) -> u64 {
    dropkit::fold_in(a, b)
}

/// The library version, a static NUL-terminated string ("0.1.0").
#[no_mangle]
pub extern "C" fn dk_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A static NUL-terminated English message for a status (unknown values
/// included).
#[no_mangle]
pub extern "C" fn dk_status_str(status: dk_status) -> *const c_char {
    let s: &'static str = match status {
        DK_OK => "ok\0",
        DK_INVALID_RATE => "invalid rate: must be a number in [0, 1]\0",
        DK_INVALID_KEEP_PROB => "invalid keep probability: must be a number in [0, 1]\0",
        DK_LENGTH_MISMATCH => "input and output lengths differ\0",
        DK_MASK_TOO_SMALL => "mask buffer too small for the elements\0",
        DK_OFFSET_OVERFLOW => "offset + length overflows the 64-bit global index\0",
        DK_ISA_UNAVAILABLE => "instruction set not available on this CPU\0",
        DK_SHAPE_MISMATCH => "length does not match the shape\0",
        DK_NOT_WHOLE_ROWS => "data is not whole rows of `features` elements\0",
        DK_BIAS_MISMATCH => "bias length is not `features`\0",
        DK_NULL_POINTER => "null pointer with a non-zero length\0",
        DK_OVERLAP => "input overlaps its output without being equal to it\0",
        DK_INVALID_ARGUMENT => "invalid argument (scaling, threading or thread count)\0",
        DK_THREADS_ALREADY_STARTED => "thread pool already started\0",
        DK_INTERNAL => "internal error (a bug in dropkit)\0",
        DK_UNSUPPORTED_RANK => "rank not supported (1 to 8, or what the call needs)\0",
        DK_RANK_MISMATCH => "shapes of different ranks\0",
        DK_DIM_MISMATCH => "input and output extents differ\0",
        DK_BAD_MASK_DIM => "mask extent neither 1 nor the data's\0",
        DK_BAD_AXIS => "axis out of range\0",
        DK_VIEW_OUT_OF_BOUNDS => "buffer too short for its shape and strides\0",
        DK_SELF_OVERLAP => {
            "output layout not provably free of shared addresses: sorted by stride, each \
             axis's stride must exceed the span of the smaller-stride axes\0"
        }
        DK_SIZE_OVERFLOW => "shape size or buffer end address overflows\0",
        DK_SLAB_OUT_OF_RANGE => "slab outside the tensor's first axis\0",
        DK_UNSUPPORTED => "configuration not supported by this call\0",
        _ => "unknown status\0",
    };
    s.as_ptr().cast()
}
