//! The stream-v1 kernel in two halves that meet at the keep word of a step:
//!
//! * the generator side ([`lanes`]): 16 `u32` lanes per ISA ([`Gen16`]),
//!   Philox seeding, Xoshiro128++ steps, the keep compare;
//! * the data side ([`data`]): per element type, load, convert,
//!   scale-and-select, convert back, store.
//!
//! [`walk`] runs the generator block by block and feeds both the data side
//! and a mask [`sink`]; [`apply`] feeds the data side from a stored mask.
//! Each ISA module under `crate::arch` (`scalar`, `portable`, `avx2`,
//! `avx512`) supplies its generator type and data sides and instantiates the
//! entry points below behind its `#[target_feature]`.
//!
//! Layout (stream v1): inside a block of 4096 global indices, 16
//! consecutive indices are one step of the 16 lane generators, so one vector
//! of Xoshiro128++ states yields the words of 16 consecutive elements.
//!
//! Code check (`objdump -d` of the release build, Rust 1.95): in the
//! AVX-512 `f32` forward the 4-step main loop is `vpternlogd`, `vprold`,
//! `vpaddd`, `vpcmpltud` into `k1`-`k4` and zero-masked `vmulps`, with no
//! stack access (no spills), and so is the two-block loop; the AVX2 2-step
//! loop keeps the state in registers and reloads 6 constants per iteration
//! from the stack, as 16 ymm registers do not hold state, constants and
//! temporaries at once.

pub(crate) mod apply;
pub(crate) mod cursor;
pub(crate) mod data;
pub(crate) mod epilogue;
pub(crate) mod lanes;
pub(crate) mod rows;
pub(crate) mod sink;
pub(crate) mod strided;
pub(crate) mod walk;

pub use lanes::Gen16;

use crate::num::Factor;

pub use crate::limits::{BLOCK, LANES};

/// What a kernel needs besides the data: the key and the keep rule.
#[derive(Clone, Copy, Debug)]
pub struct Params<S> {
    /// The seed.
    pub seed: u64,
    /// The stream.
    pub stream: u64,
    /// Keep iff `r < threshold`.
    pub threshold: u32,
    /// Factor of kept elements, rounded once to the element's factor type.
    pub scale: S,
    /// Whether blocks may run in pairs (see [`Gen16::PAIR_BLOCKS`]): the
    /// driver allows it for calls small enough to stay in cache.
    pub pair_blocks: bool,
}

/// A keep mask buffer: written by a forward call, read by a backward one.
#[derive(Clone, Copy, Debug)]
pub enum MaskPtr {
    /// No mask.
    None,
    /// Bit `i % 64` of word `i / 64`; a forward piece starts at a word.
    Bits(*mut u64),
    /// Byte `i`: 1 kept, 0 dropped (read: non-zero kept).
    Bytes(*mut u8),
}

impl MaskPtr {
    /// The mask of the elements from `start` on (a multiple of 64 for a
    /// bit mask).
    ///
    /// # Safety
    /// `start` is within the mask's elements.
    pub unsafe fn at(self, start: usize) -> Self {
        // SAFETY: within the buffer (caller's contract).
        unsafe {
            match self {
                MaskPtr::None => MaskPtr::None,
                MaskPtr::Bits(w) => MaskPtr::Bits(w.add(start / 64)),
                MaskPtr::Bytes(b) => MaskPtr::Bytes(b.add(start)),
            }
        }
    }
}

/// The raw job of one piece: where its elements are read and written.
/// `dst` null: a mask-only call.
pub struct Piece<E> {
    /// Input elements (may equal `dst`).
    pub src: *const E,
    /// Output elements; null for a mask-only call.
    pub dst: *mut E,
    /// The mask written (forward) or read (backward from a mask).
    pub mask: MaskPtr,
}

impl<E> Clone for Piece<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Piece<E> {}

// SAFETY: a `Piece` is built from slices borrowed for the whole call; the
// driver hands each thread a disjoint element range of it (`Piece::at`), so
// sharing the pointers cannot create overlapping accesses.
unsafe impl<E: Send> Send for Piece<E> {}
// SAFETY: as for `Send`.
unsafe impl<E: Sync> Sync for Piece<E> {}

impl<E> Piece<E> {
    /// The piece of the elements from `start` on (a multiple of 64 when the
    /// mask is a bit mask).
    ///
    /// # Safety
    /// `start` is within the call's elements.
    pub unsafe fn at(self, start: usize) -> Self {
        // SAFETY: `start` is inside every buffer (caller's contract).
        unsafe {
            Piece {
                src: if self.dst.is_null() {
                    self.src
                } else {
                    self.src.add(start)
                },
                dst: if self.dst.is_null() {
                    self.dst
                } else {
                    self.dst.add(start)
                },
                mask: self.mask.at(start),
            }
        }
    }
}

/// One element type's entry points on one ISA.
pub struct Kernels<E: crate::num::sealed::Sealed> {
    /// Stream-v1 forward of `n` elements at global index `g0`.
    ///
    /// Safety: the ISA is available; the piece's pointers are valid for `n`
    /// elements (`dst` null: mask only); `g0 + n <= 2^64`.
    pub forward: unsafe fn(&Params<Factor<E>>, u64, usize, Piece<E>),
    /// Applies the piece's stored mask to `n` elements with factor `s`.
    ///
    /// Safety: the ISA is available; the piece's pointers (and mask, not
    /// `None`) are valid for `n` elements.
    pub apply: unsafe fn(Piece<E>, usize, Factor<E>),
    /// The fused epilogue over `n` elements at global index `g0`.
    ///
    /// Safety: the ISA is available; the piece's pointers are valid for `n`
    /// elements (the bias for `features`); `g0 + n <= 2^64`.
    pub fused: unsafe fn(&Params<Factor<E>>, u64, usize, epilogue::FusedPiece<E>),
    /// A shaped job over data elements `lo..hi` (see [`strided::run`]).
    ///
    /// Safety: the ISA is available; see [`strided::run`].
    pub shaped: unsafe fn(&Params<Factor<E>>, &strided::Job<E>, usize, usize),
    /// Column sums for dbias (see [`add_rows`]).
    ///
    /// Safety: the ISA is available.
    pub add_rows: unsafe fn(&[E], &mut [f64]),
}

/// `sums[c] += rows[r * f + c]` in `f64` for every whole row `r` in order,
/// `f = sums.len()` (at least 1): each column's sum in row order, whatever
/// the lanes. Strips of [`crate::limits::DBIAS_SUM_STRIP`] columns are
/// summed down all the rows in registers (compiled under each ISA's
/// features, so that the compiler vectorizes across the strip's columns),
/// then the narrower last strip.
#[inline(always)]
pub(crate) fn add_rows<E: crate::num::sealed::Sealed>(rows: &[E], sums: &mut [f64]) {
    use crate::limits::DBIAS_SUM_STRIP as SUM_STRIP;
    let f = sums.len();
    let mut strips = sums.chunks_exact_mut(SUM_STRIP);
    for (k, strip) in (&mut strips).enumerate() {
        let c0 = k * SUM_STRIP;
        let mut acc = [0f64; SUM_STRIP];
        acc.copy_from_slice(strip);
        for row in rows.chunks_exact(f) {
            for (a, &v) in acc.iter_mut().zip(&row[c0..c0 + SUM_STRIP]) {
                *a += E::to_f64(v);
            }
        }
        strip.copy_from_slice(&acc);
    }
    let last = strips.into_remainder();
    let c0 = f - last.len();
    for row in rows.chunks_exact(f) {
        for (s, &v) in last.iter_mut().zip(&row[c0..]) {
            *s += E::to_f64(v);
        }
    }
}

/// Defines an ISA module's entry points for every data side `D` of its
/// generator `$G` (under `#[target_feature]` where features are given) and
/// `kernels::<D>()`, which returns them.
macro_rules! entry_points {
    ($G:ty $(, $feat:literal)?) => {
        /// Stream-v1 forward over `n` elements at global index `g0`.
        ///
        /// # Safety
        /// This module's ISA is available; see [`crate::kernel::Kernels`].
        $(#[target_feature(enable = $feat)])?
        unsafe fn forward<D: $crate::kernel::data::Data<$G>>(
            p: &$crate::kernel::Params<$crate::num::Factor<D::E>>,
            g0: u64,
            n: usize,
            piece: $crate::kernel::Piece<D::E>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { $crate::kernel::forward_generic::<$G, D>(p, g0, n, piece) }
        }

        /// Applies a stored mask; see [`crate::kernel::apply::apply_mask`].
        ///
        /// # Safety
        /// This module's ISA is available; see [`crate::kernel::Kernels`].
        $(#[target_feature(enable = $feat)])?
        unsafe fn apply<D: $crate::kernel::data::Data<$G>>(
            piece: $crate::kernel::Piece<D::E>,
            n: usize,
            s: $crate::num::Factor<D::E>,
        ) {
            // SAFETY: forwarded contract.
            unsafe {
                $crate::kernel::apply::apply_mask::<$G, D>(piece.mask, piece.src, piece.dst, n, s)
            }
        }

        /// The fused epilogue; see [`crate::kernel::Kernels`].
        ///
        /// # Safety
        /// This module's ISA is available; see [`crate::kernel::Kernels`].
        $(#[target_feature(enable = $feat)])?
        unsafe fn fused<E: $crate::num::sealed::Sealed>(
            p: &$crate::kernel::Params<$crate::num::Factor<E>>,
            g0: u64,
            n: usize,
            piece: $crate::kernel::epilogue::FusedPiece<E>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { $crate::kernel::fused_generic::<$G, E>(p, g0, n, piece) }
        }

        /// A shaped job; see [`crate::kernel::strided::run`].
        ///
        /// # Safety
        /// This module's ISA is available; see [`crate::kernel::Kernels`].
        $(#[target_feature(enable = $feat)])?
        unsafe fn shaped<D: $crate::kernel::data::Data<$G>>(
            p: &$crate::kernel::Params<$crate::num::Factor<D::E>>,
            job: &$crate::kernel::strided::Job<D::E>,
            lo: usize,
            hi: usize,
        ) {
            // SAFETY: forwarded contract.
            unsafe { $crate::kernel::strided::run::<$G, D>(p, job, lo, hi) }
        }

        /// Column sums of whole rows; see [`crate::kernel::add_rows`].
        ///
        /// # Safety
        /// This module's ISA is available.
        $(#[target_feature(enable = $feat)])?
        unsafe fn add_rows<E: $crate::num::sealed::Sealed>(rows: &[E], sums: &mut [f64]) {
            $crate::kernel::add_rows(rows, sums)
        }

        /// The entry points of data side `D`.
        pub(crate) fn kernels<D: $crate::kernel::data::Data<$G>>() -> $crate::kernel::Kernels<D::E> {
            $crate::kernel::Kernels {
                forward: forward::<D>,
                apply: apply::<D>,
                fused: fused::<D::E>,
                shaped: shaped::<D>,
                add_rows: add_rows::<D::E>,
            }
        }

    };
}
pub(crate) use entry_points;

/// Defines an ISA module's bare-generator entry point, `words`.
macro_rules! generator_entry {
    ($G:ty $(, $feat:literal)?) => {
        /// The bare generator over `n` indices (see
        /// [`crate::kernel::walk::words_only`]).
        ///
        /// # Safety
        /// This module's ISA is available; `g0 + n <= 2^64`.
        $(#[target_feature(enable = $feat)])?
        pub(crate) unsafe fn words(seed: u64, stream: u64, g0: u64, n: usize) -> u32 {
            // SAFETY: forwarded contract.
            unsafe { $crate::kernel::walk::words_only::<$G>(seed, stream, g0, n) }
        }
    };
}
pub(crate) use generator_entry;

/// Stream-v1 forward of `n` elements at global index `g0`: the data side
/// `D` when `piece.dst` is set, and the piece's mask sink.
///
/// # Safety
/// `G`'s ISA is available; the piece's pointers valid for `n` elements
/// (`dst` null: mask only); `g0 + n <= 2^64`.
#[inline(always)]
pub(crate) unsafe fn forward_generic<G: Gen16, D: data::Data<G>>(
    p: &Params<Factor<D::E>>,
    g0: u64,
    n: usize,
    piece: Piece<D::E>,
) {
    use sink::{BitSink, ByteSink, NoSink};
    use walk::{fill, NoOut, Scaled};
    // SAFETY: forwarded contract: every buffer holds `n` elements.
    unsafe {
        if piece.dst.is_null() {
            match piece.mask {
                MaskPtr::None => {}
                MaskPtr::Bits(w) => fill::<G, _, _, _>(p, g0, n, &mut NoOut, &mut BitSink::new(w)),
                MaskPtr::Bytes(b) => {
                    fill::<G, _, _, _>(p, g0, n, &mut NoOut, &mut ByteSink::<G>::new(b))
                }
            }
        } else {
            let mut out = Scaled::<G, D>::new(piece.src, piece.dst, p.scale);
            match piece.mask {
                MaskPtr::None => fill(p, g0, n, &mut out, &mut NoSink),
                MaskPtr::Bits(w) => fill(p, g0, n, &mut out, &mut BitSink::new(w)),
                MaskPtr::Bytes(b) => fill(p, g0, n, &mut out, &mut ByteSink::<G>::new(b)),
            }
        }
    }
}

/// The fused epilogue over `n` elements at global index `g0`, with the
/// piece's mask sink.
///
/// # Safety
/// `G`'s ISA is available; the piece's pointers valid for `n` elements (the
/// bias for `features`); `g0 + n <= 2^64`.
#[inline(always)]
pub(crate) unsafe fn fused_generic<G: Gen16, E: crate::num::sealed::Sealed>(
    p: &Params<Factor<E>>,
    g0: u64,
    n: usize,
    piece: epilogue::FusedPiece<E>,
) {
    use epilogue::Epilogue;
    // SAFETY: forwarded contract: every buffer holds `n` elements.
    unsafe {
        match (piece.bias.is_null(), piece.residual.is_null()) {
            (true, true) => fused_with::<G, Epilogue<E, false, false>>(p, g0, n, piece),
            (false, true) => fused_with::<G, Epilogue<E, true, false>>(p, g0, n, piece),
            (true, false) => fused_with::<G, Epilogue<E, false, true>>(p, g0, n, piece),
            (false, false) => fused_with::<G, Epilogue<E, true, true>>(p, g0, n, piece),
        }
    }
}

/// [`fused_generic`] for one bias/residual case `O`.
///
/// # Safety
/// As [`fused_generic`]; `O` matches the piece's bias and residual.
#[inline(always)]
unsafe fn fused_with<G: Gen16, O: walk::Out<G> + epilogue::FromPiece>(
    p: &Params<Factor<O::E>>,
    g0: u64,
    n: usize,
    piece: epilogue::FusedPiece<O::E>,
) {
    use sink::{BitSink, ByteSink, NoSink};
    use walk::fill;
    let mut out = O::from_piece(piece, p.scale);
    // SAFETY: forwarded contract.
    unsafe {
        match piece.mask {
            MaskPtr::None => fill::<G, _, _, _>(p, g0, n, &mut out, &mut NoSink),
            MaskPtr::Bits(w) => fill::<G, _, _, _>(p, g0, n, &mut out, &mut BitSink::new(w)),
            MaskPtr::Bytes(b) => fill::<G, _, _, _>(p, g0, n, &mut out, &mut ByteSink::<G>::new(b)),
        }
    }
}
