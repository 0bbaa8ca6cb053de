//! Instruction-set selection: detected once, cached, and forceable.

use crate::kernel::{self, Io, MaskIn, Params};
use std::sync::atomic::{AtomicU8, Ordering};

/// An implementation of the kernels.
///
/// Every implementation gives the same bits; they differ only in speed.
/// [`Isa::best`] picks the fastest one this CPU runs; a [`crate::Dropout`] can
/// be forced onto any available one with [`crate::Dropout::with_isa`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, 16 lanes in arrays. Runs everywhere.
    Scalar,
    /// The `wide` crate's 16-lane vectors, with the instructions chosen at
    /// compile time (SSE2 in a default x86-64 build, NEON on aarch64).
    Portable,
    /// x86-64 AVX2, detected at run time.
    Avx2,
    /// x86-64 AVX-512F with AVX-512VL, detected at run time.
    Avx512,
}

impl Isa {
    /// All implementations, slowest first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Whether this CPU (and build) runs `self`.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar | Isa::Portable => true,
            Isa::Avx2 => has_avx2(),
            Isa::Avx512 => has_avx512(),
        }
    }

    /// The implementations this CPU runs, slowest first.
    ///
    /// ```
    /// let isas = dropkit::Isa::available();
    /// assert!(isas.contains(&dropkit::Isa::Scalar));
    /// ```
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// The fastest available implementation, detected once and cached.
    pub fn best() -> Isa {
        static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
        match BEST.load(Ordering::Relaxed) {
            u8::MAX => {
                let best = *Isa::available().last().expect("Scalar is always available");
                BEST.store(best as u8, Ordering::Relaxed);
                best
            }
            i => Isa::ALL[usize::from(i)],
        }
    }

    /// Checks that `self` is available.
    pub(crate) fn check(self) -> Result<Isa, crate::Error> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(crate::Error::IsaUnavailable { isa: self })
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    cfg!(target_feature = "avx2") || std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    (cfg!(target_feature = "avx512f") && cfg!(target_feature = "avx512vl"))
        || (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl"))
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

/// Calls the `forward` entry point of `isa`.
///
/// # Safety
/// `isa.is_available()`; the pointers of `io` as `kernel::forward_generic`
/// requires.
pub(crate) unsafe fn forward(isa: Isa, p: &Params, g0: u64, n: usize, io: Io) {
    match isa {
        Isa::Scalar => kernel::scalar::forward(p, g0, n, io),
        Isa::Portable => kernel::portable::forward(p, g0, n, io),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => kernel::avx2::forward(p, g0, n, io),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => kernel::avx512::forward(p, g0, n, io),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2 | Isa::Avx512 => unreachable!("never available off x86-64"),
    }
}

/// Calls the `apply` entry point of `isa`.
///
/// # Safety
/// `isa.is_available()`; pointers as `kernel::apply_mask` requires.
pub(crate) unsafe fn apply(
    isa: Isa,
    mask: MaskIn,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    s: f32,
) {
    match isa {
        Isa::Scalar => kernel::scalar::apply(mask, src, dst, n, s),
        Isa::Portable => kernel::portable::apply(mask, src, dst, n, s),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => kernel::avx2::apply(mask, src, dst, n, s),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => kernel::avx512::apply(mask, src, dst, n, s),
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx2 | Isa::Avx512 => unreachable!("never available off x86-64"),
    }
}
