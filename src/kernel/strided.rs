//! Strided views and broadcast masks: a walk over the rows of a collapsed
//! shape ([`Job`]), reading each row's keep decisions from a mask source
//! (the generator, run once per mask element into a window of bits, a
//! stored mask, or a constant) and applying them through the data side.
//!
//! The mask is the elementwise mask of its `m` elements at global index
//! `g0`; a row either takes one decision for all its elements (the mask
//! broadcasts along the last axis: channels first, drop-path) or a run of
//! consecutive mask bits (channels last, locked masks, strided rows).

use super::cursor::{Cursor, Repeat};
use super::data::Data;
use super::lanes::Gen16;
use super::rows::{bits_at, segment, Walk};
use super::sink::NoSink;
use super::walk::fill;
use super::{Params, LANES};
use crate::num::{sealed::Sealed, Factor};

pub use crate::limits::MAX_RANK;
use crate::limits::{REPEAT, WINDOW};

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
    pub(crate) fn one(self, x: E, keep: bool) -> E {
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
    /// Non-zero: the last axis is contiguous rows of `period` elements
    /// that all take mask elements `mo..mo + period` (a mask broadcast
    /// along the axis just outside a short last axis, folded into one long
    /// axis: channels last).
    pub period: usize,
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
pub(crate) struct Window {
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// The bits (the last word is spare: reads stop at `len`).
    pub(crate) words: [u64; WINDOW / 64 + 1],
}

/// The decisions of one row segment: bits at positions (relative to
/// `words`), bytes, or one constant.
#[derive(Clone, Copy)]
pub(crate) enum Bits {
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
    pub(crate) unsafe fn one(self, i: usize) -> bool {
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
    pub(crate) unsafe fn keep<G: Gen16>(self, i: usize, cnt: usize) -> G::Keep {
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
    // An elementwise mask generated as the data goes: the block walker,
    // with an output that follows the view's rows (no bits in between).
    if matches!(job.source, Source::Generate) && job.m == job.len() && job.period == 0 {
        // SAFETY: the ISA is available; the walker visits `lo..hi` in
        // order (no paired blocks: the driver's parameters forbid them),
        // which `out` maps to the view's elements; `g0 + m` does not
        // overflow.
        unsafe {
            let last = job.rank - 1;
            let (g, n) = (job.g0 + lo as u64, hi - lo);
            match job.op {
                Op::Scale(s) if job.sx[last] == 1 && job.sy[last] == 1 => {
                    let mut out = Walk::<G, D, true>::new(job, lo, s);
                    fill::<G, _, _, _>(p, g, n, &mut out, &mut NoSink);
                }
                _ => {
                    let mut out = Walk::<G, D, false>::new(job, lo, p.scale);
                    fill::<G, _, _, _>(p, g, n, &mut out, &mut NoSink);
                }
            }
        }
        return;
    }
    let last = job.rank - 1;
    let len = job.dims[last];
    let (sx, sy, sm) = (job.sx[last], job.sy[last], job.ms[last]);
    let mut at = Cursor::new(job, lo);
    let mut win = match job.source {
        Source::Generate => Some(Window {
            start: 0,
            len: 0,
            words: [0; WINDOW / 64 + 1],
        }),
        _ => None,
    };
    let mut rep = Repeat {
        mo: usize::MAX,
        len: 0,
        words: [0; REPEAT / 64],
    };
    let mut i = lo;
    // SAFETY: the ISA is available; every position below is a data element
    // of the view (its address is in bounds by the caller's contract), and
    // every mask position asked of `bits_at` is below `m` (constant sources
    // never ask).
    unsafe {
        while i < hi {
            let col = at.col;
            let take = (len - col).min(hi - i);
            let x = job.src.add(at.xo + col * sx);
            let y = job.dst.add(at.yo + col * sy);
            if let Source::Const(keep) = job.source {
                // One decision everywhere (the rate edges, inference).
                segment::<G, D>(job.op, Bits::Const(keep), 0, x, y, sx, sy, take);
            } else if job.period != 0 {
                // A periodic row: the mask's run, repeated to a whole
                // number of words, read from `rep`.
                if rep.mo != at.mo {
                    rep.build::<G, D::E>(p, job, win.as_mut(), at.mo);
                }
                let mut done = 0;
                while done < take {
                    let pos = (col + done) % rep.len;
                    let cnt = (rep.len - pos).min(take - done);
                    let bits = Bits::Words(rep.words.as_ptr());
                    segment::<G, D>(job.op, bits, pos, x.add(done), y.add(done), 1, 1, cnt);
                    done += cnt;
                }
            } else if sm == 0 {
                // One decision for the whole segment.
                let (bits, pos, _) = bits_at::<G, D::E>(p, job, win.as_mut(), at.mo);
                let keep = bits.one(pos);
                segment::<G, D>(job.op, Bits::Const(keep), 0, x, y, sx, sy, take);
            } else {
                // A run of consecutive mask bits, window by window.
                let mut u = at.mo + col * sm;
                let mut done = 0;
                while done < take {
                    let (bits, pos, avail) = bits_at::<G, D::E>(p, job, win.as_mut(), u);
                    let cnt = avail.min(take - done);
                    segment::<G, D>(
                        job.op,
                        bits,
                        pos,
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
            at.next_row(job);
        }
    }
}
