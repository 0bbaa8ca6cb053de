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
use super::sink::NoSink;
use super::walk::{fill, NoOut, Out, Scaled};
use super::{Params, BLOCK, LANES};
use crate::element::{sealed::Sealed, Element, Factor};

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
struct Window {
    start: usize,
    len: usize,
    /// The bits (the last word is spare: reads stop at `len`).
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

/// Position in the view: the row (outer axes' odometer and the element
/// offsets of its first element in input, output and mask) and the column.
struct Cursor {
    idx: [usize; MAX_RANK],
    xo: usize,
    yo: usize,
    mo: usize,
    col: usize,
}

impl Cursor {
    /// At row-major position `lo`.
    #[inline(always)]
    fn new<E: Sealed>(job: &Job<E>, lo: usize) -> Self {
        let last = job.rank - 1;
        let mut c = Cursor {
            idx: [0; MAX_RANK],
            xo: 0,
            yo: 0,
            mo: 0,
            col: lo % job.dims[last],
        };
        let mut r = lo / job.dims[last];
        for a in (0..last).rev() {
            c.idx[a] = r % job.dims[a];
            r /= job.dims[a];
            c.xo += c.idx[a] * job.sx[a];
            c.yo += c.idx[a] * job.sy[a];
            c.mo += c.idx[a] * job.ms[a];
        }
        c
    }

    /// To column 0 of the next row (wrapping past the last).
    #[inline(always)]
    fn next_row<E: Sealed>(&mut self, job: &Job<E>) {
        self.col = 0;
        for a in (0..job.rank - 1).rev() {
            self.idx[a] += 1;
            self.xo += job.sx[a];
            self.yo += job.sy[a];
            self.mo += job.ms[a];
            if self.idx[a] < job.dims[a] {
                return;
            }
            self.idx[a] = 0;
            self.xo -= job.sx[a] * job.dims[a];
            self.yo -= job.sy[a] * job.dims[a];
            self.mo -= job.ms[a] * job.dims[a];
        }
    }
}

/// A periodic row's mask run `mo..mo + period`, repeated `len` bits.
struct Repeat {
    mo: usize,
    len: usize,
    words: [u64; REPEAT / 64],
}

impl Repeat {
    /// Fills the repetition of the run at mask position `mo`.
    ///
    /// # Safety
    /// As [`run`]; `mo + period <= m`.
    #[inline(always)]
    unsafe fn build<G: Gen16, E: Element>(
        &mut self,
        p: &Params<Factor<E>>,
        job: &Job<E>,
        mut win: Option<&mut Window>,
        mo: usize,
    ) {
        let period = job.period;
        let unit = period * 64 / gcd(period, 64); // a whole number of words
        self.len = unit * (2048 / unit).max(1);
        self.words[..self.len / 64].fill(0);
        // SAFETY: mask positions `mo..mo + period` exist; a word read at
        // `pos + 64` is read only when those 64 positions are (`cnt >= 64`).
        unsafe {
            let mut b = 0;
            while b < period {
                let (bits, pos, avail) = bits_at::<G, E>(p, job, win.as_deref_mut(), mo + b);
                let mut cnt = avail.min(period - b);
                let whole = period.is_multiple_of(64);
                if whole && !b.is_multiple_of(64) {
                    // A window edge left `b` inside a word: bit by bit up
                    // to the word's end, then whole words again.
                    cnt = cnt.min(64 - b % 64);
                }
                if let (Bits::Words(w), true) = (bits, whole && cnt >= 64) {
                    // Whole words of the run (then `unit == period`), `b`
                    // at a word start (the clamp above): 64 bits at a time.
                    let (at, sh) = (pos / 64, pos % 64);
                    let mut v = w.add(at).read() >> sh;
                    if sh > 0 {
                        v |= w.add(at + 1).read() << (64 - sh);
                    }
                    self.words[b / 64] = v;
                    b += 64;
                    continue;
                }
                for k in 0..cnt {
                    if bits.one(pos + k) {
                        let mut at = b + k;
                        while at < unit {
                            self.words[at / 64] |= 1 << (at % 64);
                            at += period;
                        }
                    }
                }
                b += cnt;
            }
        }
        for w in unit / 64..self.len / 64 {
            self.words[w] = self.words[w - unit / 64];
        }
        self.mo = mo;
    }
}

/// Greatest common divisor.
pub const fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The walker's output for an elementwise mask over strided data: the
/// walker's positions, in order, mapped to the view's rows. `SCALED`: the
/// job is [`Op::Scale`] over unit last strides, whose whole steps inside a
/// row go to the data side directly.
struct Walk<'j, G: Gen16, D: Data<G>, const SCALED: bool> {
    /// The next element's input and output.
    x: *const D::E,
    y: *mut D::E,
    /// Elements left in the current row.
    left: usize,
    /// The factor for the data side (`SCALED` only).
    s: D::S,
    job: &'j Job<D::E>,
    at: Cursor,
}

impl<'j, G: Gen16, D: Data<G>, const SCALED: bool> Walk<'j, G, D, SCALED> {
    /// # Safety
    /// `G`'s ISA is available; position `lo` is a data element.
    #[inline(always)]
    unsafe fn new(job: &'j Job<D::E>, lo: usize, s: Factor<D::E>) -> Self {
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
    /// where they end, element by element (the same bits as the data
    /// side). Scalar code inlined: a call here would make the caller save
    /// every vector register of the generator, and the data side through a
    /// stack buffer costs registers in the hot loop (both were slower).
    ///
    /// # Safety
    /// The elements exist.
    #[inline(always)]
    unsafe fn lanes(&mut self, bits: u32, mut lo: usize, mut cnt: usize) {
        let last = self.job.rank - 1;
        let (sx, sy) = (self.job.sx[last], self.job.sy[last]);
        // SAFETY: the positions are the view's next elements.
        unsafe {
            let op = self.job.op;
            while cnt > 0 {
                let c = cnt.min(self.left);
                if let (true, Op::Scale(s)) = (SCALED, op) {
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
    unsafe fn advance(&mut self, c: usize, sx: usize, sy: usize) {
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
fn next_row_start<E: Sealed>(at: &mut Cursor, job: &Job<E>) -> (*const E, *mut E, usize) {
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
unsafe fn bits_at<G: Gen16, E: Element>(
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
