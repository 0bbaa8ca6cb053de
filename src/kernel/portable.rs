//! The portable kernel on `wide`'s 16-lane vectors. `wide` picks its
//! instructions at compile time: SSE2 in a default x86-64 build, NEON on
//! aarch64, AVX2/AVX-512 under `-C target-cpu=native`.

use super::data::Data;
use super::lanes::LANE_BITS;
use super::{Gen16, LANES};
use wide::{bytemuck::cast, f32x16, u32x16};

/// Sixteen `u32` lanes as a `wide::u32x16`.
#[derive(Clone, Copy)]
pub(crate) struct Portable(u32x16);

// SAFETY: `wide` only uses instructions enabled at compile time, so every
// method runs on any CPU the crate was built for; none touches memory.
unsafe impl Gen16 for Portable {
    /// All-ones for kept lanes.
    type Keep = u32x16;
    const UNROLL: usize = 4;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        Portable(u32x16::splat(x))
    }
    #[inline(always)]
    unsafe fn from_array(a: [u32; LANES]) -> Self {
        Portable(u32x16::new(a))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Portable(self.0 + o.0)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Portable(self.0 - o.0)
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        Portable(self.0 ^ o.0)
    }
    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        Portable(self.0 | o.0)
    }
    #[inline(always)]
    unsafe fn shl9(self) -> Self {
        Portable(self.0 << 9)
    }
    #[inline(always)]
    unsafe fn shr31(self) -> Self {
        Portable(self.0 >> 31)
    }
    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        Portable((self.0 << 7) | (self.0 >> 25))
    }
    #[inline(always)]
    unsafe fn rotl11(self) -> Self {
        Portable((self.0 << 11) | (self.0 >> 21))
    }
    #[inline(always)]
    unsafe fn mulhilo(self, m: u32) -> (Self, Self) {
        let (lo, hi) = self.0.mul_keep_low_high(u32x16::splat(m));
        (Portable(hi), Portable(lo))
    }
    #[inline(always)]
    unsafe fn prep_threshold(t: u32) -> Self {
        Portable(u32x16::splat(t))
    }
    #[inline(always)]
    unsafe fn keep(self, t: Self) -> u32x16 {
        self.0.simd_lt(t.0)
    }
    #[inline(always)]
    unsafe fn keep_bits(k: u32x16) -> u32 {
        k.to_bitmask()
    }
    #[inline(always)]
    unsafe fn keep_from_bits(bits: u32) -> u32x16 {
        let lane = u32x16::new(LANE_BITS);
        (u32x16::splat(bits) & lane).simd_eq(lane)
    }
    #[inline(always)]
    unsafe fn keep_lanes(k: u32x16) -> [u32; LANES] {
        k.to_array()
    }
}

/// `f32` on `wide::f32x16`: one multiply, an and with the keep lanes.
pub(crate) struct F32;

// SAFETY: `wide` uses compile-time instructions only; pointers as the trait
// requires.
unsafe impl Data<Portable> for F32 {
    type E = f32;
    type S = f32x16;
    #[inline(always)]
    unsafe fn splat(s: f32) -> f32x16 {
        f32x16::splat(s)
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f32, dst: *mut f32, s: f32x16, k: u32x16) {
        // SAFETY: the caller guarantees 16 valid elements at each pointer.
        unsafe {
            let x = f32x16::new(src.cast::<[f32; LANES]>().read_unaligned());
            let y: f32x16 = cast(cast::<f32x16, u32x16>(x * s) & k);
            dst.cast::<[f32; LANES]>().write_unaligned(y.to_array());
        }
    }
}

super::entry_points!(Portable);
super::generator_entry!(Portable);
