//! `dk_dropout` validated into a `Config` (the Rust operator and the pool
//! its calls run in) by every call, the thread pools, and the functions
//! that make and check a `dk_dropout` or size the global pool.

use crate::{
    dk_dropout, dk_status, guard, Fail, DK_INTERNAL, DK_ISA_AUTO, DK_ISA_AVX2, DK_ISA_AVX512,
    DK_ISA_NEON, DK_ISA_PORTABLE, DK_ISA_SCALAR, DK_SCALING_ALPHA, DK_SCALING_CLASSIC,
    DK_SCALING_INVERTED, DK_THREADS_ALREADY_STARTED, DK_THREADS_AUTO, DK_THREADS_MAX,
    DK_THREADS_PARALLEL, DK_THREADS_SEQUENTIAL, DK_THREADS_UNAVAILABLE,
};
use dropkit::{Dropout, Error, Isa, Scaling, Threading};
use std::sync::OnceLock;

/// A validated `dk_dropout`: the operator and the pool its calls run in.
pub(crate) struct Config {
    pub(crate) drop: Dropout,
    pool: Option<&'static rayon::ThreadPool>,
    parallel_min: Option<usize>,
}

impl Config {
    /// Runs `f`, a call on `elements` elements, in this operator's pool:
    /// on the calling thread if it has none, never leaves it, or (Auto)
    /// would stay on one thread inside the pool anyway, below
    /// `parallel_min` (the in-pool default without one): no hand-over for
    /// small calls. The bits are the same either way.
    pub(crate) fn exec<R: Send>(
        &self,
        elements: usize,
        f: impl FnOnce() -> Result<R, Error> + Send,
    ) -> Result<R, Fail> {
        let small = self.drop.threading() == Threading::Auto
            && elements < self.parallel_min.unwrap_or(dropkit::PARALLEL_MIN_IN_POOL);
        let r = match self.pool {
            Some(pool) if self.drop.threading() != Threading::Sequential && !small => {
                pool.install(f)
            }
            _ => f(),
        };
        Ok(r?)
    }
}

/// The pool of `threads` threads (1 to `DK_THREADS_MAX`), started once.
fn pool(threads: usize) -> Result<&'static rayon::ThreadPool, Fail> {
    static POOLS: [OnceLock<rayon::ThreadPool>; DK_THREADS_MAX] =
        [const { OnceLock::new() }; DK_THREADS_MAX];
    let cell = &POOLS[threads - 1];
    if let Some(p) = cell.get() {
        return Ok(p);
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("dropkit-{threads}-{i}"))
        .build()
        .map_err(|e| {
            Fail::new(
                DK_THREADS_UNAVAILABLE,
                format!("could not start a pool of {threads} threads: {e}"),
            )
        })?;
    // Two threads may race to start it: one pool wins, the other stops.
    let _ = cell.set(built);
    cell.get()
        .ok_or_else(|| Fail::new(DK_INTERNAL, "thread pool lost"))
}

/// The validated operator behind `d`.
///
/// # Safety
/// `d` is null or points to a `dk_dropout`.
pub(crate) unsafe fn config(d: *const dk_dropout) -> Result<Config, Fail> {
    // SAFETY: null is checked; otherwise the caller's contract.
    let d = unsafe { d.as_ref() }.ok_or_else(|| Fail::null("d (the dk_dropout)"))?;
    let scaling = match d.scaling {
        DK_SCALING_INVERTED => Scaling::Inverted,
        DK_SCALING_CLASSIC => Scaling::Classic,
        DK_SCALING_ALPHA => Scaling::Alpha,
        s => return Err(Fail::invalid(format!("unknown scaling {s} (d->scaling)"))),
    };
    let threading = match d.threading {
        DK_THREADS_AUTO => Threading::Auto,
        DK_THREADS_SEQUENTIAL => Threading::Sequential,
        DK_THREADS_PARALLEL => Threading::Parallel,
        t => {
            return Err(Fail::invalid(format!(
                "unknown threading {t} (d->threading)"
            )))
        }
    };
    let isa = match d.isa {
        DK_ISA_AUTO => None,
        DK_ISA_SCALAR => Some(Isa::Scalar),
        DK_ISA_PORTABLE => Some(Isa::Portable),
        DK_ISA_AVX2 => Some(Isa::Avx2),
        DK_ISA_AVX512 => Some(Isa::Avx512),
        DK_ISA_NEON => Some(Isa::Neon),
        i => {
            return Err(Fail::invalid(format!(
                "unknown instruction set {i} (d->isa)"
            )))
        }
    };
    if d.threads > DK_THREADS_MAX {
        return Err(Fail::invalid(format!(
            "d->threads is {}, above DK_THREADS_MAX ({DK_THREADS_MAX})",
            d.threads
        )));
    }
    let mut drop = Dropout::new(d.rate)?
        .with_seed(d.seed)
        .with_scaling(scaling)
        .with_threading(threading)
        .with_parallel_min((d.parallel_min > 0).then_some(d.parallel_min));
    if let Some(isa) = isa {
        drop = drop.with_isa(isa)?;
    }
    let pool = match d.threads {
        0 => None,
        n => Some(pool(n)?),
    };
    Ok(Config {
        drop,
        pool,
        parallel_min: (d.parallel_min > 0).then_some(d.parallel_min),
    })
}

/// Makes a dropout operator: `rate` is the probability of **dropping** an
/// element; `scaling` is `DK_SCALING_INVERTED`, `DK_SCALING_CLASSIC` or
/// `DK_SCALING_ALPHA`; threading, ISA, threads and `parallel_min` start at
/// 0 (automatic, the global pool). Writes `*out` only on success.
///
/// Errors: `DK_INVALID_RATE` (NaN, infinite, below 0 or above 1),
/// `DK_INVALID_ARGUMENT` (unknown scaling), `DK_NULL_POINTER` (`out`
/// null).
///
/// Thread safe.
///
/// # Safety
/// `out` is null or valid for writing one `dk_dropout`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_new(
    rate: f64,
    seed: u64,
    scaling: u32,
    out: *mut dk_dropout,
) -> dk_status {
    guard(|| {
        let d = dk_dropout {
            rate,
            seed,
            scaling,
            threading: DK_THREADS_AUTO,
            isa: DK_ISA_AUTO,
            threads: 0,
            parallel_min: 0,
        };
        // SAFETY: `d` is a local value.
        unsafe { config(&d) }?;
        // SAFETY: null is checked; otherwise the caller's contract.
        *unsafe { out.as_mut() }.ok_or_else(|| Fail::null("out"))? = d;
        Ok(())
    })
}

/// `dk_dropout_new` from the probability of **keeping** an element: exactly
/// `dk_dropout_new(1 - keep_prob, ...)`.
///
/// Errors: `DK_INVALID_KEEP_PROB`, `DK_INVALID_ARGUMENT`, `DK_NULL_POINTER`.
///
/// Thread safe.
///
/// # Safety
/// As `dk_dropout_new`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_with_keep_prob(
    keep_prob: f64,
    seed: u64,
    scaling: u32,
    out: *mut dk_dropout,
) -> dk_status {
    if !(0.0..=1.0).contains(&keep_prob) {
        return guard(|| Err(Error::InvalidKeepProb { keep_prob }.into()));
    }
    // SAFETY: forwarded contract.
    unsafe { dk_dropout_new(1.0 - keep_prob, seed, scaling, out) }
}

/// Validates `*d` as every call does (and starts its `threads` pool if it
/// has one): useful after changing its fields.
///
/// Errors: `DK_INVALID_RATE`, `DK_INVALID_ARGUMENT` (unknown scaling,
/// threading or ISA, `threads` above `DK_THREADS_MAX`),
/// `DK_ISA_UNAVAILABLE`, `DK_THREADS_UNAVAILABLE`, `DK_NULL_POINTER`.
///
/// Thread safe.
///
/// # Safety
/// `d` is null or valid for reading one `dk_dropout`.
#[no_mangle]
pub unsafe extern "C" fn dk_dropout_check(d: *const dk_dropout) -> dk_status {
    // SAFETY: forwarded contract.
    guard(|| unsafe { config(d) }.map(|_| ()))
}

/// Sizes the global thread pool (the one of `dk_dropout`s with `threads ==
/// 0`) once, before any call uses it (otherwise it has one thread per
/// CPU). A `dk_dropout` with `threads > 0` needs no init call.
///
/// Errors: `DK_INVALID_ARGUMENT` (`threads == 0`),
/// `DK_THREADS_ALREADY_STARTED`.
///
/// Thread safe.
#[no_mangle]
pub extern "C" fn dk_threads_init(threads: usize) -> dk_status {
    guard(|| {
        if threads == 0 {
            return Err(Fail::invalid("dk_threads_init: threads is 0"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Fail::new(DK_THREADS_ALREADY_STARTED, format!("dk_threads_init: {e}")))
    })
}
