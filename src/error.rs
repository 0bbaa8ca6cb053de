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
    /// Input and output slices have different lengths.
    LengthMismatch {
        /// Length of the input.
        input: usize,
        /// Length of the output.
        output: usize,
    },
    /// The mask buffer is too short for the elements.
    MaskTooSmall {
        /// Elements the mask must cover.
        elements: usize,
        /// Mask length needed (words for a bit mask, bytes for a byte mask).
        needed: usize,
        /// Mask length given.
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
    /// A buffer's length does not match the shape the call implies: rows of
    /// Monte-Carlo samples, or the length a forward pass recorded in its
    /// handle.
    ShapeMismatch {
        /// Elements expected.
        expected: usize,
        /// Elements given.
        given: usize,
    },
    /// A fused call's data is not whole rows of `features` elements (or
    /// `features` is 0 with data).
    NotWholeRows {
        /// Elements given.
        len: usize,
        /// Row length.
        features: usize,
    },
    /// A fused call's bias (or `dbias`) is not one row long.
    BiasMismatch {
        /// Row length.
        features: usize,
        /// Bias elements given.
        given: usize,
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
            Error::LengthMismatch { input, output } => write!(
                f,
                "length mismatch: input has {input} elements, output has {output}"
            ),
            Error::MaskTooSmall {
                elements,
                needed,
                given,
            } => write!(
                f,
                "mask too small: {elements} elements need {needed}, got {given}"
            ),
            Error::OffsetOverflow { offset, len } => write!(
                f,
                "offset {offset} + length {len} overflows the u64 global index"
            ),
            Error::IsaUnavailable { isa } => {
                write!(f, "instruction set {isa:?} is not available on this CPU")
            }
            Error::ShapeMismatch { expected, given } => {
                write!(
                    f,
                    "shape mismatch: expected {expected} elements, got {given}"
                )
            }
            Error::NotWholeRows { len, features } => write!(
                f,
                "{len} elements are not whole rows of {features} features"
            ),
            Error::BiasMismatch { features, given } => {
                write!(f, "bias has {given} elements, rows have {features}")
            }
        }
    }
}

impl std::error::Error for Error {}
