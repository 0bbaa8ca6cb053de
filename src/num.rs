//! The numeric rules of the element types (`f32`, `f64`, `half::f16`,
//! `half::bf16`): each type's factor type, its rule for a kept element, and
//! its conversions. No kernel and no ISA here: the kernels build on these.

use half::{bf16, f16};

/// The factor type of `E` (`f64` for `f64`, `f32` for the others).
pub(crate) type Factor<E> = <E as sealed::Sealed>::Factor;

pub(crate) mod sealed {

    /// The computing types, `f32` and `f64`: one add, one multiply, a
    /// select by a keep lane.
    pub trait Wide:
        Copy
        + Send
        + Sync
        + core::fmt::Debug
        + 'static
        + core::ops::Add<Output = Self>
        + core::ops::Mul<Output = Self>
    {
        /// `self` if `keep` is all-ones, `+0.0` if it is zero.
        fn keep(self, keep: u32) -> Self;
        /// `self`, or the positive quiet NaN without payload if `self` is a
        /// NaN (where two NaNs meet in an add, IEEE and Rust leave open
        /// whose payload comes out; the fused epilogue fixes it this way).
        fn canonical(self) -> Self;
        /// Widened exactly to `f64` (for sums).
        fn to_f64(self) -> f64;
    }

    impl Wide for f32 {
        #[inline(always)]
        fn keep(self, keep: u32) -> f32 {
            f32::from_bits(self.to_bits() & keep)
        }
        #[inline(always)]
        fn canonical(self) -> f32 {
            if self.is_nan() {
                f32::NAN
            } else {
                self
            }
        }
        fn to_f64(self) -> f64 {
            f64::from(self)
        }
    }

    impl Wide for f64 {
        #[inline(always)]
        fn keep(self, keep: u32) -> f64 {
            f64::from_bits(self.to_bits() & (u64::from(keep) | (u64::from(keep) << 32)))
        }
        #[inline(always)]
        fn canonical(self) -> f64 {
            if self.is_nan() {
                f64::NAN
            } else {
                self
            }
        }
        fn to_f64(self) -> f64 {
            self
        }
    }

    /// The crate's side of [`Element`]; unreachable from outside.
    pub trait Sealed: Copy + Send + Sync + PartialEq + core::fmt::Debug + 'static {
        /// The type the factor is rounded to once, and the type the fused
        /// epilogue computes in (`f32` for the half types).
        type Factor: Wide;
        /// `+0.0`.
        const ZERO: Self;
        /// The `f64` factor rounded once to [`Sealed::Factor`].
        fn factor(f: f64) -> Self::Factor;
        /// `keep ? x * s : +0.0` by the type's rule, without a branch;
        /// `keep` is all-ones or zero. (No method here takes `self`, so
        /// none of them enters a user's method namespace.)
        fn lane(x: Self, s: Self::Factor, keep: u32) -> Self;
        /// `x * s` by the type's rule.
        #[inline(always)]
        fn times(x: Self, s: Self::Factor) -> Self {
            Self::lane(x, s, u32::MAX)
        }
        /// Widened exactly to the computing type.
        fn widen(x: Self) -> Self::Factor;
        /// Rounded once (to nearest even) from the computing type.
        fn narrow(v: Self::Factor) -> Self;
        /// Widened exactly to `f64`.
        fn to_f64(x: Self) -> f64;
        /// Rounded once from `f64` (to nearest even).
        fn from_f64(v: f64) -> Self;
    }
}

impl sealed::Sealed for f32 {
    type Factor = f32;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn factor(f: f64) -> f32 {
        f as f32
    }
    #[inline(always)]
    fn lane(x: f32, s: f32, keep: u32) -> f32 {
        f32::from_bits((x * s).to_bits() & keep)
    }
    #[inline(always)]
    fn widen(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn narrow(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    fn to_f64(x: f32) -> f64 {
        f64::from(x)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl sealed::Sealed for f64 {
    type Factor = f64;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn factor(f: f64) -> f64 {
        f
    }
    #[inline(always)]
    fn lane(x: f64, s: f64, keep: u32) -> f64 {
        let keep = u64::from(keep) | (u64::from(keep) << 32);
        f64::from_bits((x * s).to_bits() & keep)
    }
    #[inline(always)]
    fn widen(x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn narrow(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn to_f64(x: f64) -> f64 {
        x
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl sealed::Sealed for f16 {
    type Factor = f32;
    const ZERO: Self = f16::ZERO;
    #[inline(always)]
    fn factor(f: f64) -> f32 {
        f as f32
    }
    #[inline(always)]
    fn lane(x: f16, s: f32, keep: u32) -> f16 {
        let y = f32_to_f16(f16_to_f32(x.to_bits()) * s);
        f16::from_bits(y & keep as u16)
    }
    #[inline(always)]
    fn widen(x: f16) -> f32 {
        f16_to_f32(x.to_bits())
    }
    #[inline(always)]
    fn narrow(v: f32) -> f16 {
        f16::from_bits(f32_to_f16(v))
    }
    #[inline(always)]
    fn to_f64(x: f16) -> f64 {
        f64::from(f16_to_f32(x.to_bits()))
    }
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}

impl sealed::Sealed for bf16 {
    type Factor = f32;
    const ZERO: Self = bf16::ZERO;
    #[inline(always)]
    fn factor(f: f64) -> f32 {
        f as f32
    }
    #[inline(always)]
    fn lane(x: bf16, s: f32, keep: u32) -> bf16 {
        let x = f32::from_bits(u32::from(x.to_bits()) << 16);
        bf16::from_bits(f32_to_bf16(x * s) & keep as u16)
    }
    #[inline(always)]
    fn widen(x: bf16) -> f32 {
        f32::from_bits(u32::from(x.to_bits()) << 16)
    }
    #[inline(always)]
    fn narrow(v: f32) -> bf16 {
        bf16::from_bits(f32_to_bf16(v))
    }
    #[inline(always)]
    fn to_f64(x: bf16) -> f64 {
        f64::from(f32::from_bits(u32::from(x.to_bits()) << 16))
    }
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
}

/// `f16` bits to `f32`, exactly, without branches: a NaN gets its quiet bit
/// set and keeps its payload (as `half` does).
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let exp = h & 0x7c00;
    let man = h & 0x03ff;
    let normal = ((h & 0x7fff) << 13) + ((127 - 15) << 23);
    let quiet = if man != 0 { 0x0040_0000 } else { 0 };
    let inf_nan = 0x7f80_0000 | quiet | (man << 13);
    // Subnormals (and zero): `man` units of 2^-24, exact in `f32`.
    let sub = (man as f32 * (1.0 / 16_777_216.0)).to_bits();
    let mag = if exp == 0 {
        sub
    } else if exp == 0x7c00 {
        inf_nan
    } else {
        normal
    };
    f32::from_bits(sign | mag)
}

/// `f32` to `f16` bits, rounding to nearest even, without branches: the
/// same bits as `half::f16::from_f32` (subnormals rounded, not flushed;
/// overflow to infinity; a NaN keeps its sign and top payload bits and
/// becomes quiet).
#[inline(always)]
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = (b >> 16) & 0x8000;
    let a = b & 0x7fff_ffff;
    let nan = 0x7e00 | ((a & 0x007f_ffff) >> 13);
    // Normal results: rebias, then round the 13 dropped bits to nearest
    // even by an integer add (a carry may step into the exponent, and into
    // infinity, exactly as rounding should).
    let odd = (a >> 13) & 1;
    let normal = a.wrapping_add(((15u32.wrapping_sub(127)) << 23).wrapping_add(0x0fff + odd)) >> 13;
    // Subnormal results: adding 0.5 (whose ulp, 2^-24, is the f16
    // subnormal unit) rounds to nearest even in the FPU; the low bits are
    // then the f16 mantissa (1024 = the smallest normal).
    let sub = (f32::from_bits(a) + 0.5)
        .to_bits()
        .wrapping_sub(0x3f00_0000);
    let mag = if a > 0x7f80_0000 {
        nan
    } else if a >= (127 + 16) << 23 {
        0x7c00
    } else if a < (127 - 14) << 23 {
        sub
    } else {
        normal
    };
    (sign | mag) as u16
}

/// `f32` to `bf16` bits, rounding to nearest even, as
/// `half::bf16::from_f32` (a NaN keeps its top bits and becomes quiet).
#[inline(always)]
pub(crate) fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16;
    let nan = (b >> 16) | 0x0040;
    (if b & 0x7fff_ffff > 0x7f80_0000 {
        nan
    } else {
        rounded
    }) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `f16` widens as `half` widens it.
    #[test]
    fn f16_widening_matches_half() {
        for h in 0..=u16::MAX {
            let want = f16::from_bits(h).to_f32().to_bits();
            assert_eq!(f16_to_f32(h).to_bits(), want, "{h:04x}");
        }
    }

    /// `f32` to `f16` and `bf16` as `half` narrows, on every exponent and
    /// around every rounding boundary (an exhaustive run over all 2^32
    /// inputs passed once; this samples it).
    #[test]
    fn narrowing_matches_half() {
        let mut state = 0x1234_5678u32;
        let check = |b: u32| {
            let x = f32::from_bits(b);
            assert_eq!(f32_to_f16(x), f16::from_f32(x).to_bits(), "f16 {b:08x}");
            assert_eq!(f32_to_bf16(x), bf16::from_f32(x).to_bits(), "bf16 {b:08x}");
        };
        for high in 0..=0x1ffu32 {
            for low in [
                0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x7fff, 0x8000, 0x8001,
            ] {
                for m in [0u32, 0x3f_e000, 0x7f_e000, 0x40_0000] {
                    check((high << 23) | ((m | low) & 0x7f_ffff));
                }
            }
            for _ in 0..2000 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                check((high << 23) | (state & 0x7f_ffff));
            }
        }
    }
}
