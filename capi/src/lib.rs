//! The C ABI of dropkit: plain C types, a status code from every call with
//! its message in `dk_last_error()`, nothing written on error, and no panic
//! or unwind across the boundary. The header `include/dropkit.h` is
//! generated from this crate by cbindgen (`tests/header.rs` fails when the
//! checked-in copy differs); the per-type and dtype-generic entry points
//! in `generated.rs` are written by `gen/generate.rs` from one table
//! (`tests/generated.rs` fails when the checked-in copy differs).
//!
//! The call model mirrors the Rust crate's: a `dk_dropout` (rate, seed,
//! scaling, instruction set, threads), a `dk_site` (stream and offset) per
//! call, tensors described by `dk_tensor` (any rank from 1 to 8, strided
//! or dense), and the options of a call (mask shape, mask out or in, fused
//! bias and residual, dbias) in one `dk_options`, `NULL` for the defaults.
//!
//! Conventions of every function: a null pointer with a non-zero length is
//! `DK_NULL_POINTER`; a buffer whose byte length or end address (pointer
//! plus length times element size) overflows is `DK_SIZE_OVERFLOW`; a
//! pointer not aligned for its element type is `DK_INVALID_ARGUMENT`; an
//! output buffer must not overlap any other buffer of the call
//! (`DK_OVERLAP`; buffers are compared as whole `[data, data + len)`
//! ranges) except where a function says it may equal one (in place);
//! `f16` and `bf16` elements travel as their `uint16_t` bits; every
//! function is thread safe (a `dk_dropout` is an immutable value,
//! re-validated by every call) and on error writes nothing but the
//! calling thread's `dk_last_error()` message.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[rustfmt::skip]
mod generated;
mod ops;

use dropkit::{Dropout, Error, Isa, MaskOut, MaskShape, Scaling, Site, Threading, MAX_RANK};
use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

pub use generated::*;

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

/// Threads: the calling thread below a size threshold (`parallel_min`),
/// the pool above.
pub const DK_THREADS_AUTO: u32 = 0;
/// Threads: always the calling thread (engines with their own threads).
pub const DK_THREADS_SEQUENTIAL: u32 = 1;
/// Threads: always split over the pool.
pub const DK_THREADS_PARALLEL: u32 = 2;
/// The largest `dk_dropout.threads`.
pub const DK_THREADS_MAX: usize = 1024;

/// Instruction set: the fastest this CPU runs (detected once).
pub const DK_ISA_AUTO: u32 = 0;
/// Instruction set: plain code, everywhere.
pub const DK_ISA_SCALAR: u32 = 1;
/// Instruction set: portable 16-lane vectors (SSE2 on x86-64, NEON on
/// aarch64), everywhere.
pub const DK_ISA_PORTABLE: u32 = 2;
/// Instruction set: x86-64 AVX2, where the CPU has it.
pub const DK_ISA_AVX2: u32 = 3;
/// Instruction set: x86-64 AVX-512F with AVX-512VL, where the CPU has it.
pub const DK_ISA_AVX512: u32 = 4;
/// Instruction set: aarch64 NEON (every aarch64 CPU, no other).
pub const DK_ISA_NEON: u32 = 5;

/// The element type of a dtype-generic call.
pub type dk_dtype = u32;
/// `float`.
pub const DK_DTYPE_F32: dk_dtype = 0;
/// `double`.
pub const DK_DTYPE_F64: dk_dtype = 1;
/// IEEE binary16, as `uint16_t` bits.
pub const DK_DTYPE_F16: dk_dtype = 2;
/// bfloat16, as `uint16_t` bits.
pub const DK_DTYPE_BF16: dk_dtype = 3;

/// No mask buffer.
pub const DK_MASK_NONE: u32 = 0;
/// A bit mask: bit `i % 64` of `uint64_t` word `i / 64` is mask element
/// `i`, 1 kept; `(elements + 63) / 64` words (`dk_mask_words`); bits past
/// the last element are written 0.
pub const DK_MASK_BITS: u32 = 1;
/// A byte mask: byte `i` is mask element `i`, written 1 kept and 0
/// dropped, read as non-zero kept.
pub const DK_MASK_BYTES: u32 = 2;

/// Mask shape: one decision per element (PyTorch `dropout`).
pub const DK_MASK_SHAPE_ELEMENTWISE: u32 = 0;
/// Mask shape: channels first, data `[N, C, L..]` (rank 2 or more), mask
/// `[N, C, 1..]` (PyTorch `dropout1d/2d/3d`, with alpha scaling
/// `feature_alpha_dropout`).
pub const DK_MASK_SHAPE_CHANNELS_FIRST: u32 = 1;
/// Mask shape: channels last, data `[N, L.., C]` (rank 2 or more), mask
/// `[N, 1.., C]` (Keras `SpatialDropout1D/2D/3D`).
pub const DK_MASK_SHAPE_CHANNELS_LAST: u32 = 2;
/// Mask shape: one decision per sample, data `[N, ..]`, mask `[N, 1..]`
/// (drop-path, stochastic depth).
pub const DK_MASK_SHAPE_PER_SAMPLE: u32 = 3;
/// Mask shape: locked dropout, time major, data `[T, B, F..]` (rank 2 or
/// more), mask `[1, B, F..]`.
pub const DK_MASK_SHAPE_LOCKED_TIME_MAJOR: u32 = 4;
/// Mask shape: locked dropout, batch major, data `[B, T, F..]` (rank 3 or
/// more), mask `[B, 1, F..]`.
pub const DK_MASK_SHAPE_LOCKED_BATCH_MAJOR: u32 = 5;
/// Mask shape: TF `noise_shape`: `values` holds `count` mask extents, one
/// per data axis (`count` must be the data's rank), each 1 or the data's.
pub const DK_MASK_SHAPE_NOISE: u32 = 6;
/// Mask shape: Flax `broadcast_dims`: `values` holds `count` (at most 8)
/// axes along which the mask broadcasts.
pub const DK_MASK_SHAPE_BROADCAST_DIMS: u32 = 7;

/// Where a call sits in the random stream: the `stream` (a call site and
/// step; see `dk_fold_in`) and the `offset`, the global index of the
/// call's first (mask) element in the whole logical tensor. Passed by
/// value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct dk_site {
    /// The stream.
    pub stream: u64,
    /// The global index of the call's first element.
    pub offset: u64,
}

impl From<dk_site> for Site {
    fn from(s: dk_site) -> Site {
        Site::new(s.stream).at(s.offset)
    }
}

/// A tensor of a dtype-generic call: `len` elements at `data` (of the
/// call's dtype), read as a row-major tensor of `rank` axes with extents
/// `dims` and element `strides`. The logical index is the row-major
/// position, so a strided call gives the bits of the same call on a dense
/// copy; elements the strides skip are never touched.
///
/// `rank == 0`: a dense 1-D tensor of `len` elements (`dims` and `strides`
/// not read), so `dk_tensor t = {buf, n};` describes a plain buffer.
/// `rank` above 8 is `DK_UNSUPPORTED_RANK`, refused before `dims` or
/// `strides` is read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dk_tensor {
    /// The elements (only read when the tensor is an input).
    pub data: *mut c_void,
    /// Elements the buffer holds: at least what `dims` and `strides` reach
    /// (`DK_SIZE` otherwise).
    pub len: usize,
    /// Axes: 0 (a dense 1-D tensor of `len`) or 1 to 8.
    pub rank: usize,
    /// `rank` extents.
    pub dims: *const usize,
    /// `rank` element strides; `NULL`: dense row-major. An output's
    /// elements must be provably distinct (see `DK_SELF_OVERLAP`).
    pub strides: *const usize,
}

/// The mask shape of a structured dropout (`dk_options.shape`), and the
/// slab of leading rows a call covers.
///
/// Mask element `u` (row-major in the mask's shape) is decided by global
/// index `offset + u`, so a mask of `m` elements (`dk_mask_len`) is the
/// elementwise mask of `m` elements at the call's site.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dk_mask_shape {
    /// `DK_MASK_SHAPE_ELEMENTWISE`, `_CHANNELS_FIRST`, `_CHANNELS_LAST`,
    /// `_PER_SAMPLE`, `_LOCKED_TIME_MAJOR`, `_LOCKED_BATCH_MAJOR`,
    /// `_NOISE` or `_BROADCAST_DIMS`.
    pub kind: u32,
    /// Values at `values`: the mask extents of `DK_MASK_SHAPE_NOISE`, the
    /// axes of `DK_MASK_SHAPE_BROADCAST_DIMS`; not read for the other
    /// kinds. Above 8 it is refused before `values` is read.
    pub count: usize,
    /// `count` values.
    pub values: *const usize,
    /// With `slab_total > 0`: the data is rows `slab_start..slab_start +
    /// dims[0]` of a tensor of `slab_total` rows along axis 0 (noise
    /// extents refer to the whole tensor), and gives the bits of those rows
    /// of the whole call (its part of the mask: the mask buffer holds the
    /// slab's mask elements).
    pub slab_start: usize,
    /// Rows of the whole tensor; 0: no slab.
    pub slab_total: usize,
}

/// The options of a call; a `NULL` `dk_options *` is all defaults (an
/// all-zero `dk_options` too): elementwise mask, no mask buffer, no fused
/// bias, residual or dbias. The element buffers (`bias`, `residual`,
/// `dbias`) are of the call's dtype. Which pass takes which option:
///
/// | option | forward | backward | Monte-Carlo |
/// |---|---|---|---|
/// | `shape` | yes | yes | yes |
/// | `mask` | written | read (the site is then not used) | no |
/// | `bias`, `residual` | yes (fused) | no | no |
/// | `dbias` | no | yes (fused) | no |
///
/// An option a pass does not take is `DK_UNSUPPORTED`. The fused calls
/// (`bias`, `residual`, `dbias`) take the elementwise mask shape on dense
/// tensors only, and treat the data as rows of `bias_len` (or
/// `dbias_len`) features (a tensor of rank 2 or more must have that many
/// along its last axis: `DK_SIZE`); with only a residual, as one row.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dk_options {
    /// The mask shape; `NULL`: elementwise.
    pub shape: *const dk_mask_shape,
    /// `DK_MASK_NONE`, `DK_MASK_BITS` or `DK_MASK_BYTES`.
    pub mask_kind: u32,
    /// The mask buffer (`uint64_t` words or bytes): a forward pass writes
    /// its keep mask there, a backward pass reads it instead of
    /// regenerating it. Must be `NULL` with `DK_MASK_NONE`.
    pub mask: *mut c_void,
    /// Words (bits) or bytes at `mask`: at least the mask's elements
    /// (`dk_mask_len`; for bits `dk_mask_words` of it).
    pub mask_len: usize,
    /// The fused forward's bias, one value per feature; `NULL`: none.
    pub bias: *const c_void,
    /// Features: elements at `bias`.
    pub bias_len: usize,
    /// The fused forward's residual (as long as the data), added after
    /// dropout: `y = residual + dropout(x + bias)`; `NULL`: none. It may be
    /// the output buffer itself (`residual == y->data`, `residual_len ==
    /// y->len`, `x` not `NULL`): `y += dropout(x + bias)`.
    pub residual: *const c_void,
    /// Elements at `residual`.
    pub residual_len: usize,
    /// The fused backward's output: `dbias[f]` the sum over rows of `dx[row,
    /// f]` in a fixed order (the same bits for every thread count and ISA);
    /// `NULL`: none.
    pub dbias: *mut c_void,
    /// Features: elements at `dbias`.
    pub dbias_len: usize,
}

/// A dropout operator: rate (probability of dropping), seed, scaling,
/// threading, instruction set and threads. Made by `dk_dropout_new` (or
/// `dk_dropout_with_keep_prob`), which sets the last four fields to 0
/// (automatic); an ordinary value, safe to copy and to share between
/// threads. The fields may be changed directly: every call validates them
/// again (and `dk_dropout_check` does only that). No field changes an
/// output bit but `rate`, `seed` and `scaling`.
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
    /// `DK_ISA_AUTO` or a forced instruction set (`DK_ISA_SCALAR`,
    /// `_PORTABLE`, `_AVX2`, `_AVX512`, `_NEON`); one this CPU lacks makes
    /// every call `DK_ISA_UNAVAILABLE`.
    pub isa: u32,
    /// Threads of the pool the calls split over: 0 the global pool (one
    /// thread per CPU, or `dk_threads_init`'s count); 1 to
    /// `DK_THREADS_MAX` a pool of that size, started by the first call
    /// that needs it and kept for the life of the process, one per distinct
    /// count, shared by every `dk_dropout` with that count (no init call
    /// needed). A call that may split runs inside that pool, whose default
    /// crossover (`parallel_min` 0) is the in-pool one, 128Ki elements;
    /// smaller `DK_THREADS_AUTO` calls stay on the calling thread.
    pub threads: usize,
    /// Elements from which `DK_THREADS_AUTO` splits a call over the pool;
    /// 0: the default (2Mi elements from outside a pool, 128Ki from inside
    /// one).
    pub parallel_min: usize,
}

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

/// A validated `dk_dropout`: the operator and the pool its calls run in.
pub(crate) struct Config {
    pub(crate) drop: Dropout,
    pool: Option<&'static rayon::ThreadPool>,
    parallel_min: Option<usize>,
}

impl Config {
    /// Runs `f`, a call on `elements` elements, in this operator's pool:
    /// on the calling thread if it has none, never leaves it, or (Auto)
    /// would stay on one thread inside the pool anyway, below
    /// `parallel_min` (the in-pool default without one): no hand-over for
    /// small calls. The bits are the same either way.
    pub(crate) fn exec<R: Send>(
        &self,
        elements: usize,
        f: impl FnOnce() -> Result<R, Error> + Send,
    ) -> Result<R, Fail> {
        let small = self.drop.threading() == Threading::Auto
            && elements < self.parallel_min.unwrap_or(dropkit::PARALLEL_MIN_IN_POOL);
        let r = match self.pool {
            Some(pool) if self.drop.threading() != Threading::Sequential && !small => {
                pool.install(f)
            }
            _ => f(),
        };
        Ok(r?)
    }
}

/// The pool of `threads` threads (1 to `DK_THREADS_MAX`), started once.
fn pool(threads: usize) -> Result<&'static rayon::ThreadPool, Fail> {
    static POOLS: [OnceLock<rayon::ThreadPool>; DK_THREADS_MAX] =
        [const { OnceLock::new() }; DK_THREADS_MAX];
    let cell = &POOLS[threads - 1];
    if let Some(p) = cell.get() {
        return Ok(p);
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("dropkit-{threads}-{i}"))
        .build()
        .map_err(|e| {
            Fail::new(
                DK_THREADS_UNAVAILABLE,
                format!("could not start a pool of {threads} threads: {e}"),
            )
        })?;
    // Two threads may race to start it: one pool wins, the other stops.
    let _ = cell.set(built);
    cell.get()
        .ok_or_else(|| Fail::new(DK_INTERNAL, "thread pool lost"))
}

/// The validated operator behind `d`.
///
/// # Safety
/// `d` is null or points to a `dk_dropout`.
pub(crate) unsafe fn config(d: *const dk_dropout) -> Result<Config, Fail> {
    // SAFETY: null is checked; otherwise the caller's contract.
    let d = unsafe { d.as_ref() }.ok_or_else(|| Fail::null("d (the dk_dropout)"))?;
    let scaling = match d.scaling {
        DK_SCALING_INVERTED => Scaling::Inverted,
        DK_SCALING_CLASSIC => Scaling::Classic,
        DK_SCALING_ALPHA => Scaling::Alpha,
        s => return Err(Fail::invalid(format!("unknown scaling {s} (d->scaling)"))),
    };
    let threading = match d.threading {
        DK_THREADS_AUTO => Threading::Auto,
        DK_THREADS_SEQUENTIAL => Threading::Sequential,
        DK_THREADS_PARALLEL => Threading::Parallel,
        t => {
            return Err(Fail::invalid(format!(
                "unknown threading {t} (d->threading)"
            )))
        }
    };
    let isa = match d.isa {
        DK_ISA_AUTO => None,
        DK_ISA_SCALAR => Some(Isa::Scalar),
        DK_ISA_PORTABLE => Some(Isa::Portable),
        DK_ISA_AVX2 => Some(Isa::Avx2),
        DK_ISA_AVX512 => Some(Isa::Avx512),
        DK_ISA_NEON => Some(Isa::Neon),
        i => {
            return Err(Fail::invalid(format!(
                "unknown instruction set {i} (d->isa)"
            )))
        }
    };
    if d.threads > DK_THREADS_MAX {
        return Err(Fail::invalid(format!(
            "d->threads is {}, above DK_THREADS_MAX ({DK_THREADS_MAX})",
            d.threads
        )));
    }
    let mut drop = Dropout::new(d.rate)?
        .with_seed(d.seed)
        .with_scaling(scaling)
        .with_threading(threading)
        .with_parallel_min((d.parallel_min > 0).then_some(d.parallel_min));
    if let Some(isa) = isa {
        drop = drop.with_isa(isa)?;
    }
    let pool = match d.threads {
        0 => None,
        n => Some(pool(n)?),
    };
    Ok(Config {
        drop,
        pool,
        parallel_min: (d.parallel_min > 0).then_some(d.parallel_min),
    })
}

/// `n` elements at `p` as a slice (empty for `n == 0`, whatever `p`);
/// `what` names the argument in messages.
///
/// # Safety
/// `p` is null or valid for reading `n` elements for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T], Fail> {
    if n == 0 {
        return Ok(&[]);
    }
    check_ptr(p, n, what)?;
    // SAFETY: non-null, aligned and valid for `n` elements (caller's
    // contract), of at most `isize::MAX` bytes not wrapping the address
    // space (checked).
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// `n` elements at `p` as a mutable slice.
///
/// # Safety
/// `p` is null or valid for reading and writing `n` elements for `'a`, and
/// nothing else accesses them meanwhile.
pub(crate) unsafe fn slice_mut<'a, T>(
    p: *mut T,
    n: usize,
    what: &str,
) -> Result<&'a mut [T], Fail> {
    if n == 0 {
        return Ok(&mut []);
    }
    check_ptr(p, n, what)?;
    // SAFETY: as in `slice`, and exclusive (caller's contract).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// A non-empty buffer's pointer: not null, its end address representable,
/// aligned.
fn check_ptr<T>(p: *const T, n: usize, what: &str) -> Result<(), Fail> {
    if p.is_null() {
        return Err(Fail::null(&format!("{what} ({n} elements)")));
    }
    end(p, n, what)?;
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(Fail::invalid(format!(
            "{what} is not aligned to {} bytes",
            align_of::<T>()
        )));
    }
    Ok(())
}

/// The end address of `n` elements at `p` (`p + n * size_of::<T>()`),
/// checked: `DK_SIZE_OVERFLOW` if the byte length exceeds `isize::MAX` (no
/// Rust slice or C object is that long) or the end passes the address
/// space.
pub(crate) fn end<T>(p: *const T, n: usize, what: &str) -> Result<usize, Fail> {
    n.checked_mul(size_of::<T>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .and_then(|bytes| (p as usize).checked_add(bytes))
        .ok_or_else(|| {
            Fail::new(
                DK_SIZE_OVERFLOW,
                format!(
                    "{what}: {n} elements of {} bytes overflow the address space",
                    size_of::<T>()
                ),
            )
        })
}

/// Makes a dropout operator: `rate` is the probability of **dropping** an
/// element; `scaling` is `DK_SCALING_INVERTED`, `DK_SCALING_CLASSIC` or
/// `DK_SCALING_ALPHA`; threading, ISA, threads and `parallel_min` start at
/// 0 (automatic, the global pool). Writes `*out` only on success.
///
/// Errors: `DK_INVALID_RATE` (NaN, infinite, below 0 or above 1),
/// `DK_INVALID_ARGUMENT` (unknown scaling), `DK_NULL_POINTER` (`out`
/// null).
///
/// Thread safe.
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
            isa: DK_ISA_AUTO,
            threads: 0,
            parallel_min: 0,
        };
        // SAFETY: `d` is a local value.
        unsafe { config(&d) }?;
        // SAFETY: null is checked; otherwise the caller's contract.
        *unsafe { out.as_mut() }.ok_or_else(|| Fail::null("out"))? = d;
        Ok(())
    })
}

/// `dk_dropout_new` from the probability of **keeping** an element: exactly
/// `dk_dropout_new(1 - keep_prob, ...)`.
///
/// Errors: `DK_INVALID_KEEP_PROB`, `DK_INVALID_ARGUMENT`, `DK_NULL_POINTER`.
///
/// Thread safe.
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
        return guard(|| Err(Error::InvalidKeepProb { keep_prob }.into()));
    }
    // SAFETY: forwarded contract.
    unsafe { dk_dropout_new(1.0 - keep_prob, seed, scaling, out) }
}

/// Validates `*d` as every call does (and starts its `threads` pool if it
/// has one): useful after changing its fields.
///
/// Errors: `DK_INVALID_RATE`, `DK_INVALID_ARGUMENT` (unknown scaling,
/// threading or ISA, `threads` above `DK_THREADS_MAX`),
/// `DK_ISA_UNAVAILABLE`, `DK_THREADS_UNAVAILABLE`, `DK_NULL_POINTER`.
///
/// Thread safe.
///
/// # Safety
/// `d` is null or valid for reading one `dk_dropout`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_check(d: *const dk_dropout) -> dk_status {
    // SAFETY: forwarded contract.
    guard(|| unsafe { config(d) }.map(|_| ()))
}

/// Sizes the global thread pool (the one of `dk_dropout`s with `threads ==
/// 0`) once, before any call uses it (otherwise it has one thread per
/// CPU). A `dk_dropout` with `threads > 0` needs no init call.
///
/// Errors: `DK_INVALID_ARGUMENT` (`threads == 0`),
/// `DK_THREADS_ALREADY_STARTED`.
///
/// Thread safe.
#[no_mangle]
pub extern "C" fn dk_threads_init(threads: usize) -> dk_status {
    guard(|| {
        if threads == 0 {
            return Err(Fail::invalid("dk_threads_init: threads is 0"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Fail::new(DK_THREADS_ALREADY_STARTED, format!("dk_threads_init: {e}")))
    })
}

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
        let out = unsafe { ops::mask_out(mask_kind, mask, mask_len, "mask") }?;
        let call = cfg.drop.at::<f32>(site.into());
        cfg.exec(elements, move || match out {
            MaskOut::None => call.mask(elements),
            out => call.mask_out(out).mask(elements),
        })
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
        let s: MaskShape = unsafe { ops::mask_shape(shape, rank) }?;
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
