//! What a training loop needs around the raw operator: deriving streams
//! ([`fold_in`]), a stateful layer ([`DropoutLayer`]) whose backward pass
//! regenerates the forward mask, and Monte-Carlo dropout
//! ([`Dropout::mc_forward`], [`mc_mean_var`]).

use crate::element::Element;
use crate::philox::philox4x32_10;
use crate::{Dropout, Error};
use rayon::prelude::*;

/// Derives a new 64-bit stream (or seed) from `a` and `b`, like JAX's
/// `fold_in`: Philox4x32-10 with key `a` and counter `(b, "fold")`, first
/// two output words. For a fixed `a` it is a bijection of `b` (distinct
/// steps never share a stream), and every output bit depends on every input
/// bit. Frozen, like stream v1.
///
/// ```
/// use dropkit::fold_in;
/// let (layer, step, sample) = (3u64, 1000u64, 7u64);
/// let stream = fold_in(fold_in(layer, step), sample);
/// assert_ne!(stream, fold_in(fold_in(layer, step), sample + 1));
/// ```
pub fn fold_in(a: u64, b: u64) -> u64 {
    const FOLD: [u32; 2] = [0x666f_6c64, 0x5f69_6e00]; // "fold", "_in"
    let out = philox4x32_10(
        [b as u32, (b >> 32) as u32, FOLD[0], FOLD[1]],
        [a as u32, (a >> 32) as u32],
    );
    u64::from(out[0]) | (u64::from(out[1]) << 32)
}

/// What [`DropoutLayer::forward`] hands to [`DropoutLayer::backward`]: small
/// and `Copy`, it names the mask instead of storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropoutHandle {
    /// The stream the forward pass used.
    pub stream: u64,
    /// The global index of the first element.
    pub offset: u64,
    /// The number of elements.
    pub len: usize,
    /// Whether the forward pass was a training pass (else inference).
    pub training: bool,
}

/// A dropout layer for a training loop: a [`Dropout`], a layer id, a step
/// counter and a training flag.
///
/// In training, the stream of step `s` is `fold_in(layer_id, s)`; the step
/// only moves on [`DropoutLayer::advance`], so running the forward pass of
/// a step twice (checkpoint recomputation) gives the same mask by design.
/// In evaluation the layer does [`Dropout::inference`].
///
/// ```
/// use dropkit::{Dropout, DropoutLayer};
/// let mut layer = DropoutLayer::new(Dropout::new(0.5)?.with_seed(1), /* layer id */ 0);
/// let x = [1.0f32; 64];
/// let (mut y, mut dx) = ([0.0f32; 64], [0.0f32; 64]);
/// let h = layer.forward(&x, &mut y)?;
/// layer.backward(h, &[1.0; 64], &mut dx)?; // no mask stored anywhere
/// assert_eq!(y, dx);
/// layer.advance(); // next training step, next mask
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutLayer {
    dropout: Dropout,
    layer_id: u64,
    step: u64,
    training: bool,
}

impl DropoutLayer {
    /// A layer in training mode at step 0.
    pub fn new(dropout: Dropout, layer_id: u64) -> Self {
        DropoutLayer {
            dropout,
            layer_id,
            step: 0,
            training: true,
        }
    }

    /// The operator.
    pub fn dropout(&self) -> &Dropout {
        &self.dropout
    }

    /// Switches between training (`true`) and evaluation (`false`).
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The current step.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Sets the step (for example when resuming from a checkpoint).
    pub fn set_step(&mut self, step: u64) {
        self.step = step;
    }

    /// Moves to the next step: the next forward pass draws a fresh mask.
    pub fn advance(&mut self) {
        self.step = self.step.wrapping_add(1);
    }

    /// The stream of the current step: `fold_in(layer_id, step)`.
    pub fn stream(&self) -> u64 {
        fold_in(self.layer_id, self.step)
    }

    /// Forward pass of the whole tensor (offset 0).
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn forward<E: Element>(&self, x: &[E], y: &mut [E]) -> Result<DropoutHandle, Error> {
        self.forward_at(0, x, y)
    }

    /// Forward pass of a piece of the tensor starting at global index
    /// `offset` (pieces of one step computed separately equal the whole).
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn forward_at<E: Element>(
        &self,
        offset: u64,
        x: &[E],
        y: &mut [E],
    ) -> Result<DropoutHandle, Error> {
        let stream = self.stream();
        if self.training {
            self.dropout.forward(stream, offset, x, y)?;
        } else {
            self.dropout.inference(x, y)?;
        }
        Ok(DropoutHandle {
            stream,
            offset,
            len: x.len(),
            training: self.training,
        })
    }

    /// Backward pass for the forward pass that returned `handle`: the mask
    /// is regenerated, never stored.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `dy` or `dx` is not `handle.len` long.
    pub fn backward<E: Element>(
        &self,
        handle: DropoutHandle,
        dy: &[E],
        dx: &mut [E],
    ) -> Result<(), Error> {
        if dy.len() != handle.len {
            return Err(Error::LengthMismatch {
                input: handle.len,
                output: dy.len(),
            });
        }
        if handle.training {
            self.dropout.backward(handle.stream, handle.offset, dy, dx)
        } else {
            // Inference is linear: its gradient applies the same factor.
            self.dropout.inference(dy, dx)
        }
    }
}

impl Dropout {
    /// Monte-Carlo dropout: `samples` stochastic forward passes of the same
    /// input, sample `k` on stream `fold_in(stream, k)`, written as rows
    /// `out[k * x.len()..(k + 1) * x.len()]`. Parallel over samples (and
    /// over elements for long rows). Under [`crate::Scaling::Classic`] the rows are
    /// the training outputs, whose mean is `x * q` like Classic inference.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `out.len() == samples * x.len()`.
    ///
    /// ```
    /// use dropkit::{mc_mean_var, Dropout};
    /// let d = Dropout::new(0.5)?;
    /// let x = [1.0f32; 4];
    /// let mut rows = vec![0.0f32; 100 * 4];
    /// d.mc_forward(9, &x, &mut rows, 100)?;
    /// let (mut mean, mut var) = ([0.0f32; 4], [0.0f32; 4]);
    /// mc_mean_var(&rows, 4, &mut mean, &mut var)?;
    /// assert!(mean.iter().all(|&m| (m - 1.0).abs() < 0.5));
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mc_forward<E: Element>(
        &self,
        stream: u64,
        x: &[E],
        out: &mut [E],
        samples: usize,
    ) -> Result<(), Error> {
        let n = x.len();
        let expected = samples.checked_mul(n).ok_or(Error::ShapeMismatch {
            expected: usize::MAX,
            given: out.len(),
        })?;
        if out.len() != expected {
            return Err(Error::ShapeMismatch {
                expected,
                given: out.len(),
            });
        }
        if n == 0 {
            return Ok(());
        }
        out.par_chunks_mut(n)
            .enumerate()
            .try_for_each(|(k, row)| self.forward(fold_in(stream, k as u64), 0, x, row))
    }
}

/// Per-element mean and (population) variance over the `samples.len() / n`
/// rows of `samples` (the layout of [`Dropout::mc_forward`]), accumulated
/// in `f64`.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `samples.len()` is not a multiple of `n`, or
/// `mean` or `var` is not `n` long.
pub fn mc_mean_var<E: Element>(
    samples: &[E],
    n: usize,
    mean: &mut [E],
    var: &mut [E],
) -> Result<(), Error> {
    for len in [mean.len(), var.len()] {
        if len != n {
            return Err(Error::ShapeMismatch {
                expected: n,
                given: len,
            });
        }
    }
    if n == 0 {
        return Ok(());
    }
    if !samples.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch {
            expected: samples.len().next_multiple_of(n),
            given: samples.len(),
        });
    }
    // Welford's update, row by row (rows are contiguous).
    let (mut m, mut m2) = (vec![0f64; n], vec![0f64; n]);
    for (k, row) in samples.chunks_exact(n).enumerate() {
        let inv = 1.0 / (k + 1) as f64;
        for ((m, m2), &v) in m.iter_mut().zip(&mut m2).zip(row) {
            let v = v.to_f64();
            let d = v - *m;
            *m += d * inv;
            *m2 += d * (v - *m);
        }
    }
    let rows = (samples.len() / n).max(1) as f64;
    for i in 0..n {
        mean[i] = E::from_f64(m[i]);
        var[i] = E::from_f64(m2[i] / rows);
    }
    Ok(())
}
