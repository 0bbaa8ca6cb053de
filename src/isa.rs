//! Instruction-set selection: detected once, cached, and forceable.

use std::sync::atomic::{AtomicU8, Ordering};

/// An implementation of the kernels.
///
/// Every implementation gives the same bits; they differ only in speed.
/// [`Isa::best`] picks the fastest one this CPU runs; a [`crate::Dropout`] can
/// be forced onto any available one with [`crate::Dropout::with_isa`].
///
/// On x86-64, [`Isa::Avx512`] and [`Isa::Avx2`] are detected at run time; on
/// aarch64, [`Isa::Neon`] is always available (NEON is mandatory there) and is
/// the one [`Isa::best`] picks. A variant that does not exist on this CPU's
/// architecture is simply unavailable: forcing it returns
/// [`crate::Error::IsaUnavailable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Plain Rust, 16 lanes in arrays. Runs everywhere.
    Scalar,
    /// The `wide` crate's 16-lane vectors, with the instructions chosen at
    /// compile time (SSE2 in a default x86-64 build, NEON on aarch64).
    Portable,
    /// aarch64 NEON (Advanced SIMD), available on every aarch64 CPU (checked
    /// with `is_aarch64_feature_detected!("neon")`) and on no other
    /// architecture. It runs the portable kernels, which `wide` compiles to
    /// NEON instructions on aarch64; naming it makes [`Isa::available`] on
    /// aarch64 say what the CPU runs, and lets tests require it
    /// (`DROPKIT_REQUIRE_ISA=neon`).
    Neon,
    /// x86-64 AVX2, detected at run time (`f16` through F16C where the CPU
    /// has it too).
    Avx2,
    /// x86-64 AVX-512F with AVX-512VL and AVX-512BW (every CPU with the
    /// first two has the third), detected at run time (`f16` through
    /// AVX-512F's own conversions).
    Avx512,
}

impl Isa {
    /// All implementations, slowest first. (`Neon` and the x86-64 ones are
    /// never available together.)
    pub const ALL: [Isa; 5] = [
        Isa::Scalar,
        Isa::Portable,
        Isa::Neon,
        Isa::Avx2,
        Isa::Avx512,
    ];

    /// Whether this CPU (and build) runs `self`.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar | Isa::Portable => true,
            Isa::Neon => has_neon(),
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
                // The position in `ALL` (not the discriminant) is cached.
                let at = Isa::ALL.iter().rposition(|i| i.is_available()).unwrap_or(0);
                BEST.store(at as u8, Ordering::Relaxed);
                Isa::ALL[at]
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
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

/// How the AVX-512 kernels hold their 16 generator lanes. Both layouts give
/// the same bits; they differ only in speed, which depends on the CPU (see
/// [`avx512_layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Avx512Layout {
    /// Two 256-bit halves: two independent dependency chains per step, for
    /// cores that split 512-bit operations in two (measured faster on an AMD
    /// Zen 4; other AMD cores keep it because the whole layout has not been
    /// measured on them).
    Halves,
    /// One 512-bit register: half the instructions, for cores with 512-bit
    /// execution units (Intel).
    Whole,
}

impl Avx512Layout {
    /// The name `DROPKIT_AVX512_LAYOUT` takes: `"halves"` or `"whole"`.
    pub fn name(self) -> &'static str {
        match self {
            Avx512Layout::Halves => "halves",
            Avx512Layout::Whole => "whole",
        }
    }
}

/// The register layout [`Isa::Avx512`] runs in this process, chosen once and
/// cached: `DROPKIT_AVX512_LAYOUT` (`halves` or `whole`) where set to one of
/// those, otherwise halves on AMD CPUs and a whole register elsewhere (the
/// faster one on each CPU measured, PERF.md). Any other value of the
/// variable is ignored. Meaningless, but answered, where AVX-512 is
/// unavailable. The first call reads the environment, which allocates
/// where the variable is set; every later call, and every dropout call
/// after it, allocates nothing (an engine that counts allocations calls
/// this once at start-up).
///
/// ```
/// let layout = dropkit::avx512_layout();
/// assert!(["halves", "whole"].contains(&layout.name()));
/// ```
pub fn avx512_layout() -> Avx512Layout {
    static LAYOUT: AtomicU8 = AtomicU8::new(u8::MAX);
    const LAYOUTS: [Avx512Layout; 2] = [Avx512Layout::Halves, Avx512Layout::Whole];
    match LAYOUT.load(Ordering::Relaxed) {
        u8::MAX => {
            let chosen = std::env::var("DROPKIT_AVX512_LAYOUT")
                .ok()
                .and_then(|v| LAYOUTS.into_iter().find(|l| l.name() == v))
                .unwrap_or(if is_amd() {
                    Avx512Layout::Halves
                } else {
                    Avx512Layout::Whole
                });
            LAYOUT.store(chosen as u8, Ordering::Relaxed);
            chosen
        }
        i => LAYOUTS[usize::from(i)],
    }
}

/// Whether the CPU's vendor string is AMD's.
#[cfg(target_arch = "x86_64")]
fn is_amd() -> bool {
    let id = core::arch::x86_64::__cpuid(0);
    [id.ebx, id.edx, id.ecx] == [0x6874_7541, 0x6974_6e65, 0x444d_4163] // "AuthenticAMD"
}

#[cfg(not(target_arch = "x86_64"))]
fn is_amd() -> bool {
    false
}

/// Whether the CPU converts `f16` in hardware (F16C).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_f16c() -> bool {
    std::arch::is_x86_feature_detected!("f16c")
}

#[cfg(target_arch = "aarch64")]
fn has_neon() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(not(target_arch = "aarch64"))]
fn has_neon() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}
