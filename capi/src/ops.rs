//! The generic bodies of the C functions: the C descriptors checked and
//! turned into the Rust call model (with `descriptors.rs`). `generated.rs`
//! (written by `gen/generate.rs`) holds the exported entry points, the
//! dtype-generic ones and the four typed ones of each operation, each a
//! one-line call of a body here.

use crate::buffers::Regions;
use crate::descriptors::{Options, Tensor};
// Re-exported for `generated.rs`, which uses `crate::ops::*`.
pub(crate) use crate::dtype::{dispatch, Elem};
use crate::{
    config, dk_dropout, dk_options, dk_site, dk_tensor, slice, slice_mut, Config, Fail, DK_OVERLAP,
};
use dropkit::Error;
use std::ffi::c_void;

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
