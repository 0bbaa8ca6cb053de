//! The scalar fallback: 16 lanes in plain arrays, no per-element branches.
//! It runs on any CPU and is what `Isa::Scalar` forces.

use super::Simd16;

/// Sixteen `u32` lanes in an array.
#[derive(Clone, Copy)]
pub(crate) struct Scalar([u32; 16]);

#[inline(always)]
fn map(a: [u32; 16], f: impl Fn(u32) -> u32) -> Scalar {
    Scalar(a.map(f))
}

#[inline(always)]
fn zip(a: [u32; 16], b: [u32; 16], f: impl Fn(u32, u32) -> u32) -> Scalar {
    Scalar(core::array::from_fn(|l| f(a[l], b[l])))
}

// SAFETY: plain Rust, available everywhere.
unsafe impl Simd16 for Scalar {
    type F = [f32; 16];
    /// All-ones for kept lanes, zero for dropped.
    type M = [u32; 16];

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Scalar([x; 16])
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; 16]) -> Self {
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
        Scalar([t; 16])
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> [u32; 16] {
        core::array::from_fn(|l| 0u32.wrapping_sub(u32::from(self.0[l] < t.0[l])))
    }
    #[inline(always)]
    unsafe fn mask_bits(m: [u32; 16]) -> u32 {
        (0..16).fold(0, |acc, l| acc | ((m[l] & 1) << l))
    }
    #[inline(always)]
    unsafe fn mask_from_bits(bits: u32) -> [u32; 16] {
        core::array::from_fn(|l| 0u32.wrapping_sub((bits >> l) & 1))
    }
    #[inline(always)]
    unsafe fn splat_f(s: f32) -> [f32; 16] {
        [s; 16]
    }
    #[inline(always)]
    unsafe fn load_f(p: *const f32) -> [f32; 16] {
        p.cast::<[f32; 16]>().read_unaligned()
    }
    #[inline(always)]
    unsafe fn store_f(p: *mut f32, v: [f32; 16]) {
        p.cast::<[f32; 16]>().write_unaligned(v)
    }
    #[inline(always)]
    unsafe fn scale_keep(x: [f32; 16], s: [f32; 16], m: [u32; 16]) -> [f32; 16] {
        core::array::from_fn(|l| f32::from_bits((x[l] * s[l]).to_bits() & m[l]))
    }
}

super::entry_points!(Scalar);
