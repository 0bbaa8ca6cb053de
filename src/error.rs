//! The crate's one error type.

use crate::Isa;
use core::fmt;

/// Everything a dropkit call can reject. Nothing is written to any output when
/// a call returns an error.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The drop rate is NaN, infinite, negative or above 1.
    InvalidRate {
        /// The rejected rate.
        rate: f64,
    },
    /// The keep probability is NaN, infinite, negative or above 1.
    InvalidKeepProb {
        /// The rejected keep probability.
        keep_prob: f64,
    },
    /// A buffer or tensor has the wrong size: `what` names it and the
    /// rule ("(at least)" where a longer buffer is fine), `expected` is
    /// the size the call needs, `given` the size it got.
    Size {
        /// The buffer or tensor and its unit, e.g. `"mask words (at
        /// least)"`, `"output elements (the input's)"`.
        what: &'static str,
        /// The size needed.
        expected: usize,
        /// The size given.
        given: usize,
    },
    /// `offset + len` does not fit in a `u64`: the slice would run past the
    /// last global index.
    OffsetOverflow {
        /// The offset given.
        offset: u64,
        /// The slice length.
        len: usize,
    },
    /// A forced instruction set that this CPU (or build) does not run.
    IsaUnavailable {
        /// The instruction set asked for.
        isa: Isa,
    },
    /// A fused call's 1-D data is not whole rows of `features` elements
    /// (the bias's or `dbias`'s length), or `features` is 0 with data. (On
    /// a tensor of rank 2 or more the last axis must be `features`: else
    /// [`Error::Size`].)
    NotWholeRows {
        /// Elements given.
        len: usize,
        /// Row length.
        features: usize,
    },
    /// A shape's rank is outside what the call takes: 0, above
    /// [`crate::MAX_RANK`], or below what a named mask shape needs.
    UnsupportedRank {
        /// The rank given.
        rank: usize,
        /// The smallest rank the call takes.
        min: usize,
        /// The largest rank the call takes.
        max: usize,
    },
    /// Two shapes of one call have different ranks (input and output, data
    /// and mask, dims and strides).
    RankMismatch {
        /// The rank expected.
        expected: usize,
        /// The rank given.
        given: usize,
    },
    /// Input and output views have different extents along `axis`.
    DimMismatch {
        /// The axis.
        axis: usize,
        /// The input's extent.
        input: usize,
        /// The output's extent.
        output: usize,
    },
    /// A mask dimension is neither 1 nor the data's extent.
    BadMaskDim {
        /// The axis.
        axis: usize,
        /// The data's extent.
        data: usize,
        /// The mask's extent.
        mask: usize,
    },
    /// An axis named by a broadcast list is not below the rank.
    BadAxis {
        /// The axis given.
        axis: usize,
        /// The data's rank.
        rank: usize,
    },
    /// An output view whose logical elements cannot be proven to be at
    /// distinct addresses (two elements at one address would make the
    /// result depend on order). The check is conservative, not exact:
    /// leaving out axes of extent 1 and sorting the others by stride, each
    /// axis's stride must be greater than the span of the axes before it
    /// (the sum of `(dim - 1) * stride` over them; so the smallest stride
    /// must be at least 1). Every layout with a shared address (a stride 0,
    /// rows that overlap) fails it, and so do some whose addresses are all
    /// distinct, which are refused too: dims `[3, 3]` with strides `[2, 3]`
    /// (the stride 3 is not above the other axis's span, 4).
    SelfOverlap,
    /// A shape's element count, or its largest address, overflows `usize`.
    SizeOverflow,
    /// A slab of leading rows reaches past the tensor's first dimension.
    SlabOutOfRange {
        /// First row of the slab.
        start: usize,
        /// Rows of the slab.
        rows: usize,
        /// Rows of the whole tensor.
        total: usize,
    },
    /// The call does not support this configuration; `what` says which
    /// (alpha dropout in the fused forward pass, an option the pass does
    /// not take, an `ndarray` view with a negative stride).
    Unsupported {
        /// What is not supported.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidRate { rate } => {
                write!(f, "invalid dropout rate {rate}: must be a number in [0, 1]")
            }
            Error::InvalidKeepProb { keep_prob } => write!(
                f,
                "invalid keep probability {keep_prob}: must be a number in [0, 1]"
            ),
            Error::Size {
                what,
                expected,
                given,
            } => write!(f, "wrong size: {what}: expected {expected}, given {given}"),
            Error::OffsetOverflow { offset, len } => write!(
                f,
                "offset {offset} + length {len} overflows the u64 global index"
            ),
            Error::IsaUnavailable { isa } => {
                write!(f, "instruction set {isa:?} is not available on this CPU")
            }
            Error::NotWholeRows { len, features } => write!(
                f,
                "{len} elements are not whole rows of {features} features"
            ),
            Error::UnsupportedRank { rank, min, max } => {
                write!(f, "rank {rank} is not supported here (from {min} to {max})")
            }
            Error::RankMismatch { expected, given } => {
                write!(f, "rank mismatch: expected rank {expected}, got {given}")
            }
            Error::DimMismatch {
                axis,
                input,
                output,
            } => write!(
                f,
                "axis {axis}: input has extent {input}, output has {output}"
            ),
            Error::BadMaskDim { axis, data, mask } => write!(
                f,
                "axis {axis}: mask extent {mask} is neither 1 nor the data's {data}"
            ),
            Error::BadAxis { axis, rank } => {
                write!(f, "axis {axis} is out of range for rank {rank}")
            }
            Error::SelfOverlap => write!(
                f,
                "output view: cannot prove its elements are at distinct addresses \
                 (sorted by stride, each axis of extent above 1 must have a stride \
                 greater than the span of the smaller-stride axes)"
            ),
            Error::SizeOverflow => write!(f, "shape size overflows usize"),
            Error::SlabOutOfRange { start, rows, total } => write!(
                f,
                "slab of {rows} rows from row {start} is outside the {total} rows of the tensor"
            ),
            Error::Unsupported { what } => write!(f, "not supported: {what}"),
        }
    }
}

impl std::error::Error for Error {}
