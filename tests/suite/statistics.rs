//! Statistical properties of the masks: keep fractions, per-lane and
//! per-block fractions, independence of neighbouring keys, and the training
//! mean matching inference. Bounds are 5 standard deviations (a false alarm
//! about once in 1.7 million checks).

use crate::common::proptest_cases;
use dropkit::{mask_words, Dropout, Isa, MaskOut, Scaling, Site};
use proptest::prelude::*;

fn keep_bits(d: &Dropout, stream: u64, offset: u64, n: usize) -> Vec<bool> {
    let mut words = vec![0u64; mask_words(n)];
    d.mask(Site::new(stream).at(offset), MaskOut::Bits(&mut words), n)
        .unwrap();
    (0..n).map(|i| words[i / 64] >> (i % 64) & 1 == 1).collect()
}

/// `|count - n * prob| <= 5 sigma (+1 for the discreteness)`.
fn within_5_sigma(count: usize, n: usize, prob: f64) -> bool {
    let mean = n as f64 * prob;
    let sd = (n as f64 * prob * (1.0 - prob)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sd + 1.0
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(48)))]

    #[test]
    fn keep_fraction_matches_q(
        rate in 0.0f64..=1.0,
        seed in any::<u64>(),
        stream in any::<u64>(),
        offset in prop_oneof![0u64..100_000, 0u64..=(u64::MAX - 100_000)],
        n in 1usize..60_000,
    ) {
        let d = Dropout::new(rate).unwrap().with_seed(seed);
        let kept = keep_bits(&d, stream, offset, n).iter().filter(|&&k| k).count();
        prop_assert!(within_5_sigma(kept, n, d.keep_prob()), "kept {kept} of {n} at q {}", d.keep_prob());
    }

    #[test]
    fn per_lane_and_per_block_fractions(
        rate in 0.05f64..0.95,
        seed in any::<u64>(),
        stream in any::<u64>(),
        block in 0u64..(1 << 40),
    ) {
        let d = Dropout::new(rate).unwrap().with_seed(seed);
        let q = d.keep_prob();
        let blocks = 8;
        let keep = keep_bits(&d, stream, block * 4096, blocks * 4096);
        for lane in 0..16 {
            let kept = keep.iter().skip(lane).step_by(16).filter(|&&k| k).count();
            prop_assert!(within_5_sigma(kept, keep.len() / 16, q), "lane {lane}: {kept}");
        }
        for (b, chunk) in keep.chunks(4096).enumerate() {
            let kept = chunk.iter().filter(|&&k| k).count();
            prop_assert!(within_5_sigma(kept, 4096, q), "block {b}: {kept}");
        }
    }

    /// Masks of neighbouring keys agree as often as independent masks would:
    /// `P(same) = q^2 + p^2`.
    #[test]
    fn neighbouring_keys_are_independent(
        rate in 0.05f64..0.95,
        seed in 0u64..u64::MAX,
        stream in 0u64..u64::MAX,
        offset in 0u64..(1 << 50),
    ) {
        let n = 20_000;
        let d = Dropout::new(rate).unwrap().with_seed(seed);
        let q = d.keep_prob();
        let same_prob = q * q + (1.0 - q) * (1.0 - q);
        let base = keep_bits(&d, stream, offset, n);
        // (name, other mask, shift): a shifted mask compares element g
        // with g + shift, so its agreements form chains (g with g + shift
        // with g + 2 shift ...) whose neighbours are correlated even for
        // independent decisions: cov = P(three agree) - same_prob^2, over
        // the n - shift neighbouring pairs of agreements.
        let others = [
            ("seed+1", keep_bits(&d.with_seed(seed + 1), stream, offset, n), n),
            ("stream+1", keep_bits(&d, stream + 1, offset, n), n),
            ("offset+1", keep_bits(&d, stream, offset + 1, n), 1),
            ("offset+16", keep_bits(&d, stream, offset + 16, n), 16),
            ("offset+4096", keep_bits(&d, stream, offset + 4096, n), 4096),
        ];
        let three = q.powi(3) + (1.0 - q).powi(3);
        for (name, other, shift) in others {
            let same = base.iter().zip(&other).filter(|(a, b)| a == b).count();
            let var = n as f64 * same_prob * (1.0 - same_prob)
                + 2.0 * (n - shift) as f64 * (three - same_prob * same_prob);
            let dev = (same as f64 - n as f64 * same_prob).abs();
            prop_assert!(dev <= 5.0 * var.sqrt() + 1.0, "{name}: {same} of {n} agree");
        }
    }
}

/// Over many streams the mean training output of each element approaches
/// the inference output, in both scaling modes, at several rates.
#[test]
fn training_mean_matches_inference() {
    let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 8.0).collect();
    let samples = 4000;
    for scaling in [Scaling::Inverted, Scaling::Classic] {
        for rate in [0.1, 0.5, 0.9] {
            let d = Dropout::new(rate)
                .unwrap()
                .with_seed(21)
                .with_scaling(scaling);
            let mut sum = vec![0f64; x.len()];
            let mut y = vec![0f32; x.len()];
            for stream in 0..samples {
                d.at(Site::new(stream)).forward(&x, &mut y).unwrap();
                sum.iter_mut()
                    .zip(&y)
                    .for_each(|(s, &v)| *s += f64::from(v));
            }
            let mut inf = vec![0f32; x.len()];
            d.inference(&x, &mut inf).unwrap();
            let (p, q) = (d.rate(), d.keep_prob());
            for i in 0..x.len() {
                let mean = sum[i] / samples as f64;
                // A training output is s*x with probability q, else 0.
                let s = f64::from(d.scale());
                let sd = (f64::from(x[i]) * s).abs() * (p * q / samples as f64).sqrt();
                let diff = (mean - f64::from(inf[i])).abs();
                assert!(
                    diff <= 5.0 * sd + 1e-6,
                    "{scaling:?} rate {rate} element {i}: mean {mean} vs inference {}",
                    inf[i]
                );
            }
        }
    }
}

/// The statistics do not depend on the ISA (they are the same bits), but
/// check the fraction once per ISA so that a broken comparison would show
/// even where the reference agreed by accident.
#[test]
fn keep_fraction_per_isa() {
    for isa in Isa::available() {
        let d = Dropout::new(0.3).unwrap().with_isa(isa).unwrap();
        let n = 200_000;
        let kept = keep_bits(&d, 1, 0, n).iter().filter(|&&k| k).count();
        assert!(within_5_sigma(kept, n, 0.7), "{isa:?}: {kept}");
    }
}
