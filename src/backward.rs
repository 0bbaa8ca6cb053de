//! The backward and inference passes over dense slices: mask-free (the
//! forward kernel on the gradient), from a stored mask, and test time.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::{MaskPtr, Piece};
use crate::mask_shape::{MaskIn, MaskOut};
use crate::ops::{check_len, Values};
use crate::rule::{Edge, Infer};
use crate::shaped_call::Pass;
use crate::site::Site;
use crate::Error;

impl Dropout {
    /// The backward pass over dense slices (`dy` `None`: in place over
    /// `dx`): the mask regenerated from the site by the forward kernel
    /// itself, or read from `mask`.
    pub(crate) fn backward_slices<E: Element>(
        &self,
        site: Site,
        mask: Option<MaskIn<'_>>,
        dy: Option<&[E]>,
        dx: &mut [E],
    ) -> Result<(), Error> {
        let Some(mask) = mask else {
            let values = match dy {
                Some(dy) => Values::Out(dy, dx),
                None => Values::InPlace(dx),
            };
            return self.elementwise_impl(Pass::Backward, site, values, MaskOut::None);
        };
        if let Some(dy) = dy {
            check_len(dy.len(), dx.len())?;
        }
        mask.check(dx.len())?;
        self.apply_impl(mask.ptr(), dy, dx)
    }

    /// Inference over dense slices (`x` `None`: in place over `y`); the
    /// caller checked the lengths.
    pub(crate) fn infer_slice<E: Element>(&self, x: Option<&[E]>, y: &mut [E]) {
        match (self.rule().inference(), x) {
            (Infer::Identity, Some(x)) => y.copy_from_slice(x),
            (Infer::Identity, None) => {}
            (Infer::Zero, _) => y.fill(E::ZERO),
            (Infer::Scale(q), Some(x)) => {
                let q = E::factor(q);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = E::times(x, q));
            }
            (Infer::Scale(q), None) => {
                let q = E::factor(q);
                y.iter_mut().for_each(|v| *v = E::times(*v, q));
            }
        }
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
