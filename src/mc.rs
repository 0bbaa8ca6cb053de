//! Monte-Carlo dropout: many stochastic forward passes of one input
//! ([`crate::Call::mc_forward`]) and their per-element statistics
//! ([`mc_mean_var`]).

use crate::element::Element;
use crate::layout::Layout;
use crate::mask_shape::{MaskOut, MaskShape};
use crate::ops::Values;
use crate::philox::fold_in;
use crate::plan::plan;
use crate::shaped_call::Pass;
use crate::site::Site;
use crate::view::{View, ViewMut};
use crate::{Dropout, Error};

impl Dropout {
    /// Monte-Carlo forward passes of one tensor into dense rows of `out`
    /// (see [`crate::Call::mc_forward`]).
    pub(crate) fn mc_impl<E: Element>(
        &self,
        site: Site,
        shape: &MaskShape,
        x: &View<'_, E>,
        out: &mut [E],
        samples: usize,
    ) -> Result<(), Error> {
        let layout = *x.layout();
        let n = layout.len();
        let expected = samples.checked_mul(n).ok_or(Error::SizeOverflow)?;
        if out.len() != expected {
            return Err(Error::Size {
                what: "Monte-Carlo output elements (samples times the input's)",
                expected,
                given: out.len(),
            });
        }
        let dims = layout.dims();
        // Validate the shaped call once (every sample is the same call on
        // another stream) before anything is written.
        plan(shape, site.offset, Some(&layout), &Layout::dense(dims)?)?;
        if n == 0 {
            return Ok(());
        }
        let flat = shape.is_elementwise() && layout.is_dense();
        let row = |(k, row): (usize, &mut [E])| {
            let site = Site {
                stream: fold_in(site.stream, k as u64),
                offset: site.offset,
            };
            match x.dense_slice() {
                Some(x) if flat => self.forward_impl(site, Values::Out(x, row), MaskOut::None),
                _ => {
                    let mut y = ViewMut::dense(row, dims)?;
                    self.shaped_impl(
                        Pass::Forward,
                        site,
                        shape,
                        Some(x),
                        &mut y,
                        MaskOut::None,
                        None,
                    )
                }
            }
        };
        #[cfg(feature = "rayon")]
        if crate::driver::spreads(self, out.len()) {
            use rayon::prelude::*;
            return out.par_chunks_mut(n).enumerate().try_for_each(row);
        }
        out.chunks_mut(n).enumerate().try_for_each(row)
    }
}

use crate::limits::MC_COLUMNS as COLUMNS;

/// Per-element mean and (population) variance over the `samples.len() / n`
/// rows of `samples` (the layout of [`crate::Call::mc_forward`]), accumulated
/// in `f64` with Welford's update in row order (row `k`: `d = v - m`,
/// `m += d * (1 / (k + 1))`, `m2 += d * (v - m)`; then `var = m2 / rows`),
/// and rounded once to `E`: the same bits on every machine. It allocates
/// nothing: columns go through in blocks of 256 accumulators on the stack,
/// rows in order.
///
/// # Errors
/// [`Error::Size`] if `samples.len()` is not a non-zero multiple of
/// `n` (no rows: nothing to average), or `mean` or `var` is not `n` long.
///
/// ```
/// let rows = [1.0f64, 10.0, 3.0, 20.0]; // two rows of two elements
/// let (mut mean, mut var) = ([0.0; 2], [0.0; 2]);
/// dropkit::mc_mean_var(&rows, 2, &mut mean, &mut var)?;
/// assert_eq!((mean, var), ([2.0, 15.0], [1.0, 25.0]));
/// assert!(dropkit::mc_mean_var(&[], 2, &mut mean, &mut var).is_err());
/// # Ok::<(), dropkit::Error>(())
/// ```
pub fn mc_mean_var<E: Element>(
    samples: &[E],
    n: usize,
    mean: &mut [E],
    var: &mut [E],
) -> Result<(), Error> {
    for len in [mean.len(), var.len()] {
        if len != n {
            return Err(Error::Size {
                what: "mean and var elements (n)",
                expected: n,
                given: len,
            });
        }
    }
    if n == 0 {
        return Ok(());
    }
    if samples.is_empty() || !samples.len().is_multiple_of(n) {
        return Err(Error::Size {
            what: "sample elements (a whole number of rows of n, at least one)",
            expected: samples.len().next_multiple_of(n).max(n),
            given: samples.len(),
        });
    }
    let rows = samples.len() / n;
    for start in (0..n).step_by(COLUMNS) {
        let width = COLUMNS.min(n - start);
        let (mut m, mut m2) = ([0f64; COLUMNS], [0f64; COLUMNS]);
        for k in 0..rows {
            let inv = 1.0 / (k + 1) as f64;
            let row = &samples[k * n + start..k * n + start + width];
            for ((m, m2), &v) in m.iter_mut().zip(&mut m2).zip(row) {
                let v = E::to_f64(v);
                let d = v - *m;
                *m += d * inv;
                *m2 += d * (v - *m);
            }
        }
        for j in 0..width {
            mean[start + j] = E::from_f64(m[j]);
            var[start + j] = E::from_f64(m2[j] / rows as f64);
        }
    }
    Ok(())
}
