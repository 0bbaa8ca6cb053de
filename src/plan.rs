//! [`Plan`]: a shaped call validated and its axes collapsed for the
//! strided walker.

use crate::kernel::cursor::gcd;
use crate::layout::Layout;
use crate::limits::{MAX_RANK, PERIOD_BITS_MAX};
use crate::mask_shape::MaskShape;
use crate::Error;

/// A validated shaped call: the collapsed axes and the mask's place.
pub(crate) struct Plan {
    pub rank: usize,
    pub dims: [usize; MAX_RANK],
    pub sx: [usize; MAX_RANK],
    pub sy: [usize; MAX_RANK],
    pub ms: [usize; MAX_RANK],
    /// See [`crate::kernel::strided::Job::period`].
    pub period: usize,
    /// Global index of the slab's first mask element.
    pub g0: u64,
    /// Mask elements of the slab.
    pub m: usize,
    /// Data elements.
    pub n: usize,
}

/// Validates a shaped call (`x`: the input's layout, if not in place) and
/// collapses its axes: axes of extent 1 go, and neighbouring axes merge
/// where input, output and mask all step through them as one.
pub(crate) fn plan(
    shape: &MaskShape,
    offset: u64,
    x: Option<&Layout>,
    y: &Layout,
) -> Result<Plan, Error> {
    let k = y.rank();
    let x = x.unwrap_or(y);
    if x.rank() != k {
        return Err(Error::RankMismatch {
            expected: x.rank(),
            given: k,
        });
    }
    for axis in 0..k {
        if x.dims()[axis] != y.dims()[axis] {
            return Err(Error::DimMismatch {
                axis,
                input: x.dims()[axis],
                output: y.dims()[axis],
            });
        }
    }
    let (mdims, before) = shape.resolve(y.dims())?;
    // The mask is never larger than the whole tensor, whose element count
    // fits (`Layout` checked the slab's; the whole tensor's rows may be
    // more, so check).
    let mut m = 1usize;
    for &e in &mdims[..k] {
        m = m.checked_mul(e).ok_or(Error::SizeOverflow)?;
    }
    let g0 = offset
        .checked_add(before as u64)
        .filter(|g| g.checked_add(m as u64).is_some())
        .ok_or(Error::OffsetOverflow {
            offset,
            len: before.saturating_add(m),
        })?;
    let mut mstride = [0usize; MAX_RANK];
    let mut step = 1usize;
    for a in (0..k).rev() {
        mstride[a] = if mdims[a] == 1 { 0 } else { step };
        // Saturating: an overflow here means an empty mask, and then no
        // data either.
        step = step.saturating_mul(mdims[a]);
    }
    let mut p = Plan {
        rank: 0,
        dims: [1; MAX_RANK],
        sx: [0; MAX_RANK],
        sy: [0; MAX_RANK],
        ms: [0; MAX_RANK],
        period: 0,
        g0,
        m,
        n: y.len(),
    };
    for (a, &ms) in mstride.iter().enumerate().take(k) {
        let d = y.dims()[a];
        if d == 1 {
            continue;
        }
        let (sx, sy) = (x.strides()[a], y.strides()[a]);
        if p.rank > 0 {
            let o = p.rank - 1;
            // Axis `o` steps as `d` steps of axis `a` in every operand
            // (`checked_mul`: a product that overflows cannot match).
            let merges = |outer: usize, inner: usize| inner.checked_mul(d) == Some(outer);
            if merges(p.sx[o], sx) && merges(p.sy[o], sy) && merges(p.ms[o], ms) {
                p.dims[o] *= d;
                p.sx[o] = sx;
                p.sy[o] = sy;
                p.ms[o] = ms;
                continue;
            }
        }
        let r = p.rank;
        p.dims[r] = d;
        p.sx[r] = sx;
        p.sy[r] = sy;
        p.ms[r] = ms;
        p.rank += 1;
    }
    if p.rank == 0 {
        // Every extent is 1: one element.
        p.rank = 1;
    }
    // Short contiguous rows that repeat one mask run (channels last): one
    // long row with a periodic mask.
    if p.rank >= 2 {
        let (o, l) = (p.rank - 2, p.rank - 1);
        let c = p.dims[l];
        if p.ms[l] == 1
            && p.ms[o] == 0
            && (p.sx[l], p.sy[l]) == (1, 1)
            && (p.sx[o], p.sy[o]) == (c, c)
            && c <= PERIOD_BITS_MAX
            && c * 64 / gcd(c, 64) <= PERIOD_BITS_MAX
        {
            p.period = c;
            p.dims[o] *= c;
            (p.sx[o], p.sy[o], p.ms[o]) = (1, 1, 1);
            p.rank -= 1;
        }
    }
    Ok(p)
}
