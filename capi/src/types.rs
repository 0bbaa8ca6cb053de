//! The C types of the call model (`dk_site`, `dk_tensor`, `dk_mask_shape`,
//! `dk_options`, `dk_dropout`) and the constants of their fields (scaling,
//! threading, instruction set, mask kind, mask shape kind).

use dropkit::Site;
use std::ffi::c_void;

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
/// Instruction set: x86-64 AVX-512F with AVX-512VL and AVX-512BW, where the CPU has it.
pub const DK_ISA_AVX512: u32 = 4;
/// Instruction set: aarch64 NEON (every aarch64 CPU, no other).
pub const DK_ISA_NEON: u32 = 5;

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
