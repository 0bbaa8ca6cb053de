//! The fused epilogue of a transformer block, `y = residual +
//! dropout(x + bias)` in one pass, and its backward pass with a
//! deterministic `dbias`.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::epilogue::FusedPiece;
use crate::kernel::MaskPtr;
use crate::mask_shape::{MaskIn, MaskOut};
use crate::ops::check_len;
use crate::rule::Edge;
use crate::site::Site;
use crate::Error;

use crate::limits::{DBIAS_CHUNK_ELEMENTS, DBIAS_PASS_ELEMENTS, DBIAS_PASS_MIN_ROWS};

/// The options of a fused forward pass: rows of `features` elements, an
/// optional bias (one row) and residual (as long as `x`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fused<'a, E> {
    features: usize,
    bias: Option<&'a [E]>,
    residual: Option<&'a [E]>,
}

impl<'a, E: Element> Fused<'a, E> {
    pub(crate) fn new(features: usize, bias: Option<&'a [E]>, residual: Option<&'a [E]>) -> Self {
        Fused {
            features,
            bias,
            residual,
        }
    }

    /// The residual's pointer, null without one.
    pub(crate) fn residual_ptr(&self) -> *const E {
        self.residual.map_or(core::ptr::null(), <[E]>::as_ptr)
    }
}

fn check_rows(len: usize, features: usize) -> Result<(), Error> {
    if len == 0 || (features > 0 && len.is_multiple_of(features)) {
        Ok(())
    } else {
        Err(Error::NotWholeRows { len, features })
    }
}

impl Dropout {
    /// Validates, then runs the epilogue. `x`, `residual` (null: none) and
    /// `y` point to `n` elements each, borrowed by the caller for the call
    /// (`y` exclusively, but `x` or `residual` may be `y` itself, derived
    /// from the same `&mut`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fused_impl<E: Element>(
        &self,
        site: Site,
        f: Fused<'_, E>,
        x: *const E,
        residual: *const E,
        y: *mut E,
        n: usize,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        let Site { stream, offset } = site;
        if self.scaling().is_alpha() {
            return Err(Error::Unsupported {
                what: "alpha dropout in the fused forward pass",
            });
        }
        check_rows(n, f.features)?;
        if let Some(r) = f.residual {
            if r.len() != n {
                return Err(Error::Size {
                    what: "residual elements (the input's)",
                    expected: n,
                    given: r.len(),
                });
            }
        }
        mask.check(n)?;
        if offset.checked_add(n as u64).is_none() {
            return Err(Error::OffsetOverflow { offset, len: n });
        }
        if n == 0 {
            return Ok(());
        }
        // At the rate edges the mask is one decision, filled here; the
        // kernel then writes only values.
        let mask = match self.edge() {
            Edge::Random => mask.ptr(),
            edge => {
                mask.fill(n, edge == Edge::KeepAll);
                MaskPtr::None
            }
        };
        let piece = FusedPiece {
            x,
            bias: f.bias.map_or(core::ptr::null(), <[E]>::as_ptr),
            residual,
            y,
            mask,
            features: f.features,
            col0: 0,
        };
        // SAFETY: every buffer holds `n` elements (the bias `features`),
        // checked above, and stays borrowed for the call; `offset + n` does
        // not overflow.
        unsafe { driver::fused(self, stream, offset, n, piece) };
        Ok(())
    }

    /// The fused backward pass over dense slices (`dy` `None`: in place):
    /// `dx` as the backward pass, the mask regenerated from the site or read
    /// from `mask`, and `dbias` the column sums of `dx` over rows of
    /// `dbias.len()` features in the documented order.
    pub(crate) fn fused_backward_impl<E: Element>(
        &self,
        site: Site,
        mask: Option<MaskIn<'_>>,
        dy: Option<&[E]>,
        dx: &mut [E],
        dbias: &mut [E],
    ) -> Result<(), Error> {
        let n = dx.len();
        let features = dbias.len();
        check_rows(n, features)?;
        if let Some(dy) = dy {
            check_len(dy.len(), n)?;
        }
        match mask {
            Some(m) => m.check(n)?,
            None => {
                if site.offset.checked_add(n as u64).is_none() {
                    return Err(Error::OffsetOverflow {
                        offset: site.offset,
                        len: n,
                    });
                }
            }
        }
        self.column_sums(features, dy, dx, dbias, |d, start, dy, dx| {
            // Chunks start at whole rows; a bit mask needs whole words, so
            // chunks of a bit-mask call are cut at multiples of 64 rows.
            let mask = mask.map(|m| match m {
                MaskIn::Bits(w) => MaskIn::Bits(&w[start / 64..]),
                MaskIn::Bytes(b) => MaskIn::Bytes(&b[start..]),
            });
            d.backward_slices(site.at(site.offset + start as u64), mask, dy, dx)
        })
    }

    /// `dx` by `step` over chunks of whole rows and, if asked, the column
    /// sums of `dx` in the documented order. Runs the chunks on the rayon
    /// pool when the threading allows it for `dy.len()` elements.
    fn column_sums<E: Element>(
        &self,
        features: usize,
        dy: Option<&[E]>,
        dx: &mut [E],
        dbias: &mut [E],
        step: impl Fn(&Dropout, usize, Option<&[E]>, &mut [E]) -> Result<(), Error> + Sync,
    ) -> Result<(), Error> {
        if dx.is_empty() {
            dbias.fill(E::ZERO);
            return Ok(());
        }
        // Whole rows per chunk (and per pass), a multiple of 64 rows when
        // that keeps chunks of a bit mask on word boundaries.
        let whole_rows = |elements: usize| {
            let rows = (elements / features).max(1);
            if (rows * features).is_multiple_of(64) {
                rows * features
            } else {
                rows.next_multiple_of(64) * features
            }
        };
        let chunk = whole_rows(DBIAS_CHUNK_ELEMENTS);
        let pass = if DBIAS_PASS_ELEMENTS / features >= DBIAS_PASS_MIN_ROWS {
            whole_rows(DBIAS_PASS_ELEMENTS).min(chunk)
        } else {
            chunk
        };
        let chunks = dx.len().div_ceil(chunk);
        let mut partial = vec![0f64; chunks * features];
        let seq = self.with_threading(crate::Threading::Sequential);
        let add_rows = E::kernels(self.isa()).add_rows;
        // A chunk's rows go in passes: each pass's `dx`, still in the first
        // level cache, is added to the chunk's sums, in row order as one
        // addition over the whole chunk would.
        let one = |k: usize, dx: &mut [E], sums: &mut [f64]| {
            for (p, dx) in dx.chunks_mut(pass).enumerate() {
                let start = k * chunk + p * pass;
                let dy = dy.map(|dy| &dy[start..start + dx.len()]);
                step(&seq, start, dy, dx)?;
                // SAFETY: the call's ISA is available (`Dropout::with_isa`
                // checks it).
                unsafe { add_rows(dx, sums) };
            }
            Ok::<(), Error>(())
        };
        #[cfg(feature = "rayon")]
        if driver::spreads(self, dx.len()) {
            use rayon::prelude::*;
            dx.par_chunks_mut(chunk)
                .zip(partial.par_chunks_mut(features))
                .enumerate()
                .try_for_each(|(k, (dx, sums))| one(k, dx, sums))?;
        } else {
            for (k, (dx, sums)) in dx
                .chunks_mut(chunk)
                .zip(partial.chunks_mut(features))
                .enumerate()
            {
                one(k, dx, sums)?;
            }
        }
        #[cfg(not(feature = "rayon"))]
        for (k, (dx, sums)) in dx
            .chunks_mut(chunk)
            .zip(partial.chunks_mut(features))
            .enumerate()
        {
            one(k, dx, sums)?;
        }
        // Chunk sums added in chunk order, into the first chunk's row.
        let (total, rest) = partial.split_at_mut(features);
        for sums in rest.chunks_exact(features) {
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        for (out, &t) in dbias.iter_mut().zip(total.iter()) {
            // Which payload a sum of NaNs keeps is the compiler's and the
            // CPU's choice: a NaN total is written as the one quiet NaN.
            *out = E::from_f64(if t.is_nan() { f64::NAN } else { t });
        }
        Ok(())
    }
}
