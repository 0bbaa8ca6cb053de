//! The C descriptors of a call (`dk_tensor`, `dk_mask_shape`, the mask
//! buffers, `dk_options`) checked and read into the Rust call model.

use crate::buffers::Regions;
use crate::dtype::Elem;
use crate::{
    dk_mask_shape, dk_options, dk_tensor, slice, slice_mut, Fail, DK_MASK_BITS, DK_MASK_BYTES,
    DK_MASK_NONE, DK_MASK_SHAPE_BROADCAST_DIMS, DK_MASK_SHAPE_CHANNELS_FIRST,
    DK_MASK_SHAPE_CHANNELS_LAST, DK_MASK_SHAPE_ELEMENTWISE, DK_MASK_SHAPE_LOCKED_BATCH_MAJOR,
    DK_MASK_SHAPE_LOCKED_TIME_MAJOR, DK_MASK_SHAPE_NOISE, DK_MASK_SHAPE_PER_SAMPLE,
};
use dropkit::{Call, Error, Layout, MaskIn, MaskOut, MaskShape, View, ViewMut, MAX_RANK};
use std::ffi::c_void;

/// A checked C tensor: its buffer and layout.
pub(crate) struct Tensor {
    pub(crate) data: *mut c_void,
    pub(crate) len: usize,
    pub(crate) layout: Layout,
    pub(crate) name: &'static str,
}

impl Tensor {
    /// Reads `*p`; the rank is checked before `dims` or `strides` is read.
    ///
    /// # Safety
    /// `p` null or valid, its arrays valid for `rank` values (when `rank`
    /// is at most 8).
    pub(crate) unsafe fn new(p: *const dk_tensor, name: &'static str) -> Result<Tensor, Fail> {
        // SAFETY: null is checked; otherwise the caller's contract.
        let t = unsafe { p.as_ref() }.ok_or_else(|| Fail::null(name))?;
        let layout = match t.rank {
            0 => Layout::dense(&[t.len])?,
            rank if rank > MAX_RANK => {
                return Err(Error::UnsupportedRank {
                    rank,
                    min: 1,
                    max: MAX_RANK,
                }
                .into())
            }
            rank => {
                // SAFETY: the caller's contract; `rank` is at most 8.
                let dims = unsafe { slice(t.dims, rank, &format!("{name}->dims")) }?;
                if t.strides.is_null() {
                    Layout::dense(dims)?
                } else {
                    // SAFETY: as above.
                    let strides = unsafe { slice(t.strides, rank, &format!("{name}->strides")) }?;
                    Layout::strided(dims, strides)?
                }
            }
        };
        Ok(Tensor {
            data: t.data,
            len: t.len,
            layout,
            name,
        })
    }

    /// The same buffer and layout (an in-place call).
    pub(crate) fn same(&self, other: &Tensor) -> bool {
        self.data == other.data && self.layout == other.layout
    }

    pub(crate) fn add<E>(&self, regions: &mut Regions, write: bool) -> Result<(), Fail> {
        regions.add(
            self.data.cast::<E>().cast_const(),
            self.len,
            self.name,
            write,
        )
    }

    /// # Safety
    /// The buffer is valid for `len` elements of `E`, not written meanwhile.
    pub(crate) unsafe fn view<'a, E>(&self) -> Result<View<'a, E>, Fail> {
        // SAFETY: the caller's contract.
        let s = unsafe { slice(self.data.cast::<E>().cast_const(), self.len, self.name) }?;
        Ok(View::new(s, self.layout)?)
    }

    /// # Safety
    /// The buffer is valid for `len` elements of `E`, accessed by nothing
    /// else meanwhile.
    pub(crate) unsafe fn view_mut<'a, E>(&self) -> Result<ViewMut<'a, E>, Fail> {
        // SAFETY: the caller's contract.
        let s = unsafe { slice_mut(self.data.cast::<E>(), self.len, self.name) }?;
        Ok(ViewMut::new(s, self.layout)?)
    }
}

/// The mask shape at `p` (null: elementwise) for data of `rank` axes; a
/// `count` above 8 is refused before `values` is read.
///
/// # Safety
/// `p` null or valid, its `values` valid for `count` (when at most 8).
pub(crate) unsafe fn mask_shape(p: *const dk_mask_shape, rank: usize) -> Result<MaskShape, Fail> {
    // SAFETY: null is checked; otherwise the caller's contract.
    let Some(s) = (unsafe { p.as_ref() }) else {
        return Ok(MaskShape::elementwise());
    };
    let values = || -> Result<&[usize], Fail> {
        if s.count > MAX_RANK {
            return Err(match s.kind {
                DK_MASK_SHAPE_NOISE => Error::RankMismatch {
                    expected: rank,
                    given: s.count,
                },
                _ => Error::Size {
                    what: "broadcast axes (at most 8)",
                    expected: MAX_RANK,
                    given: s.count,
                },
            }
            .into());
        }
        // SAFETY: the caller's contract; `count` is at most 8.
        unsafe { slice(s.values, s.count, "shape->values") }
    };
    let shape = match s.kind {
        DK_MASK_SHAPE_ELEMENTWISE => MaskShape::elementwise(),
        DK_MASK_SHAPE_CHANNELS_FIRST => MaskShape::channels_first(),
        DK_MASK_SHAPE_CHANNELS_LAST => MaskShape::channels_last(),
        DK_MASK_SHAPE_PER_SAMPLE => MaskShape::per_sample(),
        DK_MASK_SHAPE_LOCKED_TIME_MAJOR => MaskShape::locked_time_major(),
        DK_MASK_SHAPE_LOCKED_BATCH_MAJOR => MaskShape::locked_batch_major(),
        DK_MASK_SHAPE_NOISE => MaskShape::noise_shape(values()?),
        DK_MASK_SHAPE_BROADCAST_DIMS => MaskShape::broadcast_dims(values()?),
        k => {
            return Err(Fail::invalid(format!(
                "unknown mask shape kind {k} (shape->kind)"
            )))
        }
    };
    Ok(if s.slab_total > 0 {
        shape.slab(s.slab_start, s.slab_total)
    } else {
        shape
    })
}

/// Checks a mask kind and its buffer's pointer against `DK_MASK_NONE`.
fn mask_kind(kind: u32, p: *const c_void, len: usize, what: &str) -> Result<(), Fail> {
    match kind {
        DK_MASK_NONE if !p.is_null() || len > 0 => Err(Fail::invalid(format!(
            "{what} is set but the mask kind is DK_MASK_NONE"
        ))),
        DK_MASK_NONE | DK_MASK_BITS | DK_MASK_BYTES => Ok(()),
        k => Err(Fail::invalid(format!("unknown mask kind {k}"))),
    }
}

/// The mask buffer a forward pass or `dk_mask` writes.
///
/// # Safety
/// `p` null or valid for `len` words or bytes, accessed by nothing else.
pub(crate) unsafe fn mask_out<'a>(
    kind: u32,
    p: *mut c_void,
    len: usize,
    what: &str,
) -> Result<MaskOut<'a>, Fail> {
    mask_kind(kind, p, len, what)?;
    // SAFETY: the caller's contract.
    unsafe {
        Ok(match kind {
            DK_MASK_BITS => MaskOut::Bits(slice_mut(p.cast(), len, what)?),
            DK_MASK_BYTES => MaskOut::Bytes(slice_mut(p.cast(), len, what)?),
            _ => MaskOut::None,
        })
    }
}

/// The mask buffer a backward pass reads.
///
/// # Safety
/// `p` null or valid for reading `len` words or bytes.
unsafe fn mask_in<'a>(
    kind: u32,
    p: *const c_void,
    len: usize,
    what: &str,
) -> Result<Option<MaskIn<'a>>, Fail> {
    mask_kind(kind, p, len, what)?;
    // SAFETY: the caller's contract.
    unsafe {
        Ok(match kind {
            DK_MASK_BITS => Some(MaskIn::Bits(slice(p.cast(), len, what)?)),
            DK_MASK_BYTES => Some(MaskIn::Bytes(slice(p.cast(), len, what)?)),
            _ => None,
        })
    }
}

/// The options of a call, read (their buffers not yet made slices).
pub(crate) struct Options {
    shape: MaskShape,
    pub(crate) o: dk_options,
}

impl Options {
    /// Reads `*p` (null: defaults) for data of `rank` axes.
    ///
    /// # Safety
    /// `p` null or valid, its shape null or valid.
    pub(crate) unsafe fn new(p: *const dk_options, rank: usize) -> Result<Options, Fail> {
        // SAFETY: null is checked; otherwise the caller's contract.
        let o = match unsafe { p.as_ref() } {
            Some(o) => *o,
            None => dk_options {
                shape: core::ptr::null(),
                mask_kind: DK_MASK_NONE,
                mask: core::ptr::null_mut(),
                mask_len: 0,
                bias: core::ptr::null(),
                bias_len: 0,
                residual: core::ptr::null(),
                residual_len: 0,
                dbias: core::ptr::null_mut(),
                dbias_len: 0,
            },
        };
        // SAFETY: the caller's contract.
        let shape = unsafe { mask_shape(o.shape, rank) }?;
        mask_kind(o.mask_kind, o.mask, o.mask_len, "opt->mask")?;
        Ok(Options { shape, o })
    }

    /// Whether the residual is the output buffer `y` (forward onto the
    /// residual).
    pub(crate) fn onto(&self, y: &Tensor) -> bool {
        !self.o.residual.is_null() && self.o.residual == y.data.cast_const()
    }

    /// Adds the option buffers to `regions` (the mask written when
    /// `mask_written`; the residual unless it is the output).
    pub(crate) fn add<E>(
        &self,
        regions: &mut Regions,
        mask_written: bool,
        onto: bool,
    ) -> Result<(), Fail> {
        let o = &self.o;
        match o.mask_kind {
            DK_MASK_BITS => regions.add(
                o.mask.cast::<u64>().cast_const(),
                o.mask_len,
                "opt->mask",
                mask_written,
            )?,
            DK_MASK_BYTES => regions.add(
                o.mask.cast::<u8>().cast_const(),
                o.mask_len,
                "opt->mask",
                mask_written,
            )?,
            _ => {}
        }
        regions.add(o.bias.cast::<E>(), o.bias_len, "opt->bias", false)?;
        if !onto {
            regions.add(
                o.residual.cast::<E>(),
                o.residual_len,
                "opt->residual",
                false,
            )?;
        }
        regions.add(
            o.dbias.cast::<E>().cast_const(),
            o.dbias_len,
            "opt->dbias",
            true,
        )
    }

    /// The call with these options (the mask written when `mask_written`,
    /// else read; a residual unless it is the output); the passes refuse
    /// what they do not take.
    ///
    /// # Safety
    /// The buffers valid for their lengths and checked by
    /// [`Options::add`] and [`Regions::check`].
    pub(crate) unsafe fn apply<'a, E: Elem>(
        &self,
        mut call: Call<'a, E>,
        mask_written: bool,
        onto: bool,
    ) -> Result<Call<'a, E>, Fail> {
        let o = &self.o;
        call = call.shape(self.shape);
        // SAFETY: the caller's contract.
        unsafe {
            if mask_written {
                match mask_out(o.mask_kind, o.mask, o.mask_len, "opt->mask")? {
                    MaskOut::None => {}
                    m => call = call.mask_out(m),
                }
            } else if let Some(m) = mask_in(o.mask_kind, o.mask, o.mask_len, "opt->mask")? {
                call = call.mask_in(m);
            }
            if !o.bias.is_null() {
                call = call.bias(slice(o.bias.cast(), o.bias_len, "opt->bias")?);
            }
            if !o.residual.is_null() && !onto {
                call = call.residual(slice(o.residual.cast(), o.residual_len, "opt->residual")?);
            }
            if !o.dbias.is_null() {
                call = call.dbias(slice_mut(o.dbias.cast(), o.dbias_len, "opt->dbias")?);
            }
        }
        Ok(call)
    }
}
