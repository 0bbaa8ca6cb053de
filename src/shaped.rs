//! The structured operations of [`Dropout`]: strided views and broadcast
//! masks ([`Shaped`]), and alpha dropout's forward pass.

use crate::config::{Dropout, Scaling};
use crate::driver;
use crate::element::Element;
use crate::kernel::shaped::MAX_RANK;
use crate::kernel::shaped::{Job, Op, Source};
use crate::ops::{check_mask, mask_words, MaskOut};
use crate::rule::{Edge, Infer};
use crate::shape::{plan, MaskIn, Plan, Shaped, View, ViewMut};
use crate::Error;

/// Which pass a shaped call is.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    /// Training forward (alpha dropout: its affine).
    Forward,
    /// The gradient: kept `dy * s` (`dy * a` under alpha).
    Backward,
    /// Inference.
    Inference,
}

impl MaskIn<'_> {
    fn check(&self, n: usize) -> Result<(), Error> {
        match self {
            MaskIn::Bits(w) => check_mask(n, mask_words(n), w.len()),
            MaskIn::Bytes(b) => check_mask(n, n, b.len()),
        }
    }
}

impl Dropout {
    /// Training forward pass over strided views with a mask shape: `y` at
    /// each logical element is `x` times the training factor if its mask
    /// element is kept, else `+0.0` (alpha dropout: its affine). The bits
    /// equal those of the same call on dense copies; padding between
    /// elements is never touched.
    ///
    /// `offset` is the global index of the mask's element 0 (of the whole
    /// tensor's mask for a [`Shaped::slab`]).
    ///
    /// # Errors
    /// [`Error::RankMismatch`], [`Error::DimMismatch`] if the views differ;
    /// the mask shape's errors (see [`Shaped::mask_layout`]);
    /// [`Error::SizeOverflow`]; [`Error::OffsetOverflow`] if `offset` plus
    /// the mask's elements overflows. Nothing is written on error.
    ///
    /// Strided rows: 3 rows of 5 elements in rows of 8 (the padding stays).
    ///
    /// ```
    /// use dropkit::{Dropout, Layout, Shaped, View, ViewMut};
    /// let d = Dropout::new(0.5)?.with_seed(4);
    /// let x = vec![1.0f32; 24];
    /// let mut y = vec![-1.0f32; 24];
    /// let rows = Layout::strided(&[3, 5], &[8, 1])?;
    /// d.forward_shaped(0, 0, &Shaped::elementwise(), &View::new(&x, rows)?,
    ///                  &mut ViewMut::new(&mut y, rows)?)?;
    /// // The same bits as the elementwise call on the 15 dense elements.
    /// let mut dense = vec![0.0f32; 15];
    /// d.forward(0, 0, &vec![1.0f32; 15], &mut dense)?;
    /// for r in 0..3 {
    ///     assert_eq!(&y[8 * r..8 * r + 5], &dense[5 * r..5 * r + 5]);
    ///     assert_eq!(&y[8 * r + 5..8 * r + 8], &[-1.0; 3]);
    /// }
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn forward_shaped<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        x: &View<'_, E>,
        y: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Forward,
            stream,
            offset,
            shape,
            Some(x),
            y,
            MaskOut::None,
            None,
        )
    }

    /// [`Dropout::forward_shaped`] in place (at rate 0 nothing is touched).
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped`].
    pub fn forward_shaped_in_place<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        x: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Forward,
            stream,
            offset,
            shape,
            None,
            x,
            MaskOut::None,
            None,
        )
    }

    /// [`Dropout::forward_shaped`] that also writes the keep mask of the
    /// mask shape ([`Shaped::mask_layout`]): one bit or byte per mask
    /// element, as the elementwise masks. With no data elements (an extent
    /// of 0) nothing is written, the mask included.
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped`], and [`Error::MaskTooSmall`].
    ///
    /// ```
    /// use dropkit::{Dropout, MaskIn, MaskOut, Shaped, View, ViewMut};
    /// let d = Dropout::new(0.3)?.with_seed(8);
    /// let dims = [4, 6, 10]; // [N, C, L]: dropout1d
    /// let x = vec![2.0f64; 240];
    /// let shape = Shaped::channels_first();
    /// // One byte per mask element: [4, 6, 1], 24 of them.
    /// let m = shape.mask_layout(&dropkit::Layout::dense(&dims)?)?.len();
    /// let (mut y, mut bytes) = (vec![0.0; 240], vec![0u8; m]);
    /// d.forward_shaped_with_mask(1, 0, &shape, &View::dense(&x, &dims)?,
    ///     &mut ViewMut::dense(&mut y, &dims)?, MaskOut::Bytes(&mut bytes))?;
    /// let dy = vec![1.0f64; 240];
    /// let (mut a, mut b) = (vec![0.0; 240], vec![0.0; 240]);
    /// d.backward_shaped_from_mask(&shape, MaskIn::Bytes(&bytes), &View::dense(&dy, &dims)?,
    ///     &mut ViewMut::dense(&mut a, &dims)?)?;
    /// d.backward_shaped(1, 0, &shape, &View::dense(&dy, &dims)?,
    ///     &mut ViewMut::dense(&mut b, &dims)?)?;
    /// assert_eq!(a, b);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn forward_shaped_with_mask<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        x: &View<'_, E>,
        y: &mut ViewMut<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        self.shaped_impl(Pass::Forward, stream, offset, shape, Some(x), y, mask, None)
    }

    /// [`Dropout::forward_shaped_with_mask`] in place.
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped_with_mask`].
    pub fn forward_shaped_in_place_with_mask<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        x: &mut ViewMut<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        self.shaped_impl(Pass::Forward, stream, offset, shape, None, x, mask, None)
    }

    /// The gradient of [`Dropout::forward_shaped`], regenerating the mask:
    /// `dx` is `dy` times the training factor where kept (alpha dropout:
    /// times `a`), `+0.0` where dropped. The same `(stream, offset, shape)`
    /// as the forward.
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped`].
    pub fn backward_shaped<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        dy: &View<'_, E>,
        dx: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Backward,
            stream,
            offset,
            shape,
            Some(dy),
            dx,
            MaskOut::None,
            None,
        )
    }

    /// [`Dropout::backward_shaped`] in place (`dx` holds `dy`).
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped`].
    pub fn backward_shaped_in_place<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        dx: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Backward,
            stream,
            offset,
            shape,
            None,
            dx,
            MaskOut::None,
            None,
        )
    }

    /// The gradient from a mask stored by
    /// [`Dropout::forward_shaped_with_mask`] with the same `shape`.
    ///
    /// # Errors
    /// As [`Dropout::forward_shaped`], and [`Error::MaskTooSmall`].
    pub fn backward_shaped_from_mask<E: Element>(
        &self,
        shape: &Shaped<'_>,
        mask: MaskIn<'_>,
        dy: &View<'_, E>,
        dx: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Backward,
            0,
            0,
            shape,
            Some(dy),
            dx,
            MaskOut::None,
            Some(mask),
        )
    }

    /// Inference over strided views ([`Dropout::inference`] element by
    /// element: the identity, or `x * q` under [`Scaling::Classic`]).
    ///
    /// # Errors
    /// [`Error::RankMismatch`], [`Error::DimMismatch`].
    pub fn inference_shaped<E: Element>(
        &self,
        x: &View<'_, E>,
        y: &mut ViewMut<'_, E>,
    ) -> Result<(), Error> {
        self.shaped_impl(
            Pass::Inference,
            0,
            0,
            &Shaped::elementwise(),
            Some(x),
            y,
            MaskOut::None,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn shaped_impl<E: Element>(
        &self,
        pass: Pass,
        stream: u64,
        offset: u64,
        shape: &Shaped<'_>,
        x: Option<&View<'_, E>>,
        y: &mut ViewMut<'_, E>,
        mask_out: MaskOut<'_>,
        mask_in: Option<MaskIn<'_>>,
    ) -> Result<(), Error> {
        let offset = if pass == Pass::Inference { 0 } else { offset };
        let p = plan(shape, offset, x.map(View::layout), y.layout())?;
        mask_out.check(p.m)?;
        if let Some(m) = &mask_in {
            m.check(p.m)?;
        }
        if p.n == 0 {
            return Ok(());
        }
        let src = x.map(View::ptr);
        let dst = y.ptr();
        // SAFETY: `View::new` and `ViewMut::new` checked both views against
        // their slices (which stay borrowed for the call) and the output for
        // distinct addresses; `plan` checked the extents and the offset; the
        // mask buffers hold `p.m` elements.
        unsafe { self.run_plan(pass, stream, &p, src, dst, mask_out, mask_in) };
        Ok(())
    }

    /// Alpha dropout's forward over `n` contiguous elements (the
    /// elementwise calls come here under [`Scaling::Alpha`]).
    ///
    /// # Safety
    /// `src` (may equal `dst`) and `dst` are valid for `n > 0` elements,
    /// and the mask for `n`; `offset + n` does not overflow; the rate is
    /// strictly between 0 and 1.
    pub(crate) unsafe fn alpha_flat<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        n: usize,
        src: *const E,
        dst: *mut E,
        mask: MaskOut<'_>,
    ) {
        let mut p = Plan {
            rank: 1,
            dims: [1; MAX_RANK],
            sx: [1; MAX_RANK],
            sy: [1; MAX_RANK],
            ms: [1; MAX_RANK],
            period: 0,
            g0: offset,
            m: n,
            n,
        };
        p.dims[0] = n;
        // SAFETY: forwarded contract.
        unsafe { self.run_plan(Pass::Forward, stream, &p, Some(src), dst, mask, None) };
    }

    /// Runs a validated plan.
    ///
    /// # Safety
    /// `src` (`None`: in place) and `dst` hold the plan's views; the masks
    /// hold `p.m` elements; `p.n > 0`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_plan<E: Element>(
        &self,
        pass: Pass,
        stream: u64,
        p: &Plan,
        src: Option<*const E>,
        dst: *mut E,
        mask_out: MaskOut<'_>,
        mask_in: Option<MaskIn<'_>>,
    ) {
        let (source, op) = match (pass, self.edge()) {
            (Pass::Inference, _) => match self.rule().inference() {
                Infer::Identity => (Source::Const(true), Op::Copy),
                Infer::Zero => (Source::Const(false), Op::Copy),
                Infer::Scale(q) => (Source::Const(true), Op::Scale(E::factor(q))),
            },
            (_, Edge::KeepAll) => {
                mask_out.fill(p.m, true);
                (Source::Const(true), Op::Copy)
            }
            (_, Edge::DropAll) => {
                mask_out.fill(p.m, false);
                (Source::Const(false), Op::Copy)
            }
            (_, Edge::Random) => {
                let source = match (mask_in, mask_out) {
                    (Some(MaskIn::Bits(w)), _) => Source::Bits(w.as_ptr()),
                    (Some(MaskIn::Bytes(b)), _) => Source::Bytes(b.as_ptr()),
                    (None, MaskOut::None) => Source::Generate,
                    (None, out) => {
                        // The mask first (its elementwise call), then the
                        // data from it: the generator runs once.
                        let ptr = out.ptr();
                        // SAFETY: the mask holds `p.m` elements, `g0 + m`
                        // does not overflow (checked by `plan`), and the
                        // rate is strictly between 0 and 1 (this arm).
                        unsafe { driver::forward::<f32>(self, stream, p.g0, p.m, mask_only(ptr)) };
                        match ptr {
                            crate::kernel::MaskPtr::Bits(w) => Source::Bits(w),
                            crate::kernel::MaskPtr::Bytes(b) => Source::Bytes(b),
                            crate::kernel::MaskPtr::None => Source::Generate,
                        }
                    }
                };
                let factor = self.training_factor();
                let op = match (pass, self.alpha_affine()) {
                    (Pass::Forward, Some((a, b, dropped))) => Op::Affine {
                        a: E::factor(a),
                        b: E::factor(b),
                        dropped: E::from_f64(dropped),
                    },
                    _ => Op::Scale(E::factor(factor)),
                };
                (source, op)
            }
        };
        if src.is_none() && matches!((source, op), (Source::Const(true), Op::Copy)) {
            return; // in place, nothing changes
        }
        let job = Job {
            src: src.unwrap_or(dst.cast_const()),
            dst,
            rank: p.rank,
            dims: p.dims,
            sx: p.sx,
            sy: p.sy,
            ms: p.ms,
            period: p.period,
            g0: p.g0,
            m: p.m,
            source,
            op,
        };
        // SAFETY: the caller's contract; `Generate` only at `Edge::Random`.
        unsafe { driver::shaped(self, stream, &job) };
    }
}

/// A mask-only piece writing `mask`.
fn mask_only(mask: crate::kernel::MaskPtr) -> crate::kernel::Piece<f32> {
    crate::kernel::Piece {
        src: core::ptr::null(),
        dst: core::ptr::null_mut(),
        mask,
    }
}

impl Scaling {
    /// Whether this is [`Scaling::Alpha`].
    pub(crate) fn is_alpha(self) -> bool {
        self == Scaling::Alpha
    }
}
