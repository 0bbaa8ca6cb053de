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

// cbindgen reads the items of these modules in the order they are
// declared, which is the header's order of constants and functions: the
// blank lines keep rustfmt from sorting them.
mod types;

mod config;

mod calls;

mod status;

mod dtype;

mod buffers;
mod descriptors;
mod ops;

#[rustfmt::skip]
mod generated;

pub use calls::*;
pub use config::*;
pub use dtype::*;
pub use generated::*;
pub use status::*;
pub use types::*;

pub(crate) use buffers::{slice, slice_mut};
pub(crate) use config::{config, Config};
pub(crate) use status::{guard, Fail};
