//! The scalar fallback: 16 lanes in plain arrays, no per-element branches.
//! It runs on any CPU and is what `Isa::Scalar` forces. Its data side is
//! [`crate::kernel::data::Lanewise`] for every element type.

use crate::kernel::{Gen16, LANES};

/// Sixteen `u32` lanes in an array.
#[derive(Clone, Copy)]
pub(crate) struct Scalar([u32; LANES]);

#[inline(always)]
fn map(a: [u32; LANES], f: impl Fn(u32) -> u32) -> Scalar {
    Scalar(a.map(f))
}

#[inline(always)]
fn zip(a: [u32; LANES], b: [u32; LANES], f: impl Fn(u32, u32) -> u32) -> Scalar {
    Scalar(core::array::from_fn(|l| f(a[l], b[l])))
}

// SAFETY: plain Rust, available everywhere; no method touches memory.
unsafe impl Gen16 for Scalar {
    /// All-ones for kept lanes, zero for dropped.
    type Keep = [u32; LANES];

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Scalar([x; LANES])
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; LANES]) -> Self {
        Scalar(a)
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        zip(self.0, o.0, u32::wrapping_add)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        zip(self.0, o.0, u32::wrapping_sub)
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a ^ b)
    }
    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        zip(self.0, o.0, |a, b| a | b)
    }
    #[inline(always)]
    unsafe fn shl9(self) -> Self {
        map(self.0, |a| a << 9)
    }
    #[inline(always)]
    unsafe fn shr31(self) -> Self {
        map(self.0, |a| a >> 31)
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        map(self.0, |a| a.rotate_left(7))
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        map(self.0, |a| a.rotate_left(11))
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        let p = self.0.map(|a| u64::from(a) * u64::from(m));
        (
            Scalar(p.map(|x| (x >> 32) as u32)),
            Scalar(p.map(|x| x as u32)),
        )
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        Scalar([t; LANES])
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> [u32; LANES] {
        core::array::from_fn(|l| 0u32.wrapping_sub(u32::from(self.0[l] < t.0[l])))
    }
    #[inline(always)]
    unsafe fn keep_bits(k: [u32; LANES]) -> u32 {
        (0..LANES).fold(0, |acc, l| acc | ((k[l] & 1) << l))
    }
    #[inline(always)]
    unsafe fn keep_from_bits(bits: u32) -> [u32; LANES] {
        core::array::from_fn(|l| 0u32.wrapping_sub((bits >> l) & 1))
    }
    #[inline(always)]
    unsafe fn keep_lanes(k: [u32; LANES]) -> [u32; LANES] {
        k
    }
}

crate::kernel::entry_points!(Scalar);
crate::kernel::generator_entry!(Scalar);
