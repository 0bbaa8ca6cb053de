//! The block walker: runs stream v1 over a range of global indices, block
//! by block, and hands each step's keep word to the data side (through
//! [`Out`]) and its bits to a [`Sink`].

use super::data::Data;
use super::lanes::{Gen16, Lanes};
use super::sink::Sink;
use super::{Params, BLOCK, LANES};
use crate::num::Factor;

/// Where the elements of a step come from and go to.
///
/// # Safety
/// Implementations write through raw pointers; their creator guarantees the
/// buffers hold every element position passed.
pub unsafe trait Out<G: Gen16> {
    /// Sixteen elements at slice position `i`.
    ///
    /// # Safety
    /// Positions `i..i + 16` are valid.
    unsafe fn full(&mut self, i: usize, k: G::Keep);
    /// Lanes `lo..lo + cnt` of a step, at slice positions `i..i + cnt`.
    ///
    /// # Safety
    /// Positions `i..i + cnt` are valid; `lo + cnt <= 16`.
    unsafe fn partial(&mut self, i: usize, k: G::Keep, lo: usize, cnt: usize);
}

/// No data: a mask-only call.
pub struct NoOut;

// SAFETY: touches nothing.
unsafe impl<G: Gen16> Out<G> for NoOut {
    #[inline(always)]
    unsafe fn full(&mut self, _: usize, _: G::Keep) {}
    #[inline(always)]
    unsafe fn partial(&mut self, _: usize, _: G::Keep, _: usize, _: usize) {}
}

/// `dst[i] = keep ? src[i] * s : +0.0` through the data side `D`; `src` may
/// equal `dst`.
pub struct Scaled<G: Gen16, D: Data<G>> {
    src: *const D::E,
    dst: *mut D::E,
    s: D::S,
}

impl<G: Gen16, D: Data<G>> Scaled<G, D> {
    /// # Safety
    /// `G`'s ISA is available.
    #[inline(always)]
    pub unsafe fn new(src: *const D::E, dst: *mut D::E, s: Factor<D::E>) -> Self {
        // SAFETY: the caller guarantees the ISA.
        let s = unsafe { D::splat(s) };
        Scaled { src, dst, s }
    }
}

// SAFETY: reads and writes only the positions passed, which the creator
// guarantees are valid.
unsafe impl<G: Gen16, D: Data<G>> Out<G> for Scaled<G, D> {
    #[inline(always)]
    unsafe fn full(&mut self, i: usize, k: G::Keep) {
        // SAFETY: positions `i..i + 16` are valid (caller's contract).
        unsafe { D::apply16(self.src.add(i), self.dst.add(i), self.s, k) }
    }
    #[inline(always)]
    unsafe fn partial(&mut self, i: usize, k: G::Keep, lo: usize, cnt: usize) {
        // SAFETY: positions `i..i + cnt` are valid and `lo + cnt <= 16`
        // (caller's contract).
        unsafe { D::apply_lanes(self.src.add(i), self.dst.add(i), self.s, k, lo, cnt) }
    }
}

/// `N` whole steps of 16 elements from slice position `i`.
///
/// # Safety
/// As [`fill`], for these `16 * N` elements.
#[inline(always)]
unsafe fn steps<G: Gen16, O: Out<G>, K: Sink, const N: usize>(
    lanes: &mut Lanes<G>,
    t: G,
    out: &mut O,
    sink: &mut K,
    i: usize,
) {
    // Plain loops only: closures here would not inherit the caller's
    // `#[target_feature]`, and the intrinsics in them would stop inlining.
    let mut bits = 0u32;
    // SAFETY: forwarded contract of `fill`.
    unsafe {
        for u in 0..N {
            let k = lanes.next().keep(t);
            out.full(i + u * LANES, k);
            bits |= G::keep_bits(k) << (16 * (u % 2));
            if u % 2 == 1 {
                sink.push(bits, 2 * LANES);
                bits = 0;
            }
        }
        if N % 2 == 1 {
            sink.push(bits, LANES);
        }
    }
}

/// Runs stream v1 over the `n` elements at global indices `g0..g0 + n`,
/// handing each step's keep word to `out` (slice positions `0..n`) and its
/// bits to `sink`.
///
/// # Safety
/// `G`'s ISA is available; `out` and `sink` are valid for `n` elements;
/// `g0 + n <= 2^64`.
#[inline(always)]
pub unsafe fn fill<G: Gen16, O: Out<G>, K: Sink, S>(
    p: &Params<S>,
    g0: u64,
    n: usize,
    out: &mut O,
    sink: &mut K,
) {
    // SAFETY: the caller guarantees the ISA, the buffers for `n` elements
    // and the index range; every position below is inside `0..n`.
    unsafe {
        let t = G::prep_threshold(p.threshold);
        let mut i = 0usize;
        while i < n {
            let g = g0 + i as u64;
            let block = g / BLOCK as u64;
            let j = (g % BLOCK as u64) as usize;
            let take = (BLOCK - j).min(n - i);
            let mut lanes = Lanes::<G>::seed(p.seed, p.stream, block);
            for _ in 0..j / LANES {
                lanes.next();
            }
            // Two whole blocks at once where the ISA has the registers for
            // both: two independent dependency chains keep more pipes busy.
            if G::PAIR_BLOCKS && p.pair_blocks && j == 0 && n - i >= 2 * BLOCK {
                if let Some(mut second) = sink.fork(BLOCK) {
                    let mut other = Lanes::<G>::seed(p.seed, p.stream, block + 1);
                    // Keep bits go out 64 at a time; only one step's keep
                    // words are live at once (AVX-512 has 7 usable mask
                    // registers).
                    let mut pending = (0u64, 0u64);
                    for step in 0..BLOCK / LANES {
                        let (a, b) = (lanes.next().keep(t), other.next().keep(t));
                        out.full(i + step * LANES, a);
                        out.full(i + BLOCK + step * LANES, b);
                        let shift = 16 * (step % 4);
                        pending.0 |= u64::from(G::keep_bits(a)) << shift;
                        pending.1 |= u64::from(G::keep_bits(b)) << shift;
                        if step % 4 == 3 {
                            sink.push_word(pending.0);
                            second.push_word(pending.1);
                            pending = (0, 0);
                        }
                    }
                    *sink = second;
                    i += 2 * BLOCK;
                    continue;
                }
            }
            // `k`: elements of this block done. Head first: a step that
            // starts before `g`, or that the piece ends inside.
            let mut k = 0usize;
            let lo = j % LANES;
            if lo != 0 || take < LANES {
                let cnt = (LANES - lo).min(take);
                let keep = lanes.next().keep(t);
                out.partial(i, keep, lo, cnt);
                sink.push((G::keep_bits(keep) >> lo) & ((1u32 << cnt) - 1), cnt);
                k = cnt;
            }
            // Whole steps: `G::UNROLL` at a time, then one by one.
            while k + G::UNROLL * LANES <= take {
                if G::UNROLL == 4 {
                    steps::<G, O, K, 4>(&mut lanes, t, out, sink, i + k);
                } else {
                    steps::<G, O, K, 2>(&mut lanes, t, out, sink, i + k);
                }
                k += G::UNROLL * LANES;
            }
            while k + LANES <= take {
                steps::<G, O, K, 1>(&mut lanes, t, out, sink, i + k);
                k += LANES;
            }
            // Tail.
            if k < take {
                let cnt = take - k;
                let keep = lanes.next().keep(t);
                out.partial(i + k, keep, 0, cnt);
                sink.push(G::keep_bits(keep) & ((1u32 << cnt) - 1), cnt);
            }
            i += take;
        }
        sink.finish();
    }
}

/// The bare generator: every word of `n` indices from `g0`, xor-folded into
/// one vector (no loads, no stores, no compare): the speed limit of stream
/// v1 on `G`'s ISA.
///
/// # Safety
/// `G`'s ISA is available; `g0 + n <= 2^64`.
#[inline(always)]
pub unsafe fn words_only<G: Gen16>(seed: u64, stream: u64, g0: u64, n: usize) -> u32 {
    // SAFETY: the caller guarantees the ISA.
    unsafe {
        let mut acc = G::splat(0);
        let mut i = 0usize;
        while i < n {
            let g = g0 + i as u64;
            let j = (g % BLOCK as u64) as usize;
            let take = (BLOCK - j).min(n - i);
            let mut lanes = Lanes::<G>::seed(seed, stream, g / BLOCK as u64);
            for _ in 0..(j + take).div_ceil(LANES) {
                acc = acc.xor(lanes.next());
            }
            i += take;
        }
        G::keep_bits(acc.keep(G::prep_threshold(u32::MAX)))
    }
}
