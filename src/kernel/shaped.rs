//! Strided views and broadcast masks: a walk over the rows of a collapsed
//! shape ([`Job`]), reading each row's keep decisions from a mask source
//! (the generator, run once per mask element into a window of bits, a
//! stored mask, or a constant) and applying them through the data side.
//!
//! The mask is the elementwise mask of its `m` elements at global index
//! `g0`; a row either takes one decision for all its elements (the mask
//! broadcasts along the last axis: channels first, drop-path) or a run of
//! consecutive mask bits (channels last, locked masks, strided rows).

use super::data::Data;
use super::lanes::Gen16;
use super::sink::BitSink;
use super::walk::{fill, NoOut, Out, Scaled};
use super::{Params, BLOCK, LANES};
use crate::element::{sealed::Sealed, Element, Factor};

/// The largest rank a view may have.
pub const MAX_RANK: usize = 8;

/// Bits of mask the generator fills at once (8 KiB on the stack): a mask
/// that repeats (channels last, locked) is generated once per window.
const WINDOW: usize = 1 << 16;

/// Where a job's keep decisions come from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// Stream v1 at the job's `g0`, generated window by window.
    Generate,
    /// Every element kept (`true`) or dropped.
    Const(bool),
    /// A stored bit mask of the job's `m` elements.
    Bits(*const u64),
    /// A stored byte mask of the job's `m` elements (non-zero kept).
    Bytes(*const u8),
}

/// What a row does to a kept and a dropped element.
#[derive(Clone, Copy, Debug)]
pub enum Op<E: Sealed> {
    /// Kept `x` bit for bit, dropped `+0.0` (the rate edges, inference).
    Copy,
    /// Kept `x * s` by the type's rule, dropped `+0.0`.
    Scale(Factor<E>),
    /// Kept `x * a + b` (computed in the factor type, one multiply, one
    /// add, one rounding), dropped `dropped` (alpha dropout).
    Affine {
        /// The multiplier.
        a: Factor<E>,
        /// The addend.
        b: Factor<E>,
        /// The value of a dropped element.
        dropped: E,
    },
}

impl<E: Sealed> Op<E> {
    /// One element.
    #[inline(always)]
    fn one(self, x: E, keep: bool) -> E {
        match self {
            Op::Copy => {
                if keep {
                    x
                } else {
                    E::ZERO
                }
            }
            Op::Scale(s) => E::lane(x, s, if keep { u32::MAX } else { 0 }),
            Op::Affine { a, b, dropped } => {
                if keep {
                    E::narrow(E::widen(x) * a + b)
                } else {
                    dropped
                }
            }
        }
    }
}

/// A shaped call after validation: the data's collapsed shape, the strides
/// of input, output and mask (0 along broadcast axes), in elements.
pub struct Job<E: Sealed> {
    /// Input (may equal `dst`).
    pub src: *const E,
    /// Output.
    pub dst: *mut E,
    /// Axes in use (at least 1).
    pub rank: usize,
    /// Extents.
    pub dims: [usize; MAX_RANK],
    /// Input strides.
    pub sx: [usize; MAX_RANK],
    /// Output strides.
    pub sy: [usize; MAX_RANK],
    /// Mask strides (0 where the mask broadcasts).
    pub ms: [usize; MAX_RANK],
    /// Global index of mask element 0.
    pub g0: u64,
    /// Mask elements.
    pub m: usize,
    /// Where the decisions come from.
    pub source: Source,
    /// What they do.
    pub op: Op<E>,
}

// SAFETY: a `Job` is built from slices borrowed for the whole call; the
// driver hands each thread a disjoint range of data elements, and distinct
// data elements of a validated output view have distinct addresses.
unsafe impl<E: Sealed> Send for Job<E> {}
// SAFETY: as for `Send`; a stored mask is only read.
unsafe impl<E: Sealed> Sync for Job<E> {}

impl<E: Sealed> Job<E> {
    /// Data elements.
    pub fn len(&self) -> usize {
        self.dims[..self.rank].iter().product()
    }
}

/// A window of generated mask bits: elements `start..start + len`.
struct Window {
    start: usize,
    len: usize,
    /// One word more than the bits, so reading 16 bits never leaves it.
    words: [u64; WINDOW / 64 + 1],
}

/// The decisions of one row segment: bits at positions (relative to
/// `words`), bytes, or one constant.
#[derive(Clone, Copy)]
enum Bits {
    Words(*const u64),
    Bytes(*const u8),
    Const(bool),
}

impl Bits {
    /// Decision of position `i`.
    ///
    /// # Safety
    /// Position `i` is inside the buffer.
    #[inline(always)]
    unsafe fn one(self, i: usize) -> bool {
        // SAFETY: caller's contract.
        unsafe {
            match self {
                Bits::Words(w) => (w.add(i / 64).read() >> (i % 64)) & 1 == 1,
                Bits::Bytes(b) => b.add(i).read() != 0,
                Bits::Const(k) => k,
            }
        }
    }

    /// Keep word of positions `i..i + cnt` (`cnt <= 16`) in lanes
    /// `0..cnt`.
    ///
    /// # Safety
    /// `G`'s ISA is available; the positions are inside the buffer.
    #[inline(always)]
    unsafe fn keep<G: Gen16>(self, i: usize, cnt: usize) -> G::Keep {
        // SAFETY: caller's contract; a second word is read only when the
        // positions reach into it.
        unsafe {
            match self {
                Bits::Words(w) => {
                    let (at, sh) = (i / 64, i % 64);
                    let mut v = w.add(at).read() >> sh;
                    if sh + cnt > 64 {
                        v |= w.add(at + 1).read() << (64 - sh);
                    }
                    G::keep_from_bits(v as u32 & 0xffff)
                }
                Bits::Bytes(b) if cnt == LANES => G::keep_from_bytes(b.add(i)),
                Bits::Bytes(b) => {
                    let mut tmp = [0u8; LANES];
                    core::ptr::copy_nonoverlapping(b.add(i), tmp.as_mut_ptr(), cnt);
                    G::keep_from_bytes(tmp.as_ptr())
                }
                Bits::Const(k) => G::keep_from_bits(if k { 0xffff } else { 0 }),
            }
        }
    }
}

/// Runs `job` over data elements `lo..hi` (row-major positions).
///
/// # Safety
/// `G`'s ISA is available; the job's pointers are valid for its shape and
/// strides (the stored mask for `m` elements), `g0 + m <= 2^64`, and no
/// other thread touches output elements `lo..hi`.
#[inline(always)]
pub unsafe fn run<G: Gen16, D: Data<G>>(
    p: &Params<Factor<D::E>>,
    job: &Job<D::E>,
    lo: usize,
    hi: usize,
) {
    let last = job.rank - 1;
    let len = job.dims[last];
    let (sx, sy, sm) = (job.sx[last], job.sy[last], job.ms[last]);
    // The odometer over the outer axes, at the row of `lo`.
    let mut idx = [0usize; MAX_RANK];
    let (mut xo, mut yo, mut mo) = (0usize, 0usize, 0usize);
    let mut r = lo / len;
    for a in (0..last).rev() {
        idx[a] = r % job.dims[a];
        r /= job.dims[a];
        xo += idx[a] * job.sx[a];
        yo += idx[a] * job.sy[a];
        mo += idx[a] * job.ms[a];
    }
    let mut win = match job.source {
        Source::Generate => Some(Window {
            start: 0,
            len: 0,
            words: [0; WINDOW / 64 + 1],
        }),
        _ => None,
    };
    let mut col = lo % len;
    let mut i = lo;
    // SAFETY: every position below is a data element of the view (its
    // address is in bounds by the caller's contract), and every mask
    // position is below `m`.
    unsafe {
        while i < hi {
            let take = (len - col).min(hi - i);
            let x = job.src.add(xo + col * sx);
            let y = job.dst.add(yo + col * sy);
            let mut u = mo + col * sm;
            if sm == 0 {
                // One decision for the whole segment.
                let bits = bits_at::<G, D::E>(p, job, win.as_mut(), u);
                let keep = bits.0.one(bits.1);
                segment::<G, D>(job.op, Bits::Const(keep), 0, x, y, sx, sy, take);
            } else {
                // A run of consecutive mask bits, window by window.
                let mut done = 0;
                while done < take {
                    let (bits, at, avail) = bits_at::<G, D::E>(p, job, win.as_mut(), u);
                    let cnt = avail.min(take - done);
                    segment::<G, D>(
                        job.op,
                        bits,
                        at,
                        x.add(done * sx),
                        y.add(done * sy),
                        sx,
                        sy,
                        cnt,
                    );
                    done += cnt;
                    u += cnt;
                }
            }
            i += take;
            col = 0;
            // Next row.
            for a in (0..last).rev() {
                idx[a] += 1;
                xo += job.sx[a];
                yo += job.sy[a];
                mo += job.ms[a];
                if idx[a] < job.dims[a] {
                    break;
                }
                idx[a] = 0;
                xo -= job.sx[a] * job.dims[a];
                yo -= job.sy[a] * job.dims[a];
                mo -= job.ms[a] * job.dims[a];
            }
        }
    }
}

/// The decisions from mask position `u` on: the buffer, the position of
/// `u` in it, and how many positions it holds from there. Generated
/// windows start at the block of `g0 + u` (or at mask element 0), so the
/// generator never steps to a position it does not use.
///
/// # Safety
/// As [`run`]; `u < m`; `win` is `Some` for [`Source::Generate`].
#[inline(always)]
unsafe fn bits_at<G: Gen16, E: Element>(
    p: &Params<Factor<E>>,
    job: &Job<E>,
    win: Option<&mut Window>,
    u: usize,
) -> (Bits, usize, usize) {
    let rest = job.m - u;
    match (job.source, win) {
        (Source::Const(k), _) => (Bits::Const(k), 0, usize::MAX),
        (Source::Bits(w), _) => (Bits::Words(w), u, rest),
        (Source::Bytes(b), _) => (Bits::Bytes(b), u, rest),
        (Source::Generate, Some(w)) => {
            if u < w.start || u >= w.start + w.len {
                let back = ((job.g0 + u as u64) % BLOCK as u64) as usize;
                w.start = u - back.min(u);
                w.len = WINDOW.min(job.m - w.start);
                // SAFETY: the window holds `WINDOW` bits; `g0 + m` does not
                // overflow (caller's contract).
                unsafe {
                    fill::<G, _, _, _>(
                        p,
                        job.g0 + w.start as u64,
                        w.len,
                        &mut NoOut,
                        &mut BitSink::new(w.words.as_mut_ptr()),
                    );
                }
            }
            let at = u - w.start;
            (Bits::Words(w.words.as_ptr()), at, w.len - at)
        }
        (Source::Generate, None) => (Bits::Const(false), 0, 0),
    }
}

/// `cnt` elements of one row: `y[k * sy] = op(x[k * sx], decision at + k)`.
/// Unit strides and a multiply take the ISA's data side, 16 at a time.
///
/// # Safety
/// `G`'s ISA is available; the elements and decisions exist.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn segment<G: Gen16, D: Data<G>>(
    op: Op<D::E>,
    bits: Bits,
    at: usize,
    x: *const D::E,
    y: *mut D::E,
    sx: usize,
    sy: usize,
    cnt: usize,
) {
    // SAFETY: positions below are `0..cnt` of the segment (caller's
    // contract).
    unsafe {
        match op {
            Op::Scale(s) if sx == 1 && sy == 1 => {
                let mut out = Scaled::<G, D>::new(x, y, s);
                let mut k = 0;
                while k + LANES <= cnt {
                    out.full(k, bits.keep::<G>(at + k, LANES));
                    k += LANES;
                }
                if k < cnt {
                    out.partial(k, bits.keep::<G>(at + k, cnt - k), 0, cnt - k);
                }
            }
            Op::Copy if sx == 1 && sy == 1 && matches!(bits, Bits::Const(_)) => {
                if bits.one(0) {
                    core::ptr::copy(x, y, cnt);
                } else {
                    for k in 0..cnt {
                        y.add(k).write(<D::E as Sealed>::ZERO);
                    }
                }
            }
            _ => {
                for k in 0..cnt {
                    let v = op.one(x.add(k * sx).read(), bits.one(at + k));
                    y.add(k * sy).write(v);
                }
            }
        }
    }
}
