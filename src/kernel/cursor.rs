//! The strided walker's position ([`Cursor`]) and the periodic mask run of
//! a channels-last row ([`Repeat`]).

use super::lanes::Gen16;
use super::rows::bits_at;
use super::strided::{Bits, Job, Window};
use super::Params;
use crate::limits::{MAX_RANK, REPEAT};
use crate::num::{sealed::Sealed, Factor};

/// Position in the view: the row (outer axes' odometer and the element
/// offsets of its first element in input, output and mask) and the column.
pub(crate) struct Cursor {
    pub(crate) idx: [usize; MAX_RANK],
    pub(crate) xo: usize,
    pub(crate) yo: usize,
    pub(crate) mo: usize,
    pub(crate) col: usize,
}

impl Cursor {
    /// At row-major position `lo`.
    #[inline(always)]
    pub(crate) fn new<E: Sealed>(job: &Job<E>, lo: usize) -> Self {
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
    pub(crate) fn next_row<E: Sealed>(&mut self, job: &Job<E>) {
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
pub(crate) struct Repeat {
    pub(crate) mo: usize,
    pub(crate) len: usize,
    pub(crate) words: [u64; REPEAT / 64],
}

impl Repeat {
    /// Fills the repetition of the run at mask position `mo`.
    ///
    /// # Safety
    /// As [`run`]; `mo + period <= m`.
    #[inline(always)]
    pub(crate) unsafe fn build<G: Gen16, E: Sealed>(
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
