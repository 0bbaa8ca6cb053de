//! The call model: a [`Site`] names where a call sits in the random stream,
//! [`Dropout::at`] turns it into a [`Call`] whose options (mask shape, mask
//! out or in, fused bias and residual, `dbias`) are set by name; `run` runs
//! it on any tensor (`tensor`).

use crate::config::Dropout;
use crate::error::Error;
use crate::mask_shape::{MaskIn, MaskOut, MaskShape};
use crate::ops::Values;
use crate::shaped_call::Pass;
use crate::site::Site;

/// What a forward call did, for its backward pass ([`Dropout::replay`],
/// [`crate::DropoutLayer::replay`]): its site, mask shape, element count and
/// whether it was a training pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropoutHandle {
    pub(crate) site: Site,
    pub(crate) shape: MaskShape,
    pub(crate) len: usize,
    pub(crate) training: bool,
}

impl DropoutHandle {
    /// The forward call's site.
    pub fn site(&self) -> Site {
        self.site
    }
    /// The forward call's mask shape.
    pub fn shape(&self) -> MaskShape {
        self.shape
    }
    /// The data elements of the forward call.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the forward call had no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether the forward call was a training pass (else inference).
    pub fn training(&self) -> bool {
        self.training
    }
}

/// One call of a [`Dropout`] at a [`Site`], its options set by name, run by
/// [`Call::forward`], [`Call::backward`] (and their in-place forms),
/// or [`Call::mc_forward`] (the mask alone: [`Dropout::mask`]). Built by [`Dropout::at`],
/// [`Dropout::replay`], [`crate::DropoutLayer::at`] or
/// [`crate::DropoutLayer::replay`].
///
/// | option | forward | backward |
/// |---|---|---|
/// | [`shape`](Call::shape): the mask's shape (default elementwise) | yes | yes |
/// | [`mask_out`](Call::mask_out): write the keep mask, bits or bytes | yes | no |
/// | [`mask_in`](Call::mask_in): read a stored mask instead of the stream | no | yes |
/// | [`bias`](Call::bias), [`residual`](Call::residual): the fused epilogue | yes | no |
/// | [`dbias`](Call::dbias): column sums of `dx` | no | yes |
///
/// An option a pass does not take is [`Error::Unsupported`], as are the
/// fused options with a mask shape other than elementwise or on strided
/// views. The fused calls treat the data as rows of `bias.len()` (or
/// `dbias.len()`) features; with only a residual, as one row.
///
/// ```
/// use dropkit::{Dropout, MaskIn, MaskOut, MaskShape, Site};
/// let d = Dropout::new(0.5)?.with_seed(1);
/// let x = vec![1.0f32; 2 * 3 * 4]; // [N, C, L]
/// let mut y = vec![0.0f32; 24];
/// let mut bits = [0u64; 1];
/// // dropout1d: one mask element per (sample, channel), written as bits.
/// let dims = [2, 3, 4];
/// d.at(Site::new(5))
///     .shape(MaskShape::channels_first())
///     .mask_out(MaskOut::Bits(&mut bits))
///     .forward(&dropkit::View::dense(&x, &dims)?, &mut dropkit::ViewMut::dense(&mut y, &dims)?)?;
/// // The backward pass from the stored mask.
/// let dy = vec![1.0f32; 24];
/// let mut dx = vec![0.0f32; 24];
/// d.at(Site::new(5))
///     .shape(MaskShape::channels_first())
///     .mask_in(MaskIn::Bits(&bits))
///     .backward(&dropkit::View::dense(&dy, &dims)?, &mut dropkit::ViewMut::dense(&mut dx, &dims)?)?;
/// assert_eq!(dx, y);
/// # Ok::<(), dropkit::Error>(())
/// ```
#[must_use = "a Call does nothing until forward, backward, mc_forward or mask runs it"]
pub struct Call<'a, E> {
    pub(crate) drop: &'a Dropout,
    pub(crate) site: Site,
    pub(crate) shape: MaskShape,
    pub(crate) training: bool,
    pub(crate) expect: Option<usize>,
    pub(crate) mask_out: MaskOut<'a>,
    pub(crate) mask_in: Option<MaskIn<'a>>,
    pub(crate) bias: Option<&'a [E]>,
    pub(crate) residual: Option<&'a [E]>,
    pub(crate) dbias: Option<&'a mut [E]>,
}

impl<E> core::fmt::Debug for Call<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Call")
            .field("site", &self.site)
            .field("shape", &self.shape)
            .field("training", &self.training)
            .finish_non_exhaustive()
    }
}

impl Dropout {
    /// A call at `site`, with the default options: elementwise mask, no mask
    /// out or in, no fused bias or residual.
    ///
    /// ```
    /// use dropkit::{Dropout, Site};
    /// let d = Dropout::new(0.1)?.with_seed(42);
    /// let x = vec![1.0f32; 1000];
    /// let mut y = vec![0.0f32; 1000];
    /// d.at(Site::new(3)).forward(&x, &mut y)?;
    /// // The same tensor in two pieces, each at its offset: the same bits.
    /// let mut z = vec![0.0f32; 1000];
    /// d.at(Site::new(3)).forward(&x[..123], &mut z[..123])?;
    /// d.at(Site::new(3).at(123)).forward(&x[123..], &mut z[123..])?;
    /// assert_eq!(y, z);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn at<E>(&self, site: Site) -> Call<'_, E> {
        Call {
            drop: self,
            site,
            shape: MaskShape::elementwise(),
            training: true,
            expect: None,
            mask_out: MaskOut::None,
            mask_in: None,
            bias: None,
            residual: None,
            dbias: None,
        }
    }

    /// A call that replays a forward call for its backward pass: the
    /// handle's site and mask shape; an inference handle gives inference's
    /// gradient. [`Call::backward`] then checks that the gradient has the
    /// forward call's element count.
    pub fn replay<E>(&self, handle: DropoutHandle) -> Call<'_, E> {
        let mut c = self.at(handle.site).shape(handle.shape);
        c.training = handle.training;
        c.expect = Some(handle.len);
        c
    }

    /// Only the keep mask of `elements` mask elements at `site` (for a mask
    /// shape: [`MaskShape::mask_len`] of the data's dims), bits or bytes:
    /// the mask every pass at this site uses.
    ///
    /// # Errors
    /// [`Error::Size`] if the mask is too small, [`Error::OffsetOverflow`],
    /// [`Error::Unsupported`] for [`MaskOut::None`].
    ///
    /// ```
    /// use dropkit::{Dropout, MaskOut, Site};
    /// let d = Dropout::new(0.5)?.with_seed(9);
    /// let mut bits = [0u64; 2];
    /// d.mask(Site::new(1), MaskOut::Bits(&mut bits), 100)?;
    /// assert_eq!(bits[1] >> 36, 0); // bits past element 100 are 0
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mask(&self, site: Site, mask: MaskOut<'_>, elements: usize) -> Result<(), Error> {
        if matches!(mask, MaskOut::None) {
            return Err(Error::Unsupported {
                what: "a mask call with no mask buffer (MaskOut::None, DK_MASK_NONE)",
            });
        }
        self.forward_impl::<f32>(site, Values::None(elements), mask)
    }
}

impl<'a, E> Call<'a, E> {
    /// The mask's shape (default [`MaskShape::elementwise`]).
    pub fn shape(self, shape: MaskShape) -> Self {
        Call { shape, ..self }
    }

    /// A forward pass also writes its keep mask here, bits or bytes, one per
    /// mask element (of the mask shape's element count; see
    /// [`MaskShape::mask_len`]).
    pub fn mask_out(self, mask: MaskOut<'a>) -> Self {
        Call {
            mask_out: mask,
            ..self
        }
    }

    /// A backward pass reads its keep mask from here (as a forward pass with
    /// [`Call::mask_out`] wrote it) instead of regenerating it: the site is
    /// then not used.
    pub fn mask_in(self, mask: MaskIn<'a>) -> Self {
        Call {
            mask_in: Some(mask),
            ..self
        }
    }

    /// The fused forward pass adds `bias` (one value per feature: the data
    /// are rows of `bias.len()` elements) before dropout: see
    /// [`Call::forward`].
    pub fn bias(self, bias: &'a [E]) -> Self {
        Call {
            bias: Some(bias),
            ..self
        }
    }

    /// The fused forward pass adds `residual` (as long as the data) after
    /// dropout.
    pub fn residual(self, residual: &'a [E]) -> Self {
        Call {
            residual: Some(residual),
            ..self
        }
    }

    /// The backward pass also writes `dbias[f]`, the sum over rows of
    /// `dx[row, f]` (the data are rows of `dbias.len()` elements), in the
    /// documented order: see [`Call::backward`].
    pub fn dbias(self, dbias: &'a mut [E]) -> Self {
        Call {
            dbias: Some(dbias),
            ..self
        }
    }

    /// Training (the default) or, from an evaluation-mode layer, inference.
    pub(crate) fn training(self, training: bool) -> Self {
        Call { training, ..self }
    }

    pub(crate) fn refuse(&self, pass: Pass) -> Result<(), Error> {
        let what = match pass {
            Pass::Forward if self.mask_in.is_some() => "a stored mask (mask_in) in a forward pass",
            Pass::Forward if self.dbias.is_some() => "dbias in a forward pass",
            Pass::Backward if !matches!(self.mask_out, MaskOut::None) => {
                "a mask out (mask_out) in a backward pass"
            }
            Pass::Backward if self.bias.is_some() || self.residual.is_some() => {
                "a bias or residual in a backward pass (dx is the gradient of x and of the bias; the residual's is dy)"
            }
            _ => return Ok(()),
        };
        Err(Error::Unsupported { what })
    }

    pub(crate) fn fused(&self) -> bool {
        self.bias.is_some() || self.residual.is_some() || self.dbias.is_some()
    }

    pub(crate) fn check_expect(&self, n: usize) -> Result<(), Error> {
        match self.expect {
            Some(expected) if expected != n => Err(Error::Size {
                what: "elements (the forward call's)",
                expected,
                given: n,
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn handle(&self, n: usize) -> DropoutHandle {
        DropoutHandle {
            site: self.site,
            shape: self.shape,
            len: n,
            training: self.training,
        }
    }
}
