//! # dropkit
//!
//! Dropout kernels for the CPU: SIMD (portable through `wide`, runtime
//! dispatched AVX2 and AVX-512 on x86-64, and a scalar fallback),
//! multithreaded over rayon, for `f32`, `f64`, [`half::f16`] and
//! [`half::bf16`], with a counter-based random stream so that the mask
//! depends only on `(seed, stream, global element index, rate)`.
//!
//! One call model: a [`Dropout`] (rate, seed, scaling, ISA, threading), a
//! [`Site`] (which random stream, from which global index), and a [`Call`]
//! whose options are set by name, run on any tensor: a slice, a `Vec`, a
//! strided [`View`]/[`ViewMut`], or an `ndarray` array or view (feature
//! `ndarray`, for `ndarray` 0.16).
//!
//! ```
//! use dropkit::{Dropout, MaskOut, MaskShape, Scaling, Site, View, ViewMut};
//!
//! let drop = Dropout::new(0.1)?            // rate: probability of dropping
//!     .with_seed(42)
//!     .with_scaling(Scaling::Inverted);
//! let x = vec![1.0f32; 1000];
//! let mut y = vec![0.0f32; 1000];
//! drop.at(Site::new(3)).forward(&x, &mut y)?;
//! let kept = y.iter().filter(|&&v| v != 0.0).count();
//! assert!((850..950).contains(&kept));
//!
//! // Its gradient regenerates the mask: nothing stored.
//! let mut dx = vec![0.0f32; 1000];
//! drop.at(Site::new(3)).backward(&x, &mut dx)?;
//! assert_eq!(dx, y);
//!
//! // The same tensor in two pieces, each at its global offset: same bits.
//! let mut y2 = vec![0.0f32; 1000];
//! drop.at(Site::new(3)).forward(&x[..123], &mut y2[..123])?;
//! drop.at(Site::new(3).at(123)).forward(&x[123..], &mut y2[123..])?;
//! assert_eq!(y, y2);
//!
//! // Any element type, the same mask.
//! let xh = vec![half::f16::ONE; 1000];
//! let mut yh = vec![half::f16::ZERO; 1000];
//! drop.at(Site::new(3)).forward(&xh, &mut yh)?;
//! assert!(yh.iter().zip(&y).all(|(h, f)| (h.to_f32() == 0.0) == (*f == 0.0)));
//!
//! // dropout2d on [N, C, H, W], its mask kept as bits, then the fused
//! // epilogue y = residual + dropout(x + bias) on [rows, 768].
//! let dims = [2, 4, 8, 8];
//! let img = vec![1.0f32; 2 * 4 * 64];
//! let mut out = vec![0.0f32; img.len()];
//! let mut bits = vec![0u64; dropkit::mask_words(MaskShape::channels_first().mask_len(&dims)?)];
//! drop.at(Site::new(4))
//!     .shape(MaskShape::channels_first())
//!     .mask_out(MaskOut::Bits(&mut bits))
//!     .forward(&View::dense(&img, &dims)?, &mut ViewMut::dense(&mut out, &dims)?)?;
//! let (rows, features) = (16, 768);
//! let (h, bias, residual) = (vec![0.5f32; rows * features], vec![0.25f32; features], vec![1.0f32; rows * features]);
//! let mut z = vec![0.0f32; rows * features];
//! drop.at(Site::new(5)).bias(&bias).residual(&residual).forward(&h, &mut z)?;
//! # Ok::<(), dropkit::Error>(())
//! ```
//!
//! | option of a [`Call`] | forward | backward |
//! |---|---|---|
//! | [`Call::shape`]: a [`MaskShape`] (channels, drop-path, locked, noise shape) | yes | yes |
//! | [`Call::mask_out`]: write the keep mask ([`MaskOut`] bits or bytes) | yes | |
//! | [`Call::mask_in`]: read a stored mask ([`MaskIn`]) | | yes |
//! | [`Call::bias`], [`Call::residual`]: the fused epilogue | yes | |
//! | [`Call::dbias`]: the bias gradient | | yes |
//!
//! Each operation has an in-place form ([`Call::forward_in_place`],
//! [`Call::backward_in_place`]); [`Call::mc_forward`] draws Monte-Carlo
//! samples, [`Dropout::mask`] only the mask, [`Dropout::inference`] needs no
//! site. [`DropoutLayer`] derives the stream per layer, step and
//! micro-batch and offers the same calls ([`DropoutLayer::at`],
//! [`DropoutLayer::replay`]). `CHANGELOG.md` maps every call of 0.1 to its
//! form here.
//!
//! # The contract
//!
//! Everything below is checked by the crate's tests against an independent
//! oracle (the `dropkit-reference` crate in this repository, which shares no
//! code with this one) and by checked-in known answers.
//!
//! ## Words
//!
//! The **rate** `p` (an `f64` in `[0, 1]`) is the probability that an
//! element is *dropped*; `q = 1 - p`, computed in `f64`, is the keep
//! probability. The **seed** (`u64`) names a model or run; the **stream**
//! (`u64`) a call site and step (layer, training step, Monte-Carlo sample:
//! see [`fold_in`]); the **offset** (`u64`) is the global index of a slice's
//! first element in the whole logical tensor, so element `i` of the slice
//! has global index `g = offset + i`.
//!
//! ## Stream v1 (frozen)
//!
//! One random `u32` word `r(g)` per global index:
//!
//! * Indices form blocks of [`BLOCK`] = 4096: block `b = g >> 12`, in-block
//!   position `j = g & 4095`, lane `l = j & 15`, step `t = j >> 4` (16
//!   consecutive indices are one step of 16 lanes).
//! * Each `(b, l)` has its own Xoshiro128++ generator. Its state is the four
//!   output words of Philox4x32-10 (Salmon et al., SC'11, as in Random123)
//!   with counter `[c, c >> 32, stream, stream >> 32]` (each truncated to
//!   `u32`), `c = (b << 4) | l`, and key `[seed, seed >> 32]`, used in order
//!   as Xoshiro's `s[0..4]`; an all-zero state becomes `[1, 0, 0, 0]`.
//! * `r(g)` is output number `t` (from 0) of that generator.
//!
//! Known answers, checked by `tests/suite/known_answers.rs`: Philox of the zero
//! counter and key is `6627e8d5 e169c58d bc57ac4c 9b00dbd8`; with seed 0 and
//! stream 0 the first words are `fa8a3f55 2acad225 4ae729ce 32a785c4`.
//!
//! ## Keep rule
//!
//! For `0 < p < 1`, element `g` is kept iff `r(g) < T` with
//! `T = min(round(q * 2^32), 2^32 - 1)` computed in `f64` (`T(0.1) =
//! 3865470566`, `T(0.5) = 2^31`). Rate 0 keeps everything and rate 1 drops
//! everything without drawing words. For rates up to `2^-54`, `q` rounds to
//! 1.0 and `T` to `2^32 - 1`, so an element whose word is `0xffffffff` is
//! still dropped. The decision never depends on the element type.
//!
//! ## Scaling, per element type
//!
//! Under [`Scaling::Inverted`] (the default, as in PyTorch, TensorFlow and
//! JAX) training multiplies kept elements by `s = 1 / q` and inference is
//! the identity; under [`Scaling::Classic`] (the original paper) training
//! keeps elements as they are (`s = 1`) and inference multiplies by `q`.
//! Factors are computed in `f64` and rounded once to the type's factor type;
//! see [`Element`] for the table: `f32` one `f32` multiply by `s as f32`;
//! `f64` one `f64` multiply by `s`; `f16` and `bf16` widened to `f32`, one
//! `f32` multiply by `s as f32`, rounded back to nearest even (as `half`'s
//! `from_f32`, subnormals kept). No FMA and no reordering, so every ISA and
//! thread count gives the same bits. A dropped element is `+0.0` of the type
//! whatever `x` is: it is selected, not multiplied, so a NaN is dropped too
//! (PyTorch's CPU kernel multiplies, and its NaN survives a drop). A kept NaN
//! stays NaN.
//!
//! ## Edges
//!
//! | input | result |
//! |---|---|
//! | rate 0 | output = input bit for bit (in place: nothing touched); backward passes the gradient |
//! | rate 1 | output all `+0.0`, backward all `+0.0`, never NaN (Classic inference too) |
//! | rate NaN, infinite, `< 0`, `> 1` | [`Error::InvalidRate`] from [`Dropout::new`] |
//! | empty slice | `Ok`, nothing written |
//! | lengths differ, mask too small, bias not one row | [`Error::Size`] (what, expected, given) |
//! | an option the pass does not take | [`Error::Unsupported`] (what) |
//! | `offset + len` overflows `u64` | [`Error::OffsetOverflow`] |
//!
//! Every call validates first: nothing is written on error, and no public
//! safe function panics.
//!
//! ## Shapes: strided views and broadcast masks
//!
//! A tensor is a row-major logical shape of rank 1 to [`MAX_RANK`] stored
//! with any element strides ([`Layout`], [`View`], [`ViewMut`]); its logical
//! index is the row-major position, so a strided call gives the bits of the
//! same call on a dense copy and never touches padding. A mask shape
//! ([`MaskShape`]) has each extent equal to the data's or 1; mask element `u`
//! (row-major) is kept iff `r(offset + u) < T`, so the mask is the
//! elementwise mask of its own element count, and every data element takes
//! the mask element at its index (0 along the axes where the mask's extent
//! is 1). The generator runs once per mask element. A slab of leading rows
//! ([`MaskShape::slab`]) gives the bits of those rows of the whole call.
//!
//! | PyTorch / TF / Flax | dropkit |
//! |---|---|
//! | `F.dropout(x, p)` | [`Call::forward`] (the default [`MaskShape::elementwise`]) on any tensor |
//! | `F.dropout1d/2d/3d`, `nn.Dropout1d/2d/3d` | [`MaskShape::channels_first`] on `[N, C, L..]` |
//! | Keras `SpatialDropout1D`, `SpatialDropout2D/3D` (channels last) | [`MaskShape::channels_last`] on `[N, L.., C]` |
//! | timm `drop_path`, torchvision `stochastic_depth(mode="row")` | [`MaskShape::per_sample`] |
//! | AWD-LSTM `LockedDropout` | [`MaskShape::locked_time_major`] (`[T, B, F]`), [`MaskShape::locked_batch_major`] (`[B, T, F]`) |
//! | TF `tf.nn.dropout(x, rate, noise_shape=s)` | [`MaskShape::noise_shape`]`(&s)` (full rank, no `None`) |
//! | Flax `nn.Dropout(rate, broadcast_dims=d)` | [`MaskShape::broadcast_dims`]`(&d)` (negative axes as `rank + d`) |
//! | unbatched `dropout1d` on `[C, L]` | [`MaskShape::channels_first`] on `[1, C, L]` |
//! | `F.alpha_dropout`, `nn.AlphaDropout` | [`Dropout::alpha`], then any call but the fused forward |
//! | `F.feature_alpha_dropout` | [`Dropout::alpha`] with [`MaskShape::channels_first`] |
//!
//! Every mask shape takes every option but the fused ones: forward out of
//! place and in place, with a bit or byte mask of the mask shape
//! ([`MaskShape::mask_len`] elements), the mask-free backward, the backward
//! from a mask, for every element type, ISA and thread count with the same
//! bits.
//!
//! **Alpha dropout** ([`Scaling::Alpha`]): with `ALPHA' =`
//! [`ALPHA_PRIME`], `a = 1 / sqrt((1 - p)(1 + p ALPHA'^2))` and
//! `b = -a ALPHA' p` in `f64`, kept elements become `x * a + b` (one
//! multiply, one add, in `f32` for `f32` and the half types with `a`, `b`
//! rounded once, in `f64` for `f64`) and dropped ones the dropped value
//! `a ALPHA' + b` rounded once; mean 0 and variance 1 stay. Inference is the
//! identity, the backward pass `dy * a` where kept; rate 1 writes `+0.0`.
//! The fused epilogue's forward refuses it ([`Error::Unsupported`]).
//!
//! ## Determinism
//!
//! The output is the same bits for every thread count, every [`Isa`], and
//! every split of the tensor into calls with their offsets; the backward
//! pass regenerates the mask instead of storing it.
//! `tests/data/stability.txt` pins outputs of every element type; changing
//! any of them is a breaking release.
//!
//! # Which call do I need
//!
//! | I want to | call |
//! |---|---|
//! | drop out a tensor in training | `d.at(site).forward(&x, &mut y)` (or [`Call::forward_in_place`]) |
//! | its gradient, storing nothing | `d.at(site).backward(&dy, &mut dx)` with the same site, or [`Dropout::replay`] of the forward's handle |
//! | keep the mask anyway (another library's backward, inspection) | `.mask_out(MaskOut::Bits(&mut words))` (or `Bytes`) on the forward, then `.mask_in(MaskIn::Bits(&words))` on the backward |
//! | only the mask | [`Dropout::mask`] |
//! | the layer at test time | [`Dropout::inference`] |
//! | streams per layer, step, micro-batch, handled for me | [`DropoutLayer`] |
//! | uncertainty from many masks | [`Call::mc_forward`], [`mc_mean_var`] |
//! | one thread, or my own pool | [`Threading::Sequential`], or call inside `pool.install(..)` |
//! | channel dropout, drop-path, locked dropout, any noise shape | `.shape(MaskShape::channels_first())` and the others of [`MaskShape`] |
//! | strided or padded tensors | [`View`], [`ViewMut`] with a [`Layout`], or `ndarray` views |
//! | the size of a shaped call's mask | [`MaskShape::mask_len`] (bytes; bits: [`mask_words`] of it) |
//! | a shard of a structured tensor | [`MaskShape::slab`] |
//! | `y = residual + dropout(x + bias)` and its `dbias` | [`Call::bias`], [`Call::residual`]; [`Call::dbias`] |
//! | alpha dropout (SELU networks) | [`Dropout::alpha`] |
//! | the speed limit of this CPU | [`bench::stream_words`] |
//!
//! # Stream conventions
//!
//! A mask is named by `(seed, stream)` and placed by `offset`. Derive
//! streams with [`fold_in`], a bijection in its second argument, so that
//! distinct steps, micro-batches or samples never share one:
//!
//! * **layer and step**: `fold_in(layer_id, step)`;
//! * **micro-batch** `m` of a step (gradient accumulation):
//!   `fold_in(fold_in(layer_id, step), m)`, what [`DropoutLayer`] uses;
//! * **data-parallel rank**: the same stream on every rank, and each shard
//!   at its **offset** in the global batch, so the global mask does not
//!   depend on the number of ranks (a shaped call instead passes the whole
//!   tensor's offset and says where its rows start with [`MaskShape::slab`]);
//! * **Monte-Carlo sample** `k`: `fold_in(stream, k)`, what
//!   [`Call::mc_forward`] uses.
//!
//! An engine loop with micro-batches, two ranks and its own thread pool,
//! whose backward regenerates every mask:
//!
//! ```
//! use dropkit::{Dropout, DropoutLayer};
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
//! let mut layer = DropoutLayer::new(Dropout::new(0.1)?.with_seed(2024), /* layer */ 3);
//! let (batch, features, ranks) = (8usize, 1000usize, 2usize);
//! let rows_per_rank = batch / ranks;
//! for step in 0..2u64 {
//!     layer.set_step(step);
//!     for micro in 0..3u64 {
//!         layer.set_micro_batch(micro);
//!         for rank in 0..ranks {
//!             // This rank's shard of the micro-batch, at its global offset.
//!             let offset = (rank * rows_per_rank * features) as u64;
//!             let x = vec![1.0f32; rows_per_rank * features];
//!             let mut y = vec![0.0f32; x.len()];
//!             let h = pool.install(|| layer.at(offset).forward(&x, &mut y))?;
//!             let dy = vec![1.0f32; x.len()];
//!             let mut dx = vec![0.0f32; x.len()];
//!             pool.install(|| layer.replay(h).backward(&dy, &mut dx))?;
//!             assert_eq!(dx, y); // the same mask, regenerated
//!         }
//!     }
//! }
//! # Ok::<(), dropkit::Error>(())
//! ```
//!
//! # Threads and memory
//!
//! With [`Threading::Auto`] calls below [`Dropout::parallel_min`] elements
//! stay on the calling thread; larger ones are cut at block boundaries and
//! run on the current rayon pool (`pool.install(..)` to choose it). Without
//! the `rayon` feature, or where no thread can be started, every call stays
//! on the calling thread. [`Dropout`] and [`DropoutLayer`] are small `Copy`
//! values, `Send` and `Sync`, with no interior state: share them freely. No
//! call that stays on the calling thread allocates (`tests/alloc.rs` checks
//! every operation and type under a counting allocator); calls spread over
//! rayon allocate only inside rayon.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arch;
mod backward;
pub mod bench;
mod call;
mod config;
mod driver;
mod element;
mod error;
mod fused;
mod isa;
mod kernel;
mod layer;
mod layout;
pub mod limits;
mod mask_shape;
mod mc;
#[cfg(feature = "ndarray")]
mod ndarray_views;
mod num;
mod ops;
mod philox;
mod plan;
mod rule;
mod run;
mod shaped_call;
mod site;
mod tensor;
mod view;

pub use call::{Call, DropoutHandle};
pub use config::{Dropout, Scaling, Threading};
pub use element::Element;
pub use error::Error;
pub use half;
pub use isa::{avx512_layout, Avx512Layout, Isa};
pub use layer::DropoutLayer;
pub use layout::Layout;
pub use limits::{BLOCK, MAX_RANK};
pub use limits::{PARALLEL_MIN, PARALLEL_MIN_IN_POOL};
pub use mask_shape::{mask_words, MaskIn, MaskOut, MaskShape};
pub use mc::mc_mean_var;
pub use philox::fold_in;
pub use tensor::{AsView, AsViewMut};

pub use rule::ALPHA_PRIME;
pub use site::Site;
pub use view::{View, ViewMut};
