//! The structured operations of [`Dropout`]: strided views and broadcast
//! masks ([`crate::MaskShape`]), and alpha dropout's forward pass.

use crate::config::{Dropout, Scaling};
use crate::driver;
use crate::element::Element;
use crate::kernel::strided::MAX_RANK;
use crate::kernel::strided::{Job, Op, Source};
use crate::mask_shape::{MaskIn, MaskOut, MaskShape};
use crate::plan::{plan, Plan};
use crate::rule::{Edge, Infer};
use crate::site::Site;
use crate::view::{View, ViewMut};
use crate::Error;

/// Which pass a shaped call is.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Pass {
    /// Training forward (alpha dropout: its affine).
    Forward,
    /// The gradient: kept `dy * s` (`dy * a` under alpha).
    Backward,
    /// Inference.
    Inference,
}

impl Dropout {
    /// A shaped call: validates, plans and runs it (`x` `None`: in place).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shaped_impl<E: Element>(
        &self,
        pass: Pass,
        site: Site,
        shape: &MaskShape,
        x: Option<&View<'_, E>>,
        y: &mut ViewMut<'_, E>,
        mask_out: MaskOut<'_>,
        mask_in: Option<MaskIn<'_>>,
    ) -> Result<(), Error> {
        // Inference and a stored mask draw nothing: the site is not used.
        let Site { stream, offset } = match (pass, &mask_in) {
            (Pass::Inference, _) | (_, Some(_)) => Site::default(),
            _ => site,
        };
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
