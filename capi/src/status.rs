//! Status codes: `dk_status` and its values, the status of each error of
//! the Rust crate, the calling thread's last error message, the guard every
//! exported function runs its body in (no panic crosses the boundary),
//! `dk_last_error` and `dk_status_str`.

use dropkit::Error;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The status every function returns: `DK_OK` or the reason nothing was
/// done (`dk_last_error()` has the details).
pub type dk_status = i32;

/// Success.
pub const DK_OK: dk_status = 0;
/// The rate is NaN, infinite, negative or above 1.
pub const DK_INVALID_RATE: dk_status = 1;
/// The keep probability is NaN, infinite, negative or above 1.
pub const DK_INVALID_KEEP_PROB: dk_status = 2;
/// A buffer or tensor has the wrong size: an output of another length than
/// its input, a mask too small for the mask elements, a bias that is not
/// one value per feature, a residual of another length than the data, a
/// Monte-Carlo output that is not `samples` times the input, a buffer
/// shorter than what its tensor's dims and strides reach. `dk_last_error()`
/// names the buffer, its unit and the rule, with the size expected and the
/// size given ("wrong size: mask words (at least): expected 3, given 2").
pub const DK_SIZE: dk_status = 3;
/// `offset + n` does not fit in 64 bits.
pub const DK_OFFSET_OVERFLOW: dk_status = 4;
/// A forced instruction set (`dk_dropout.isa`) this CPU or build lacks.
pub const DK_ISA_UNAVAILABLE: dk_status = 5;
/// Fused data that is not whole rows of the bias's (or dbias's) length, or
/// a bias of length 0 with data.
pub const DK_NOT_WHOLE_ROWS: dk_status = 6;
/// A null pointer with a non-zero length (or a null `dk_dropout`, tensor
/// descriptor or output).
pub const DK_NULL_POINTER: dk_status = 7;
/// An output buffer that overlaps another buffer of the call without being
/// allowed to equal it.
pub const DK_OVERLAP: dk_status = 8;
/// An unknown scaling, threading, ISA, dtype, mask kind or mask shape
/// kind; a thread count above `DK_THREADS_MAX`; a misaligned pointer; a
/// mask pointer with `DK_MASK_NONE`; a zero `dk_threads_init` count.
pub const DK_INVALID_ARGUMENT: dk_status = 9;
/// `dk_threads_init` after the global pool already started.
pub const DK_THREADS_ALREADY_STARTED: dk_status = 10;
/// An internal error caught at the boundary (a bug: please report it).
pub const DK_INTERNAL: dk_status = 11;
/// A shape's rank is above 8 (checked before any of its arrays is read),
/// or below what a mask shape needs.
pub const DK_UNSUPPORTED_RANK: dk_status = 12;
/// Two shapes of a call have different ranks (input and output, data and
/// a `DK_MASK_SHAPE_NOISE` list).
pub const DK_RANK_MISMATCH: dk_status = 13;
/// Input and output extents differ along an axis.
pub const DK_DIM_MISMATCH: dk_status = 14;
/// A `DK_MASK_SHAPE_NOISE` extent is neither 1 nor the data's.
pub const DK_BAD_MASK_DIM: dk_status = 15;
/// A `DK_MASK_SHAPE_BROADCAST_DIMS` axis is not below the data's rank.
pub const DK_BAD_AXIS: dk_status = 16;
/// An output tensor (`strides`) whose elements dropkit cannot prove to be
/// at distinct addresses. The check is conservative, not exact: leaving
/// out axes of extent 1 and sorting the others by stride, each axis's
/// stride must be greater than the span of the axes before it (the sum of
/// `(dims[a] - 1) * strides[a]` over them; so the smallest stride must be
/// at least 1). Every layout with two elements at one address (a stride
/// 0, rows that overlap) fails it, and so do some whose addresses are all
/// distinct, which are refused too: dims `{3, 3}` with strides `{2, 3}`
/// (the second stride, 3, is not above the first axis's span, 4).
pub const DK_SELF_OVERLAP: dk_status = 17;
/// A shape's element count or largest address overflows `size_t`, or a
/// buffer's byte length (elements times element size) exceeds `PTRDIFF_MAX`
/// or its end address overflows: checked before any buffer is read.
pub const DK_SIZE_OVERFLOW: dk_status = 18;
/// A slab reaches past the tensor's first axis.
pub const DK_SLAB_OUT_OF_RANGE: dk_status = 19;
/// A configuration the call does not support: an option the pass does not
/// take (a bias, residual or mask out in a backward pass, dbias in a
/// forward pass, a mask or fused option in a Monte-Carlo pass), a fused
/// option with a mask shape or on a strided tensor, alpha dropout in the
/// fused forward pass, `dk_mask` with `DK_MASK_NONE`.
pub const DK_UNSUPPORTED: dk_status = 20;
/// A `dk_dropout.threads` pool could not be started (the system refused
/// its threads).
pub const DK_THREADS_UNAVAILABLE: dk_status = 21;

/// The status of an error of the Rust crate.
fn status(e: &Error) -> dk_status {
    match e {
        Error::InvalidRate { .. } => DK_INVALID_RATE,
        Error::InvalidKeepProb { .. } => DK_INVALID_KEEP_PROB,
        Error::Size { .. } => DK_SIZE,
        Error::OffsetOverflow { .. } => DK_OFFSET_OVERFLOW,
        Error::IsaUnavailable { .. } => DK_ISA_UNAVAILABLE,
        Error::NotWholeRows { .. } => DK_NOT_WHOLE_ROWS,
        Error::UnsupportedRank { .. } => DK_UNSUPPORTED_RANK,
        Error::RankMismatch { .. } => DK_RANK_MISMATCH,
        Error::DimMismatch { .. } => DK_DIM_MISMATCH,
        Error::BadMaskDim { .. } => DK_BAD_MASK_DIM,
        Error::BadAxis { .. } => DK_BAD_AXIS,
        Error::SelfOverlap => DK_SELF_OVERLAP,
        Error::SizeOverflow => DK_SIZE_OVERFLOW,
        Error::SlabOutOfRange { .. } => DK_SLAB_OUT_OF_RANGE,
        Error::Unsupported { .. } => DK_UNSUPPORTED,
        _ => DK_INTERNAL,
    }
}

/// A failed call: its status and the message `dk_last_error` returns.
pub(crate) struct Fail {
    pub(crate) status: dk_status,
    pub(crate) message: String,
}

impl Fail {
    pub(crate) fn new(status: dk_status, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
        }
    }

    /// `DK_INVALID_ARGUMENT` with a message.
    pub(crate) fn invalid(message: impl Into<String>) -> Fail {
        Fail::new(DK_INVALID_ARGUMENT, message)
    }

    /// `DK_NULL_POINTER` for the argument `what`.
    pub(crate) fn null(what: &str) -> Fail {
        Fail::new(DK_NULL_POINTER, format!("null pointer: {what}"))
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::new(status(&e), e.to_string())
    }
}

thread_local! {
    /// The calling thread's last error message, NUL-terminated; empty
    /// after a success.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn set_last_error(message: &str) {
    let _ = LAST_ERROR.try_with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        b.extend(message.bytes().map(|c| if c == 0 { b' ' } else { c }));
        b.push(0);
    });
}

/// Runs `f`, turning its error and any panic into a status and the
/// thread's last error message (cleared first).
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> dk_status {
    let _ = LAST_ERROR.try_with(|b| b.borrow_mut().clear());
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => DK_OK,
        Ok(Err(fail)) => {
            set_last_error(&fail.message);
            fail.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(&format!(
                "internal error (a bug in dropkit, please report it): {what}"
            ));
            DK_INTERNAL
        }
    }
}

/// The message of the last call on the calling thread that returned a
/// status: what went wrong with the values involved (the Rust error's
/// text, e.g. "wrong size: mask words (at least): expected 3, given 2";
/// for a C-side check, which argument: "null pointer: x (64 elements)"),
/// or "" after `DK_OK`. NUL-terminated, never `NULL`, owned by dropkit:
/// valid until the next dropkit call on this thread that returns a
/// `dk_status`. Thread safe (one message per thread).
#[no_mangle]
pub extern "C" fn dk_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|b| {
            let b = b.borrow();
            if b.is_empty() {
                c"".as_ptr()
            } else {
                b.as_ptr().cast()
            }
        })
        .unwrap_or(c"".as_ptr())
}

/// A static NUL-terminated English message for a status (unknown values
/// included); `dk_last_error()` has the details of the last failure.
/// Thread safe.
#[no_mangle]
pub extern "C" fn dk_status_str(status: dk_status) -> *const c_char {
    let s: &'static core::ffi::CStr = match status {
        DK_OK => c"ok",
        DK_INVALID_RATE => c"invalid rate: must be a number in [0, 1]",
        DK_INVALID_KEEP_PROB => c"invalid keep probability: must be a number in [0, 1]",
        DK_SIZE => c"a buffer or tensor has the wrong size",
        DK_OFFSET_OVERFLOW => c"offset + length overflows the 64-bit global index",
        DK_ISA_UNAVAILABLE => c"instruction set not available on this CPU",
        DK_NOT_WHOLE_ROWS => c"data is not whole rows of the bias's features",
        DK_NULL_POINTER => c"null pointer with a non-zero length",
        DK_OVERLAP => c"an output overlaps another buffer of the call",
        DK_INVALID_ARGUMENT => c"invalid argument (an unknown constant, a misaligned pointer or a thread count)",
        DK_THREADS_ALREADY_STARTED => c"thread pool already started",
        DK_INTERNAL => c"internal error (a bug in dropkit)",
        DK_UNSUPPORTED_RANK => c"rank not supported (1 to 8, or what the call needs)",
        DK_RANK_MISMATCH => c"shapes of different ranks",
        DK_DIM_MISMATCH => c"input and output extents differ",
        DK_BAD_MASK_DIM => c"mask extent neither 1 nor the data's",
        DK_BAD_AXIS => c"axis out of range",
        DK_SELF_OVERLAP => c"output layout not provably free of shared addresses: sorted by stride, each axis's stride must exceed the span of the smaller-stride axes",
        DK_SIZE_OVERFLOW => c"shape size or buffer end address overflows",
        DK_SLAB_OUT_OF_RANGE => c"slab outside the tensor's first axis",
        DK_UNSUPPORTED => c"configuration not supported by this call",
        DK_THREADS_UNAVAILABLE => c"a thread pool could not be started",
        _ => c"unknown status",
    };
    s.as_ptr()
}
