//! The shared harness: one table of (entry point x element type), run once
//! per ISA (BLAKE3's pattern). Every path is compared bit for bit with the
//! independent oracle, the `dropkit-reference` crate.
#![allow(dead_code)]

use dropkit::half::{bf16, f16};
use dropkit::{mask_words, Dropout, Element, Isa, MaskIn, MaskOut, Scaling, Site, Threading};
use dropkit_reference as reference;

/// Lengths around every vector (16) and block (4096) boundary.
pub const LENGTHS: [usize; 12] = [
    0,
    1,
    15,
    16,
    17,
    255,
    256,
    4095,
    4096,
    4097,
    3 * 4096 + 5,
    100003,
];

/// Rates that matter: the edges, tiny, common, and next to 1.
pub const RATES: [f64; 6] = [0.0, 1e-9, 0.1, 0.5, 1.0 - 1e-7, 1.0];

/// Offsets around lane, block and 32-bit counter boundaries, and the end of
/// the index space.
pub fn offsets(len: usize) -> [u64; 9] {
    [
        0,
        1,
        15,
        4095,
        4096,
        (1 << 32) - 3,
        (1 << 40) - 2000, // the lane counter carries into its second word
        (1 << 40) + 7,
        u64::MAX - len as u64,
    ]
}

/// The oracle's view of a `Dropout` (built from its public accessors only).
pub fn config(d: &Dropout) -> reference::Config {
    reference::Config {
        rate: d.rate(),
        seed: d.seed(),
        scaling: match d.scaling() {
            Scaling::Classic => reference::Scaling::Classic,
            Scaling::Alpha => reference::Scaling::Alpha,
            _ => reference::Scaling::Inverted,
        },
    }
}

/// The oracle's training forward pass.
pub fn rforward<E: Elem>(d: &Dropout, stream: u64, offset: u64, x: &[E]) -> Vec<E> {
    config(d).forward(stream, offset, x)
}

/// The oracle's keep decisions.
pub fn rkeep(d: &Dropout, stream: u64, offset: u64, n: usize) -> Vec<bool> {
    config(d).keep_mask(stream, offset, n)
}

/// The oracle's inference.
pub fn rinference<E: Elem>(d: &Dropout, x: &[E]) -> Vec<E> {
    config(d).inference(x)
}

/// An element type under test: dropkit's and the oracle's, with inputs.
pub trait Elem: Element + reference::Value {
    const NAME: &'static str;
    /// Special values: NaN payloads (quiet and signalling), infinities,
    /// signed zeros, subnormals, the largest finite values.
    fn specials() -> Vec<Self>;
    /// An ordinary value from 32 random bits.
    fn ordinary(r: u32) -> Self;
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
}

impl Elem for f32 {
    const NAME: &'static str = "f32";
    fn specials() -> Vec<Self> {
        [
            0x7fc0_0000u32, // quiet NaN
            0xffc0_1234,    // negative NaN with payload
            0x7fa0_0001,    // signalling NaN
            0x7f80_0000,    // +inf
            0xff80_0000,    // -inf
            0x8000_0000,    // -0.0
            0x0000_0000,    // +0.0
            0x0000_0001,    // smallest subnormal
            0x807f_ffff,    // largest negative subnormal
            0x7f7f_ffff,    // f32::MAX: its product overflows
        ]
        .map(f32::from_bits)
        .to_vec()
    }
    fn ordinary(r: u32) -> Self {
        (r as f32 / u32::MAX as f32) * 8.0 - 4.0
    }
    fn from_f32(v: f32) -> Self {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl Elem for f64 {
    const NAME: &'static str = "f64";
    fn specials() -> Vec<Self> {
        [
            0x7ff8_0000_0000_0000u64,
            0xfff8_0000_1234_5678,
            0x7ff0_0000_0000_0001,
            0x7ff0_0000_0000_0000,
            0xfff0_0000_0000_0000,
            0x8000_0000_0000_0000,
            0,
            1,
            0x800f_ffff_ffff_ffff,
            0x7fef_ffff_ffff_ffff,
        ]
        .map(f64::from_bits)
        .to_vec()
    }
    fn ordinary(r: u32) -> Self {
        (f64::from(r) / f64::from(u32::MAX)) * 8.0 - 4.0 + f64::from(r) * 1e-13
    }
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl Elem for f16 {
    const NAME: &'static str = "f16";
    fn specials() -> Vec<Self> {
        [
            0x7e00u16, 0xfe12, 0x7c01, 0x7d55, 0x7c00, 0xfc00, 0x8000, 0, 1, 0x83ff, 0x03ff,
            0x0400, 0x7bff, // 65504: times 1/0.9 overflows to infinity
            0xfbff, 0x3c01, 0x3bff,
        ]
        .map(f16::from_bits)
        .to_vec()
    }
    fn ordinary(r: u32) -> Self {
        // Every bit pattern but NaN/inf: all exponents, subnormals, ties.
        let h = r as u16;
        f16::from_bits(if h & 0x7c00 == 0x7c00 { h & 0x83ff } else { h })
    }
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

impl Elem for bf16 {
    const NAME: &'static str = "bf16";
    fn specials() -> Vec<Self> {
        [
            0x7fc0u16, 0xffc1, 0x7f81, 0x7fa5, 0x7f80, 0xff80, 0x8000, 0, 1, 0x807f, 0x007f,
            0x0080, 0x7f7f, 0xff7f, 0x3f81, 0x3f7f,
        ]
        .map(bf16::from_bits)
        .to_vec()
    }
    fn ordinary(r: u32) -> Self {
        let h = r as u16;
        bf16::from_bits(if h & 0x7f80 == 0x7f80 { h & 0x807f } else { h })
    }
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
}

/// Inputs that mix ordinary values with the type's special values.
pub fn inputs_of<E: Elem>(n: usize, salt: u32) -> Vec<E> {
    let special = E::specials();
    let mut state = 0x9e37_79b9u32 ^ salt;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 7 == 3 {
                special[(state as usize) % special.len()]
            } else {
                E::ordinary(state)
            }
        })
        .collect()
}

/// `f32` inputs (the common case of many tests).
pub fn inputs(n: usize, salt: u32) -> Vec<f32> {
    inputs_of(n, salt)
}

/// Raw bits, widened, for bit-exact comparisons of any type.
pub fn bits<E: Elem>(v: &[E]) -> Vec<u64> {
    v.iter().map(|x| x.bits()).collect()
}

/// Proptest cases per property: `PROPTEST_CASES` (CI raises it) or `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Keep bits packed LSB-first, `ceil(n / 64)` words, zero past the end.
pub fn pack(keep: &[bool]) -> Vec<u64> {
    keep.chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |w, (i, &k)| w | (u64::from(k) << i))
        })
        .collect()
}

/// A buffer whose slice `[..n]` starts `misalign` elements past a 64-byte
/// boundary.
pub struct Unaligned<E> {
    buf: Vec<E>,
    start: usize,
    n: usize,
}

impl<E: Elem> Unaligned<E> {
    pub fn new(data: &[E], misalign: usize) -> Self {
        let fill = E::specials()[0];
        let mut buf = vec![fill; data.len() + 64];
        let start = buf.as_ptr().align_offset(64) + misalign % 16;
        buf[start..start + data.len()].copy_from_slice(data);
        Unaligned {
            buf,
            start,
            n: data.len(),
        }
    }
    /// A buffer of `n` NaNs.
    pub fn garbage(n: usize, misalign: usize) -> Self {
        Self::new(&vec![E::specials()[0]; n], misalign)
    }
    pub fn get(&self) -> &[E] {
        &self.buf[self.start..self.start + self.n]
    }
    pub fn get_mut(&mut self) -> &mut [E] {
        &mut self.buf[self.start..self.start + self.n]
    }
    /// Elements around the slice were not touched.
    pub fn guard_intact(&self) -> bool {
        let fill = E::specials()[0].bits();
        self.buf[..self.start]
            .iter()
            .chain(&self.buf[self.start + self.n..])
            .all(|v| v.bits() == fill)
    }
}

/// Checks every forward, mask, backward and inference path of `d` (its ISA
/// and threading as set) on element type `E` against the oracle's keep
/// decisions `keep` (the same for every type).
pub fn check_type<E: Elem>(
    d: Dropout,
    stream: u64,
    offset: u64,
    keep: &[bool],
    salt: u32,
    misalign: usize,
) {
    let n = keep.len();
    let x = inputs_of::<E>(n, salt);
    let ctx = format!(
        "{} isa {:?} threading {:?} rate {} scaling {:?} seed {} stream {stream} offset {offset} n {n} misalign {misalign}",
        E::NAME,
        d.isa(),
        d.threading(),
        d.rate(),
        d.scaling(),
        d.seed()
    );
    let cfg = config(&d);
    let want = bits(&cfg.apply(keep, &x));
    let want_bits = pack(keep);
    let want_bytes: Vec<u8> = keep.iter().map(|&k| u8::from(k)).collect();

    let site = Site::new(stream).at(offset);
    let from = Site::default();
    let src = Unaligned::new(&x, misalign);
    let mut out = Unaligned::<E>::garbage(n, misalign + 3);
    d.at(site).forward(src.get(), out.get_mut()).unwrap();
    assert_eq!(bits(out.get()), want, "forward: {ctx}");
    assert!(out.guard_intact(), "forward wrote outside: {ctx}");

    let mut inplace = Unaligned::new(&x, misalign);
    d.at(site).forward_in_place(inplace.get_mut()).unwrap();
    assert_eq!(bits(inplace.get()), want, "forward_in_place: {ctx}");
    assert!(inplace.guard_intact(), "in place wrote outside: {ctx}");

    // Backward without a mask is the same kernel on the gradient.
    let mut dx = Unaligned::<E>::garbage(n, misalign + 5);
    d.at(site).backward(src.get(), dx.get_mut()).unwrap();
    assert_eq!(bits(dx.get()), want, "backward: {ctx}");
    let mut dxi = Unaligned::new(&x, misalign + 2);
    d.at(site).backward_in_place(dxi.get_mut()).unwrap();
    assert_eq!(bits(dxi.get()), want, "backward_in_place: {ctx}");

    // Masks written with the output, pre-filled with garbage so that a bit
    // the kernel forgets to clear shows.
    let mut words = vec![u64::MAX; mask_words(n)];
    let mut y = vec![E::specials()[0]; n];
    d.at(site)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(bits(&y), want, "forward_with_mask output: {ctx}");
    assert_eq!(words, want_bits, "forward_with_mask bits: {ctx}");

    let mut bytes = vec![7u8; n];
    let mut y = vec![E::specials()[0]; n];
    d.at(site)
        .mask_out(MaskOut::Bytes(&mut bytes))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(bits(&y), want, "forward_with_byte_mask output: {ctx}");
    assert_eq!(bytes, want_bytes, "forward_with_byte_mask bytes: {ctx}");

    // Backward from the stored masks equals the mask-free backward.
    let mut dx = Unaligned::<E>::garbage(n, misalign + 1);
    d.at(from)
        .mask_in(MaskIn::Bits(&want_bits))
        .backward(src.get(), dx.get_mut())
        .unwrap();
    assert_eq!(bits(dx.get()), want, "backward_from_mask: {ctx}");
    let mut dxi = Unaligned::new(&x, misalign + 7);
    d.at(from)
        .mask_in(MaskIn::Bits(&want_bits))
        .backward_in_place(dxi.get_mut())
        .unwrap();
    assert_eq!(bits(dxi.get()), want, "backward_from_mask_in_place: {ctx}");
    // Any non-zero byte means kept.
    let loud: Vec<u8> = want_bytes.iter().map(|&b| b * 0x80).collect();
    let mut dx = Unaligned::<E>::garbage(n, misalign + 9);
    d.at(from)
        .mask_in(MaskIn::Bytes(&loud))
        .backward(src.get(), dx.get_mut())
        .unwrap();
    assert_eq!(bits(dx.get()), want, "backward_from_byte_mask: {ctx}");
    let mut dxi = Unaligned::new(&x, misalign);
    d.at(from)
        .mask_in(MaskIn::Bytes(&want_bytes))
        .backward_in_place(dxi.get_mut())
        .unwrap();
    assert_eq!(
        bits(dxi.get()),
        want,
        "backward_from_byte_mask_in_place: {ctx}"
    );

    let want_inf = bits(&cfg.inference(&x));
    let mut y = vec![E::specials()[0]; n];
    d.inference(&x, &mut y).unwrap();
    assert_eq!(bits(&y), want_inf, "inference: {ctx}");
    let mut z = x.clone();
    d.inference_in_place(&mut z).unwrap();
    assert_eq!(bits(&z), want_inf, "inference_in_place: {ctx}");
}

/// Every entry point on every element type for one case; the masks alone
/// are checked once (they do not depend on the type).
pub fn check_case(d: Dropout, stream: u64, offset: u64, n: usize, salt: u32, misalign: usize) {
    let keep = rkeep(&d, stream, offset, n);
    let want_bits = pack(&keep);
    let mut words = vec![0x5555_5555_5555_5555u64; mask_words(n)];
    let site = Site::new(stream).at(offset);
    d.mask(site, MaskOut::Bits(&mut words), n).unwrap();
    assert_eq!(words, want_bits, "mask_bits: {d:?} {stream} {offset} {n}");
    let mut bytes = vec![9u8; n];
    d.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
    assert!(
        bytes.iter().zip(&keep).all(|(&b, &k)| b == u8::from(k)),
        "mask_bytes: {d:?} {stream} {offset} {n}"
    );
    check_type::<f32>(d, stream, offset, &keep, salt, misalign);
    check_type::<f64>(d, stream, offset, &keep, salt, misalign);
    check_type::<f16>(d, stream, offset, &keep, salt, misalign);
    check_type::<bf16>(d, stream, offset, &keep, salt, misalign);
}

/// The whole edge inventory for one ISA: every length, offset and rate, both
/// sequential and split over the pool, at varying misalignments, in every
/// element type.
pub fn check_isa(isa: Isa) {
    let mut case = 0usize;
    for &n in &LENGTHS {
        for offset in offsets(n) {
            for &rate in &RATES {
                for threading in [Threading::Sequential, Threading::Parallel] {
                    let scaling = if case.is_multiple_of(3) {
                        Scaling::Classic
                    } else {
                        Scaling::Inverted
                    };
                    let d = Dropout::new(rate)
                        .unwrap()
                        .with_seed((case as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                        .with_scaling(scaling)
                        .with_isa(isa)
                        .unwrap()
                        .with_threading(threading);
                    check_case(d, case as u64 ^ 0xABCD, offset, n, n as u32, case % 16);
                    case += 1;
                }
            }
        }
    }
    // Every tail and head length mod 16, at every lane offset.
    for n in 0..=48 {
        for offset in (0..=17).chain([4080, 4090, 4095]) {
            let d = Dropout::new(0.5).unwrap().with_isa(isa).unwrap();
            check_case(
                d,
                11,
                offset,
                n,
                1000 + n as u32,
                (n + offset as usize) % 16,
            );
        }
    }
}

/// Fails unless `isa` runs here when the environment demands it:
/// `DROPKIT_REQUIRE_ISA=avx2,avx512` (set by CI from the CPU's flags; `neon`
/// in CI's aarch64 emulated step) makes a silently skipped ISA an error.
pub fn available_or_required(isa: Isa) -> bool {
    let required = std::env::var("DROPKIT_REQUIRE_ISA").unwrap_or_default();
    let name = format!("{isa:?}").to_lowercase();
    let is_required = required
        .split(',')
        .any(|r| r.trim().eq_ignore_ascii_case(&name));
    assert!(
        isa.is_available() || !is_required,
        "{isa:?} is required by DROPKIT_REQUIRE_ISA but not available"
    );
    isa.is_available()
}
