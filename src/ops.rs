//! The public operations of [`Dropout`], generic over the [`Element`] type:
//! validation and the rate edges here, the work in `driver` and `kernel`.

use crate::config::Dropout;
use crate::driver;
use crate::element::Element;
use crate::kernel::{MaskPtr, Piece};
use crate::rule::Edge;
use crate::Error;

/// Words a bit mask of `n` elements needs.
pub fn mask_words(n: usize) -> usize {
    n.div_ceil(64)
}

pub(crate) fn check_len(input: usize, output: usize) -> Result<(), Error> {
    if input == output {
        Ok(())
    } else {
        Err(Error::LengthMismatch { input, output })
    }
}

fn check_offset(offset: u64, len: usize) -> Result<(), Error> {
    match offset.checked_add(len as u64) {
        Some(_) => Ok(()),
        None => Err(Error::OffsetOverflow { offset, len }),
    }
}

pub(crate) fn check_mask(elements: usize, needed: usize, given: usize) -> Result<(), Error> {
    if given >= needed {
        Ok(())
    } else {
        Err(Error::MaskTooSmall {
            elements,
            needed,
            given,
        })
    }
}

/// The data of a forward call.
enum Values<'a, E> {
    /// Only a mask of this many elements.
    None(usize),
    Out(&'a [E], &'a mut [E]),
    InPlace(&'a mut [E]),
}

/// Where a call writes its keep mask, if anywhere (the elementwise calls
/// pick it by method; the fused ones take it as an argument).
#[derive(Debug, Default)]
pub enum MaskOut<'a> {
    /// No mask.
    #[default]
    None,
    /// Bit `i % 64` of word `i / 64`, as [`Dropout::forward_with_mask`].
    Bits(&'a mut [u64]),
    /// One byte per element, as [`Dropout::forward_with_byte_mask`].
    Bytes(&'a mut [u8]),
}

impl MaskOut<'_> {
    /// Checks that the mask covers `n` elements.
    pub(crate) fn check(&self, n: usize) -> Result<(), Error> {
        match self {
            MaskOut::None => Ok(()),
            MaskOut::Bits(w) => check_mask(n, mask_words(n), w.len()),
            MaskOut::Bytes(b) => check_mask(n, n, b.len()),
        }
    }

    /// Fills the mask of `n` elements with one decision (the rate edges);
    /// bits past `n` in the last word are 0.
    pub(crate) fn fill(self, n: usize, keep: bool) {
        match self {
            MaskOut::None => {}
            MaskOut::Bits(w) => {
                w[..n / 64].fill(if keep { u64::MAX } else { 0 });
                if !n.is_multiple_of(64) {
                    w[n / 64] = if keep { (1u64 << (n % 64)) - 1 } else { 0 };
                }
            }
            MaskOut::Bytes(b) => b[..n].fill(u8::from(keep)),
        }
    }

    pub(crate) fn ptr(self) -> MaskPtr {
        match self {
            MaskOut::None => MaskPtr::None,
            MaskOut::Bits(w) => MaskPtr::Bits(w.as_mut_ptr()),
            MaskOut::Bytes(b) => MaskPtr::Bytes(b.as_mut_ptr()),
        }
    }
}

impl Dropout {
    /// Training forward pass, out of place: `y[i]` is `x[i]` times the
    /// training factor if element `offset + i` of `stream` is kept, else
    /// `+0.0`. Any [`Element`] type; the mask does not depend on it.
    ///
    /// `offset` is the global index of `x[0]` in the whole tensor: a tensor
    /// computed in pieces (shards, rows, threads of an engine), each with its
    /// own offset, equals the tensor computed whole.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `x.len() != y.len()`;
    /// [`Error::OffsetOverflow`] if `offset + x.len()` overflows. Nothing is
    /// written on error.
    ///
    /// ```
    /// use half::bf16;
    /// let d = dropkit::Dropout::new(0.5)?.with_seed(3);
    /// let x = [bf16::from_f32(1.5); 64];
    /// let mut y = [bf16::ZERO; 64];
    /// d.forward(0, 0, &x, &mut y)?;
    /// assert!(y.iter().all(|v| *v == bf16::ZERO || *v == bf16::from_f32(3.0)));
    ///
    /// // Sharding: two pieces at their offsets equal the whole.
    /// let mut z = [bf16::ZERO; 64];
    /// d.forward(0, 0, &x[..40], &mut z[..40])?;
    /// d.forward(0, 40, &x[40..], &mut z[40..])?;
    /// assert_eq!(y, z);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn forward<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        x: &[E],
        y: &mut [E],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Values::Out(x, y), MaskOut::None)
    }

    /// Training forward pass, in place. At rate 0 nothing is touched.
    ///
    /// # Errors
    /// [`Error::OffsetOverflow`] if `offset + x.len()` overflows.
    ///
    /// ```
    /// let d = dropkit::Dropout::new(0.25)?.with_seed(1);
    /// let x = vec![2.0f64; 300];
    /// let (mut y, mut z) = (vec![0.0; 300], x.clone());
    /// d.forward(4, 0, &x, &mut y)?;
    /// d.forward_in_place(4, 0, &mut z)?;
    /// assert_eq!(y, z);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn forward_in_place<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        x: &mut [E],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Values::InPlace(x), MaskOut::None)
    }

    /// [`Dropout::forward`] that also writes the keep mask, in the same pass:
    /// bit `i % 64` of `mask[i / 64]` is 1 iff `y[i]` was kept; bits past
    /// `x.len()` in the last word are 0.
    ///
    /// # Errors
    /// As [`Dropout::forward`], and [`Error::MaskTooSmall`] if `mask` has
    /// fewer than [`mask_words`]`(x.len())` words.
    ///
    /// The round trip: the stored mask gives the backward pass the forward's
    /// decisions (here equal to the mask-free backward).
    ///
    /// ```
    /// use dropkit::{mask_words, Dropout};
    /// let d = Dropout::new(0.5)?.with_seed(9);
    /// let x = vec![1.0f32; 200];
    /// let mut y = vec![0.0f32; 200];
    /// let mut mask = vec![0u64; mask_words(200)];
    /// d.forward_with_mask(1, 0, &x, &mut y, &mut mask)?;
    /// let dy = vec![3.0f32; 200];
    /// let (mut dx, mut dx2) = (vec![0.0f32; 200], vec![0.0f32; 200]);
    /// d.backward_from_mask(&mask, &dy, &mut dx)?;
    /// d.backward(1, 0, &dy, &mut dx2)?; // no mask needed at all
    /// assert_eq!(dx, dx2);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn forward_with_mask<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        x: &[E],
        y: &mut [E],
        mask: &mut [u64],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Values::Out(x, y), MaskOut::Bits(mask))
    }

    /// [`Dropout::forward`] that also writes one byte per element, 1 kept and
    /// 0 dropped, in the same pass.
    ///
    /// # Errors
    /// As [`Dropout::forward`], and [`Error::MaskTooSmall`] if
    /// `mask.len() < x.len()`.
    pub fn forward_with_byte_mask<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        x: &[E],
        y: &mut [E],
        mask: &mut [u8],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Values::Out(x, y), MaskOut::Bytes(mask))
    }

    /// The keep bit mask of `n` elements alone (layout of
    /// [`Dropout::forward_with_mask`]).
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`], [`Error::OffsetOverflow`].
    pub fn mask_bits(
        &self,
        stream: u64,
        offset: u64,
        n: usize,
        mask: &mut [u64],
    ) -> Result<(), Error> {
        self.forward_impl::<f32>(stream, offset, Values::None(n), MaskOut::Bits(mask))
    }

    /// The keep byte mask of `mask.len()` elements alone (1 kept, 0 dropped).
    ///
    /// # Errors
    /// [`Error::OffsetOverflow`].
    pub fn mask_bytes(&self, stream: u64, offset: u64, mask: &mut [u8]) -> Result<(), Error> {
        let n = mask.len();
        self.forward_impl::<f32>(stream, offset, Values::None(n), MaskOut::Bytes(mask))
    }

    fn forward_impl<E: Element>(
        &self,
        stream: u64,
        offset: u64,
        values: Values<'_, E>,
        mask: MaskOut<'_>,
    ) -> Result<(), Error> {
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
                if self.scaling().is_alpha() && !dst.is_null() {
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
