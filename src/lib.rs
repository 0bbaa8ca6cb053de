//! # dropkit
//!
//! Dropout kernels for the CPU: SIMD (portable through `wide`, runtime
//! dispatched AVX2 and AVX-512 on x86-64, and a scalar fallback), multithreaded
//! over rayon, with a counter-based random stream so that the mask depends
//! only on `(seed, stream, global element index, rate)`.
//!
//! ```
//! use dropkit::{Dropout, Scaling};
//!
//! let drop = Dropout::new(0.1)?            // rate: probability of dropping
//!     .with_seed(42)
//!     .with_scaling(Scaling::Inverted);
//! let x = vec![1.0f32; 1000];
//! let mut y = vec![0.0f32; 1000];
//! drop.forward(/* stream */ 3, /* offset */ 0, &x, &mut y)?;
//! let kept = y.iter().filter(|&&v| v != 0.0).count();
//! assert!((850..950).contains(&kept));
//!
//! // The same tensor in two pieces, each with its global offset: same bits.
//! let mut y2 = vec![0.0f32; 1000];
//! drop.forward(3, 0, &x[..123], &mut y2[..123])?;
//! drop.forward(3, 123, &x[123..], &mut y2[123..])?;
//! assert_eq!(y, y2);
//! # Ok::<(), dropkit::Error>(())
//! ```
//!
//! ## The contract
//!
//! * **Stream v1** (frozen): element `g` of `(seed, stream)` draws the word
//!   `r(g)` from Xoshiro128++ lane `g & 15` of block `g >> 12`, at step
//!   `(g & 4095) >> 4`; each lane is seeded by Philox4x32-10 of counter
//!   `[(block << 4 | lane), stream]` and key `seed`. See [`mod@reference`].
//! * **Keep rule**: kept iff `r(g) < T` with `T = min(round(q * 2^32),
//!   2^32 - 1)`, `q = 1 - rate` in `f64`.
//! * **Values**: a kept element is `x * s` (one `f32` multiply); a dropped one
//!   is `+0.0` whatever `x` is (NaN included: it is selected, not multiplied,
//!   unlike PyTorch's CPU kernel, where NaN survives a drop).
//! * **Determinism**: the same bits for any thread count, any split of the
//!   tensor into calls, and every [`Isa`].
//! * **Edges**: rate 0 copies (in place: touches nothing); rate 1 writes
//!   `+0.0`; a bad rate is an [`Error`] at construction; no safe function
//!   panics, and nothing is written before a call is validated.
//!
//! ## Threads
//!
//! With [`Threading::Auto`] calls below [`PARALLEL_MIN`] elements stay on the
//! calling thread; larger ones are cut at 4096-element block boundaries and
//! run on the current rayon pool (`pool.install(..)` to choose it).
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod dropout;
mod error;
mod isa;
mod kernel;
mod layer;
mod philox;
pub mod reference;

pub use dropout::{mask_words, Dropout, Scaling, Threading, PARALLEL_MIN};
pub use error::Error;
pub use isa::Isa;
pub use layer::{fold_in, mc_mean_var, DropoutHandle, DropoutLayer};
