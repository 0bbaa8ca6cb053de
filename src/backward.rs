//! The backward and inference operations of [`Dropout`]: mask-free (the
//! forward kernel on the gradient), from a stored mask, and test time.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::{MaskPtr, Piece};
use crate::ops::{check_len, check_mask, mask_words};
use crate::rule::{Edge, Infer};
use crate::Error;

impl Dropout {
    /// Backward pass without any stored mask: the mask is regenerated from
    /// `(seed, stream, offset)` by the forward kernel itself, so
    /// `dx[i] = kept ? dy[i] * factor : +0.0` with exactly the forward's mask.
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn backward<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        dy: &[E],
        dx: &mut [E],
    ) -> Result<(), Error> {
        self.forward(stream, offset, dy, dx)
    }

    /// [`Dropout::backward`] in place.
    ///
    /// # Errors
    /// As [`Dropout::forward_in_place`].
    pub fn backward_in_place<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        dy: &mut [E],
    ) -> Result<(), Error> {
        self.forward_in_place(stream, offset, dy)
    }

    /// Backward pass from a bit mask written by the forward pass.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::MaskTooSmall`].
    pub fn backward_from_mask<E: Element>(
        &self,
        mask: &[u64],
        dy: &[E],
        dx: &mut [E],
    ) -> Result<(), Error> {
        check_len(dy.len(), dx.len())?;
        check_mask(dy.len(), mask_words(dy.len()), mask.len())?;
        self.apply_impl(MaskPtr::Bits(mask.as_ptr().cast_mut()), Some(dy), dx)
    }

    /// [`Dropout::backward_from_mask`] in place.
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`].
    pub fn backward_from_mask_in_place<E: Element>(
        &self,
        mask: &[u64],
        dy: &mut [E],
    ) -> Result<(), Error> {
        check_mask(dy.len(), mask_words(dy.len()), mask.len())?;
        self.apply_impl(MaskPtr::Bits(mask.as_ptr().cast_mut()), None, dy)
    }

    /// Backward pass from a byte mask (any non-zero byte means kept).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::MaskTooSmall`].
    pub fn backward_from_byte_mask<E: Element>(
        &self,
        mask: &[u8],
        dy: &[E],
        dx: &mut [E],
    ) -> Result<(), Error> {
        check_len(dy.len(), dx.len())?;
        check_mask(dy.len(), dy.len(), mask.len())?;
        self.apply_impl(MaskPtr::Bytes(mask.as_ptr().cast_mut()), Some(dy), dx)
    }

    /// [`Dropout::backward_from_byte_mask`] in place.
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`].
    pub fn backward_from_byte_mask_in_place<E: Element>(
        &self,
        mask: &[u8],
        dy: &mut [E],
    ) -> Result<(), Error> {
        check_mask(dy.len(), dy.len(), mask.len())?;
        self.apply_impl(MaskPtr::Bytes(mask.as_ptr().cast_mut()), None, dy)
    }

    /// What the layer does at test time: the identity under
    /// [`crate::Scaling::Inverted`]; under [`crate::Scaling::Classic`]
    /// `x * q` by the element type's rule, and `+0.0` at rate 1.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `x.len() != y.len()`.
    ///
    /// ```
    /// use dropkit::{Dropout, Scaling};
    /// let x = [2.0f32; 4];
    /// let mut y = [0.0f32; 4];
    /// Dropout::new(0.25)?.inference(&x, &mut y)?; // Inverted: identity
    /// assert_eq!(y, x);
    /// Dropout::new(0.25)?.with_scaling(Scaling::Classic).inference(&x, &mut y)?;
    /// assert_eq!(y, [1.5; 4]); // Classic: x * q
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn inference<E: Element>(&self, x: &[E], y: &mut [E]) -> Result<(), Error> {
        check_len(x.len(), y.len())?;
        match self.rule().inference() {
            Infer::Identity => y.copy_from_slice(x),
            Infer::Zero => y.fill(E::ZERO),
            Infer::Scale(q) => {
                let q = E::factor(q);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = E::times(x, q));
            }
        }
        Ok(())
    }

    /// [`Dropout::inference`] in place (under Inverted it touches nothing).
    ///
    /// # Errors
    /// Never fails today; the `Result` keeps the API uniform.
    pub fn inference_in_place<E: Element>(&self, x: &mut [E]) -> Result<(), Error> {
        match self.rule().inference() {
            Infer::Identity => {}
            Infer::Zero => x.fill(E::ZERO),
            Infer::Scale(q) => {
                let q = E::factor(q);
                x.iter_mut().for_each(|v| *v = E::times(*v, q));
            }
        }
        Ok(())
    }

    /// Backward from a stored mask: `dx = mask ? src * s : +0.0` with `src`
    /// the gradient `dy`, or `dx` itself when `None` (in place). The caller
    /// has checked the lengths of `src` and `mask` (only read, never
    /// written, through the `*mut` of [`MaskPtr`]).
    fn apply_impl<E: Element>(
        &self,
        mask: MaskPtr,
        src: Option<&[E]>,
        dx: &mut [E],
    ) -> Result<(), Error> {
        let n = dx.len();
        match (self.edge(), src) {
            (_, _) if n == 0 => {}
            (Edge::KeepAll, Some(dy)) => dx.copy_from_slice(dy),
            (Edge::KeepAll, None) => {}
            (Edge::DropAll, _) => dx.fill(E::ZERO),
            (Edge::Random, src) => {
                let dst = dx.as_mut_ptr();
                let src = src.map_or(dst.cast_const(), <[E]>::as_ptr);
                // SAFETY: `src`, `dx` and the mask cover `n` elements
                // (checked by the caller) and stay borrowed for the call;
                // the mask is only read.
                unsafe { driver::apply(self, n, Piece { src, dst, mask }) };
            }
        }
        Ok(())
    }
}
