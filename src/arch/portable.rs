//! The portable kernel on `wide`'s 16-lane vectors. `wide` picks its
//! instructions at compile time: SSE2 in a default x86-64 build, NEON on
//! aarch64, AVX2/AVX-512 under `-C target-cpu=native`.

use crate::kernel::data::Data;
use crate::kernel::lanes::LANE_BITS;
use crate::kernel::{Gen16, LANES};
use half::{bf16, f16};
use wide::{bytemuck::cast, f32x16, i32x16, u16x16, u32x16};

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

/// Sixteen 16-bit elements at `p`, zero-extended to 32-bit lanes.
///
/// # Safety
/// `p` is valid for reading 16 `u16`.
#[inline(always)]
unsafe fn load_u16x16<T>(p: *const T) -> u32x16 {
    // SAFETY: the caller guarantees 16 readable `u16`.
    u32x16::from(u16x16::new(unsafe {
        p.cast::<[u16; LANES]>().read_unaligned()
    }))
}

/// Stores the low 16 bits of each lane at `p`.
///
/// # Safety
/// `p` is valid for writing 16 `u16`.
#[inline(always)]
unsafe fn store_u16x16<T>(p: *mut T, v: u32x16) {
    let v = v.to_array().map(|w| w as u16);
    // SAFETY: the caller guarantees 16 writable `u16`.
    unsafe { p.cast::<[u16; LANES]>().write_unaligned(v) }
}

/// Unsigned-free compare: `a > b` on lanes below 2^31.
#[inline(always)]
fn gt(a: u32x16, b: u32) -> u32x16 {
    cast(cast::<u32x16, i32x16>(a).simd_gt(i32x16::splat(b as i32)))
}

/// `bf16`: a shift widens, one `f32` multiply, select, round to nearest
/// even with integer operations (as `half::bf16::from_f32`).
pub(crate) struct Bf16;

// SAFETY: `wide` uses compile-time instructions only; pointers as the trait
// requires.
unsafe impl Data<Portable> for Bf16 {
    type E = bf16;
    type S = f32x16;
    #[inline(always)]
    unsafe fn splat(s: f32) -> f32x16 {
        f32x16::splat(s)
    }
    #[inline(always)]
    unsafe fn apply16(src: *const bf16, dst: *mut bf16, s: f32x16, k: u32x16) {
        // SAFETY: the caller guarantees 16 valid elements at each pointer.
        unsafe {
            let x: f32x16 = cast(load_u16x16(src) << 16);
            let y = x * s;
            let b = cast::<f32x16, u32x16>(y) & k;
            // A NaN gets no rounding bias; it is already quiet (it came
            // out of a multiply), as `from_f32` makes it.
            let nan: u32x16 = cast(y.is_nan());
            let bias = (((b >> 16) & u32x16::splat(1)) + u32x16::splat(0x7fff)) & !nan;
            store_u16x16(dst, (b + bias) >> 16);
        }
    }
}

/// `f16`: exact integer widening, one `f32` multiply, select, and the
/// rounding of `half::f16::from_f32` in integer lanes (subnormal results
/// rounded by one `f32` add, exact).
pub(crate) struct F16;

/// `f16` bits (zero-extended) to `f32`, as `half`'s `to_f32` (a NaN is made
/// quiet).
#[inline(always)]
fn widen_f16(h: u32x16) -> f32x16 {
    let sign = (h & u32x16::splat(0x8000)) << 16;
    let em = h & u32x16::splat(0x7fff);
    let exp = em & u32x16::splat(0x7c00);
    let man = em & u32x16::splat(0x03ff);
    let normal = (em << 13) + u32x16::splat((127 - 15) << 23);
    let quiet = !man.simd_eq(u32x16::splat(0)) & u32x16::splat(0x0040_0000);
    let inf_nan = (em << 13) | u32x16::splat(0x7f80_0000) | quiet;
    // Subnormals: 2^-14 * (1 + man / 1024) - 2^-14 = man * 2^-24, exact.
    let biased: f32x16 = cast(normal + u32x16::splat(1 << 23));
    let sub: u32x16 = cast(biased - f32x16::splat(f32::from_bits(113 << 23)));
    let mag = exp.simd_eq(u32x16::splat(0)).select(
        sub,
        exp.simd_eq(u32x16::splat(0x7c00)).select(inf_nan, normal),
    );
    cast(sign | mag)
}

/// `f32` to `f16` bits in the low half of each lane, as `half`'s `from_f32`.
#[inline(always)]
fn narrow_f16(y: f32x16) -> u32x16 {
    let b: u32x16 = cast(y);
    let sign = (b >> 16) & u32x16::splat(0x8000);
    let a = b & u32x16::splat(0x7fff_ffff);
    let nan = u32x16::splat(0x7e00) | ((a & u32x16::splat(0x007f_ffff)) >> 13);
    let odd = (a >> 13) & u32x16::splat(1);
    let rebias = ((15u32.wrapping_sub(127)) << 23).wrapping_add(0x0fff);
    let normal = (a + u32x16::splat(rebias) + odd) >> 13;
    let half_f: f32x16 = cast(a);
    let sub = cast::<f32x16, u32x16>(half_f + f32x16::splat(0.5)) - u32x16::splat(0x3f00_0000);
    let tiny =
        cast::<i32x16, u32x16>(i32x16::splat((127 - 14) << 23).simd_gt(cast::<u32x16, i32x16>(a)));
    let mag = gt(a, 0x7f80_0000).select(
        nan,
        gt(a, ((127 + 16) << 23) - 1).select(u32x16::splat(0x7c00), tiny.select(sub, normal)),
    );
    sign | mag
}

// SAFETY: as for `Bf16`.
unsafe impl Data<Portable> for F16 {
    type E = f16;
    type S = f32x16;
    #[inline(always)]
    unsafe fn splat(s: f32) -> f32x16 {
        f32x16::splat(s)
    }
    #[inline(always)]
    unsafe fn apply16(src: *const f16, dst: *mut f16, s: f32x16, k: u32x16) {
        // SAFETY: the caller guarantees 16 valid elements at each pointer.
        unsafe {
            let y = widen_f16(load_u16x16(src)) * s;
            store_u16x16(dst, narrow_f16(y) & k);
        }
    }
}

crate::kernel::entry_points!(Portable);
crate::kernel::generator_entry!(Portable);
