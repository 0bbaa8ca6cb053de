//! The reference implementation of stream v1 and of the keep/scale rule:
//! safe, short, written to be read, and the oracle every fast path is tested
//! against bit for bit.
//!
//! Nothing here is fast on purpose. [`random_words`] computes a whole block of
//! 4096 words at a time so that tests over long slices stay affordable; it is
//! checked against the one-element definition [`random_word`].

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;

pub use crate::philox::philox4x32_10;
use crate::{Dropout, Scaling};

/// Global indices per block: each block has its own 16 lane generators.
pub const BLOCK: u64 = 4096;
/// Lanes per block; 16 consecutive indices are one step of all 16 lanes.
pub const LANES: u64 = 16;

/// The Xoshiro128++ state of lane `lane` (0..16) of block `block`: the four
/// Philox4x32-10 output words of counter `[c, c >> 32, stream, stream >> 32]`
/// with `c = (block << 4) | lane` and key `[seed, seed >> 32]`.
///
/// An all-zero output (a Xoshiro fixed point) is replaced by `[1, 0, 0, 0]`.
pub fn lane_state(seed: u64, stream: u64, block: u64, lane: u32) -> [u32; 4] {
    let c = (block << 4) | u64::from(lane & 15);
    let ctr = [
        c as u32,
        (c >> 32) as u32,
        stream as u32,
        (stream >> 32) as u32,
    ];
    let key = [seed as u32, (seed >> 32) as u32];
    let s = philox4x32_10(ctr, key);
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

/// `r(g)`: the stream-v1 random word of global index `g`, by the definition.
pub fn random_word(seed: u64, stream: u64, g: u64) -> u32 {
    let block = g / BLOCK;
    let j = g % BLOCK;
    let lane = (j % LANES) as u32;
    let step = j / LANES;
    let mut rng = xoshiro_from_state(lane_state(seed, stream, block, lane));
    for _ in 0..step {
        rng.next_u32();
    }
    rng.next_u32()
}

/// All 4096 words of one block, in global-index order.
fn block_words(seed: u64, stream: u64, block: u64) -> Vec<u32> {
    let mut words = vec![0u32; BLOCK as usize];
    for lane in 0..LANES as u32 {
        let mut rng = xoshiro_from_state(lane_state(seed, stream, block, lane));
        for step in 0..(BLOCK / LANES) as usize {
            words[step * LANES as usize + lane as usize] = rng.next_u32();
        }
    }
    words
}

/// `r(offset + i)` for `i in 0..n`. Requires `offset + n <= 2^64`.
pub fn random_words(seed: u64, stream: u64, offset: u64, n: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    let mut cached: Option<(u64, Vec<u32>)> = None;
    for i in 0..n as u64 {
        let g = offset + i;
        let block = g / BLOCK;
        if cached.as_ref().map(|(b, _)| *b) != Some(block) {
            cached = Some((block, block_words(seed, stream, block)));
        }
        let (_, words) = cached.as_ref().expect("filled above");
        out.push(words[(g % BLOCK) as usize]);
    }
    out
}

/// The keep threshold of keep probability `q` for `0 < q < 1`:
/// `min(round(q * 2^32), 2^32 - 1)`. An element is kept iff `r(g) < T`.
pub fn threshold(keep_prob: f64) -> u32 {
    let t = (keep_prob * 4294967296.0).round();
    if t >= 4294967295.0 {
        u32::MAX
    } else {
        t as u32
    }
}

/// The keep decision of each element of a slice at `offset`.
pub fn keep_mask(d: &Dropout, stream: u64, offset: u64, n: usize) -> Vec<bool> {
    let q = d.keep_prob();
    if q == 1.0 {
        return vec![true; n];
    }
    if q == 0.0 {
        return vec![false; n];
    }
    let t = threshold(q);
    random_words(d.seed(), stream, offset, n)
        .into_iter()
        .map(|r| r < t)
        .collect()
}

/// Training forward pass: kept elements become `x * s` (one multiply in
/// `f32`), dropped elements `+0.0`; rate 0 returns the input bit for bit.
pub fn forward(d: &Dropout, stream: u64, offset: u64, x: &[f32]) -> Vec<f32> {
    if d.rate() == 0.0 {
        return x.to_vec();
    }
    let s = d.scale();
    keep_mask(d, stream, offset, x.len())
        .into_iter()
        .zip(x)
        .map(|(keep, &v)| if keep { v * s } else { 0.0 })
        .collect()
}

/// Inference: the identity under [`Scaling::Inverted`]; `x * q` under
/// [`Scaling::Classic`] (rate 0 returns the input, rate 1 returns `+0.0`).
pub fn inference(d: &Dropout, x: &[f32]) -> Vec<f32> {
    match d.scaling() {
        Scaling::Inverted => x.to_vec(),
        Scaling::Classic if d.rate() == 0.0 => x.to_vec(),
        Scaling::Classic if d.rate() == 1.0 => vec![0.0; x.len()],
        Scaling::Classic => {
            let q = d.keep_prob() as f32;
            x.iter().map(|&v| v * q).collect()
        }
    }
}
