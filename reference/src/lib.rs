//! The oracle of dropkit: stream v1, the keep rule and the per-type scaling
//! written to be read, with `rand_xoshiro` as the lane generator and `half`
//! for the 16-bit types.
//!
//! It shares no code with the `dropkit` crate (it does not depend on it) and
//! recomputes the threshold and the factors from the rate itself, so a
//! mistake in the production code cannot hide in its own oracle. Nothing
//! here is fast on purpose; [`random_words`] computes whole blocks so that
//! tests over long slices stay affordable, and is checked against the
//! one-element definition [`random_word`].
#![deny(missing_docs)]

use half::{bf16, f16};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;

/// Global indices per block: each block has its own 16 lane generators.
pub const BLOCK: u64 = 4096;
/// Lanes per block; 16 consecutive indices are one step of all 16 lanes.
pub const LANES: u64 = 16;

/// Philox4x32 with 10 rounds (Salmon et al., SC'11; Random123).
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mulhilo = |a: u32, b: u32| {
        let p = u64::from(a) * u64::from(b);
        ((p >> 32) as u32, p as u32)
    };
    let (mut c, mut k) = (ctr, key);
    for round in 0..10 {
        if round > 0 {
            k = [
                k[0].wrapping_add(0x9E37_79B9),
                k[1].wrapping_add(0xBB67_AE85),
            ];
        }
        let (hi0, lo0) = mulhilo(0xD251_1F53, c[0]);
        let (hi1, lo1) = mulhilo(0xCD9E_8D57, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The Xoshiro128++ state of lane `lane` (0..16) of block `block`: the four
/// Philox4x32-10 output words of counter `[c, c >> 32, stream, stream >> 32]`
/// with `c = (block << 4) | lane` and key `[seed, seed >> 32]`; an all-zero
/// output is replaced by `[1, 0, 0, 0]`.
pub fn lane_state(seed: u64, stream: u64, block: u64, lane: u32) -> [u32; 4] {
    let c = (block << 4) | u64::from(lane & 15);
    let ctr = [
        c as u32,
        (c >> 32) as u32,
        stream as u32,
        (stream >> 32) as u32,
    ];
    let s = philox4x32_10(ctr, [seed as u32, (seed >> 32) as u32]);
    if s == [0; 4] {
        [1, 0, 0, 0]
    } else {
        s
    }
}

/// A `rand_xoshiro` generator started from `state` (little-endian words, the
/// order `Xoshiro128PlusPlus::from_seed` reads).
pub fn xoshiro_from_state(state: [u32; 4]) -> Xoshiro128PlusPlus {
    let mut seed = [0u8; 16];
    for (chunk, word) in seed.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Xoshiro128PlusPlus::from_seed(seed)
}

/// `r(g)`: the stream-v1 word of global index `g`, by the definition.
pub fn random_word(seed: u64, stream: u64, g: u64) -> u32 {
    let (block, j) = (g / BLOCK, g % BLOCK);
    let mut rng = xoshiro_from_state(lane_state(seed, stream, block, (j % LANES) as u32));
    for _ in 0..j / LANES {
        rng.next_u32();
    }
    rng.next_u32()
}

/// `r(offset + i)` for `i in 0..n`. Requires `offset + n <= 2^64`.
pub fn random_words(seed: u64, stream: u64, offset: u64, n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    let mut table: Option<(u64, Vec<u32>)> = None;
    for i in 0..n as u64 {
        let g = offset + i;
        let block = g / BLOCK;
        if table.as_ref().map(|t| t.0) != Some(block) {
            let mut words = vec![0u32; BLOCK as usize];
            for lane in 0..LANES {
                let mut rng = xoshiro_from_state(lane_state(seed, stream, block, lane as u32));
                for step in 0..BLOCK / LANES {
                    words[(step * LANES + lane) as usize] = rng.next_u32();
                }
            }
            table = Some((block, words));
        }
        out.push(table.as_ref().expect("filled above").1[(g % BLOCK) as usize]);
    }
    out
}

/// How kept elements are scaled (mirrors dropkit's modes without importing
/// them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Training `x * (1 / q)`, inference the identity.
    Inverted,
    /// Training `x * 1`, inference `x * q`.
    Classic,
    /// Alpha dropout: kept `x * a + b`, dropped `a * alpha' + b` (see
    /// [`alpha_constants`]); inference the identity; the gradient of a kept
    /// element is `dy * a`.
    Alpha,
}

/// SELU's negative saturation `-lambda * alpha`.
const SELU_SATURATION: f64 = -1.7580993408473766;

/// Alpha dropout's constants at `rate`, in `f64`: `(a, b, dropped)` with
/// `a = 1 / sqrt((1 - p) (1 + p s^2))`, `b = -a s p`, and the dropped value
/// `s a (1 - p)` (`+0.0` at `p = 1`, where `a` is infinite), `s` the SELU
/// saturation.
pub fn alpha_constants(rate: f64) -> (f64, f64, f64) {
    let s = SELU_SATURATION;
    let a = 1.0 / ((1.0 - rate) * (1.0 + rate * s * s)).sqrt();
    let b = -(a * s * rate);
    let dropped = if rate == 1.0 {
        0.0
    } else {
        s * a * (1.0 - rate)
    };
    (a, b, dropped)
}

/// A dropout configuration as the contract states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Probability of dropping, `0 <= rate <= 1`.
    pub rate: f64,
    /// The seed.
    pub seed: u64,
    /// The scaling mode.
    pub scaling: Scaling,
}

impl Config {
    /// The keep threshold for `0 < rate < 1`: `min(round(q * 2^32), 2^32 - 1)`
    /// with `q = 1 - rate` in `f64`. `None` at the edges, where no word is
    /// drawn (rate 0 keeps all, rate 1 drops all).
    ///
    /// Note the tiny rates: for `0 < rate <= 2^-54`, `q` rounds to 1.0 and the
    /// threshold is `2^32 - 1`, so an element whose word is `0xffffffff` is
    /// dropped.
    pub fn threshold(&self) -> Option<u32> {
        if self.rate == 0.0 || self.rate == 1.0 {
            return None;
        }
        let t = ((1.0 - self.rate) * 4294967296.0).round();
        Some(if t >= 4294967295.0 {
            u32::MAX
        } else {
            t as u32
        })
    }

    /// The training factor of kept elements, in `f64`.
    pub fn training_factor(&self) -> f64 {
        match self.scaling {
            Scaling::Inverted => 1.0 / (1.0 - self.rate),
            Scaling::Classic => 1.0,
            Scaling::Alpha => alpha_constants(self.rate).0,
        }
    }

    /// The keep decision of each element of a slice at `offset`.
    pub fn keep_mask(&self, stream: u64, offset: u64, n: usize) -> Vec<bool> {
        match self.threshold() {
            None => vec![self.rate == 0.0; n],
            Some(t) => random_words(self.seed, stream, offset, n)
                .into_iter()
                .map(|r| r < t)
                .collect(),
        }
    }

    /// Training forward pass: kept `x * s` by the type's rule, dropped
    /// `+0.0`; rate 0 returns the input bit for bit.
    pub fn forward<V: Value>(&self, stream: u64, offset: u64, x: &[V]) -> Vec<V> {
        if self.rate == 0.0 {
            return x.to_vec();
        }
        let keep = self.keep_mask(stream, offset, x.len());
        self.forward_from(&keep, x)
    }

    /// The training forward pass through given keep decisions (rate 0:
    /// the input).
    pub fn forward_from<V: Value>(&self, keep: &[bool], x: &[V]) -> Vec<V> {
        if self.rate == 0.0 {
            return x.to_vec();
        }
        if self.rate == 1.0 {
            return vec![V::zero(); x.len()];
        }
        let s = self.training_factor();
        let (a, b, dropped) = alpha_constants(self.rate);
        keep.iter()
            .zip(x)
            .map(|(&k, &v)| match (self.scaling, k) {
                (Scaling::Alpha, true) => v.affine(a, b),
                (Scaling::Alpha, false) => V::from_f64(dropped),
                (_, true) => v.times(s),
                (_, false) => V::zero(),
            })
            .collect()
    }

    /// `x` through a stored keep mask (the backward pass from a mask).
    pub fn apply<V: Value>(&self, keep: &[bool], x: &[V]) -> Vec<V> {
        if self.rate == 0.0 {
            return x.to_vec();
        }
        let s = self.training_factor();
        keep.iter()
            .zip(x)
            .map(|(&k, &v)| if k { v.times(s) } else { V::zero() })
            .collect()
    }

    /// Inference: identity (Inverted, or rate 0); Classic `x * q`, rate 1
    /// `+0.0`.
    pub fn inference<V: Value>(&self, x: &[V]) -> Vec<V> {
        match self.scaling {
            Scaling::Inverted | Scaling::Alpha => x.to_vec(),
            Scaling::Classic if self.rate == 0.0 => x.to_vec(),
            Scaling::Classic if self.rate == 1.0 => vec![V::zero(); x.len()],
            Scaling::Classic => x.iter().map(|v| v.times(1.0 - self.rate)).collect(),
        }
    }
}

impl Config {
    /// The fused epilogue, element by element: `t = x + bias[col]` (no add
    /// without a bias), `d = keep ? t * s : +0.0` (rate 0: `d = t`, no
    /// multiply), `y = residual + d` (no add without a residual), computed
    /// in `f32` (in `f64` for `f64`), one rounding to the type at the end; a
    /// NaN result is the positive quiet NaN without payload.
    /// `x` is rows of `features` elements, the first at column `col0`.
    #[allow(clippy::too_many_arguments)]
    pub fn fused<V: Value>(
        &self,
        stream: u64,
        offset: u64,
        features: usize,
        col0: usize,
        x: &[V],
        bias: Option<&[V]>,
        residual: Option<&[V]>,
    ) -> Vec<V> {
        let keep = self.keep_mask(stream, offset, x.len());
        let s = self.training_factor();
        (0..x.len())
            .map(|i| {
                let b = bias.map(|b| b[(col0 + i) % features]);
                let r = residual.map(|r| r[i]);
                V::fused(x[i], b, r, keep[i], self.rate == 0.0, s)
            })
            .collect()
    }
}

/// The computing types, `f32` and `f64`, with the operations the rules use.
pub trait Wide:
    Copy + core::ops::Add<Output = Self> + core::ops::Mul<Output = Self> + PartialEq
{
    /// `+0.0`.
    const ZERO: Self;
    /// `f` rounded once to this type.
    fn from_f64(f: f64) -> Self;
    /// Any NaN becomes the positive quiet NaN without payload (the fused
    /// epilogue's NaN rule).
    fn canonical(self) -> Self;
}

impl Wide for f32 {
    const ZERO: Self = 0.0;
    fn from_f64(f: f64) -> Self {
        f as f32
    }
    fn canonical(self) -> Self {
        if self.is_nan() {
            f32::NAN
        } else {
            self
        }
    }
}

impl Wide for f64 {
    const ZERO: Self = 0.0;
    fn from_f64(f: f64) -> Self {
        f
    }
    fn canonical(self) -> Self {
        if self.is_nan() {
            f64::NAN
        } else {
            self
        }
    }
}

/// An element type: it computes in [`Value::Wide`] (`f32`, or `f64` for
/// `f64`), exactly widened, and rounds back once.
pub trait Value: Copy + PartialEq + core::fmt::Debug {
    /// The computing type.
    type Wide: Wide;
    /// Exact widening.
    fn wide(self) -> Self::Wide;
    /// One rounding to nearest even (as `half`'s `from_f32` for the half
    /// types).
    fn narrow(v: Self::Wide) -> Self;
    /// The raw bits, widened to `u64`, for bit-exact comparisons.
    fn bits(self) -> u64;
    /// Widened exactly to `f64`.
    fn to_f64(self) -> f64;

    /// `+0.0` of the type.
    fn zero() -> Self {
        Self::narrow(Self::Wide::ZERO)
    }
    /// `self * factor`, the factor rounded once to the computing type, one
    /// multiply, one rounding back.
    fn times(self, factor: f64) -> Self {
        Self::narrow(self.wide() * Self::Wide::from_f64(factor))
    }
    /// `self * a + b` with `a` and `b` rounded once to the computing type,
    /// one multiply, one add (no FMA), one rounding back.
    fn affine(self, a: f64, b: f64) -> Self {
        let (a, b) = (Self::Wide::from_f64(a), Self::Wide::from_f64(b));
        let t = self.wide() * a;
        Self::narrow(t + b)
    }
    /// `f` rounded once to this type.
    fn from_f64(f: f64) -> Self;
    /// One element of the fused epilogue (see [`Config::fused`]); `all`:
    /// rate 0, no multiply.
    fn fused(
        x: Self,
        bias: Option<Self>,
        residual: Option<Self>,
        keep: bool,
        all: bool,
        s: f64,
    ) -> Self {
        let mut t = x.wide();
        if let Some(b) = bias {
            t = t + b.wide();
        }
        let d = if all {
            t
        } else if keep {
            t * Self::Wide::from_f64(s)
        } else {
            Self::Wide::ZERO
        };
        let y = match residual {
            Some(r) => r.wide() + d,
            None => d,
        };
        Self::narrow(y.canonical())
    }
}

impl Value for f32 {
    type Wide = f32;
    fn from_f64(f: f64) -> Self {
        f as f32
    }
    fn wide(self) -> f32 {
        self
    }
    fn narrow(v: f32) -> Self {
        v
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Value for f64 {
    type Wide = f64;
    fn from_f64(f: f64) -> Self {
        f
    }
    fn wide(self) -> f64 {
        self
    }
    fn narrow(v: f64) -> Self {
        v
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Value for f16 {
    type Wide = f32;
    fn from_f64(f: f64) -> Self {
        f16::from_f64(f)
    }
    fn wide(self) -> f32 {
        self.to_f32()
    }
    fn narrow(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
}

impl Value for bf16 {
    type Wide = f32;
    fn from_f64(f: f64) -> Self {
        bf16::from_f64(f)
    }
    fn wide(self) -> f32 {
        self.to_f32()
    }
    fn narrow(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
}
