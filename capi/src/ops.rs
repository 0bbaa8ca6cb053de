//! The generic bodies of the C functions: the C descriptors checked and
//! turned into the Rust call model. `generated.rs` (written by
//! `gen/generate.rs`) holds the exported entry points, the dtype-generic
//! ones and the four typed ones of each operation, each a one-line call of
//! a body here.

use crate::{
    config, dk_dropout, dk_mask_shape, dk_options, dk_site, dk_tensor, end, slice, slice_mut,
    Config, Fail, DK_MASK_BITS, DK_MASK_BYTES, DK_MASK_NONE, DK_MASK_SHAPE_BROADCAST_DIMS,
    DK_MASK_SHAPE_CHANNELS_FIRST, DK_MASK_SHAPE_CHANNELS_LAST, DK_MASK_SHAPE_ELEMENTWISE,
    DK_MASK_SHAPE_LOCKED_BATCH_MAJOR, DK_MASK_SHAPE_LOCKED_TIME_MAJOR, DK_MASK_SHAPE_NOISE,
    DK_MASK_SHAPE_PER_SAMPLE, DK_OVERLAP,
};
use dropkit::{Call, Element, Error, Layout, MaskIn, MaskOut, MaskShape, View, ViewMut, MAX_RANK};
use std::ffi::c_void;

/// The element types the bodies run on (the Rust types of the dtypes).
pub(crate) trait Elem: Element + Copy + Send + Sync + 'static {}
impl<E: Element + Copy + Send + Sync + 'static> Elem for E {}

/// Runs `$body` with the type alias `$E` set to the element type of
/// `$dtype` (`DK_INVALID_ARGUMENT` for an unknown one).
macro_rules! dispatch {
    ($dtype:expr, $E:ident => $body:expr) => {
        match $dtype {
            $crate::DK_DTYPE_F32 => {
                type $E = f32;
                $body
            }
            $crate::DK_DTYPE_F64 => {
                type $E = f64;
                $body
            }
            $crate::DK_DTYPE_F16 => {
                type $E = dropkit::half::f16;
                $body
            }
            $crate::DK_DTYPE_BF16 => {
                type $E = dropkit::half::bf16;
                $body
            }
            other => Err($crate::Fail::invalid(format!("unknown dtype {other}"))),
        }
    };
}
pub(crate) use dispatch;

/// A dense 1-D tensor of `n` elements at `p` (the typed entry points).
pub(crate) fn dense<T>(p: *const T, n: usize) -> dk_tensor {
    dk_tensor {
        data: p.cast_mut().cast(),
        len: n,
        rank: 0,
        dims: core::ptr::null(),
        strides: core::ptr::null(),
    }
}

/// `n * samples`, the Monte-Carlo output of the typed entry points.
pub(crate) fn times(n: usize, samples: usize) -> Result<usize, Fail> {
    n.checked_mul(samples).ok_or_else(|| {
        Fail::new(
            crate::DK_SIZE_OVERFLOW,
            format!("n * samples ({n} * {samples}) overflows size_t"),
        )
    })
}

/// A byte range a call reads or writes.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
    name: &'static str,
    write: bool,
}

/// The buffers of one call, checked for overlap before any slice is made.
#[derive(Default)]
struct Regions {
    list: [Option<Region>; 8],
    len: usize,
}

impl Regions {
    /// Adds `n` elements of `T` at `p` (nothing for `n == 0`).
    fn add<T>(
        &mut self,
        p: *const T,
        n: usize,
        name: &'static str,
        write: bool,
    ) -> Result<(), Fail> {
        if n == 0 {
            return Ok(());
        }
        if p.is_null() {
            return Err(Fail::null(&format!("{name} ({n} elements)")));
        }
        let end = end(p, n, name)?;
        self.list[self.len] = Some(Region {
            start: p as usize,
            end,
            name,
            write,
        });
        self.len += 1;
        Ok(())
    }

    /// `DK_OVERLAP` if a written range meets any other range.
    fn check(&self) -> Result<(), Fail> {
        let list = &self.list[..self.len];
        for (i, a) in list.iter().flatten().enumerate() {
            for b in list[i + 1..].iter().flatten() {
                if (a.write || b.write) && a.start < b.end && b.start < a.end {
                    return Err(Fail::new(
                        DK_OVERLAP,
                        format!("{} and {} overlap", a.name, b.name),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A checked C tensor: its buffer and layout.
struct Tensor {
    data: *mut c_void,
    len: usize,
    layout: Layout,
    name: &'static str,
}

impl Tensor {
    /// Reads `*p`; the rank is checked before `dims` or `strides` is read.
    ///
    /// # Safety
    /// `p` null or valid, its arrays valid for `rank` values (when `rank`
    /// is at most 8).
    unsafe fn new(p: *const dk_tensor, name: &'static str) -> Result<Tensor, Fail> {
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
    fn same(&self, other: &Tensor) -> bool {
        self.data == other.data && self.layout == other.layout
    }

    fn add<E>(&self, regions: &mut Regions, write: bool) -> Result<(), Fail> {
        regions.add(
            self.data.cast::<E>().cast_const(),
            self.len,
            self.name,
            write,
        )
    }

    /// # Safety
    /// The buffer is valid for `len` elements of `E`, not written meanwhile.
    unsafe fn view<'a, E>(&self) -> Result<View<'a, E>, Fail> {
        // SAFETY: the caller's contract.
        let s = unsafe { slice(self.data.cast::<E>().cast_const(), self.len, self.name) }?;
        Ok(View::new(s, self.layout)?)
    }

    /// # Safety
    /// The buffer is valid for `len` elements of `E`, accessed by nothing
    /// else meanwhile.
    unsafe fn view_mut<'a, E>(&self) -> Result<ViewMut<'a, E>, Fail> {
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
struct Options {
    shape: MaskShape,
    o: dk_options,
}

impl Options {
    /// Reads `*p` (null: defaults) for data of `rank` axes.
    ///
    /// # Safety
    /// `p` null or valid, its shape null or valid.
    unsafe fn new(p: *const dk_options, rank: usize) -> Result<Options, Fail> {
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
    fn onto(&self, y: &Tensor) -> bool {
        !self.o.residual.is_null() && self.o.residual == y.data.cast_const()
    }

    /// Adds the option buffers to `regions` (the mask written when
    /// `mask_written`; the residual unless it is the output).
    fn add<E>(&self, regions: &mut Regions, mask_written: bool, onto: bool) -> Result<(), Fail> {
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
    unsafe fn apply<'a, E: Elem>(
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

/// The forward pass (`x` null: in place on `y`).
///
/// # Safety
/// `d`, `x`, `y`, `opt` null or valid; every buffer they name valid for
/// its length.
pub(crate) unsafe fn forward<E: Elem>(
    d: *const dk_dropout,
    site: dk_site,
    x: *const dk_tensor,
    y: *const dk_tensor,
    opt: *const dk_options,
) -> Result<(), Fail> {
    // SAFETY: the caller's contract.
    let cfg = unsafe { config(d) }?;
    // SAFETY: the caller's contract.
    let (yt, xt) = unsafe { (Tensor::new(y, "y")?, tensor_or_none(x, "x")?) };
    // SAFETY: the caller's contract.
    let o = unsafe { Options::new(opt, yt.layout.rank()) }?;
    let in_place = xt.as_ref().is_none_or(|x| x.same(&yt));
    let onto = o.onto(&yt);
    if onto && (in_place || o.o.residual_len != yt.len) {
        return Err(Fail::new(
            DK_OVERLAP,
            "opt->residual is y's buffer: it must then be as long as y, with an input x other than y",
        ));
    }
    let mut regions = Regions::default();
    yt.add::<E>(&mut regions, true)?;
    if let (Some(x), false) = (&xt, in_place) {
        x.add::<E>(&mut regions, false)?;
    }
    o.add::<E>(&mut regions, true, onto)?;
    regions.check()?;
    // SAFETY: the caller's contract; the buffers do not overlap (checked
    // above) but for an in-place call, which makes one view.
    let (call, xv, mut yv) = unsafe {
        let call = o.apply(cfg.drop.at::<E>(site.into()), true, onto)?;
        let xv = match (&xt, in_place) {
            (Some(x), false) => Some(x.view::<E>()?),
            _ => None,
        };
        (call, xv, yt.view_mut::<E>()?)
    };
    let n = yt.layout.len();
    run(&cfg, n, move || {
        match (xv, onto) {
            (None, _) => call.forward_in_place(&mut yv),
            (Some(xv), false) => call.forward(&xv, &mut yv),
            (Some(xv), true) => call.forward_onto_residual(&xv, &mut yv),
        }
        .map(|_| ())
    })
}

/// The backward pass (`dy` null: in place on `dx`).
///
/// # Safety
/// As [`forward`].
pub(crate) unsafe fn backward<E: Elem>(
    d: *const dk_dropout,
    site: dk_site,
    dy: *const dk_tensor,
    dx: *const dk_tensor,
    opt: *const dk_options,
) -> Result<(), Fail> {
    // SAFETY: the caller's contract.
    let cfg = unsafe { config(d) }?;
    // SAFETY: the caller's contract.
    let (dxt, dyt) = unsafe { (Tensor::new(dx, "dx")?, tensor_or_none(dy, "dy")?) };
    // SAFETY: the caller's contract.
    let o = unsafe { Options::new(opt, dxt.layout.rank()) }?;
    let in_place = dyt.as_ref().is_none_or(|v| v.same(&dxt));
    let mut regions = Regions::default();
    dxt.add::<E>(&mut regions, true)?;
    if let (Some(v), false) = (&dyt, in_place) {
        v.add::<E>(&mut regions, false)?;
    }
    o.add::<E>(&mut regions, false, false)?;
    regions.check()?;
    // SAFETY: as in `forward`.
    let (call, dyv, mut dxv) = unsafe {
        let call = o.apply(cfg.drop.at::<E>(site.into()), false, false)?;
        let dyv = match (&dyt, in_place) {
            (Some(v), false) => Some(v.view::<E>()?),
            _ => None,
        };
        (call, dyv, dxt.view_mut::<E>()?)
    };
    let n = dxt.layout.len();
    run(&cfg, n, move || match dyv {
        None => call.backward_in_place(&mut dxv),
        Some(dyv) => call.backward(&dyv, &mut dxv),
    })
}

/// Inference (`x` null: in place on `y`).
///
/// # Safety
/// As [`forward`].
pub(crate) unsafe fn inference<E: Elem>(
    d: *const dk_dropout,
    x: *const dk_tensor,
    y: *const dk_tensor,
) -> Result<(), Fail> {
    // SAFETY: the caller's contract.
    let cfg = unsafe { config(d) }?;
    // SAFETY: the caller's contract.
    let (yt, xt) = unsafe { (Tensor::new(y, "y")?, tensor_or_none(x, "x")?) };
    let in_place = xt.as_ref().is_none_or(|x| x.same(&yt));
    let mut regions = Regions::default();
    yt.add::<E>(&mut regions, true)?;
    if let (Some(x), false) = (&xt, in_place) {
        x.add::<E>(&mut regions, false)?;
    }
    regions.check()?;
    // SAFETY: as in `forward`.
    let (xv, mut yv) = unsafe {
        let xv = match (&xt, in_place) {
            (Some(x), false) => Some(x.view::<E>()?),
            _ => None,
        };
        (xv, yt.view_mut::<E>()?)
    };
    let (drop, n) = (&cfg.drop, yt.layout.len());
    run(&cfg, n, move || match xv {
        None => drop.inference_in_place(&mut yv),
        Some(xv) => drop.inference(&xv, &mut yv),
    })
}

/// Monte-Carlo dropout into the dense rows of `out` (`out_len` elements).
///
/// # Safety
/// As [`forward`]; `out` null or valid for `out_len` elements.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn mc_forward<E: Elem>(
    d: *const dk_dropout,
    site: dk_site,
    x: *const dk_tensor,
    out: *mut c_void,
    out_len: usize,
    samples: usize,
    opt: *const dk_options,
) -> Result<(), Fail> {
    // SAFETY: the caller's contract.
    let cfg = unsafe { config(d) }?;
    // SAFETY: the caller's contract.
    let xt = unsafe { Tensor::new(x, "x") }?;
    // SAFETY: the caller's contract.
    let o = unsafe { Options::new(opt, xt.layout.rank()) }?;
    let mut regions = Regions::default();
    regions.add(out.cast::<E>().cast_const(), out_len, "out", true)?;
    xt.add::<E>(&mut regions, false)?;
    o.add::<E>(&mut regions, true, false)?;
    regions.check()?;
    // SAFETY: as in `forward`.
    let (call, xv, out) = unsafe {
        (
            o.apply(cfg.drop.at::<E>(site.into()), true, false)?,
            xt.view::<E>()?,
            slice_mut(out.cast::<E>(), out_len, "out")?,
        )
    };
    run(&cfg, out_len, move || call.mc_forward(&xv, out, samples))
}

/// Per-element mean and variance of the `samples_len / n` rows at
/// `samples` into `n` elements at `mean` and at `var`.
///
/// # Safety
/// Every pointer null or valid for its length.
pub(crate) unsafe fn mc_mean_var<E: Elem>(
    samples: *const c_void,
    samples_len: usize,
    n: usize,
    mean: *mut c_void,
    var: *mut c_void,
) -> Result<(), Fail> {
    let mut regions = Regions::default();
    regions.add(samples.cast::<E>(), samples_len, "samples", false)?;
    regions.add(mean.cast::<E>().cast_const(), n, "mean", true)?;
    regions.add(var.cast::<E>().cast_const(), n, "var", true)?;
    regions.check()?;
    // SAFETY: the caller's contract; no overlap (checked).
    unsafe {
        dropkit::mc_mean_var::<E>(
            slice(samples.cast(), samples_len, "samples")?,
            n,
            slice_mut(mean.cast(), n, "mean")?,
            slice_mut(var.cast(), n, "var")?,
        )?;
    }
    Ok(())
}

/// A tensor, or `None` for a null descriptor.
///
/// # Safety
/// As [`Tensor::new`].
unsafe fn tensor_or_none(p: *const dk_tensor, name: &'static str) -> Result<Option<Tensor>, Fail> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: the caller's contract.
        unsafe { Tensor::new(p, name) }.map(Some)
    }
}

/// Runs `f`, a call on `elements` elements, in the operator's pool.
fn run(
    cfg: &Config,
    elements: usize,
    f: impl FnOnce() -> Result<(), Error> + Send,
) -> Result<(), Fail> {
    cfg.exec(elements, f)
}
