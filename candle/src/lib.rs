//! dropkit's deterministic dropout for [candle](https://github.com/huggingface/candle)
//! models on the CPU.
//!
//! - [`Dropout`]: a module with `candle_nn::Dropout`'s surface (`new(p)`,
//!   `forward(&xs, train)`, `ModuleT`), plus channel dropout
//!   ([`Dropout::channels`]) and drop-path ([`Dropout::drop_path`]). Swap
//!   the path and the model trains as before, with masks that are the same
//!   bits on every run, thread count and CPU.
//! - [`DropoutOp`]: the `candle_core::CustomOp1` (and `InplaceOp1`) under
//!   it, for F32, F64, F16 and BF16 CPU tensors of any layout (strided,
//!   transposed, narrowed, broadcast), read in place. Its backward pass
//!   regenerates the mask from (seed, stream, offset) instead of storing
//!   it, so candle's autograd trains through it.
//! - [`dropout`]: the function form, as `candle_nn::ops::dropout`, with a
//!   seed and a [`Site`] instead of a thread-local random generator.
//!
//! The op and its backward pass:
//!
//! ```
//! use candle_core::{DType, Device, Tensor, Var};
//! use dropkit_candle::Dropout;
//!
//! let drop = Dropout::new(0.5).with_seed(42).with_layer_id(0);
//! let w = Var::from_tensor(&Tensor::ones((3, 4), DType::F32, &Device::Cpu)?)?;
//! let y = drop.forward(w.as_tensor(), true)?; // step 0; the next call is step 1
//! let grads = y.sum_all()?.backward()?; // the mask, regenerated, times 2
//! assert_eq!(grads.get(&w).unwrap().to_vec2::<f32>()?, y.to_vec2::<f32>()?);
//! // The same layer id, seed and step give the same mask.
//! assert_eq!(drop.forward_step(w.as_tensor(), 0)?.to_vec2::<f32>()?, y.to_vec2::<f32>()?);
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! # Replacing `candle_nn::Dropout` in a model
//!
//! Change the type and the constructor; nothing else:
//!
//! ```
//! use candle_core::{DType, Device, ModuleT, Tensor};
//! use candle_nn::{Linear, Module, Optimizer, VarBuilder, VarMap, SGD};
//!
//! struct Mlp {
//!     l1: Linear,
//!     drop: dropkit_candle::Dropout, // was: candle_nn::Dropout
//!     l2: Linear,
//! }
//!
//! impl ModuleT for Mlp {
//!     fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
//!         let h = self.l1.forward(xs)?.relu()?;
//!         let h = self.drop.forward(&h, train)?; // or h.apply_t(&self.drop, train)?
//!         self.l2.forward(&h)
//!     }
//! }
//!
//! # fn main() -> candle_core::Result<()> {
//! let vars = VarMap::new();
//! let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
//! let model = Mlp {
//!     l1: candle_nn::linear(4, 16, vb.pp("l1"))?,
//!     drop: dropkit_candle::Dropout::new(0.2), // was: candle_nn::Dropout::new(0.2)
//!     l2: candle_nn::linear(16, 1, vb.pp("l2"))?,
//! };
//! let xs = Tensor::randn(0f32, 1., (32, 4), &Device::Cpu)?;
//! let ys = xs.sum_keepdim(1)?;
//! let mut sgd = SGD::new(vars.all_vars(), 0.05)?;
//! let before = (model.forward_t(&xs, false)? - &ys)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
//! for _ in 0..100 {
//!     let loss = (model.forward_t(&xs, true)? - &ys)?.sqr()?.mean_all()?;
//!     sgd.backward_step(&loss)?; // the backward pass regenerates each mask
//! }
//! let eval = model.forward_t(&xs, false)?; // evaluation: dropout is the identity
//! let after = (eval - &ys)?.sqr()?.mean_all()?.to_scalar::<f32>()?;
//! assert!(after < before, "{before} -> {after}");
//! # Ok(())
//! # }
//! ```
//!
//! See [`Dropout`] for the stream convention (a layer id and a step),
//! channel dropout and drop-path.
//!
//! Non-CPU tensors get an error that says so; so do other dtypes, bad
//! rates and mask shapes a tensor's rank does not take. Nothing here
//! panics on bad input.
//!
//! The numbers (keep rule, factor per element type, `+0.0` for a dropped
//! element, NaN handling) are dropkit's: see its README and `SPEC.md`.
//! Every output equals dropkit's own call on the same data bit for bit.

#![deny(missing_docs)]

mod module;
mod op;

pub use dropkit;
pub use dropkit::{MaskShape, Site};
pub use module::Dropout;
pub use op::{DropoutOp, Pass};

/// The training forward pass of `drop` at `site` on `xs`, with autograd:
/// `candle_nn::ops::dropout` with a deterministic mask.
///
/// # Errors
/// As [`DropoutOp::forward`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// let xs = Tensor::arange(0f32, 8., &Device::Cpu)?;
/// let drop = dropkit::Dropout::new(0.25).unwrap().with_seed(3);
/// let a = dropkit_candle::dropout(&xs, &drop, dropkit::Site::new(1))?;
/// let b = dropkit_candle::dropout(&xs, &drop, dropkit::Site::new(1))?;
/// assert_eq!(a.to_vec1::<f32>()?, b.to_vec1::<f32>()?);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn dropout(
    xs: &candle_core::Tensor,
    drop: &dropkit::Dropout,
    site: Site,
) -> candle_core::Result<candle_core::Tensor> {
    DropoutOp::new(*drop, site).forward(xs)
}
