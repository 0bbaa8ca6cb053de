//! What a training loop needs around the raw operator: deriving streams
//! ([`fold_in`]) and a stateful layer ([`DropoutLayer`]) whose backward pass
//! regenerates the forward mask.

use crate::element::Element;
use crate::philox::philox4x32_10;
use crate::{Dropout, Error};

/// Derives a new 64-bit stream (or seed) from `a` and `b`, like JAX's
/// `fold_in`. Frozen, like stream v1.
///
/// For every `a` it is a **bijection of `b`**: distinct steps (samples,
/// micro-batches) of one layer never share a stream. The construction makes
/// that a fact, not a probability: two 64-bit round keys `k0, k1` are drawn
/// from `a` (Philox4x32-10 of `a`), and the result is
/// `mix(mix(b ^ k0) ^ k1)`, where `mix` is the SplitMix64 finalizer
/// (`x ^= x >> 30; x *= C1; x ^= x >> 27; x *= C2; x ^= x >> 31` with odd
/// `C1`, `C2`). Each step (xor with a constant, xor with a right shift of
/// itself, multiplication by an odd constant modulo 2^64) is invertible, so
/// their composition is a permutation of `b`. Every output bit depends on
/// every bit of `a` and of `b`.
///
/// ```
/// use dropkit::fold_in;
/// let (layer, step, sample) = (3u64, 1000u64, 7u64);
/// let stream = fold_in(fold_in(layer, step), sample);
/// assert_ne!(stream, fold_in(fold_in(layer, step), sample + 1));
/// ```
pub fn fold_in(a: u64, b: u64) -> u64 {
    const FOLD: [u32; 2] = [0x666f_6c64, 0x5f69_6e00]; // "fold", "_in"
    let k = philox4x32_10([a as u32, (a >> 32) as u32, FOLD[0], FOLD[1]], [0, 0]);
    let k0 = u64::from(k[0]) | (u64::from(k[1]) << 32);
    let k1 = u64::from(k[2]) | (u64::from(k[3]) << 32);
    mix(mix(b ^ k0) ^ k1)
}

/// The SplitMix64 finalizer: a bijection of `u64` with full avalanche.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What a [`DropoutLayer`] forward pass hands to its backward pass: small
/// and `Copy`, it names the mask instead of storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropoutHandle {
    stream: u64,
    offset: u64,
    len: usize,
    training: bool,
}

impl DropoutHandle {
    /// The stream the forward pass used.
    pub fn stream(&self) -> u64 {
        self.stream
    }
    /// The global index of the first element.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the forward pass covered no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether the forward pass was a training pass (else inference).
    pub fn training(&self) -> bool {
        self.training
    }
}

/// A dropout layer for a training loop: a [`Dropout`], a layer id, a step
/// counter, a micro-batch index and a training flag.
///
/// The stream of (step `s`, micro-batch `m`) is
/// `fold_in(fold_in(layer_id, s), m)`: a new mask every step and every
/// micro-batch of a step (gradient accumulation), and the same mask when a
/// step is recomputed (checkpointing), because only [`DropoutLayer::advance`]
/// and [`DropoutLayer::set_micro_batch`] move it. Data-parallel ranks give
/// each shard's global offset to the `_at` methods, so the mask of the
/// global batch does not depend on the number of ranks. Two layers built
/// with the same id share their masks: give every layer its own id.
///
/// In evaluation mode the layer does [`Dropout::inference`].
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
    micro: u64,
    training: bool,
}

impl DropoutLayer {
    /// A layer in training mode at step 0, micro-batch 0.
    pub fn new(dropout: Dropout, layer_id: u64) -> Self {
        DropoutLayer {
            dropout,
            layer_id,
            step: 0,
            micro: 0,
            training: true,
        }
    }

    /// The operator.
    pub fn dropout(&self) -> &Dropout {
        &self.dropout
    }

    /// The layer id.
    pub fn layer_id(&self) -> u64 {
        self.layer_id
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

    /// Sets the step (for example when resuming from a checkpoint); the
    /// micro-batch goes back to 0.
    pub fn set_step(&mut self, step: u64) {
        self.step = step;
        self.micro = 0;
    }

    /// Moves to the next step (micro-batch 0): the next forward pass draws a
    /// fresh mask.
    pub fn advance(&mut self) {
        self.set_step(self.step.wrapping_add(1));
    }

    /// The current micro-batch of the step.
    pub fn micro_batch(&self) -> u64 {
        self.micro
    }

    /// Selects micro-batch `m` of the current step (gradient accumulation:
    /// every micro-batch gets its own mask).
    pub fn set_micro_batch(&mut self, m: u64) {
        self.micro = m;
    }

    /// The stream of the current step and micro-batch:
    /// `fold_in(fold_in(layer_id, step), micro_batch)`.
    pub fn stream(&self) -> u64 {
        fold_in(fold_in(self.layer_id, self.step), self.micro)
    }

    fn handle(&self, offset: u64, len: usize) -> DropoutHandle {
        DropoutHandle {
            stream: self.stream(),
            offset,
            len,
            training: self.training,
        }
    }

    /// Forward pass of the whole tensor (offset 0).
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn forward<E: Element>(&self, x: &[E], y: &mut [E]) -> Result<DropoutHandle, Error> {
        self.forward_at(0, x, y)
    }

    /// Forward pass of a piece of the tensor starting at global index
    /// `offset` (a rank's shard, a row range): pieces computed separately
    /// equal the whole.
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn forward_at<E: Element>(
        &self,
        offset: u64,
        x: &[E],
        y: &mut [E],
    ) -> Result<DropoutHandle, Error> {
        if self.training {
            self.dropout.forward(self.stream(), offset, x, y)?;
        } else {
            self.dropout.inference(x, y)?;
        }
        Ok(self.handle(offset, x.len()))
    }

    /// [`DropoutLayer::forward_at`] in place.
    ///
    /// # Errors
    /// As [`Dropout::forward_in_place`].
    pub fn forward_in_place_at<E: Element>(
        &self,
        offset: u64,
        x: &mut [E],
    ) -> Result<DropoutHandle, Error> {
        if self.training {
            self.dropout.forward_in_place(self.stream(), offset, x)?;
        } else {
            self.dropout.inference_in_place(x)?;
        }
        Ok(self.handle(offset, x.len()))
    }

    /// [`DropoutLayer::forward_at`] that also writes the keep bit mask
    /// (layout of [`Dropout::forward_with_mask`]; all ones in evaluation).
    ///
    /// # Errors
    /// As [`Dropout::forward_with_mask`].
    pub fn forward_with_mask_at<E: Element>(
        &self,
        offset: u64,
        x: &[E],
        y: &mut [E],
        mask: &mut [u64],
    ) -> Result<DropoutHandle, Error> {
        if self.training {
            self.dropout
                .forward_with_mask(self.stream(), offset, x, y, mask)?;
        } else {
            // Validate everything before writing anything.
            crate::ops::check_len(x.len(), y.len())?;
            let keep_all = Dropout::new(0.0)?;
            keep_all.mask_bits(0, offset, x.len(), mask)?;
            self.dropout.inference(x, y)?;
        }
        Ok(self.handle(offset, x.len()))
    }

    /// [`DropoutLayer::forward_at`] that also writes one byte per element
    /// (1 kept, 0 dropped; all ones in evaluation).
    ///
    /// # Errors
    /// As [`Dropout::forward_with_byte_mask`].
    pub fn forward_with_byte_mask_at<E: Element>(
        &self,
        offset: u64,
        x: &[E],
        y: &mut [E],
        mask: &mut [u8],
    ) -> Result<DropoutHandle, Error> {
        if self.training {
            self.dropout
                .forward_with_byte_mask(self.stream(), offset, x, y, mask)?;
        } else {
            crate::ops::check_len(x.len(), y.len())?;
            if mask.len() < x.len() {
                return Err(Error::MaskTooSmall {
                    elements: x.len(),
                    needed: x.len(),
                    given: mask.len(),
                });
            }
            self.dropout.inference(x, y)?;
            mask[..x.len()].fill(1);
        }
        Ok(self.handle(offset, x.len()))
    }

    /// Backward pass for the forward pass that returned `handle`: the mask
    /// is regenerated, never stored.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (expected `handle.len()`, given `dy.len()`)
    /// if `dy` does not match the forward pass; [`Error::LengthMismatch`] if
    /// `dx` does not match `dy`.
    pub fn backward<E: Element>(
        &self,
        handle: DropoutHandle,
        dy: &[E],
        dx: &mut [E],
    ) -> Result<(), Error> {
        check_handle(handle, dy.len())?;
        if handle.training {
            self.dropout.backward(handle.stream, handle.offset, dy, dx)
        } else {
            // Inference is linear: its gradient applies the same factor.
            self.dropout.inference(dy, dx)
        }
    }

    /// [`DropoutLayer::backward`] in place.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `dy` does not match the forward pass.
    pub fn backward_in_place<E: Element>(
        &self,
        handle: DropoutHandle,
        dy: &mut [E],
    ) -> Result<(), Error> {
        check_handle(handle, dy.len())?;
        if handle.training {
            self.dropout
                .backward_in_place(handle.stream, handle.offset, dy)
        } else {
            self.dropout.inference_in_place(dy)
        }
    }
}

fn check_handle(handle: DropoutHandle, given: usize) -> Result<(), Error> {
    if given == handle.len {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            expected: handle.len,
            given,
        })
    }
}
