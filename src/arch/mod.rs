//! The ISA modules, each supplying a 16-lane generator and data sides and
//! instantiating the generic kernels of `crate::kernel` behind its
//! `#[target_feature]`, and the one dispatch table ([`on_isa`]) from an
//! [`Isa`] to them: the kernels of every element type ([`Dispatch`]) and
//! the bare generator ([`words`]) go through it.
//!
//! Adding an ISA: its module here, one arm in [`on_isa`], its data side per
//! element type in the four [`Dispatch`] impls below (an existing generic
//! one such as `Lanewise<E>` where it has no faster one), and its variant
//! and detection in `crate::isa`.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod portable;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod ymm;

use crate::isa::Isa;
use crate::kernel::data::Lanewise;
use crate::kernel::Kernels;
use crate::num::sealed::Sealed;
use half::{bf16, f16};

/// The dispatch table: the expression for `$isa`'s module. An ISA this
/// target does not compile is never available (`Isa::check`), and falls to
/// the scalar arm only to keep the match whole.
macro_rules! on_isa {
    ($isa:expr, scalar => $s:expr, portable => $p:expr, avx2 => $a2:expr, avx512 => $a5:expr $(,)?) => {
        match $isa {
            Isa::Scalar => $s,
            // `wide` compiles the portable kernels to NEON on aarch64 (and
            // `Neon` is unavailable elsewhere).
            Isa::Portable | Isa::Neon => $p,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => $a2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => $a5,
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => $s,
        }
    };
}

/// `$($call)*` (a function of the AVX-512 entry-point modules and its
/// arguments) in this process's register layout
/// ([`crate::isa::avx512_layout`]).
#[cfg(target_arch = "x86_64")]
macro_rules! on_avx512_layout {
    ($($call:tt)*) => {
        match crate::isa::avx512_layout() {
            crate::isa::Avx512Layout::Halves => avx512::halves::$($call)*,
            _ => avx512::whole::$($call)*,
        }
    };
}

/// An element type's kernels on each ISA: which data side each ISA module
/// instantiates for it.
///
/// Each impl's `kernels` is `#[inline(never)]`, so that the kernels are
/// compiled once, in this crate. Inlined into a dependent (the body is a
/// small match of function pointers, which rustc would otherwise offer
/// across crates), it would make every dependent crate, test and example
/// compile its own copy of every kernel of every ISA: seen in
/// `dropkit-candle`'s `op` test, 115 MB of LLVM IR and about 30 s of
/// compiling, against 21 MB and 5 s without.
pub trait Dispatch: Sealed {
    /// The entry points of `isa` for this type.
    fn kernels(isa: Isa) -> Kernels<Self>;
}

impl Dispatch for f32 {
    #[inline(never)]
    fn kernels(isa: Isa) -> Kernels<f32> {
        on_isa!(isa,
            scalar => scalar::kernels::<Lanewise<f32>>(),
            portable => portable::kernels::<portable::F32>(),
            avx2 => avx2::kernels::<ymm::F32>(),
            avx512 => on_avx512_layout!(kernels::<avx512::F32>()),
        )
    }
}

impl Dispatch for f64 {
    #[inline(never)]
    fn kernels(isa: Isa) -> Kernels<f64> {
        on_isa!(isa,
            scalar => scalar::kernels::<Lanewise<f64>>(),
            portable => portable::kernels::<Lanewise<f64>>(),
            avx2 => avx2::kernels::<ymm::F64>(),
            avx512 => on_avx512_layout!(kernels::<avx512::F64>()),
        )
    }
}

impl Dispatch for f16 {
    #[inline(never)]
    fn kernels(isa: Isa) -> Kernels<f16> {
        // The x86 data side converts with F16C where the CPU has it too.
        #[cfg(target_arch = "x86_64")]
        let f16c = crate::isa::has_f16c();
        on_isa!(isa,
            scalar => scalar::kernels::<Lanewise<f16>>(),
            portable => portable::kernels::<portable::F16>(),
            avx2 => if f16c {
                avx2::f16c::kernels::<avx2::f16c::F16>()
            } else {
                avx2::kernels::<Lanewise<f16>>()
            },
            avx512 => on_avx512_layout!(kernels::<avx512::F16>()),
        )
    }
}

impl Dispatch for bf16 {
    #[inline(never)]
    fn kernels(isa: Isa) -> Kernels<bf16> {
        on_isa!(isa,
            scalar => scalar::kernels::<Lanewise<bf16>>(),
            portable => portable::kernels::<portable::Bf16>(),
            avx2 => avx2::kernels::<ymm::Bf16>(),
            avx512 => on_avx512_layout!(kernels::<avx512::Bf16>()),
        )
    }
}

/// The bare generator on `isa` (see [`crate::bench::stream_words`]).
///
/// # Safety
/// `isa` is available; `g0 + n` does not overflow.
pub(crate) unsafe fn words(isa: Isa, seed: u64, stream: u64, g0: u64, n: usize) -> u32 {
    // SAFETY: forwarded contract: the ISA is available.
    unsafe {
        on_isa!(isa,
            scalar => scalar::words(seed, stream, g0, n),
            portable => portable::words(seed, stream, g0, n),
            avx2 => avx2::words(seed, stream, g0, n),
            avx512 => on_avx512_layout!(words(seed, stream, g0, n)),
        )
    }
}
