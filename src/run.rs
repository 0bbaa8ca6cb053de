//! Running a [`Call`]: validation, the choice between the dense and the
//! strided paths, evaluation mode; and inference, which needs no site.

use crate::call::{Call, DropoutHandle};
use crate::config::Dropout;
use crate::element::Element;
use crate::error::Error;
use crate::fused::Fused;
use crate::mask_shape::{MaskOut, MaskShape};
use crate::ops::Values;
use crate::shaped_call::Pass;
use crate::site::Site;
use crate::tensor::{AsView, AsViewMut};
use crate::view::{View, ViewMut};

impl Dropout {
    /// Inference on any tensor: the identity under [`crate::Scaling::Inverted`]
    /// and [`crate::Scaling::Alpha`], `x * q` under
    /// [`crate::Scaling::Classic`] by the element type's rule, `+0.0` at rate
    /// 1 under Classic. Strided views keep their padding.
    ///
    /// # Errors
    /// [`Error::Size`] or [`Error::DimMismatch`] if the shapes differ; what
    /// building the views can reject.
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
    pub fn inference<E, X, Y>(&self, x: &X, y: &mut Y) -> Result<(), Error>
    where
        E: Element,
        X: AsView<Elem = E> + ?Sized,
        Y: AsViewMut<Elem = E> + ?Sized,
    {
        let x = x.as_view()?;
        let mut y = y.as_view_mut()?;
        self.infer(Some(&x), &mut y)
    }

    /// [`Dropout::inference`] in place (under Inverted it touches nothing).
    ///
    /// # Errors
    /// What building the view can reject.
    pub fn inference_in_place<E, X>(&self, x: &mut X) -> Result<(), Error>
    where
        E: Element,
        X: AsViewMut<Elem = E> + ?Sized,
    {
        let mut x = x.as_view_mut()?;
        self.infer(None, &mut x)
    }

    /// Inference with an optional all-kept mask of `shape`.
    fn infer_shaped<E: Element>(
        &self,
        shape: &MaskShape,
        x: Option<&View<'_, E>>,
        y: &mut ViewMut<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        if let MaskOut::None = mask {
            return self.infer(x, y);
        }
        // Validate the mask against the call's mask shape first, then write.
        let m = shape.mask_len(y.layout().dims())?;
        mask.check(m)?;
        self.infer(x, y)?;
        mask.fill(m, true);
        Ok(())
    }

    fn infer<E: Element>(
        &self,
        x: Option<&View<'_, E>>,
        y: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        if let Some(x) = x {
            x.layout().check_same_dims(y.layout())?;
        }
        if let Some((x, y)) = dense(x, y) {
            self.infer_slice(x, y);
            return Ok(());
        }
        self.shaped_impl(
            Pass::Inference,
            Site::default(),
            &MaskShape::elementwise(),
            x,
            y,
            MaskOut::None,
            None,
        )
    }
}

/// The slices of a call's input (`None`: in place) and output if both
/// are dense.
fn dense<'v, E>(
    x: Option<&View<'v, E>>,
    y: &'v mut ViewMut<'_, E>,
) -> Option<(Option<&'v [E]>, &'v mut [E])> {
    let x = match x {
        None => None,
        Some(v) => Some(v.dense_slice()?),
    };
    Some((x, y.dense_slice_mut()?))
}

impl<'a, E> Call<'a, E> {
    /// The operator a fused call in evaluation mode runs: rate 0, whose
    /// outputs are inference's where inference is the identity.
    fn keep_all(&self) -> Result<Dropout, Error> {
        self.drop
            .inference_as_rate_zero()
            .ok_or(Error::Unsupported {
                what: "a fused call in evaluation mode under Classic scaling (inference scales)",
            })
    }

    /// A training call with the default mask shape, no fused option and no
    /// stored mask (a backward pass may read one: it checks `mask_in`
    /// itself), whose dense slices go straight to the elementwise kernels.
    fn plain(&self) -> bool {
        self.training && !self.fused() && self.shape.is_elementwise()
    }

    /// The dense slices of a fused call, or why not: the mask shape must be
    /// elementwise, both tensors dense, and a tensor of rank 2 or more must
    /// have `features` (bias or dbias elements) along its last axis.
    pub(crate) fn fused_slices<'v>(
        &self,
        x: Option<&View<'v, E>>,
        y: &'v mut ViewMut<'_, E>,
        features: Option<usize>,
    ) -> Result<(Option<&'v [E]>, &'v mut [E]), Error> {
        if !self.shape.is_elementwise() {
            return Err(Error::Unsupported {
                what:
                    "a fused call (bias, residual, dbias) with a mask shape other than elementwise",
            });
        }
        if let (Some(given), [_, .., last]) = (features, y.layout().dims()) {
            if given != *last {
                return Err(Error::Size {
                    what: "bias or dbias elements (the last axis's extent)",
                    expected: *last,
                    given,
                });
            }
        }
        dense(x, y).ok_or(Error::Unsupported {
            what: "a fused call (bias, residual, dbias) on a strided view",
        })
    }
}

impl<E: Element> Call<'_, E> {
    /// The training forward pass: `y` at each element is `x` times the
    /// training factor if its mask element is kept, else `+0.0` (alpha
    /// dropout: its affine). With [`Call::bias`] or [`Call::residual`], the
    /// fused epilogue `y = residual + dropout(x + bias)`, element by element
    /// in this order and with no FMA (`f32`, `f64` in their type, the half
    /// types in `f32` rounded once at the end; a NaN result is the positive
    /// quiet NaN). A call built by [`crate::DropoutLayer::at`] in evaluation
    /// mode runs inference instead (a mask out is then all kept).
    ///
    /// Returns the [`DropoutHandle`] that [`Dropout::replay`] takes.
    ///
    /// # Errors
    /// [`Error::Size`] (lengths, mask, bias, residual),
    /// [`Error::DimMismatch`], [`Error::RankMismatch`], the mask shape's
    /// errors ([`MaskShape::mask_len`]), [`Error::NotWholeRows`],
    /// [`Error::OffsetOverflow`], [`Error::Unsupported`] (see [`Call`]; alpha
    /// dropout in the fused pass; a fused call in evaluation mode under
    /// [`crate::Scaling::Classic`]). Nothing is written on error.
    pub fn forward<X, Y>(self, x: &X, y: &mut Y) -> Result<DropoutHandle, Error>
    where
        X: AsView<Elem = E> + ?Sized,
        Y: AsViewMut<Elem = E> + ?Sized,
    {
        if self.plain() && self.mask_in.is_none() {
            if let (Some(xs), Some(ys)) = (x.as_slice(), y.as_mut_slice()) {
                let handle = self.handle(ys.len());
                let values = Values::Out(xs, ys);
                return self
                    .drop
                    .forward_impl(self.site, values, self.mask_out)
                    .map(|()| handle);
            }
        }
        let x = x.as_view()?;
        let mut y = y.as_view_mut()?;
        self.forward_views(Some(&x), &mut y, None)
    }

    /// [`Call::forward`] with `y` written over `x`.
    ///
    /// # Errors
    /// As [`Call::forward`].
    pub fn forward_in_place<X>(self, x: &mut X) -> Result<DropoutHandle, Error>
    where
        X: AsViewMut<Elem = E> + ?Sized,
    {
        if self.plain() && self.mask_in.is_none() {
            if let Some(xs) = x.as_mut_slice() {
                let handle = self.handle(xs.len());
                let values = Values::InPlace(xs);
                return self
                    .drop
                    .forward_impl(self.site, values, self.mask_out)
                    .map(|()| handle);
            }
        }
        let mut x = x.as_view_mut()?;
        self.forward_views(None, &mut x, None)
    }

    /// The fused forward pass written over the residual:
    /// `residual += dropout(x + bias)` (a [`Call::residual`] is not taken).
    ///
    /// # Errors
    /// As [`Call::forward`].
    pub fn forward_onto_residual<X, R>(
        self,
        x: &X,
        residual: &mut R,
    ) -> Result<DropoutHandle, Error>
    where
        X: AsView<Elem = E> + ?Sized,
        R: AsViewMut<Elem = E> + ?Sized,
    {
        if self.residual.is_some() {
            return Err(Error::Unsupported {
                what: "a residual option with forward_onto_residual (the residual is the output)",
            });
        }
        let x = x.as_view()?;
        let mut r = residual.as_view_mut()?;
        self.forward_views(Some(&x), &mut r, Some(()))
    }

    fn forward_views(
        self,
        x: Option<&View<'_, E>>,
        y: &mut ViewMut<'_, E>,
        onto: Option<()>,
    ) -> Result<DropoutHandle, Error> {
        self.refuse(Pass::Forward)?;
        if let Some(x) = x {
            x.layout().check_same_dims(y.layout())?;
        }
        let n = y.layout().len();
        let handle = self.handle(n);
        let keep_all;
        let drop = if self.training {
            self.drop
        } else if self.fused() || onto.is_some() {
            keep_all = self.keep_all()?;
            &keep_all
        } else {
            self.drop.infer_shaped(&self.shape, x, y, self.mask_out)?;
            return Ok(handle);
        };
        if self.fused() || onto.is_some() {
            let features = self.bias.map(<[E]>::len);
            let (x, y) = self.fused_slices(x, y, features)?;
            // Without a bias the rows do not matter: one row.
            let f = Fused::new(features.unwrap_or(n), self.bias, self.residual);
            let yp = y.as_mut_ptr();
            let xp = x.map_or(yp.cast_const(), <[E]>::as_ptr);
            let rp = match onto {
                Some(()) => yp.cast_const(),
                None => f.residual_ptr(),
            };
            drop.fused_impl(self.site, f, xp, rp, yp, n, self.mask_out)?;
            return Ok(handle);
        }
        if self.shape.is_elementwise() {
            if let Some((x, y)) = dense(x, y) {
                let values = match x {
                    Some(x) => Values::Out(x, y),
                    None => Values::InPlace(y),
                };
                drop.forward_impl(self.site, values, self.mask_out)?;
                return Ok(handle);
            }
        }
        drop.shaped_impl(
            Pass::Forward,
            self.site,
            &self.shape,
            x,
            y,
            self.mask_out,
            None,
        )?;
        Ok(handle)
    }

    /// The backward pass: `dx = kept ? dy * s : +0.0` (alpha dropout:
    /// `dy * a`), the mask regenerated from the site or read from
    /// [`Call::mask_in`]. With [`Call::dbias`], also the column sums of `dx`
    /// over rows of `dbias.len()` features: rows are summed in chunks of `r`
    /// rows, `r = max(1, 32768 / features)`
    /// ([`crate::limits::DBIAS_CHUNK_ELEMENTS`]) raised to a multiple of 64
    /// unless `r * features` already is one, each chunk in row order in
    /// `f64`, the chunk sums added in chunk order in `f64`, the total rounded
    /// once to `E` (a NaN total is the positive quiet NaN), the same bits for
    /// every thread count and ISA; the call then allocates the chunk sums.
    /// A replayed evaluation-mode call gives inference's gradient.
    ///
    /// # Errors
    /// As [`Call::forward`]. Nothing is written on error.
    ///
    /// ```
    /// use dropkit::{Dropout, Site};
    /// let d = Dropout::new(0.5)?.with_seed(3);
    /// let dy = vec![1.0f32; 3 * 4];
    /// let (mut dx, mut dbias) = (vec![0.0f32; 12], vec![0.0f32; 4]);
    /// d.at(Site::new(0)).dbias(&mut dbias).backward(&dy, &mut dx)?;
    /// for f in 0..4 {
    ///     assert_eq!(dbias[f], dx[f] + dx[4 + f] + dx[8 + f]);
    /// }
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn backward<X, Y>(self, dy: &X, dx: &mut Y) -> Result<(), Error>
    where
        X: AsView<Elem = E> + ?Sized,
        Y: AsViewMut<Elem = E> + ?Sized,
    {
        if self.plain() && matches!(self.mask_out, MaskOut::None) {
            // Unequal lengths take the general path, which reports them.
            if let (Some(dys), Some(dxs)) = (dy.as_slice(), dx.as_mut_slice()) {
                if dys.len() == dxs.len() {
                    self.check_expect(dxs.len())?;
                    return self
                        .drop
                        .backward_slices(self.site, self.mask_in, Some(dys), dxs);
                }
            }
        }
        let dy = dy.as_view()?;
        let mut dx = dx.as_view_mut()?;
        self.backward_views(Some(&dy), &mut dx)
    }

    /// [`Call::backward`] with `dx` written over `dy`.
    ///
    /// # Errors
    /// As [`Call::backward`].
    pub fn backward_in_place<X>(self, d: &mut X) -> Result<(), Error>
    where
        X: AsViewMut<Elem = E> + ?Sized,
    {
        if self.plain() && matches!(self.mask_out, MaskOut::None) {
            if let Some(ds) = d.as_mut_slice() {
                self.check_expect(ds.len())?;
                return self.drop.backward_slices(self.site, self.mask_in, None, ds);
            }
        }
        let mut d = d.as_view_mut()?;
        self.backward_views(None, &mut d)
    }

    fn backward_views(
        mut self,
        dy: Option<&View<'_, E>>,
        dx: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.refuse(Pass::Backward)?;
        if let Some(dy) = dy {
            dy.layout().check_same_dims(dx.layout())?;
        }
        self.check_expect(dx.layout().len())?;
        let keep_all;
        let drop = if self.training {
            self.drop
        } else if self.dbias.is_some() {
            keep_all = self.keep_all()?;
            &keep_all
        } else {
            // Inference is linear: its gradient applies the same factor.
            return self.drop.infer(dy, dx);
        };
        if let Some(dbias) = self.dbias.take() {
            let (dy, dx) = self.fused_slices(dy, dx, Some(dbias.len()))?;
            return drop.fused_backward_impl(self.site, self.mask_in, dy, dx, dbias);
        }
        if self.shape.is_elementwise() {
            if let Some((dy, dx)) = dense(dy, dx) {
                return drop.backward_slices(self.site, self.mask_in, dy, dx);
            }
        }
        drop.shaped_impl(
            Pass::Backward,
            self.site,
            &self.shape,
            dy,
            dx,
            MaskOut::None,
            self.mask_in,
        )
    }

    /// Monte-Carlo dropout: `samples` training forward passes of `x` into
    /// `out`, sample `k` at the dense row `out[k * n..(k + 1) * n]` (`n` the
    /// elements of `x`, in its logical order), with stream
    /// `fold_in(site.stream, k)` and the site's offset; the mask shape
    /// applies to each sample. See [`crate::mc_mean_var`] for the statistics.
    ///
    /// # Errors
    /// [`Error::Size`] if `out` is not `samples * n` long;
    /// [`Error::Unsupported`] with a mask out or in or a fused option; as
    /// [`Call::forward`]. Nothing is written on error.
    pub fn mc_forward<X>(self, x: &X, out: &mut [E], samples: usize) -> Result<(), Error>
    where
        X: AsView<Elem = E> + ?Sized,
    {
        if self.fused() || self.mask_in.is_some() || !matches!(self.mask_out, MaskOut::None) {
            return Err(Error::Unsupported {
                what: "a mask or a fused option in a Monte-Carlo forward pass",
            });
        }
        let x = x.as_view()?;
        self.drop.mc_impl(self.site, &self.shape, &x, out, samples)
    }
}
