//! The fused epilogue's data side: `y = residual + dropout(x + bias)` per
//! step of 16 elements, for any element type, computing in the type's
//! computing type (`f32` for the half types) and rounding once.

use super::lanes::Gen16;
use super::walk::Out;
use super::{MaskPtr, LANES};
use crate::num::{
    sealed::{Sealed, Wide},
    Factor,
};

/// The raw job of one fused piece: rows of `features` elements, the first
/// element at column `col0`. Null `bias` / `residual`: absent.
pub struct FusedPiece<E> {
    /// Input `x`.
    pub x: *const E,
    /// `features` bias elements, or null.
    pub bias: *const E,
    /// Residual, as long as `x`, or null (may equal `y`).
    pub residual: *const E,
    /// Output (may equal `x` or `residual`).
    pub y: *mut E,
    /// Mask written in the same pass.
    pub mask: MaskPtr,
    /// Row length `F` (at least 1).
    pub features: usize,
    /// Column of the first element.
    pub col0: usize,
}

impl<E> Clone for FusedPiece<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for FusedPiece<E> {}

// SAFETY: as for `Piece`: built from slices borrowed for the whole call,
// each thread gets a disjoint element range (`FusedPiece::at`); the bias is
// only read.
unsafe impl<E: Send> Send for FusedPiece<E> {}
// SAFETY: as for `Send`.
unsafe impl<E: Sync> Sync for FusedPiece<E> {}

impl<E> FusedPiece<E> {
    /// The piece of the elements from `start` on (a multiple of 64 with a
    /// bit mask).
    ///
    /// # Safety
    /// `start` is within the call's elements.
    pub unsafe fn at(self, start: usize) -> Self {
        // SAFETY: `start` is inside every per-element buffer (caller's
        // contract); the bias is indexed by column, not moved.
        unsafe {
            FusedPiece {
                x: self.x.add(start),
                residual: if self.residual.is_null() {
                    self.residual
                } else {
                    self.residual.add(start)
                },
                y: self.y.add(start),
                mask: self.mask.at(start),
                col0: (self.col0 + start % self.features) % self.features,
                ..self
            }
        }
    }
}

/// [`Out`] of the fused epilogue; `BIAS` and `RES` say whether the piece
/// has a bias and a residual (so that each case is its own loop).
pub struct Epilogue<E: Sealed, const BIAS: bool, const RES: bool> {
    piece: FusedPiece<E>,
    s: Factor<E>,
    /// Column of slice position `next`, kept up to date so that the usual
    /// next step needs no division.
    next: usize,
    col: usize,
}

impl<E: Sealed, const BIAS: bool, const RES: bool> Epilogue<E, BIAS, RES> {
    /// The column of slice position `i`.
    #[inline(always)]
    fn column(&mut self, i: usize) -> usize {
        if i != self.next {
            self.col = (self.piece.col0 + i % self.piece.features) % self.piece.features;
            self.next = i;
        }
        self.col
    }

    /// Slice positions `at..at + cnt` with keep lanes `lo..lo + cnt`.
    ///
    /// # Safety
    /// Those positions are valid in every buffer; `lo + cnt <= 16`.
    #[inline(always)]
    unsafe fn run(&mut self, at: usize, keep: &[u32; LANES], lo: usize, cnt: usize) {
        let f = self.piece.features;
        let start = self.column(at);
        let (p, s) = (self.piece, self.s);
        let mut bias = [<E as crate::num::sealed::Sealed>::ZERO; LANES];
        // SAFETY: positions `at..at + cnt` are valid (caller's contract)
        // and every bias index is below `features`.
        unsafe {
            if BIAS {
                if start + cnt <= f {
                    core::ptr::copy_nonoverlapping(p.bias.add(start), bias.as_mut_ptr(), cnt);
                } else {
                    let mut c = start;
                    for b in bias.iter_mut().take(cnt) {
                        *b = *p.bias.add(c);
                        c = if c + 1 == f { 0 } else { c + 1 };
                    }
                }
            }
            let x = core::slice::from_raw_parts(p.x.add(at), cnt);
            let mut out = [<E as crate::num::sealed::Sealed>::ZERO; LANES];
            let keep = &keep[lo..lo + cnt];
            match (p.bias.is_null(), p.residual.is_null()) {
                (true, true) => {
                    lanes::<E, false, false>(x, &bias, p.residual, at, keep, s, &mut out)
                }
                (false, true) => {
                    lanes::<E, true, false>(x, &bias, p.residual, at, keep, s, &mut out)
                }
                (true, false) => {
                    lanes::<E, false, true>(x, &bias, p.residual, at, keep, s, &mut out)
                }
                (false, false) => {
                    lanes::<E, true, true>(x, &bias, p.residual, at, keep, s, &mut out)
                }
            }
            core::ptr::copy_nonoverlapping(out.as_ptr(), p.y.add(at), cnt);
        }
        let mut col = start + cnt;
        if col >= f {
            col -= f;
            if col >= f {
                col %= f; // rows shorter than a step
            }
        }
        self.col = col;
        self.next = at + cnt;
    }
}

/// Building an epilogue of one bias/residual case from a piece.
pub trait FromPiece {
    /// The element type.
    type E: Sealed;
    /// The epilogue of `piece` with training factor `s`.
    fn from_piece(piece: FusedPiece<Self::E>, s: Factor<Self::E>) -> Self;
}

impl<E: Sealed, const BIAS: bool, const RES: bool> FromPiece for Epilogue<E, BIAS, RES> {
    type E = E;
    fn from_piece(piece: FusedPiece<E>, s: Factor<E>) -> Self {
        Epilogue {
            piece,
            s,
            next: 0,
            col: piece.col0,
        }
    }
}

/// `out[l] = residual + keep(x[l] + bias[l]) * s` for the lanes of `x`.
///
/// # Safety
/// With `RES`, `residual` is valid at positions `at..at + x.len()`.
#[inline(always)]
unsafe fn lanes<E: Sealed, const BIAS: bool, const RES: bool>(
    x: &[E],
    bias: &[E; LANES],
    residual: *const E,
    at: usize,
    keep: &[u32],
    s: Factor<E>,
    out: &mut [E; LANES],
) {
    for l in 0..x.len() {
        let mut t = E::widen(x[l]);
        if BIAS {
            t = t + E::widen(bias[l]);
        }
        let d = (t * s).keep(keep[l]);
        out[l] = if RES {
            // SAFETY: the caller guarantees the residual at these positions.
            let r = unsafe { *residual.add(at + l) };
            E::narrow((E::widen(r) + d).canonical())
        } else {
            E::narrow(d.canonical())
        };
    }
}

/// One whole step: 16 lanes in fixed-size arrays, so that the compiler
/// vectorizes it under the ISA's target features.
#[inline(always)]
fn step16<E: Sealed, const BIAS: bool, const RES: bool>(
    x: [E; LANES],
    bias: [E; LANES],
    residual: [E; LANES],
    keep: [u32; LANES],
    s: Factor<E>,
) -> [E; LANES] {
    // One simple loop per operation: each is a plain vector operation.
    let mut t = x.map(E::widen);
    if BIAS {
        for l in 0..LANES {
            t[l] = t[l] + E::widen(bias[l]);
        }
    }
    for l in 0..LANES {
        t[l] = (t[l] * s).keep(keep[l]);
    }
    if RES {
        for l in 0..LANES {
            t[l] = E::widen(residual[l]) + t[l];
        }
    }
    t.map(|v| E::narrow(v.canonical()))
}

// SAFETY: reads `x`, the bias and the residual and writes `y` only at the
// positions passed, which the creator guarantees are valid.
unsafe impl<G: Gen16, E: Sealed, const BIAS: bool, const RES: bool> Out<G>
    for Epilogue<E, BIAS, RES>
{
    #[inline(always)]
    unsafe fn full(&mut self, i: usize, k: G::Keep) {
        let f = self.piece.features;
        let col = self.column(i);
        // SAFETY: the ISA is available and positions `i..i + 16` valid;
        // with `col + 16 <= features` the bias row holds the 16 columns.
        unsafe {
            let keep = G::keep_lanes(k);
            if col + LANES > f {
                self.run(i, &keep, 0, LANES);
                return;
            }
            let p = self.piece;
            let load = |q: *const E| q.cast::<[E; LANES]>().read_unaligned();
            let x = load(p.x.add(i));
            let zero = [<E as crate::num::sealed::Sealed>::ZERO; LANES];
            let b = if BIAS { load(p.bias.add(col)) } else { zero };
            let r = if RES { load(p.residual.add(i)) } else { zero };
            let y = step16::<E, BIAS, RES>(x, b, r, keep, self.s);
            p.y.add(i).cast::<[E; LANES]>().write_unaligned(y);
        }
        let col = col + LANES;
        self.col = if col == f { 0 } else { col };
        self.next = i + LANES;
    }
    #[inline(always)]
    unsafe fn partial(&mut self, i: usize, k: G::Keep, lo: usize, cnt: usize) {
        // SAFETY: positions `i..i + cnt` are valid: the step's lanes
        // `lo..lo + cnt` land there.
        unsafe {
            let keep = G::keep_lanes(k);
            self.run(i, &keep, lo, cnt);
        }
    }
}
