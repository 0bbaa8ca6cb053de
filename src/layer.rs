//! What a training loop needs around the raw operator: deriving streams
//! ([`fold_in`]) and a stateful layer ([`DropoutLayer`]) whose backward pass
//! regenerates the forward mask.

use crate::call::{Call, DropoutHandle};
use crate::philox::fold_in;
use crate::site::Site;
use crate::Dropout;

/// A dropout layer for a training loop: a [`Dropout`], a layer id, a step
/// counter, a micro-batch index and a training flag.
///
/// The stream of (step `s`, micro-batch `m`) is
/// `fold_in(fold_in(layer_id, s), m)`: a new mask every step and every
/// micro-batch of a step (gradient accumulation), and the same mask when a
/// step is recomputed (checkpointing), because only [`DropoutLayer::advance`]
/// and [`DropoutLayer::set_micro_batch`] move it. Data-parallel ranks give
/// each shard's global offset to [`DropoutLayer::at`], so the mask of the
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
/// let h = layer.at(0).forward(&x, &mut y)?;
/// layer.replay(h).backward(&[1.0; 64], &mut dx)?; // no mask stored anywhere
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

    /// The layer's site for a call from global index `offset`.
    pub fn site(&self, offset: u64) -> Site {
        Site::new(self.stream()).at(offset)
    }

    /// A call at the layer's current stream from global index `offset`,
    /// any option of [`Call`] (mask shapes, masks, the fused epilogue). In
    /// evaluation mode ([`DropoutLayer::set_training`]) its forward pass is
    /// inference (a mask out is all kept) and its backward pass inference's
    /// gradient. [`Call::forward`] returns the handle that
    /// [`DropoutLayer::replay`] takes.
    ///
    /// ```
    /// use dropkit::{Dropout, DropoutLayer, MaskShape, View, ViewMut};
    /// let mut layer = DropoutLayer::new(Dropout::new(0.5)?.with_seed(1), 3);
    /// let dims = [2, 4, 8]; // dropout1d on [N, C, L]
    /// let x = vec![1.0f32; 64];
    /// let mut y = vec![0.0f32; 64];
    /// let h = layer.at(0).shape(MaskShape::channels_first())
    ///     .forward(&View::dense(&x, &dims)?, &mut ViewMut::dense(&mut y, &dims)?)?;
    /// layer.advance(); // the next step's stream: the handle keeps this one
    /// let dy = vec![1.0f32; 64];
    /// let mut dx = vec![0.0f32; 64];
    /// layer.replay(h).backward(&View::dense(&dy, &dims)?, &mut ViewMut::dense(&mut dx, &dims)?)?;
    /// assert_eq!(dx, y);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn at<E>(&self, offset: u64) -> Call<'_, E> {
        self.dropout.at(self.site(offset)).training(self.training)
    }

    /// The backward call of a forward call that returned `handle` (its site,
    /// mask shape and mode, whatever step the layer is at now).
    pub fn replay<E>(&self, handle: DropoutHandle) -> Call<'_, E> {
        self.dropout.replay(handle)
    }
}
