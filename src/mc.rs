//! Monte-Carlo dropout: many stochastic forward passes of one input
//! ([`Dropout::mc_forward`]) and their per-element statistics
//! ([`mc_mean_var`]).

use crate::element::Element;
use crate::layer::fold_in;
use crate::{Dropout, Error};

impl Dropout {
    /// Monte-Carlo dropout: `samples` stochastic forward passes of the same
    /// input, sample `k` on stream `fold_in(stream, k)`, written as rows
    /// `out[k * x.len()..(k + 1) * x.len()]`. Rows run in parallel on the
    /// rayon pool when the threading allows it for `out.len()` elements (as
    /// for one call of that size), and long rows split further; the bits
    /// never depend on it. Under
    /// [`crate::Scaling::Classic`] the rows are the training outputs, whose
    /// mean is `x * q` like Classic inference.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `out.len() == samples * x.len()`.
    ///
    /// ```
    /// use dropkit::{mc_mean_var, Dropout};
    /// let d = Dropout::new(0.5)?;
    /// let x = [1.0f32; 4];
    /// let mut rows = vec![0.0f32; 100 * 4];
    /// d.mc_forward(9, &x, &mut rows, 100)?;
    /// let (mut mean, mut var) = ([0.0f32; 4], [0.0f32; 4]);
    /// mc_mean_var(&rows, 4, &mut mean, &mut var)?;
    /// assert!(mean.iter().all(|&m| (m - 1.0).abs() < 0.5));
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mc_forward<E: Element>(
        &self,
        stream: u64,
        x: &[E],
        out: &mut [E],
        samples: usize,
    ) -> Result<(), Error> {
        let n = x.len();
        let expected = samples.checked_mul(n).ok_or(Error::ShapeMismatch {
            expected: usize::MAX,
            given: out.len(),
        })?;
        if out.len() != expected {
            return Err(Error::ShapeMismatch {
                expected,
                given: out.len(),
            });
        }
        if n == 0 {
            return Ok(());
        }
        let row = |(k, row): (usize, &mut [E])| self.forward(fold_in(stream, k as u64), 0, x, row);
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
/// rows of `samples` (the layout of [`Dropout::mc_forward`]), accumulated
/// in `f64` with Welford's update in row order (row `k`: `d = v - m`,
/// `m += d * (1 / (k + 1))`, `m2 += d * (v - m)`; then `var = m2 / rows`),
/// and rounded once to `E`: the same bits on every machine. It allocates
/// nothing: columns go through in blocks of 256 accumulators on the stack,
/// rows in order.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `samples.len()` is not a non-zero multiple of
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
            return Err(Error::ShapeMismatch {
                expected: n,
                given: len,
            });
        }
    }
    if n == 0 {
        return Ok(());
    }
    if samples.is_empty() || !samples.len().is_multiple_of(n) {
        return Err(Error::ShapeMismatch {
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
