//! The public operations of [`Dropout`], generic over the [`Element`] type:
//! validation and the rate edges here, the work in `driver` and `kernel`.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::{MaskPtr, Piece};
use crate::mask_shape::{MaskIn, MaskOut};
use crate::rule::Edge;
use crate::shaped_call::Pass;
use crate::site::Site;
use crate::Error;

pub(crate) fn check_len(input: usize, output: usize) -> Result<(), Error> {
    if input == output {
        Ok(())
    } else {
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: input,
            given: output,
        })
    }
}

fn check_offset(offset: u64, len: usize) -> Result<(), Error> {
    match offset.checked_add(len as u64) {
        Some(_) => Ok(()),
        None => Err(Error::OffsetOverflow { offset, len }),
    }
}

/// The data of a forward call.
pub(crate) enum Values<'a, E> {
    /// Only a mask of this many elements.
    None(usize),
    Out(&'a [E], &'a mut [E]),
    InPlace(&'a mut [E]),
}

impl Dropout {
    /// The elementwise forward pass over dense slices (also the mask alone).
    pub(crate) fn forward_impl<E: Element>(
        &self,
        site: Site,
        values: Values<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        self.elementwise_impl(Pass::Forward, site, values, mask)
    }

    /// The elementwise pass over dense slices: the forward pass, or the
    /// mask-free backward pass, which is the same computation except under
    /// alpha dropout (its backward is `dy * a`, not the affine).
    pub(crate) fn elementwise_impl<E: Element>(
        &self,
        pass: Pass,
        site: Site,
        values: Values<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        let Site { stream, offset } = site;
        let n = match &values {
            Values::None(n) => *n,
            Values::Out(x, y) => {
                check_len(x.len(), y.len())?;
                x.len()
            }
            Values::InPlace(x) => x.len(),
        };
        mask.check(n)?;
        check_offset(offset, n)?;
        if n == 0 {
            return Ok(());
        }
        match self.edge() {
            Edge::KeepAll => {
                if let Values::Out(x, y) = values {
                    y.copy_from_slice(x);
                }
                mask.fill(n, true);
            }
            Edge::DropAll => {
                if let Values::Out(_, y) | Values::InPlace(y) = values {
                    y.fill(E::ZERO);
                }
                mask.fill(n, false);
            }
            Edge::Random => {
                let (src, dst) = match values {
                    Values::None(_) => (core::ptr::null(), core::ptr::null_mut()),
                    Values::Out(x, y) => (x.as_ptr(), y.as_mut_ptr()),
                    Values::InPlace(x) => {
                        // One mutable pointer serves both sides.
                        let p = x.as_mut_ptr();
                        (p.cast_const(), p)
                    }
                };
                if pass == Pass::Forward && self.scaling().is_alpha() && !dst.is_null() {
                    // SAFETY: as below; `n > 0`.
                    unsafe { self.alpha_flat(stream, offset, n, src, dst, mask) };
                    return Ok(());
                }
                let piece = Piece {
                    src,
                    dst,
                    mask: mask.ptr(),
                };
                // SAFETY: the slices behind the piece hold at least `n`
                // elements (checked above) and stay borrowed until the call
                // returns; `offset + n` does not overflow; the rate is
                // strictly between 0 and 1.
                unsafe { driver::forward(self, stream, offset, n, piece) };
            }
        }
        Ok(())
    }
}

impl MaskOut<'_> {
    pub(crate) fn ptr(self) -> MaskPtr {
        match self {
            MaskOut::None => MaskPtr::None,
            MaskOut::Bits(w) => MaskPtr::Bits(w.as_mut_ptr()),
            MaskOut::Bytes(b) => MaskPtr::Bytes(b.as_mut_ptr()),
        }
    }
}

impl MaskIn<'_> {
    /// The mask as the kernels' pointer (only read through it).
    pub(crate) fn ptr(self) -> MaskPtr {
        match self {
            MaskIn::Bits(w) => MaskPtr::Bits(w.as_ptr().cast_mut()),
            MaskIn::Bytes(b) => MaskPtr::Bytes(b.as_ptr().cast_mut()),
        }
    }
}
