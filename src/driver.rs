//! The driver: how many threads a call uses, how it is cut into pieces, and
//! the raw job of each piece ([`Piece`]) handed to the ISA's kernel.

use crate::config::Dropout;
#[cfg(feature = "rayon")]
use crate::config::Threading;
use crate::element::Element;
use crate::kernel::epilogue::FusedPiece;
#[cfg(feature = "rayon")]
use crate::kernel::BLOCK;
use crate::kernel::{MaskPtr, Params, Piece};
use crate::num::sealed::Wide;
use crate::rule::Edge;

use crate::limits::PAIR_BLOCKS_MAX;
#[cfg(feature = "rayon")]
use crate::limits::PIECE_MIN;

/// Whether rayon's global pool exists or can be started. Starting it spawns
/// threads, and rayon panics when it cannot (a process at its thread limit,
/// or out of address space for the stacks): that panic is caught once
/// here, and every call then stays on its calling thread.
#[cfg(feature = "rayon")]
fn global_pool_ok() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        std::panic::catch_unwind(|| {
            rayon::join(|| (), || ());
        })
        .is_ok()
    })
}

/// Whether work may go to rayon at all under `threading`: not when
/// sequential, not without the `rayon` feature, and not from outside a pool
/// when the global pool cannot start.
#[cfg(feature = "rayon")]
fn may_spread(threading: Threading) -> bool {
    threading != Threading::Sequential
        && (rayon::current_thread_index().is_some() || global_pool_ok())
}

/// Whether a call of `n` elements runs on the calling thread only (`None`),
/// and otherwise over how many threads: those of the pool the work would go
/// to (the current pool inside one, the global pool outside). An `Auto`
/// call never goes to a pool of fewer than two threads, where it would
/// only add the hand-off to one thread's work.
#[cfg(feature = "rayon")]
fn threads_for(d: &Dropout, n: usize) -> Option<usize> {
    let threading = d.threading();
    if (threading == Threading::Auto && n < d.parallel_min()) || !may_spread(threading) {
        return None;
    }
    let threads = rayon::current_num_threads();
    match threading {
        Threading::Auto if threads < 2 => None,
        _ => Some(threads),
    }
}

/// Calls `run(start, len)` over pieces covering `0..n`: all at once on this
/// thread below the threading threshold, else cut at block boundaries of the
/// global index (`offset + start`), each moved up to a multiple of `align`,
/// and spread over the current rayon pool.
pub(crate) fn split(
    d: &Dropout,
    offset: u64,
    n: usize,
    align: usize,
    run: impl Fn(usize, usize) + Sync,
) {
    #[cfg(feature = "rayon")]
    if let Some(threads) = threads_for(d, n) {
        use rayon::prelude::*;
        let to_block = (BLOCK - (offset % BLOCK as u64) as usize) % BLOCK;
        let head = to_block.next_multiple_of(align).min(n);
        let rest = n - head;
        let piece = rest
            .div_ceil(threads * 4)
            .next_multiple_of(BLOCK)
            .max(PIECE_MIN);
        let pieces = usize::from(head > 0) + rest.div_ceil(piece);
        let one = |k: usize| {
            let (start, len) = if head > 0 && k == 0 {
                (0, head)
            } else {
                let start = head + (k - usize::from(head > 0)) * piece;
                (start, piece.min(n - start))
            };
            run(start, len);
        };
        if rayon::current_thread_index().is_some() {
            (0..pieces).into_par_iter().for_each(one);
        } else {
            // From outside any pool the caller works too: it takes pieces
            // from a shared counter at once, and the pool's threads join as
            // they wake (a sleeping worker takes microseconds), instead of
            // the caller sleeping while the workers do it all.
            use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
            let next = AtomicUsize::new(0);
            let work = || loop {
                let k = next.fetch_add(1, Relaxed);
                if k >= pieces {
                    break;
                }
                one(k);
            };
            rayon::in_place_scope(|s| {
                for _ in 1..threads.min(pieces) {
                    s.spawn(|_| work());
                }
                work();
            });
        }
        return;
    }
    let _ = (d, offset, align);
    run(0, n);
}

/// The kernel parameters of `d` on `stream`.
fn params<E: Element>(
    d: &Dropout,
    stream: u64,
    pair_blocks: bool,
) -> Params<crate::num::Factor<E>> {
    Params {
        seed: d.seed(),
        stream,
        threshold: d.threshold(),
        scale: E::factor(d.training_factor()),
        pair_blocks,
    }
}

/// Runs the stream-v1 kernel of `d` over `n` elements at global index
/// `offset`; every piece seeds its own `(block, lane)` generators from its
/// global index, so the split never shows in the output.
///
/// # Safety
/// `piece`'s pointers are valid for `n` elements (`dst` null: mask only),
/// and nothing else accesses them during the call; `offset + n` does not
/// overflow; `d`'s rate is strictly between 0 and 1.
pub(crate) unsafe fn forward<E: Element>(
    d: &Dropout,
    stream: u64,
    offset: u64,
    n: usize,
    piece: Piece<E>,
) {
    let kernel = E::kernels(d.isa()).forward;
    let p = params::<E>(d, stream, n <= PAIR_BLOCKS_MAX);
    let align = if matches!(piece.mask, MaskPtr::Bits(_)) {
        64
    } else {
        1
    };
    split(d, offset, n, align, |start, len| {
        // SAFETY: the ISA is available (`Isa::best`, or checked by
        // `with_isa`); `split` hands out disjoint pieces inside the call's
        // `n` elements, for which `piece` is valid.
        unsafe { kernel(&p, offset + start as u64, len, piece.at(start)) }
    });
}

/// Applies the stored mask of `piece` to `n` elements with the training
/// factor of `d`.
///
/// # Safety
/// As [`forward`], with `piece.dst` not null and its mask not `None`.
pub(crate) unsafe fn apply<E: Element>(d: &Dropout, n: usize, piece: Piece<E>) {
    let kernel = E::kernels(d.isa()).apply;
    let s = E::factor(d.training_factor());
    // Pieces start at multiples of 64 elements: whole mask words.
    split(d, 0, n, 64, |start, len| {
        // SAFETY: the ISA is available; the pieces are disjoint and inside
        // the `n` elements of every buffer; the mask is only read.
        unsafe { kernel(piece.at(start), len, s) }
    });
}

/// Whether a call of `n` elements of `d` goes to the rayon pool.
#[cfg(feature = "rayon")]
pub(crate) fn spreads(d: &Dropout, n: usize) -> bool {
    threads_for(d, n).is_some()
}

/// Runs the fused epilogue of `d` over `n` elements at global index
/// `offset` (the edges on the calling thread, without drawing words).
///
/// # Safety
/// `piece`'s pointers are valid for `n` elements (the bias for `features`),
/// nothing else accesses them during the call, and `offset + n` does not
/// overflow; at the rate edges its mask is `None` (filled by the caller).
pub(crate) unsafe fn fused<E: Element>(
    d: &Dropout,
    stream: u64,
    offset: u64,
    n: usize,
    piece: FusedPiece<E>,
) {
    let edge = d.edge();
    if edge != Edge::Random {
        // SAFETY: forwarded contract.
        unsafe { fused_edge(edge == Edge::KeepAll, n, piece) };
        return;
    }
    let kernel = E::kernels(d.isa()).fused;
    // The epilogue tracks columns step by step; paired blocks would make it
    // divide at every step.
    let p = params::<E>(d, stream, false);
    let align = if matches!(piece.mask, MaskPtr::Bits(_)) {
        64
    } else {
        1
    };
    split(d, offset, n, align, |start, len| {
        // SAFETY: the ISA is available; `split` hands out disjoint pieces
        // inside the call's `n` elements, for which `piece` is valid.
        unsafe { kernel(&p, offset + start as u64, len, piece.at(start)) }
    });
}

/// The fused epilogue's values at rate 0 (`keep`: `d = x + bias`, no
/// multiply) or rate 1 (`d = +0.0`); the caller fills the constant mask.
///
/// # Safety
/// As [`fused`].
unsafe fn fused_edge<E: Element>(keep: bool, n: usize, p: FusedPiece<E>) {
    let zero = E::factor(0.0);
    let mut col = p.col0;
    // SAFETY: every index is below `n` (the bias: below `features`); each
    // element is read before it is written, so `y` may equal `x` or the
    // residual.
    unsafe {
        for i in 0..n {
            let mut t = E::widen(*p.x.add(i));
            if !p.bias.is_null() {
                t = t + E::widen(*p.bias.add(col));
            }
            // At rate 0 `d` is `t` itself (no multiply by 1, which would
            // quiet a signalling NaN), as the elementwise forward copies.
            let d = if keep { t } else { zero };
            let y = if p.residual.is_null() {
                E::narrow(d.canonical())
            } else {
                E::narrow((E::widen(*p.residual.add(i)) + d).canonical())
            };
            *p.y.add(i) = y;
            col = if col + 1 == p.features { 0 } else { col + 1 };
        }
    }
}

/// Runs a shaped job of `d` on `stream` over all its data elements,
/// spread like an elementwise call of the same size (pieces cut where the
/// data's row-major position meets a block of the mask's global index; for
/// an elementwise mask the two coincide).
///
/// # Safety
/// As [`crate::kernel::strided::run`] for the whole job; for
/// [`crate::kernel::strided::Source::Generate`], `d`'s rate is strictly
/// between 0 and 1.
pub(crate) unsafe fn shaped<E: Element>(
    d: &Dropout,
    stream: u64,
    job: &crate::kernel::strided::Job<E>,
) {
    let kernel = E::kernels(d.isa()).shaped;
    let p = params::<E>(d, stream, false);
    split(d, job.g0, job.len(), 1, |start, len| {
        // SAFETY: the ISA is available; `split` hands out disjoint ranges
        // of data elements, whose output addresses are distinct.
        unsafe { kernel(&p, job, start, start + len) }
    });
}
