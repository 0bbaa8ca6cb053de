//! The public element trait: `f32`, `f64`, `half::f16` and `half::bf16`,
//! sealed. Their numeric rules are in `num`, their kernels per ISA in `arch`.

use crate::arch::Dispatch;
use crate::num::sealed::Sealed;
use half::{bf16, f16};

/// An element type dropkit computes on: `f32`, `f64`, [`half::f16`] or
/// [`half::bf16`]. Sealed: the crate implements it for exactly these four.
///
/// What a kept element becomes, with `s` the factor (`1 / q` in training
/// under [`crate::Scaling::Inverted`]) computed in `f64`:
///
/// | type | kept element | factor |
/// |---|---|---|
/// | `f32` | `x * s32`, one `f32` multiply | `s32 = s as f32` |
/// | `f64` | `x * s`, one `f64` multiply | `s` |
/// | `f16`, `bf16` | `from_f32(x.to_f32() * s32)`: one `f32` multiply, one round-to-nearest-even conversion (as `half`'s `from_f32`, subnormals kept) | `s32 = s as f32` |
///
/// A dropped element is `+0.0` of the type, whatever `x` is. The keep
/// decision never depends on the type: a mask written by an `f16` call is
/// the mask of the `f32` call with the same seed, stream, offset and rate.
pub trait Element: Sealed + Dispatch {}

impl Element for f32 {}
impl Element for f64 {}
impl Element for f16 {}
impl Element for bf16 {}
