//! Shared decoding for the dropkit fuzz targets: a case is built from the
//! fuzzer's bytes so that every awkward value occurs (rates from raw `f64`
//! bits, offsets near `u64::MAX`, inputs from raw `f32` bits).
//!
//! Sizes come in two classes, chosen by the case's `scale` byte: most cases
//! are small (up to [`MAX_LEN`] elements, many executions per second), and
//! one in [`BIG_ONE_IN`] is big: near one of the internal size constants of
//! [`dropkit::limits`] that cut the call (on either side, by up to 64
//! elements or by up to [`NEAR`]), or anywhere up to [`BIG_LEN`]; near the
//! largest (the costliest) in one big case in 32. The small class never
//! reaches a generator window ([`limits::WINDOW`]), a thread piece
//! ([`limits::PIECE_MIN`]) or the paired-block limit
//! ([`limits::PAIR_BLOCKS_MAX`]); the big class crosses them all. With
//! `DROPKIT_FUZZ_CLASSES` set, a target prints how often each class ran
//! ([`class`]).

use arbitrary::Arbitrary;
use dropkit::half::{bf16, f16};
use dropkit::limits;
use dropkit::{Dropout, Element, Isa, Scaling, Threading};
use dropkit_reference::Value;

/// Longest slice a case of the small (common) class asks for.
pub const MAX_LEN: usize = 20_000;

/// Longest slice the big class draws uniformly; sizes near a constant may
/// go past it (to just past [`limits::PAIR_BLOCKS_MAX`] for elementwise
/// calls).
pub const BIG_LEN: usize = 1 << 18;

/// One case in this many is of the big class.
pub const BIG_ONE_IN: u8 = 8;

/// How far past a constant a size near it may land: by up to 64 elements
/// (edges mid-word), or by up to this many.
pub const NEAR: usize = 1 << 14;

/// The sizes an elementwise call is cut at (besides [`limits::BLOCK`],
/// which the small class crosses): the thread piece, the generator window
/// and two, the in-pool threading threshold, the size from which pieces
/// grow past [`limits::PIECE_MIN`] on this machine's pool (`4 * PIECE_MIN`
/// per thread), and last the largest, the paired-block limit.
pub fn elementwise_edges() -> &'static [usize] {
    static EDGES: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    EDGES.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        vec![
            limits::PIECE_MIN,
            limits::WINDOW,
            2 * limits::WINDOW,
            limits::PARALLEL_MIN_IN_POOL,
            (4 * limits::PIECE_MIN * threads).min(limits::PAIR_BLOCKS_MAX / 2),
            limits::PAIR_BLOCKS_MAX,
        ]
    })
}

/// Times the execution of a case by size class; with `DROPKIT_FUZZ_CLASSES`
/// set in the environment, prints the totals to stderr (at every power of
/// two of executions, and every 1000): how often each class ran, the time
/// it took, and the largest size reached. Hold it for the whole execution:
/// `let _class = class(&case, n);`.
pub fn class(case: &Case, n: usize) -> Class {
    Class {
        big: case.big(),
        n,
        start: std::time::Instant::now(),
    }
}

/// See [`class`].
pub struct Class {
    big: bool,
    n: usize,
    start: std::time::Instant,
}

impl Drop for Class {
    fn drop(&mut self) {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        use std::sync::OnceLock;
        static RUNS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
        static MICROS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
        static LARGEST: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
        static PRINT: OnceLock<bool> = OnceLock::new();
        let k = usize::from(self.big);
        RUNS[k].fetch_add(1, Relaxed);
        MICROS[k].fetch_add(self.start.elapsed().as_micros() as u64, Relaxed);
        LARGEST[k].fetch_max(self.n as u64, Relaxed);
        if !*PRINT.get_or_init(|| std::env::var_os("DROPKIT_FUZZ_CLASSES").is_some()) {
            return;
        }
        let runs = RUNS[0].load(Relaxed) + RUNS[1].load(Relaxed);
        if runs.is_power_of_two() || runs.is_multiple_of(1000) {
            let line = |k: usize| {
                format!(
                    "{} runs, {:.1} s, largest {}",
                    RUNS[k].load(Relaxed),
                    MICROS[k].load(Relaxed) as f64 * 1e-6,
                    LARGEST[k].load(Relaxed)
                )
            };
            eprintln!(
                "size classes after {runs} runs: small {}; big {}",
                line(0),
                line(1)
            );
        }
    }
}

/// One fuzz case.
#[derive(Arbitrary, Debug)]
pub struct Case {
    /// Raw bits of the rate: NaN, infinities, negatives, subnormals occur.
    pub rate_bits: u64,
    /// Pick a "nice" rate instead of raw bits (most raw bits are invalid).
    pub nice_rate: u8,
    pub seed: u64,
    pub stream: u64,
    pub offset_kind: u8,
    pub offset_raw: u64,
    pub len: u16,
    /// The size class: big when `scale % BIG_ONE_IN == BIG_ONE_IN - 1`;
    /// the other bits pick how a big size is drawn.
    pub scale: u8,
    /// Shape choices from fixed bytes, which do not depend on how many
    /// `cuts` the input has: the big class's pattern, channel count,
    /// extents and layout (`shapes_differential`, `fused_differential`),
    /// and the small shapes' choices past the last cut.
    pub choice: u64,
    pub classic: bool,
    /// Which element type the typed targets run: f32, f64, f16, bf16.
    pub elem: u8,
    /// Raw `f32` bits, repeated to fill the slice.
    pub values: Vec<u32>,
    /// Cut points and other small choices.
    pub cuts: Vec<u16>,
}

impl Case {
    /// The rate: raw bits, or one of the rates that matter, or a fraction.
    pub fn rate(&self) -> f64 {
        match self.nice_rate % 4 {
            0 => f64::from_bits(self.rate_bits),
            1 => [0.0, 1e-9, 0.1, 0.5, 1.0 - 1e-7, 1.0][(self.rate_bits % 6) as usize],
            _ => (self.rate_bits >> 11) as f64 / (1u64 << 53) as f64,
        }
    }

    /// Whether the case is of the big size class (one in [`BIG_ONE_IN`]).
    pub fn big(&self) -> bool {
        self.scale % BIG_ONE_IN == BIG_ONE_IN - 1
    }

    /// The length of the elementwise targets: small, or big near one of
    /// [`elementwise_edges`] (past [`limits::PAIR_BLOCKS_MAX`]).
    pub fn len(&self) -> usize {
        if self.big() {
            self.big_len(elementwise_edges(), BIG_LEN)
        } else {
            usize::from(self.len) % (MAX_LEN + 1)
        }
    }

    /// A big size: near the last (largest) of `edges` for one big case in
    /// 32 (the costliest), else near one of the others or uniform in
    /// `0..=max` (coarsely: `len` is 16 bits), each equally likely. Near an
    /// edge is by up to 64 either side (edges mid-word) or by up to
    /// [`NEAR`].
    pub fn big_len(&self, edges: &[usize], max: usize) -> usize {
        let (len, k) = (usize::from(self.len), usize::from(self.scale / BIG_ONE_IN));
        let (&last, others) = edges.split_last().expect("edges");
        let edge = if k == usize::from(u8::MAX / BIG_ONE_IN) {
            last
        } else if let Some(&e) = others.get(k % (others.len() + 1)) {
            e
        } else {
            return (len * (max + 1)) >> 16;
        };
        let (near, d) = if len & 1 == 0 {
            (64, len >> 1)
        } else {
            (NEAR, len >> 1)
        };
        (edge + d % (2 * near + 1)).saturating_sub(near)
    }

    /// The offset: small, near a 32-bit or block boundary, raw, or as close
    /// to the end of the index space as the length allows.
    pub fn offset(&self) -> u64 {
        self.offset_for(self.len())
    }

    /// [`Case::offset`] for a call of `n` elements.
    pub fn offset_for(&self, n: usize) -> u64 {
        let n = n as u64;
        let o = match self.offset_kind % 5 {
            0 => self.offset_raw % 100_000,
            1 => (1u64 << 32) - 4096 + self.offset_raw % 8192,
            2 => (1u64 << 40) - 4096 + self.offset_raw % 8192,
            3 => u64::MAX - n - self.offset_raw % 64,
            _ => self.offset_raw,
        };
        o.min(u64::MAX - n)
    }

    pub fn input(&self) -> Vec<f32> {
        let n = self.len();
        if self.values.is_empty() {
            return (0..n).map(|i| i as f32 - 100.0).collect();
        }
        (0..n)
            .map(|i| f32::from_bits(self.values[i % self.values.len()]))
            .collect()
    }

    pub fn scaling(&self) -> Scaling {
        if self.classic {
            Scaling::Classic
        } else {
            Scaling::Inverted
        }
    }

    /// [`Case::scaling`], or alpha dropout when the seed says so (one case
    /// in eight), for the targets whose oracle covers it.
    pub fn any_scaling(&self) -> Scaling {
        if self.seed % 8 == 5 {
            Scaling::Alpha
        } else {
            self.scaling()
        }
    }

    /// Every (ISA, threading) pair to check.
    pub fn variants(&self, d: Dropout) -> Vec<Dropout> {
        let mut v = Vec::new();
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel] {
                v.push(
                    d.with_isa(isa)
                        .expect("available")
                        .with_threading(threading),
                );
            }
        }
        v
    }
}

pub fn bits<E: Value>(v: &[E]) -> Vec<u64> {
    v.iter().map(|x| x.bits()).collect()
}

/// Whether `a` and `b` hold the same bits: one byte compare, cheap at any
/// size (an element-by-element compare is traced by the fuzzer's
/// instrumentation at every element).
pub fn same_bits<E: FuzzElem>(a: &[E], b: &[E]) -> bool {
    fn bytes<E: FuzzElem>(v: &[E]) -> &[u8] {
        // SAFETY: a `FuzzElem` has no padding (the trait's contract), so
        // every byte of the slice is initialized; the length is the
        // slice's size in bytes.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
    }
    bytes(a) == bytes(b)
}

/// `assert_eq!` on the bits of two slices of a `FuzzElem` type, by a byte
/// compare ([`same_bits`]); on a difference, the element-by-element
/// `assert_eq!` of their [`bits`] with the message.
#[macro_export]
macro_rules! assert_same {
    ($got:expr, $want:expr, $($msg:tt)+) => {
        if !$crate::same_bits(&$got[..], &$want[..]) {
            assert_eq!($crate::bits(&$got[..]), $crate::bits(&$want[..]), $($msg)+);
        }
    };
}

/// The oracle's view of a `Dropout`.
pub fn config(d: &Dropout) -> dropkit_reference::Config {
    dropkit_reference::Config {
        rate: d.rate(),
        seed: d.seed(),
        scaling: match d.scaling() {
            Scaling::Classic => dropkit_reference::Scaling::Classic,
            Scaling::Alpha => dropkit_reference::Scaling::Alpha,
            _ => dropkit_reference::Scaling::Inverted,
        },
    }
}

/// An element type the fuzz targets run, built from raw bits.
///
/// # Safety
/// The type has no padding bytes ([`same_bits`] compares the bytes).
pub unsafe trait FuzzElem: Element + Value {
    /// A value from two raw words (NaN payloads, subnormals, all occur).
    fn from_raw(a: u32, b: u32) -> Self;
}

// SAFETY: a primitive float, no padding.
unsafe impl FuzzElem for f32 {
    fn from_raw(a: u32, _: u32) -> Self {
        f32::from_bits(a)
    }
}
// SAFETY: a primitive float, no padding.
unsafe impl FuzzElem for f64 {
    fn from_raw(a: u32, b: u32) -> Self {
        f64::from_bits(u64::from(a) << 32 | u64::from(b))
    }
}
// SAFETY: a primitive float, no padding.
unsafe impl FuzzElem for f16 {
    fn from_raw(a: u32, _: u32) -> Self {
        f16::from_bits(a as u16)
    }
}
// SAFETY: a primitive float, no padding.
unsafe impl FuzzElem for bf16 {
    fn from_raw(a: u32, _: u32) -> Self {
        bf16::from_bits(a as u16)
    }
}

impl Case {
    /// The input as element type `E`.
    pub fn input_of<E: FuzzElem>(&self) -> Vec<E> {
        self.values_of(self.len())
    }

    /// `n` input values of type `E`, from the case's raw words (the same
    /// values as [`Case::input_of`] for its length).
    pub fn values_of<E: FuzzElem>(&self, n: usize) -> Vec<E> {
        if self.values.is_empty() {
            return (0..n)
                .map(|i| E::from_raw((i as f32 - 100.0).to_bits(), 0))
                .collect();
        }
        let v = &self.values;
        (0..n)
            .map(|i| E::from_raw(v[i % v.len()], v[(i + 1) % v.len()]))
            .collect()
    }
}

/// Runs `check` on the element type the case picks.
#[macro_export]
macro_rules! for_case_type {
    ($case:expr, $check:ident) => {
        match $case.elem % 4 {
            0 => $check::<f32>(&$case),
            1 => $check::<f64>(&$case),
            2 => $check::<dropkit::half::f16>(&$case),
            _ => $check::<dropkit::half::bf16>(&$case),
        }
    };
}
