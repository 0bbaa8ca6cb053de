//! The fused epilogue of a transformer block, `y = residual +
//! dropout(x + bias)` in one pass, and its backward pass with a
//! deterministic `dbias`.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::epilogue::FusedPiece;
use crate::kernel::MaskPtr;
use crate::ops::{check_len, check_mask, mask_words, MaskOut};
use crate::rule::Edge;
use crate::Error;

use crate::limits::DBIAS_CHUNK_ELEMENTS;

/// The operands of a fused call besides `x` and `y`: the row length, and an
/// optional bias (one row) and residual (as long as `x`).
///
/// ```
/// use dropkit::{Dropout, Fused};
/// let (rows, features) = (4, 8);
/// let x = vec![1.0f32; rows * features];
/// let bias = vec![0.5f32; features];
/// let residual = vec![10.0f32; rows * features];
/// let mut y = vec![0.0f32; x.len()];
/// let d = Dropout::new(0.5)?.with_seed(3);
/// d.fused_forward(0, 0, Fused::rows(features).bias(&bias).residual(&residual), &x, &mut y)?;
/// // Kept: 10 + (1 + 0.5) * 2 = 13; dropped: 10 + 0 = 10.
/// assert!(y.iter().all(|&v| v == 13.0 || v == 10.0));
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Fused<'a, E> {
    features: usize,
    bias: Option<&'a [E]>,
    residual: Option<&'a [E]>,
}

impl<'a, E: Element> Fused<'a, E> {
    /// Rows of `features` elements, no bias, no residual.
    pub fn rows(features: usize) -> Self {
        Fused {
            features,
            bias: None,
            residual: None,
        }
    }
    /// Adds `bias` (one row) to every row before dropout.
    pub fn bias(self, bias: &'a [E]) -> Self {
        Fused {
            bias: Some(bias),
            ..self
        }
    }
    /// Adds `residual` (as long as `x`) after dropout.
    pub fn residual(self, residual: &'a [E]) -> Self {
        Fused {
            residual: Some(residual),
            ..self
        }
    }
}

fn check_rows(len: usize, features: usize) -> Result<(), Error> {
    if len == 0 || (features > 0 && len.is_multiple_of(features)) {
        Ok(())
    } else {
        Err(Error::NotWholeRows { len, features })
    }
}

fn check_bias(features: usize, bias: Option<usize>) -> Result<(), Error> {
    match bias {
        Some(given) if given != features => Err(Error::BiasMismatch { features, given }),
        _ => Ok(()),
    }
}

impl Dropout {
    /// The fused epilogue: `y = residual + dropout(x + bias)` in one pass
    /// over memory, element by element in this order and with no FMA:
    /// `t = x + bias[col]` (skipped without a bias), `d = kept ? t * s :
    /// +0.0` (at rate 0, `d = t`), `y = residual + d` (skipped without a
    /// residual); `f32` and `f64` compute in their type, the half types in
    /// `f32` with one rounding at the end. A NaN result is the positive
    /// quiet NaN without payload (`f32::NAN`, then rounded to the type):
    /// where two NaNs meet in an add, IEEE and Rust leave open whose payload
    /// comes out, and fixing it keeps every ISA on the same bits. The mask
    /// is the one [`Dropout::forward`] draws for the same `(stream,
    /// offset)`.
    ///
    /// # Errors
    /// [`Error::NotWholeRows`], [`Error::BiasMismatch`],
    /// [`Error::LengthMismatch`] (residual or `y` not as long as `x`),
    /// [`Error::OffsetOverflow`]; [`Error::Unsupported`] under
    /// [`crate::Scaling::Alpha`] (its affine is not fused). Nothing is
    /// written on error.
    pub fn fused_forward<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        f: Fused<'_, E>,
        x: &[E],
        y: &mut [E],
    ) -> Result<(), Error> {
        self.fused_forward_with_mask(stream, offset, f, x, y, MaskOut::None)
    }

    /// [`Dropout::fused_forward`] writing a keep mask in the same pass.
    ///
    /// # Errors
    /// As [`Dropout::fused_forward`], and [`Error::MaskTooSmall`].
    pub fn fused_forward_with_mask<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        f: Fused<'_, E>,
        x: &[E],
        y: &mut [E],
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        check_len(x.len(), y.len())?;
        let residual = f.residual.map_or(core::ptr::null(), <[E]>::as_ptr);
        let (n, y) = (y.len(), y.as_mut_ptr());
        self.fused_impl(stream, offset, f, x.as_ptr(), residual, y, n, mask)
    }

    /// [`Dropout::fused_forward`] with `y` written over `x`.
    ///
    /// # Errors
    /// As [`Dropout::fused_forward`].
    pub fn fused_forward_in_place<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        f: Fused<'_, E>,
        x: &mut [E],
    ) -> Result<(), Error> {
        let residual = f.residual.map_or(core::ptr::null(), <[E]>::as_ptr);
        // One pointer for reading and writing, from the one `&mut`: no
        // shared reborrow of `x` is alive while the kernel writes.
        let (n, y) = (x.len(), x.as_mut_ptr());
        self.fused_impl(stream, offset, f, y, residual, y, n, MaskOut::None)
    }

    /// [`Dropout::fused_forward`] with `y` written over the residual:
    /// `residual += dropout(x + bias)` (any residual in `f` is ignored).
    ///
    /// # Errors
    /// As [`Dropout::fused_forward`].
    pub fn fused_forward_onto_residual<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        f: Fused<'_, E>,
        x: &[E],
        residual: &mut [E],
    ) -> Result<(), Error> {
        check_len(x.len(), residual.len())?;
        let f = Fused {
            residual: None,
            ..f
        };
        // The residual is read and written through one pointer taken from
        // its `&mut`.
        let (n, y) = (residual.len(), residual.as_mut_ptr());
        self.fused_impl(stream, offset, f, x.as_ptr(), y, y, n, MaskOut::None)
    }

    /// Validates, then runs the epilogue. `x`, `residual` (null: none) and
    /// `y` point to `n` elements each, borrowed by the caller for the call
    /// (`y` exclusively, but `x` or `residual` may be `y` itself, derived
    /// from the same `&mut`).
    #[allow(clippy::too_many_arguments)]
    fn fused_impl<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        f: Fused<'_, E>,
        x: *const E,
        residual: *const E,
        y: *mut E,
        n: usize,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
        if self.scaling().is_alpha() {
            return Err(Error::Unsupported {
                what: "alpha dropout in the fused forward pass",
            });
        }
        check_rows(n, f.features)?;
        check_bias(f.features, f.bias.map(<[E]>::len))?;
        if let Some(r) = f.residual {
            check_len(n, r.len())?;
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

    /// Backward of the fused epilogue, the mask regenerated: `dx = kept ?
    /// dy * s : +0.0` (the gradient of `x`, and per element of the bias;
    /// the residual's gradient is `dy` itself) and, if asked, `dbias[f]` =
    /// the sum over rows of `dx[row, f]`, in one pass over `dy`.
    ///
    /// `dbias` is the same bits for every thread count and ISA: rows are
    /// summed in chunks of `r` rows, `r = max(1, 32768 / features)`
    /// ([`crate::limits::DBIAS_CHUNK_ELEMENTS`]) raised to a multiple of 64
    /// unless `r * features` already is one (so that chunks of a bit mask
    /// start on whole words), each chunk in row order in `f64`, the chunk
    /// sums added in chunk order in `f64`, and the total rounded once to
    /// `E`: more accurate than a pairwise `f32` sum. A NaN total is written
    /// as the positive quiet NaN (`f64::NAN` rounded to `E`), whatever
    /// payloads met in the sum, so that it too is the same bits on every
    /// CPU. With `dbias` the call allocates the chunk sums.
    ///
    /// # Errors
    /// [`Error::NotWholeRows`], [`Error::BiasMismatch`] (`dbias` not
    /// `features` long), [`Error::LengthMismatch`],
    /// [`Error::OffsetOverflow`]. Nothing is written on error.
    ///
    /// ```
    /// use dropkit::Dropout;
    /// let d = Dropout::new(0.5)?.with_seed(3);
    /// let dy = vec![1.0f32; 3 * 4];
    /// let (mut dx, mut dbias) = (vec![0.0f32; 12], vec![0.0f32; 4]);
    /// d.fused_backward(0, 0, 4, &dy, &mut dx, Some(&mut dbias))?;
    /// for f in 0..4 {
    ///     assert_eq!(dbias[f], dx[f] + dx[4 + f] + dx[8 + f]);
    /// }
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn fused_backward<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        features: usize,
        dy: &[E],
        dx: &mut [E],
        dbias: Option<&mut [E]>,
    ) -> Result<(), Error> {
        check_rows(dy.len(), features)?;
        check_bias(features, dbias.as_ref().map(|b| b.len()))?;
        check_len(dy.len(), dx.len())?;
        if offset.checked_add(dy.len() as u64).is_none() {
            return Err(Error::OffsetOverflow {
                offset,
                len: dy.len(),
            });
        }
        self.column_sums(features, dy, dx, dbias, |d, start, dy, dx| {
            d.backward(stream, offset + start as u64, dy, dx)
        })
    }

    /// [`Dropout::fused_backward`] from a bit mask written by the forward
    /// pass.
    ///
    /// # Errors
    /// As [`Dropout::fused_backward`], and [`Error::MaskTooSmall`].
    pub fn fused_backward_from_mask<E: Element>(
        &self,
        mask: &[u64],
        features: usize,
        dy: &[E],
        dx: &mut [E],
        dbias: Option<&mut [E]>,
    ) -> Result<(), Error> {
        check_rows(dy.len(), features)?;
        check_bias(features, dbias.as_ref().map(|b| b.len()))?;
        check_len(dy.len(), dx.len())?;
        check_mask(dy.len(), mask_words(dy.len()), mask.len())?;
        self.column_sums(features, dy, dx, dbias, |d, start, dy, dx| {
            // Chunks start at whole rows; a bit mask needs whole words, so
            // chunks of a bit-mask call are cut at multiples of 64 rows.
            d.backward_from_mask(&mask[start / 64..], dy, dx)
        })
    }

    /// `dx` by `step` over chunks of whole rows and, if asked, the column
    /// sums of `dx` in the documented order. Runs the chunks on the rayon
    /// pool when the threading allows it for `dy.len()` elements.
    fn column_sums<E: Element>(
        &self,
        features: usize,
        dy: &[E],
        dx: &mut [E],
        dbias: Option<&mut [E]>,
        step: impl Fn(&Dropout, usize, &[E], &mut [E]) -> Result<(), Error> + Sync,
    ) -> Result<(), Error> {
        let Some(dbias) = dbias else {
            return step(self, 0, dy, dx);
        };
        if dy.is_empty() {
            dbias.fill(E::ZERO);
            return Ok(());
        }
        // Whole rows per chunk, a multiple of 64 rows when that keeps
        // chunks of a bit mask on word boundaries.
        let rows = (DBIAS_CHUNK_ELEMENTS / features).max(1);
        let rows = if (rows * features).is_multiple_of(64) {
            rows
        } else {
            rows.next_multiple_of(64)
        };
        let chunk = rows * features;
        let chunks = dy.len().div_ceil(chunk);
        let mut partial = vec![0f64; chunks * features];
        let seq = self.with_threading(crate::Threading::Sequential);
        let one = |k: usize, dx: &mut [E], sums: &mut [f64]| {
            let start = k * chunk;
            let dy = &dy[start..start + dx.len()];
            step(&seq, start, dy, dx)?;
            for row in dx.chunks_exact(features) {
                for (s, v) in sums.iter_mut().zip(row) {
                    *s += E::to_f64(*v);
                }
            }
            Ok::<(), Error>(())
        };
        #[cfg(feature = "rayon")]
        if driver::spreads(self, dy.len()) {
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
