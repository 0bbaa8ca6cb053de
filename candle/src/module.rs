//! [`Dropout`]: a module with `candle_nn::Dropout`'s surface, over
//! [`DropoutOp`].

use crate::op::{check_cpu, DropoutOp, Pass};
use candle_core::{ModuleT, Tensor};
use dropkit::{fold_in, MaskShape, Scaling, Site};
use std::sync::atomic::{AtomicU64, Ordering};

/// The layer ids [`Dropout::new`] and its siblings hand out, in
/// construction order.
static NEXT_LAYER_ID: AtomicU64 = AtomicU64::new(0);

/// A dropout module for candle models: `candle_nn::Dropout`'s surface
/// (`new(p)`, `forward(&xs, train)`, [`ModuleT`]) over dropkit's
/// deterministic kernels, with channel dropout and drop-path as mask
/// shapes.
///
/// Replacing `candle_nn::Dropout` is a change of path:
///
/// ```
/// use candle_core::{DType, Device, ModuleT, Tensor};
/// // was: let drop = candle_nn::Dropout::new(0.5);
/// let drop = dropkit_candle::Dropout::new(0.5);
/// let xs = Tensor::ones((2, 6), DType::F32, &Device::Cpu)?;
/// let train = drop.forward(&xs, true)?; // zeros and 2.0s
/// let eval = drop.forward_t(&xs, false)?; // the identity
/// assert_eq!(eval.to_vec2::<f32>()?, xs.to_vec2::<f32>()?);
/// # Ok::<(), candle_core::Error>(())
/// ```
///
/// # Streams: a layer id and a step
///
/// Every training call draws its mask from dropkit's stream
/// `fold_in(fold_in(layer_id, step), 0)` under the module's seed (the
/// stream of a [`dropkit::DropoutLayer`] with that layer id, at that step,
/// micro-batch 0), from global index 0 of the tensor. So:
///
/// - the **layer id** tells layers apart. [`Dropout::new`] (and
///   [`Dropout::channels`], [`Dropout::drop_path`], ...) take the next id of
///   a process-wide counter, 0, 1, 2, ... in construction order, so a
///   model built the same way in a fresh process gets the same ids. Set one
///   with [`Dropout::with_layer_id`] where that order is not fixed (layers
///   built on several threads, or a program that builds other modules
///   first); two modules with the same id and seed draw the same masks.
///   **Set ids on all modules of a model or on none:** the counter does not
///   know the ids set by hand, so `Dropout::new(p).with_layer_id(1)`
///   followed by `Dropout::new(p)` gives both modules id 1 (the second
///   took the counter's next value, 1) and so the same masks.
/// - the **step** gives each call a new mask. [`Dropout::forward`] in
///   training mode uses the module's own counter and then adds one to it:
///   the first call is step 0, the next step 1, ... ([`Dropout::step`],
///   [`Dropout::set_step`] to resume from a checkpoint). A module called
///   twice in one training step (a shared dropout) takes two steps, so its
///   two masks differ. [`Dropout::forward_step`] takes the step from the
///   caller instead and leaves the counter alone (the optimizer's step,
///   say, or a recomputation that must draw the same mask again).
/// - the **seed** ([`Dropout::with_seed`], default 0) is one per run.
/// - a **clone** is the same layer (same id) at the same step, with a step
///   counter of its own: the clone and the original then count their steps
///   apart, so a cloned model trained alongside the original draws the
///   original's masks again, step for step. Give the clone another id
///   ([`Dropout::with_layer_id`]) or seed where the two must differ.
///
/// The mask depends on nothing else: not the thread count, not the CPU's
/// instruction set, not the tensor's strides. The backward pass regenerates
/// it from the same seed and stream (see [`DropoutOp`]).
///
/// Evaluation mode (`train == false`) returns the input (a cheap clone,
/// as `candle_nn::Dropout` does) and does not count a step; under
/// [`Scaling::Classic`] it scales by the keep probability instead.
///
/// # Rates
///
/// `p` is the probability of dropping, taken as an `f64` (an `f32`
/// argument keeps its exact value: `0.1f32` is `0.10000000149...`).
/// [`Dropout::new`] does not fail, as `candle_nn::Dropout::new` does not: a
/// rate outside `[0, 1]` (or NaN) makes every training call of
/// [`Dropout::forward`] return an error that names it, while evaluation
/// mode returns the input, as `candle_nn::Dropout` does;
/// [`Dropout::try_new`] reports it at once. Unlike `candle_nn`, a rate of 1
/// is accepted (all zeros).
#[derive(Debug)]
pub struct Dropout {
    rate: f64,
    drop: Result<dropkit::Dropout, dropkit::Error>,
    layer_id: u64,
    shape: MaskShape,
    step: AtomicU64,
}

impl Clone for Dropout {
    /// A copy at the same step, with the same layer id (so the same masks),
    /// and a step counter of its own: training calls of the copy do not
    /// move the original's step, nor the original's the copy's, so both
    /// draw the same masks at the same steps (set another layer id or
    /// seed on the copy where they must differ).
    fn clone(&self) -> Self {
        Dropout {
            rate: self.rate,
            drop: self.drop,
            layer_id: self.layer_id,
            shape: self.shape,
            step: AtomicU64::new(self.step()),
        }
    }
}

impl Dropout {
    /// Dropout with rate `p` (the probability of dropping an element), the
    /// elementwise mask, seed 0 and the next layer id. Never fails: a bad
    /// rate is reported by [`Dropout::forward`] (see [`Dropout::try_new`]).
    pub fn new(p: impl Into<f64>) -> Self {
        let rate = p.into();
        Dropout::of(rate, dropkit::Dropout::new(rate), MaskShape::elementwise())
    }

    /// [`Dropout::new`], failing at once on a bad rate.
    ///
    /// # Errors
    /// A rate that is NaN, infinite, negative or above 1, named in the
    /// message.
    ///
    /// ```
    /// let e = dropkit_candle::Dropout::try_new(1.5).unwrap_err();
    /// assert!(e.to_string().contains("1.5"));
    /// ```
    pub fn try_new(p: impl Into<f64>) -> candle_core::Result<Self> {
        let d = Dropout::new(p);
        d.operator()?;
        Ok(d)
    }

    /// Channel dropout, channels first: one decision per `(sample,
    /// channel)` of a tensor `[N, C, ..]` (rank 2 or more), shared by its
    /// spatial positions. PyTorch's `Dropout1d/2d/3d`.
    pub fn channels(p: impl Into<f64>) -> Self {
        Dropout::new(p).with_mask_shape(MaskShape::channels_first())
    }

    /// Channel dropout, channels last: one decision per `(sample,
    /// channel)` of a tensor `[N, .., C]` (rank 2 or more). Keras
    /// `SpatialDropout*D` with channels last.
    pub fn channels_last(p: impl Into<f64>) -> Self {
        Dropout::new(p).with_mask_shape(MaskShape::channels_last())
    }

    /// Drop-path (stochastic depth): one decision per sample of a tensor
    /// `[N, ..]`, kept samples scaled by `1 / (1 - p)`. timm's `drop_path`,
    /// torchvision's `stochastic_depth(mode="row")`; applied to a residual
    /// branch before the add.
    pub fn drop_path(p: impl Into<f64>) -> Self {
        Dropout::new(p).with_mask_shape(MaskShape::per_sample())
    }

    /// A module over any [`dropkit::Dropout`] (its seed, scaling, threading
    /// and ISA), with the next layer id: `Scaling::Classic` or alpha
    /// dropout (`dropkit::Dropout::alpha`), for example.
    pub fn from_dropkit(drop: dropkit::Dropout) -> Self {
        Dropout::of(drop.rate(), Ok(drop), MaskShape::elementwise())
    }

    fn of(rate: f64, drop: Result<dropkit::Dropout, dropkit::Error>, shape: MaskShape) -> Self {
        Dropout {
            rate,
            drop,
            layer_id: NEXT_LAYER_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            step: AtomicU64::new(0),
        }
    }

    /// The same module with layer id `id`. The automatic ids do not skip
    /// ids set here: set ids on all modules of a model or on none (see
    /// [`Dropout`], "Streams").
    pub fn with_layer_id(self, id: u64) -> Self {
        Dropout {
            layer_id: id,
            ..self
        }
    }

    /// The same module with seed `seed` (one per run; default 0).
    pub fn with_seed(self, seed: u64) -> Self {
        Dropout {
            drop: self.drop.map(|d| d.with_seed(seed)),
            ..self
        }
    }

    /// The same module with any of dropkit's mask shapes
    /// ([`MaskShape::locked_time_major`], [`MaskShape::noise_shape`], ...).
    pub fn with_mask_shape(self, shape: MaskShape) -> Self {
        Dropout { shape, ..self }
    }

    /// The rate, as given.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The layer id.
    pub fn layer_id(&self) -> u64 {
        self.layer_id
    }

    /// The mask shape.
    pub fn mask_shape(&self) -> MaskShape {
        self.shape
    }

    /// The step the next counted training call uses.
    pub fn step(&self) -> u64 {
        self.step.load(Ordering::Relaxed)
    }

    /// Sets the step the next counted training call uses (resuming from a
    /// checkpoint).
    pub fn set_step(&self, step: u64) {
        self.step.store(step, Ordering::Relaxed);
    }

    /// The stream of a training call at `step`:
    /// `fold_in(fold_in(layer_id, step), 0)`.
    pub fn stream(&self, step: u64) -> u64 {
        fold_in(fold_in(self.layer_id, step), 0)
    }

    /// The operator.
    ///
    /// # Errors
    /// The rate given to [`Dropout::new`] if it was bad.
    pub fn operator(&self) -> candle_core::Result<dropkit::Dropout> {
        // dropkit's message names the rate: "invalid dropout rate 1.5:
        // must be a number in [0, 1]".
        self.drop
            .map_err(|e| candle_core::Error::Msg(format!("dropkit-candle Dropout: {e}")).bt())
    }

    /// The op a training call at `step` applies.
    ///
    /// # Errors
    /// As [`Dropout::operator`].
    pub fn op(&self, step: u64) -> candle_core::Result<DropoutOp> {
        Ok(DropoutOp::new(self.operator()?, Site::new(self.stream(step))).with_shape(self.shape))
    }

    /// `candle_nn::Dropout::forward`: in training mode (`train`) the
    /// dropout of `xs` at the module's step, which then moves on by one;
    /// else inference (the input itself under the default scaling, whatever
    /// the rate, as `candle_nn::Dropout`).
    ///
    /// # Errors
    /// In training mode: a bad rate (named), a dtype other than F32, F64,
    /// F16, BF16, a mask shape the tensor's rank does not take. In both
    /// modes: a tensor not on the CPU. The step does not move on error.
    pub fn forward(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if !train {
            return self.inference(xs);
        }
        // Reserve the step first: calls from several threads never share one.
        let step = self.step.fetch_add(1, Ordering::Relaxed);
        self.op(step)
            .and_then(|op| op.forward(xs))
            .inspect_err(|_| {
                // Give the step back unless another call has taken the next one.
                let _ = self.step.compare_exchange(
                    step.wrapping_add(1),
                    step,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            })
    }

    /// The training forward pass at the caller's `step` (the counter is
    /// left alone): the same step gives the same mask.
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn forward_step(&self, xs: &Tensor, step: u64) -> candle_core::Result<Tensor> {
        self.op(step)?.forward(xs)
    }

    fn inference(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        check_cpu(xs.device(), "dropkit-candle Dropout")?;
        // A bad rate is not an error here: candle_nn::Dropout checks the
        // rate only in training, and evaluation returns the input.
        let Ok(drop) = self.drop else {
            return Ok(xs.clone());
        };
        if drop.scaling() == Scaling::Classic {
            return DropoutOp::new(drop, Site::new(0))
                .with_pass(Pass::Inference)
                .forward(xs);
        }
        Ok(xs.clone())
    }
}

impl ModuleT for Dropout {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.forward(xs, train)
    }
}
