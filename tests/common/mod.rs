//! The shared harness: one set of checks, called once per ISA (BLAKE3's
//! pattern). Every path is compared bit for bit with `dropkit::reference`.
#![allow(dead_code)]

use dropkit::{mask_words, reference, Dropout, Isa, Scaling, Threading};

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

/// Inputs that mix ordinary values with NaN (quiet and signalling payloads),
/// infinities, signed zeros and subnormals.
pub fn inputs(n: usize, salt: u32) -> Vec<f32> {
    const SPECIAL: [u32; 10] = [
        0x7fc0_0000, // quiet NaN
        0xffc0_1234, // negative NaN with payload
        0x7fa0_0001, // signalling NaN
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x8000_0000, // -0.0
        0x0000_0000, // +0.0
        0x0000_0001, // smallest subnormal
        0x807f_ffff, // largest negative subnormal
        0x7f7f_ffff, // f32::MAX
    ];
    let mut state = 0x9e37_79b9u32 ^ salt;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 7 == 3 {
                f32::from_bits(SPECIAL[(state as usize) % SPECIAL.len()])
            } else {
                (state as f32 / u32::MAX as f32) * 8.0 - 4.0
            }
        })
        .collect()
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
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

/// A buffer whose slice `[..n]` starts `misalign` floats past a 64-byte
/// boundary.
pub struct Unaligned {
    buf: Vec<f32>,
    start: usize,
    n: usize,
}

impl Unaligned {
    pub fn new(data: &[f32], misalign: usize) -> Self {
        let mut buf = vec![0f32; data.len() + 32];
        let start = buf.as_ptr().align_offset(64) + misalign % 16;
        buf[start..start + data.len()].copy_from_slice(data);
        Unaligned {
            buf,
            start,
            n: data.len(),
        }
    }
    pub fn get(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.n]
    }
    pub fn get_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..self.start + self.n]
    }
}

/// Checks every forward, mask and backward path of `d` (its ISA and
/// threading as set) against the reference for one case.
pub fn check_case(d: Dropout, stream: u64, offset: u64, x: &[f32], misalign: usize) {
    let n = x.len();
    let ctx = format!(
        "isa {:?} threading {:?} rate {} seed {} stream {stream} offset {offset} n {n} misalign {misalign}",
        d.isa(),
        d.threading(),
        d.rate(),
        d.seed()
    );
    let want = bits(&reference::forward(&d, stream, offset, x));
    let keep = reference::keep_mask(&d, stream, offset, n);
    let want_bits = pack(&keep);
    let want_bytes: Vec<u8> = keep.iter().map(|&k| u8::from(k)).collect();

    let src = Unaligned::new(x, misalign);
    let mut out = Unaligned::new(&vec![f32::NAN; n], misalign + 3);
    d.forward(stream, offset, src.get(), out.get_mut()).unwrap();
    assert_eq!(bits(out.get()), want, "forward: {ctx}");

    let mut inplace = Unaligned::new(x, misalign);
    d.forward_in_place(stream, offset, inplace.get_mut())
        .unwrap();
    assert_eq!(bits(inplace.get()), want, "forward_in_place: {ctx}");

    // Backward without a mask is the same kernel on the gradient.
    let mut dx = Unaligned::new(&vec![f32::NAN; n], misalign + 5);
    d.backward(stream, offset, src.get(), dx.get_mut()).unwrap();
    assert_eq!(bits(dx.get()), want, "backward: {ctx}");

    // Masks written with the output, and alone. Pre-fill with garbage so
    // that a bit the kernel forgets to clear shows.
    let mut words = vec![u64::MAX; mask_words(n)];
    let mut y = vec![f32::NAN; n];
    d.forward_with_mask(stream, offset, x, &mut y, &mut words)
        .unwrap();
    assert_eq!(bits(&y), want, "forward_with_mask output: {ctx}");
    assert_eq!(words, want_bits, "forward_with_mask bits: {ctx}");
    let mut words2 = vec![0x5555_5555_5555_5555u64; mask_words(n)];
    d.mask_bits(stream, offset, n, &mut words2).unwrap();
    assert_eq!(words2, want_bits, "mask_bits: {ctx}");

    let mut bytes = vec![7u8; n];
    let mut y = vec![f32::NAN; n];
    d.forward_with_byte_mask(stream, offset, x, &mut y, &mut bytes)
        .unwrap();
    assert_eq!(bits(&y), want, "forward_with_byte_mask output: {ctx}");
    assert_eq!(bytes, want_bytes, "forward_with_byte_mask bytes: {ctx}");
    let mut bytes2 = vec![9u8; n];
    d.mask_bytes(stream, offset, &mut bytes2).unwrap();
    assert_eq!(bytes2, want_bytes, "mask_bytes: {ctx}");

    // Backward from the stored masks equals the mask-free backward.
    let mut dx = Unaligned::new(&vec![f32::NAN; n], misalign + 1);
    d.backward_from_mask(&want_bits, src.get(), dx.get_mut())
        .unwrap();
    assert_eq!(bits(dx.get()), want, "backward_from_mask: {ctx}");
    let mut dxi = Unaligned::new(x, misalign);
    d.backward_from_byte_mask_in_place(&want_bytes, dxi.get_mut())
        .unwrap();
    assert_eq!(
        bits(dxi.get()),
        want,
        "backward_from_byte_mask_in_place: {ctx}"
    );
}

/// The whole edge inventory for one ISA: every length, offset and rate, both
/// sequential and split over the pool, at varying misalignments.
pub fn check_isa(isa: Isa) {
    let mut case = 0usize;
    for &n in &LENGTHS {
        let x = inputs(n, n as u32);
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
                    check_case(d, case as u64 ^ 0xABCD, offset, &x, case % 16);
                    case += 1;
                }
            }
        }
    }
    // Every tail and head length mod 16, at every lane offset.
    for n in 0..=48 {
        let x = inputs(n, 1000 + n as u32);
        for offset in (0..=17).chain([4080, 4090, 4095]) {
            let d = Dropout::new(0.5).unwrap().with_isa(isa).unwrap();
            check_case(d, 11, offset, &x, (n + offset as usize) % 16);
        }
    }
}

/// Fails unless `isa` runs here when the environment demands it:
/// `DROPKIT_REQUIRE_ISA=avx2,avx512` (set by CI from the CPU's flags) makes a
/// silently skipped ISA an error.
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
