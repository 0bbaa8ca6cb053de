//! Shared decoding for the dropkit fuzz targets: a case is built from the
//! fuzzer's bytes so that every awkward value occurs (rates from raw `f64`
//! bits, offsets near `u64::MAX`, inputs from raw `f32` bits).

use arbitrary::Arbitrary;
use dropkit::half::{bf16, f16};
use dropkit::{Dropout, Element, Isa, Scaling, Threading};
use dropkit_reference::Value;

/// Longest slice a case asks for.
pub const MAX_LEN: usize = 20_000;

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

    pub fn len(&self) -> usize {
        usize::from(self.len) % (MAX_LEN + 1)
    }

    /// The offset: small, near a 32-bit or block boundary, raw, or as close
    /// to the end of the index space as the length allows.
    pub fn offset(&self) -> u64 {
        let n = self.len() as u64;
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
pub trait FuzzElem: Element + Value {
    /// A value from two raw words (NaN payloads, subnormals, all occur).
    fn from_raw(a: u32, b: u32) -> Self;
}

impl FuzzElem for f32 {
    fn from_raw(a: u32, _: u32) -> Self {
        f32::from_bits(a)
    }
}
impl FuzzElem for f64 {
    fn from_raw(a: u32, b: u32) -> Self {
        f64::from_bits(u64::from(a) << 32 | u64::from(b))
    }
}
impl FuzzElem for f16 {
    fn from_raw(a: u32, _: u32) -> Self {
        f16::from_bits(a as u16)
    }
}
impl FuzzElem for bf16 {
    fn from_raw(a: u32, _: u32) -> Self {
        bf16::from_bits(a as u16)
    }
}

impl Case {
    /// The input as element type `E`.
    pub fn input_of<E: FuzzElem>(&self) -> Vec<E> {
        let n = self.len();
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
