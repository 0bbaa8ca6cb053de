//! The stream-v1 dropout kernel, written once over [`Simd16`], a vector of 16
//! `u32` lanes, and instantiated per instruction set (`scalar`, `portable`,
//! `avx2`, `avx512`).
//!
//! Layout reminder (SPEC §2): inside a block of 4096 global indices, 16
//! consecutive indices are one step of the 16 lane generators. So one vector of
//! Xoshiro128++ states yields the words of 16 consecutive elements, which are
//! loaded, compared, scaled and stored as one vector.
//!
//! Code check (`objdump -d` of the release build, 1.95, default target): in
//! `avx512::forward` the 4-step main loop is `vpternlogd`, `vprold`,
//! `vpaddd`, `vpcmpltud` into `k1`-`k4` and zero-masked `vmulps` on ymm
//! registers, with no stack access at all (no spills), and so is the
//! two-block loop (one step of each block per iteration); in `avx2::forward`
//! the 2-step loop (about 120 instructions, 4 `vmulps`) keeps the state in
//! registers and reloads 6 constants per iteration from the stack, as 16
//! ymm registers do not hold state, constants and temporaries at once.

/// Defines an ISA module's entry points, `forward` and `apply`, as thin
/// wrappers (under `#[target_feature]` where one is given) of the generic
/// kernels instantiated for that module's vector type.
macro_rules! entry_points {
    ($V:ty $(, $feat:literal)?) => {
        /// Stream-v1 forward over `n` elements at global index `g0`.
        ///
        /// # Safety
        /// This module's ISA is available; see [`crate::kernel::Io`].
        $(#[target_feature(enable = $feat)])?
        pub(crate) unsafe fn forward(p: &$crate::kernel::Params, g0: u64, n: usize, io: $crate::kernel::Io) {
            $crate::kernel::forward_generic::<$V>(p, g0, n, io)
        }

        /// Applies a stored mask; see [`crate::kernel::apply_mask`].
        ///
        /// # Safety
        /// This module's ISA is available; pointers as `apply_mask` says.
        $(#[target_feature(enable = $feat)])?
        pub(crate) unsafe fn apply(
            mask: $crate::kernel::MaskIn,
            src: *const f32,
            dst: *mut f32,
            n: usize,
            s: f32,
        ) {
            $crate::kernel::apply_mask::<$V>(mask, src, dst, n, s)
        }
    };
}
pub(crate) use entry_points;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub(crate) mod portable;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
mod ymm;

use crate::philox::{M0, M1, ROUNDS, W0, W1};

/// Elements per block (SPEC §2).
pub(crate) const BLOCK: usize = 4096;
/// Lanes per step.
pub(crate) const LANES: usize = 16;

/// Bit `l` in lane `l`: turns a 16-bit keep mask into lane masks.
pub(crate) const LANE_BITS: [u32; LANES] = {
    let mut bits = [0u32; LANES];
    let mut l = 0;
    while l < LANES {
        bits[l] = 1 << l;
        l += 1;
    }
    bits
};

/// What a kernel needs besides the data: the key and the keep rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub seed: u64,
    pub stream: u64,
    /// Keep iff `r < threshold`.
    pub threshold: u32,
    /// Factor of kept elements.
    pub scale: f32,
    /// Whether blocks may run in pairs (see [`Simd16::PAIR_BLOCKS`]): the
    /// driver allows it for calls small enough to stay in cache.
    pub pair_blocks: bool,
}

/// Sixteen `u32` lanes plus the matching `f32` vector and keep mask.
///
/// # Safety
/// Every method may use instructions of the implementing ISA: call them only
/// where that ISA is available (the `isa` module checks before dispatch).
pub(crate) unsafe trait Simd16: Copy {
    /// Sixteen `f32`.
    type F: Copy;
    /// A keep mask for 16 lanes.
    type M: Copy;

    unsafe fn splat(x: u32) -> Self;
    unsafe fn from_array(a: [u32; 16]) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn xor(self, o: Self) -> Self;
    unsafe fn or(self, o: Self) -> Self;
    /// Whether [`Simd16::xor3`] is one instruction (AVX-512 `vpternlogd`).
    const HAS_XOR3: bool = false;
    /// Steps per iteration of the main loop (2 or 4): more hides latency,
    /// but needs registers for the extra states in flight.
    const UNROLL: usize = 2;
    /// Whether to run two whole blocks side by side (twice the state
    /// registers: only where there are 32 of them). Two output streams 16 KiB
    /// apart cost more than they gain once the data comes from DRAM, so the
    /// driver turns this off for big calls ([`Params::pair_blocks`]).
    const PAIR_BLOCKS: bool = false;
    /// `self ^ a ^ b`.
    #[inline(always)]
    unsafe fn xor3(self, a: Self, b: Self) -> Self {
        self.xor(a).xor(b)
    }
    unsafe fn shl9(self) -> Self;
    unsafe fn shr31(self) -> Self;
    unsafe fn rotl7(self) -> Self;
    unsafe fn rotl11(self) -> Self;
    /// `(high, low)` words of each lane's 64-bit product with `m`.
    unsafe fn mulhilo(self, m: u32) -> (Self, Self);
    /// The threshold in the form [`Simd16::keep`] wants.
    unsafe fn prep_threshold(t: u32) -> Self;
    /// Unsigned `self < t` per lane, `t` from [`Simd16::prep_threshold`].
    unsafe fn keep(self, t: Self) -> Self::M;
    /// Bit `l` set iff lane `l` is kept.
    unsafe fn mask_bits(m: Self::M) -> u32;
    /// Lane `l` kept iff bit `l` of `bits` is set.
    unsafe fn mask_from_bits(bits: u32) -> Self::M;
    /// Writes 16 bytes, byte `l` = bit `l` of `bits` (0 or 1).
    #[inline(always)]
    unsafe fn store_bytes16(bits: u32, p: *mut u8) {
        p.cast::<[u64; 2]>().write_unaligned([
            spread_bits(bits as u8).to_le(),
            spread_bits((bits >> 8) as u8).to_le(),
        ]);
    }
    /// Lane `l` kept iff byte `p[l]` is non-zero (16 bytes readable).
    #[inline(always)]
    unsafe fn mask_from_bytes(p: *const u8) -> Self::M {
        let w = p.cast::<[u64; 2]>().read_unaligned();
        Self::mask_from_bits(
            gather_nonzero(u64::from_le(w[0])) | (gather_nonzero(u64::from_le(w[1])) << 8),
        )
    }
    unsafe fn splat_f(s: f32) -> Self::F;
    /// Unaligned load of 16 floats.
    unsafe fn load_f(p: *const f32) -> Self::F;
    /// Unaligned store of 16 floats.
    unsafe fn store_f(p: *mut f32, v: Self::F);
    /// Kept lanes `x * s` (one multiply), dropped lanes `+0.0`.
    unsafe fn scale_keep(x: Self::F, s: Self::F, m: Self::M) -> Self::F;
}

/// The 16 Xoshiro128++ lane states of one block.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<V> {
    s: [V; 4],
}

impl<V: Simd16> Lanes<V> {
    /// Seeds the 16 lanes of `block` with Philox4x32-10, all lanes at once.
    #[inline(always)]
    pub(crate) unsafe fn seed(seed: u64, stream: u64, block: u64) -> Self {
        let c = block << 4;
        let ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut c0 = V::from_array(ids).or(V::splat(c as u32));
        let mut c1 = V::splat((c >> 32) as u32);
        let mut c2 = V::splat(stream as u32);
        let mut c3 = V::splat((stream >> 32) as u32);
        let mut k0 = seed as u32;
        let mut k1 = (seed >> 32) as u32;
        for round in 0..ROUNDS {
            if round > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (hi0, lo0) = c0.mulhilo(M0);
            let (hi1, lo1) = c2.mulhilo(M1);
            let n0 = hi1.xor(c1).xor(V::splat(k0));
            let n2 = hi0.xor(c3).xor(V::splat(k1));
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
        }
        // An all-zero state becomes [1, 0, 0, 0]: `any` has its top bit set
        // iff some word is non-zero, so `zero` is 1 exactly for such lanes.
        let all = c0.or(c1).or(c2).or(c3);
        let any = all.or(V::splat(0).sub(all));
        let zero = any.shr31().xor(V::splat(1));
        Lanes {
            s: [c0.or(zero), c1, c2, c3],
        }
    }

    /// One Xoshiro128++ step of all lanes: the next 16 words.
    #[inline(always)]
    pub(crate) unsafe fn next(&mut self) -> V {
        let [s0, s1, s2, s3] = self.s;
        let result = s0.add(s3).rotl7().add(s0);
        self.s = if V::HAS_XOR3 {
            // The same xors regrouped into three-way ones, one instruction
            // each: new s0 = s0 ^ s3 ^ s1, s1 = s1 ^ s2 ^ s0,
            // s2 = s2 ^ s0 ^ (s1 << 9), s3 = rotl(s3 ^ s1, 11).
            [
                s0.xor3(s3, s1),
                s1.xor3(s2, s0),
                s2.xor3(s0, s1.shl9()),
                s3.xor(s1).rotl11(),
            ]
        } else {
            // Xoshiro128++ as published.
            let t = s1.shl9();
            let s2 = s2.xor(s0);
            let s3 = s3.xor(s1);
            let s1 = s1.xor(s2);
            let s0 = s0.xor(s3);
            [s0, s1, s2.xor(t), s3.rotl11()]
        };
        result
    }
}

/// Where the floats of a step come from and go to.
pub(crate) trait Out<V: Simd16> {
    /// Sixteen elements at slice position `i`.
    unsafe fn full(&mut self, i: usize, m: V::M);
    /// Lanes `lo..lo + cnt` of a step, at slice positions `i..i + cnt`.
    unsafe fn partial(&mut self, i: usize, m: V::M, lo: usize, cnt: usize);
}

/// Where the keep bits of a step go.
pub(crate) trait Sink: Sized {
    /// The keep bits of the next `cnt` elements (bit 0 first).
    unsafe fn push(&mut self, bits: u32, cnt: usize);
    /// The keep bits of the next 64 elements.
    #[inline(always)]
    unsafe fn push_word(&mut self, bits: u64) {
        self.push(bits as u32, 32);
        self.push((bits >> 32) as u32, 32);
    }
    /// A sink for the elements from `ahead` on, written independently of
    /// this one; `None` where that cannot be done.
    unsafe fn fork(&self, _ahead: usize) -> Option<Self> {
        None
    }
    /// Called once when the piece is done.
    unsafe fn finish(&mut self) {}
}

/// No output.
pub(crate) struct NoOut;
impl<V: Simd16> Out<V> for NoOut {
    #[inline(always)]
    unsafe fn full(&mut self, _: usize, _: V::M) {}
    #[inline(always)]
    unsafe fn partial(&mut self, _: usize, _: V::M, _: usize, _: usize) {}
}

/// No mask.
pub(crate) struct NoSink;
impl Sink for NoSink {
    #[inline(always)]
    unsafe fn push(&mut self, _: u32, _: usize) {}
    #[inline(always)]
    unsafe fn fork(&self, _: usize) -> Option<Self> {
        Some(NoSink)
    }
}

/// `dst[i] = keep ? src[i] * s : +0.0`; `src` may equal `dst`.
pub(crate) struct Scaled<V: Simd16> {
    pub src: *const f32,
    pub dst: *mut f32,
    pub s: V::F,
}

impl<V: Simd16> Scaled<V> {
    #[inline(always)]
    pub(crate) unsafe fn new(src: *const f32, dst: *mut f32, s: f32) -> Self {
        Scaled {
            src,
            dst,
            s: V::splat_f(s),
        }
    }
}

impl<V: Simd16> Out<V> for Scaled<V> {
    #[inline(always)]
    unsafe fn full(&mut self, i: usize, m: V::M) {
        let y = V::scale_keep(V::load_f(self.src.add(i)), self.s, m);
        V::store_f(self.dst.add(i), y)
    }
    #[inline(always)]
    unsafe fn partial(&mut self, i: usize, m: V::M, lo: usize, cnt: usize) {
        let mut buf = [0f32; LANES];
        core::ptr::copy_nonoverlapping(self.src.add(i), buf.as_mut_ptr().add(lo), cnt);
        let y = V::scale_keep(V::load_f(buf.as_ptr()), self.s, m);
        V::store_f(buf.as_mut_ptr(), y);
        core::ptr::copy_nonoverlapping(buf.as_ptr().add(lo), self.dst.add(i), cnt);
    }
}

/// Packs keep bits LSB-first into whole `u64` words. The piece must start at a
/// word boundary; the last word is written with zeros past the end.
pub(crate) struct BitSink {
    pub words: *mut u64,
    pub acc: u64,
    pub fill: usize,
}

impl Sink for BitSink {
    #[inline(always)]
    unsafe fn push_word(&mut self, bits: u64) {
        if self.fill == 0 {
            self.words.write(bits);
            self.words = self.words.add(1);
        } else {
            self.push(bits as u32, 32);
            self.push((bits >> 32) as u32, 32);
        }
    }
    /// Only at a word boundary (the usual case: offsets that are multiples
    /// of 64), so that the two sinks never share a word.
    #[inline(always)]
    unsafe fn fork(&self, ahead: usize) -> Option<Self> {
        (self.fill == 0 && ahead.is_multiple_of(64)).then(|| BitSink {
            words: self.words.add(ahead / 64),
            acc: 0,
            fill: 0,
        })
    }
    #[inline(always)]
    unsafe fn push(&mut self, bits: u32, cnt: usize) {
        let bits = u64::from(bits);
        self.acc |= bits << self.fill;
        self.fill += cnt;
        if self.fill >= 64 {
            self.words.write(self.acc);
            self.words = self.words.add(1);
            self.fill -= 64;
            // The bits of this push that did not fit (none when fill == 0).
            self.acc = if self.fill == 0 {
                0
            } else {
                bits >> (cnt - self.fill)
            };
        }
    }
    #[inline(always)]
    unsafe fn finish(&mut self) {
        if self.fill > 0 {
            self.words.write(self.acc);
        }
    }
}

/// One byte per element: 1 kept, 0 dropped.
pub(crate) struct ByteSink<V> {
    pub bytes: *mut u8,
    pub simd: core::marker::PhantomData<V>,
}

impl<V: Simd16> Sink for ByteSink<V> {
    #[inline(always)]
    unsafe fn fork(&self, ahead: usize) -> Option<Self> {
        Some(ByteSink {
            bytes: self.bytes.add(ahead),
            simd: core::marker::PhantomData,
        })
    }
    #[inline(always)]
    unsafe fn push(&mut self, bits: u32, cnt: usize) {
        let mut done = 0;
        while cnt - done >= LANES {
            V::store_bytes16(bits >> done, self.bytes);
            self.bytes = self.bytes.add(LANES);
            done += LANES;
        }
        while done < cnt {
            let bytes = spread_bits((bits >> done) as u8).to_le_bytes();
            let take = (cnt - done).min(8);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.bytes, take);
            self.bytes = self.bytes.add(take);
            done += take;
        }
    }
}

/// Byte `k` of the result is bit `k` of `b` (0 or 1).
#[inline(always)]
fn spread_bits(b: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    // Byte k keeps only bit k of its copy of `b`: 0 or 2^k, at most 0x80, so
    // adding 0x7f sets the byte's top bit exactly when the bit was set.
    let isolated = (u64::from(b) * LOW) & 0x8040_2010_0804_0201;
    ((isolated + 0x7f7f_7f7f_7f7f_7f7f) & 0x8080_8080_8080_8080) >> 7
}

/// Bit `k` of the result is set iff byte `k` of `w` is non-zero.
#[inline(always)]
fn gather_nonzero(w: u64) -> u32 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Top bit of each byte: set iff the byte is non-zero (no carries cross
    // bytes, since the low seven bits are added to 0x7f at most).
    let nz = (((w & !HIGH) + !HIGH) | w) & HIGH;
    // Multiply-gather: byte k's bit lands on bit 56 + k, with no carries.
    ((nz >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// `N` whole steps of 16 elements from slice position `i`.
#[inline(always)]
unsafe fn steps<V: Simd16, O: Out<V>, K: Sink, const N: usize>(
    lanes: &mut Lanes<V>,
    t: V,
    out: &mut O,
    sink: &mut K,
    i: usize,
) {
    // Plain loops only: closures here would not inherit the caller's
    // `#[target_feature]`, and the intrinsics in them would stop inlining.
    let mut bits = 0u32;
    for u in 0..N {
        let m = lanes.next().keep(t);
        out.full(i + u * LANES, m);
        bits |= V::mask_bits(m) << (16 * (u % 2));
        if u % 2 == 1 {
            sink.push(bits, 2 * LANES);
            bits = 0;
        }
    }
    if N % 2 == 1 {
        sink.push(bits, LANES);
    }
}

/// Runs stream v1 over the `n` elements at global indices `g0..g0 + n`,
/// handing each step's keep mask to `out` (slice positions `0..n`) and its
/// keep bits to `sink`.
///
/// # Safety
/// `V`'s ISA is available; `out` and `sink` are valid for `n` elements;
/// `g0 + n <= 2^64`.
#[inline(always)]
pub(crate) unsafe fn fill<V: Simd16, O: Out<V>, K: Sink>(
    p: &Params,
    g0: u64,
    n: usize,
    out: &mut O,
    sink: &mut K,
) {
    let t = V::prep_threshold(p.threshold);
    let mut i = 0usize;
    while i < n {
        let g = g0 + i as u64;
        let block = g >> 12;
        let j = (g & (BLOCK as u64 - 1)) as usize;
        let take = (BLOCK - j).min(n - i);
        let mut lanes = Lanes::<V>::seed(p.seed, p.stream, block);
        for _ in 0..j / LANES {
            lanes.next();
        }
        // Two whole blocks at once where the ISA has the registers for both:
        // two independent dependency chains keep more of the pipes busy.
        if V::PAIR_BLOCKS && p.pair_blocks && j == 0 && n - i >= 2 * BLOCK {
            if let Some(mut second) = sink.fork(BLOCK) {
                let mut other = Lanes::<V>::seed(p.seed, p.stream, block + 1);
                // Keep bits go out 64 at a time; only one step's masks are
                // live at once (AVX-512 has 7 usable mask registers).
                let mut pending = (0u64, 0u64);
                for step in 0..BLOCK / LANES {
                    let (a, b) = (lanes.next().keep(t), other.next().keep(t));
                    out.full(i + step * LANES, a);
                    out.full(i + BLOCK + step * LANES, b);
                    let shift = 16 * (step % 4);
                    pending.0 |= u64::from(V::mask_bits(a)) << shift;
                    pending.1 |= u64::from(V::mask_bits(b)) << shift;
                    if step % 4 == 3 {
                        sink.push_word(pending.0);
                        second.push_word(pending.1);
                        pending = (0, 0);
                    }
                }
                *sink = second;
                i += 2 * BLOCK;
                continue;
            }
        }
        // `k`: elements of this block done. Head first: a step that starts
        // before `g`, or that the piece ends inside.
        let mut k = 0usize;
        let lo = j % LANES;
        if lo != 0 || take < LANES {
            let cnt = (LANES - lo).min(take);
            let m = lanes.next().keep(t);
            out.partial(i, m, lo, cnt);
            sink.push((V::mask_bits(m) >> lo) & ((1u32 << cnt) - 1), cnt);
            k = cnt;
        }
        // Whole steps: `V::UNROLL` at a time, then one by one.
        while k + V::UNROLL * LANES <= take {
            if V::UNROLL == 4 {
                steps::<V, O, K, 4>(&mut lanes, t, out, sink, i + k);
            } else {
                steps::<V, O, K, 2>(&mut lanes, t, out, sink, i + k);
            }
            k += V::UNROLL * LANES;
        }
        while k + LANES <= take {
            steps::<V, O, K, 1>(&mut lanes, t, out, sink, i + k);
            k += LANES;
        }
        // Tail.
        if k < take {
            let cnt = take - k;
            let m = lanes.next().keep(t);
            out.partial(i + k, m, 0, cnt);
            sink.push(V::mask_bits(m) & ((1u32 << cnt) - 1), cnt);
        }
        i += take;
    }
    sink.finish();
}

/// Where [`apply_mask`] reads the keep decisions from.
#[derive(Clone, Copy)]
pub(crate) enum MaskIn {
    /// Bit `i % 64` of word `i / 64`.
    Bits(*const u64),
    /// `bytes[i] != 0`.
    Bytes(*const u8),
}

/// `dst[i] = keep(i) ? src[i] * s : +0.0` with `keep(i)` read from a mask.
///
/// # Safety
/// `V`'s ISA is available; `src`, `dst` valid for `n` floats (may be equal);
/// the mask valid for `n` bits or bytes.
#[inline(always)]
pub(crate) unsafe fn apply_mask<V: Simd16>(
    mask: MaskIn,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    s: f32,
) {
    let mut out = Scaled::<V>::new(src, dst, s);
    let mut i = 0;
    while i + LANES <= n {
        out.full(i, stored_mask::<V>(mask, i));
        i += LANES;
    }
    if i < n {
        let m = match mask {
            MaskIn::Bits(_) => stored_mask::<V>(mask, i),
            MaskIn::Bytes(bytes) => {
                let mut w = [0u8; LANES];
                core::ptr::copy_nonoverlapping(bytes.add(i), w.as_mut_ptr(), n - i);
                V::mask_from_bytes(w.as_ptr())
            }
        };
        out.partial(i, m, 0, n - i);
    }
}

/// The keep mask of elements `i..i + 16` of a stored mask; `i` is a
/// multiple of 16, so the 16 bits never straddle two words.
///
/// # Safety
/// `V`'s ISA is available; the mask holds those elements (for bytes: all
/// 16 of them).
#[inline(always)]
unsafe fn stored_mask<V: Simd16>(mask: MaskIn, i: usize) -> V::M {
    match mask {
        MaskIn::Bits(words) => {
            V::mask_from_bits((words.add(i / 64).read() >> (i % 64)) as u32 & 0xffff)
        }
        MaskIn::Bytes(bytes) => V::mask_from_bytes(bytes.add(i)),
    }
}

/// Where a forward call reads and writes. `dst` null: mask only.
#[derive(Clone, Copy)]
pub(crate) struct Io {
    pub src: *const f32,
    pub dst: *mut f32,
    pub mask: MaskOut,
}

/// Where a forward call writes its keep mask.
#[derive(Clone, Copy)]
pub(crate) enum MaskOut {
    None,
    /// Whole words; the piece starts at a word boundary.
    Bits(*mut u64),
    Bytes(*mut u8),
}

impl MaskOut {
    /// The same buffer, read as a stored mask (`None` for no mask).
    pub(crate) fn as_input(self) -> Option<MaskIn> {
        match self {
            MaskOut::None => None,
            MaskOut::Bits(w) => Some(MaskIn::Bits(w.cast_const())),
            MaskOut::Bytes(b) => Some(MaskIn::Bytes(b.cast_const())),
        }
    }
}

#[inline(always)]
unsafe fn with_sink<V: Simd16, O: Out<V>>(
    p: &Params,
    g0: u64,
    n: usize,
    out: &mut O,
    mask: MaskOut,
) {
    match mask {
        MaskOut::None => fill::<V, O, _>(p, g0, n, out, &mut NoSink),
        MaskOut::Bits(words) => {
            let mut sink = BitSink {
                words,
                acc: 0,
                fill: 0,
            };
            fill::<V, O, _>(p, g0, n, out, &mut sink)
        }
        MaskOut::Bytes(bytes) => {
            let mut sink = ByteSink::<V> {
                bytes,
                simd: core::marker::PhantomData,
            };
            fill::<V, O, _>(p, g0, n, out, &mut sink)
        }
    }
}

/// Stream-v1 forward of `n` elements at global index `g0`.
///
/// # Safety
/// `V`'s ISA is available; `io.src`/`io.dst` valid for `n` floats unless
/// `dst` is null; the mask valid for `n` elements; `g0 + n <= 2^64`.
#[inline(always)]
pub(crate) unsafe fn forward_generic<V: Simd16>(p: &Params, g0: u64, n: usize, io: Io) {
    if io.dst.is_null() {
        with_sink::<V, NoOut>(p, g0, n, &mut NoOut, io.mask)
    } else {
        let mut out = Scaled::<V>::new(io.src, io.dst, p.scale);
        with_sink(p, g0, n, &mut out, io.mask)
    }
}
