//! The strided walker's row work: the output of the generator walk over
//! strided rows ([`Walk`]), the decisions of a row segment ([`bits_at`]) and
//! their application through the data side ([`segment`]).

use super::cursor::Cursor;
use super::data::Data;
use super::lanes::Gen16;
use super::sink::BitSink;
use super::strided::{Bits, Job, Op, Source, Window};
use super::walk::{fill, NoOut, Out, Scaled};
use super::{Params, BLOCK, LANES};
use crate::limits::WINDOW;
use crate::num::{sealed::Sealed, Factor};

/// The walker's output for an elementwise mask over strided data: the
/// walker's positions, in order, mapped to the view's rows. `SCALED`: the
/// job is [`Op::Scale`] over unit last strides, whose whole steps inside a
/// row go to the data side directly.
pub(crate) struct Walk<'j, G: Gen16, D: Data<G>, const SCALED: bool> {
    /// The next element's input and output.
    pub(crate) x: *const D::E,
    pub(crate) y: *mut D::E,
    /// Elements left in the current row.
    pub(crate) left: usize,
    /// The factor for the data side (`SCALED` only).
    pub(crate) s: D::S,
    pub(crate) job: &'j Job<D::E>,
    pub(crate) at: Cursor,
}

impl<'j, G: Gen16, D: Data<G>, const SCALED: bool> Walk<'j, G, D, SCALED> {
    /// # Safety
    /// `G`'s ISA is available; position `lo` is a data element.
    #[inline(always)]
    pub(crate) unsafe fn new(job: &'j Job<D::E>, lo: usize, s: Factor<D::E>) -> Self {
        let at = Cursor::new(job, lo);
        let last = job.rank - 1;
        // SAFETY: the caller guarantees the ISA and the element.
        unsafe {
            Walk {
                x: job.src.add(at.xo + at.col * job.sx[last]),
                y: job.dst.add(at.yo + at.col * job.sy[last]),
                left: job.dims[last] - at.col,
                s: D::splat(s),
                job,
                at,
            }
        }
    }

    /// The next `cnt` elements with decisions `bits >> lo`, across rows
    /// where they end: through the data side's masked lanes where it has
    /// them ([`Data::MASKED_LANES`], AVX-512), otherwise element by element
    /// (the same bits as the data side). Scalar code inlined: a call here
    /// would make the caller save every vector register of the generator,
    /// and the data side through a stack buffer costs registers in the hot
    /// loop (both were slower).
    ///
    /// # Safety
    /// The elements exist.
    #[inline(always)]
    pub(crate) unsafe fn lanes(&mut self, bits: u32, mut lo: usize, mut cnt: usize) {
        let last = self.job.rank - 1;
        let (sx, sy) = (self.job.sx[last], self.job.sy[last]);
        // SAFETY: the positions are the view's next elements.
        unsafe {
            let op = self.job.op;
            while cnt > 0 {
                let c = cnt.min(self.left);
                if SCALED && D::MASKED_LANES {
                    D::apply_lanes(self.x, self.y, self.s, G::keep_from_bits(bits), lo, c);
                } else if let (true, Op::Scale(s)) = (SCALED, op) {
                    for l in 0..c {
                        let keep = 0u32.wrapping_sub((bits >> (lo + l)) & 1);
                        *self.y.add(l) = <D::E as Sealed>::lane(*self.x.add(l), s, keep);
                    }
                } else {
                    for l in 0..c {
                        let keep = (bits >> (lo + l)) & 1 == 1;
                        let v = op.one(self.x.add(l * sx).read(), keep);
                        self.y.add(l * sy).write(v);
                    }
                }
                self.advance(c, sx, sy);
                lo += c;
                cnt -= c;
            }
        }
    }

    /// Past `c` elements of the row (to the next row where it ends).
    ///
    /// # Safety
    /// `c <= left`.
    #[inline(always)]
    pub(crate) unsafe fn advance(&mut self, c: usize, sx: usize, sy: usize) {
        self.left -= c;
        if self.left == 0 {
            (self.x, self.y, self.left) = next_row_start(&mut self.at, self.job);
        } else {
            // SAFETY: still inside the row.
            unsafe {
                self.x = self.x.add(c * sx);
                self.y = self.y.add(c * sy);
            }
        }
    }
}

/// Moves `at` to the next row and returns its first input and output
/// elements and its length (past the view's last row: its first row, never
/// used). Out of line: the walker's hot loop stays small.
#[cold]
#[inline(never)]
pub(crate) fn next_row_start<E: Sealed>(
    at: &mut Cursor,
    job: &Job<E>,
) -> (*const E, *mut E, usize) {
    at.next_row(job);
    // The offsets are of an element of the view: in bounds, but computed
    // with wrapping adds so that this function needs no unsafe.
    (
        job.src.wrapping_add(at.xo),
        job.dst.wrapping_add(at.yo),
        job.dims[job.rank - 1],
    )
}

// SAFETY: writes only the view's elements at the walker's positions, which
// the creator guarantees exist.
unsafe impl<G: Gen16, D: Data<G>, const SCALED: bool> Out<G> for Walk<'_, G, D, SCALED> {
    #[inline(always)]
    unsafe fn full(&mut self, _: usize, k: G::Keep) {
        // SAFETY: the next 16 elements exist (caller's contract).
        unsafe {
            if SCALED && self.left >= LANES {
                D::apply16(self.x, self.y, self.s, k);
                self.advance(LANES, 1, 1);
            } else {
                self.lanes(G::keep_bits(k), 0, LANES);
            }
        }
    }
    #[inline(always)]
    unsafe fn partial(&mut self, _: usize, k: G::Keep, lo: usize, cnt: usize) {
        // SAFETY: the next `cnt` elements exist (caller's contract).
        unsafe { self.lanes(G::keep_bits(k), lo, cnt) }
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
pub(crate) unsafe fn bits_at<G: Gen16, E: Sealed>(
    p: &Params<Factor<E>>,
    job: &Job<E>,
    win: Option<&mut Window>,
    u: usize,
) -> (Bits, usize, usize) {
    match (job.source, win) {
        (Source::Const(k), _) => (Bits::Const(k), 0, usize::MAX),
        (Source::Bits(w), _) => (Bits::Words(w), u, job.m - u),
        (Source::Bytes(b), _) => (Bits::Bytes(b), u, job.m - u),
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
        // Not reached: `run` makes a window for `Generate`.
        (Source::Generate, None) => (Bits::Const(false), 0, usize::MAX),
    }
}

/// `cnt` elements of one row: `y[k * sy] = op(x[k * sx], decision at + k)`.
/// Unit strides and a multiply take the ISA's data side, 16 at a time.
///
/// # Safety
/// `G`'s ISA is available; the elements and decisions exist.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn segment<G: Gen16, D: Data<G>>(
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
            // A dropped run under a multiply: zeros, nothing read.
            Op::Scale(_) if sy == 1 && matches!(bits, Bits::Const(false)) => {
                for k in 0..cnt {
                    y.add(k).write(<D::E as Sealed>::ZERO);
                }
            }
            // A kept run of a type that multiplies in its own width: a
            // plain loop, which the compiler unrolls and vectorizes under
            // the ISA's features (the same one multiply per element).
            Op::Scale(s)
                if sx == 1
                    && sy == 1
                    && matches!(bits, Bits::Const(true))
                    && size_of::<D::E>() == size_of::<Factor<D::E>>() =>
            {
                for k in 0..cnt {
                    y.add(k).write(<D::E as Sealed>::times(x.add(k).read(), s));
                }
            }
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
