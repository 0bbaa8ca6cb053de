//! Training-loop pieces: fold_in, the stateful layer and its mask-free
//! backward, a finite-difference gradient check through dropout, and
//! Monte-Carlo dropout.

use crate::common::{bits, inputs};
use dropkit::{
    fold_in, mask_words, mc_mean_var, Dropout, DropoutLayer, Error, Isa, MaskOut, MaskShape,
    Scaling, Site, View, ViewMut,
};

/// `fold_in(a, .)` undone step by step: xor with a key, and the inverse of
/// the SplitMix64 finalizer (xorshifts undone by repeated shifts, odd
/// multipliers by their inverses modulo 2^64). That the inverse exists and
/// round-trips is the proof that distinct `b` never share an output.
fn unfold(a: u64, y: u64) -> u64 {
    fn inverse_odd(c: u64) -> u64 {
        // Newton's iteration doubles the correct low bits each time.
        let mut x = c;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(x)));
        }
        x
    }
    fn unshift(y: u64, s: u32) -> u64 {
        let mut x = y;
        for _ in 0..64 / s {
            x = y ^ (x >> s);
        }
        x
    }
    fn unmix(y: u64) -> u64 {
        let x = unshift(y, 31).wrapping_mul(inverse_odd(0x94d0_49bb_1331_11eb));
        let x = unshift(x, 27).wrapping_mul(inverse_odd(0xbf58_476d_1ce4_e5b9));
        unshift(x, 30)
    }
    let k = dropkit_reference::philox4x32_10(
        [a as u32, (a >> 32) as u32, 0x666f_6c64, 0x5f69_6e00],
        [0, 0],
    );
    let k0 = u64::from(k[0]) | (u64::from(k[1]) << 32);
    let k1 = u64::from(k[2]) | (u64::from(k[3]) << 32);
    unmix(unmix(y) ^ k1) ^ k0
}

#[test]
fn fold_in_is_a_bijection_of_b_for_every_a() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..100_000 {
        let (a, b) = (next(), next());
        assert_eq!(unfold(a, fold_in(a, b)), b, "a {a:#x} b {b:#x}");
    }
    for a in [0, 1, 4, u64::MAX] {
        for b in [0, 1, 2, u64::MAX, 1 << 63] {
            assert_eq!(unfold(a, fold_in(a, b)), b);
        }
    }
    // Distinct steps of one layer: no two of the first million share a
    // stream (what a bijection guarantees for every range).
    for a in [0u64, 7] {
        let mut seen: Vec<u64> = (0..1_000_000).map(|b| fold_in(a, b)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1_000_000, "layer {a}");
    }
}

#[test]
fn fold_in_separates_its_inputs() {
    let mut seen = std::collections::HashSet::new();
    for a in 0..64u64 {
        for b in 0..64u64 {
            assert!(seen.insert(fold_in(a, b)), "collision at ({a}, {b})");
        }
    }
    // Avalanche: flipping one input bit flips about half the output bits.
    let mut flips = 0u32;
    for bit in 0..64 {
        flips += (fold_in(5, 9) ^ fold_in(5, 9 ^ (1 << bit))).count_ones();
        flips += (fold_in(5, 9) ^ fold_in(5 ^ (1 << bit), 9)).count_ones();
    }
    let mean = f64::from(flips) / 128.0;
    assert!((28.0..36.0).contains(&mean), "mean flipped bits {mean}");
}

#[test]
fn layer_recomputation_gives_the_same_mask_and_steps_differ() {
    let d = Dropout::new(0.5).unwrap().with_seed(3);
    let mut layer = DropoutLayer::new(d, 4);
    let x = inputs(5000, 1);
    let (mut y1, mut y2) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    let h1 = layer.at(0).forward(&x, &mut y1).unwrap();
    let h2 = layer.at(0).forward(&x, &mut y2).unwrap(); // checkpoint recomputation
    assert_eq!(h1, h2);
    assert_eq!(bits(&y1), bits(&y2));
    assert_eq!(h1.site().stream, fold_in(fold_in(4, 0), 0));
    assert_eq!(h1.site().offset, 0);
    assert_eq!(
        bits(&y1),
        bits(&crate::common::rforward(&d, h1.site().stream, 0, &x))
    );

    layer.advance();
    let h3 = layer.at(0).forward(&x, &mut y2).unwrap();
    assert_eq!(h3.site().stream, fold_in(fold_in(4, 1), 0));
    assert_ne!(bits(&y1), bits(&y2), "a new step draws a new mask");

    // Backward regenerates the mask of its handle, not of the current step.
    let dy = inputs(5000, 2);
    let mut dx = vec![0f32; dy.len()];
    layer.replay(h1).backward(&dy, &mut dx).unwrap();
    assert_eq!(
        bits(&dx),
        bits(&crate::common::rforward(&d, h1.site().stream, 0, &dy))
    );
    assert_eq!(
        layer.replay(h1).backward(&dy[1..], &mut dx[1..]),
        Err(Error::Size {
            what: "elements (the forward call's)",
            expected: 5000,
            given: 4999
        }),
        "a short dy names the forward's length and the one given"
    );
    assert_eq!(
        layer.replay(h1).backward(&dy, &mut dx[1..]),
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: 5000,
            given: 4999
        })
    );
}

/// Gradient accumulation: micro-batches of one step draw different masks;
/// data-parallel ranks: shards at their global offsets reproduce the mask of
/// the whole batch for any number of ranks; in place and with masks agree.
#[test]
fn layer_micro_batches_ranks_and_masks() {
    let d = Dropout::new(0.5).unwrap().with_seed(11);
    let mut layer = DropoutLayer::new(d, 2);
    let x = inputs(6000, 3);
    let mut whole = vec![0f32; x.len()];
    let h = layer.at(0).forward(&x, &mut whole).unwrap();
    for ranks in [1usize, 2, 3, 7] {
        let mut y = vec![0f32; x.len()];
        let shard = x.len().div_ceil(ranks);
        for (r, (xs, ys)) in x.chunks(shard).zip(y.chunks_mut(shard)).enumerate() {
            layer.at((r * shard) as u64).forward(xs, ys).unwrap();
        }
        assert_eq!(bits(&y), bits(&whole), "{ranks} ranks");
    }
    layer.set_micro_batch(1);
    let mut micro = vec![0f32; x.len()];
    let h1 = layer.at(0).forward(&x, &mut micro).unwrap();
    assert_ne!(h.site().stream, h1.site().stream);
    assert_ne!(bits(&micro), bits(&whole), "micro-batches differ");
    // In place, with a bit mask and with a byte mask: the same outputs.
    let mut z = x.clone();
    layer.at(0).forward_in_place(&mut z).unwrap();
    assert_eq!(bits(&z), bits(&micro));
    let (mut y, mut words, mut bytes) = (vec![0f32; x.len()], vec![0u64; 94], vec![0u8; 6000]);
    layer
        .at(0)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(bits(&y), bits(&micro));
    layer
        .at(0)
        .mask_out(MaskOut::Bytes(&mut bytes))
        .forward(&x, &mut y)
        .unwrap();
    assert!((0..x.len()).all(|i| (words[i / 64] >> (i % 64) & 1 == 1) == (bytes[i] == 1)));
    // Backward in place equals the out-of-place backward.
    let mut dy = x.clone();
    layer.replay(h1).backward_in_place(&mut dy).unwrap();
    assert_eq!(bits(&dy), bits(&micro));
    layer.advance();
    assert_eq!(
        (layer.step(), layer.micro_batch(), layer.layer_id()),
        (1, 0, 2)
    );
}

#[test]
fn layer_evaluation_is_inference() {
    for scaling in [Scaling::Inverted, Scaling::Classic] {
        let d = Dropout::new(0.3).unwrap().with_scaling(scaling);
        let mut layer = DropoutLayer::new(d, 0);
        layer.set_training(false);
        assert!(!layer.is_training());
        let x = inputs(100, 3);
        let mut y = vec![0f32; 100];
        let h = layer.at(0).forward(&x, &mut y).unwrap();
        assert!(!h.training());
        assert_eq!(bits(&y), bits(&crate::common::rinference(&d, &x)));
        let mut dx = vec![0f32; 100];
        layer.replay(h).backward(&x, &mut dx).unwrap();
        assert_eq!(bits(&dx), bits(&y), "{scaling:?}: inference is linear");
    }
}

/// In evaluation mode a mask out is all kept (bits past the end 0), the
/// handle remembers the site, the mask shape, the length and the mode, and
/// its replayed backward pass is inference's gradient, whatever mode and
/// step the layer is in by then.
#[test]
fn layer_evaluation_writes_an_all_kept_mask_and_replays_inference() {
    for scaling in [Scaling::Inverted, Scaling::Classic] {
        for rate in [0.3, 1.0] {
            let d = Dropout::new(rate)
                .unwrap()
                .with_seed(9)
                .with_scaling(scaling);
            let mut layer = DropoutLayer::new(d, 6);
            layer.set_training(false);
            let ctx = format!("{scaling:?} rate {rate}");
            let n = 100;
            let x = inputs(n, 7);
            let dy = inputs(n, 8);
            let want_y = bits(&crate::common::rinference(&d, &x));
            let want_dx = bits(&crate::common::rinference(&d, &dy));

            let mut y = vec![f32::NAN; n];
            let mut words = vec![0x5555_5555_5555_5555u64; mask_words(n)];
            let h = layer
                .at(17)
                .mask_out(MaskOut::Bits(&mut words))
                .forward(&x, &mut y)
                .unwrap();
            assert_eq!(bits(&y), want_y, "{ctx}");
            assert_eq!(words, crate::common::pack(&[true; 100]), "all kept: {ctx}");
            assert_eq!(words[1] >> 36, 0, "no bits past n: {ctx}");
            assert_eq!(h.site(), layer.site(17));
            assert_eq!(h.site(), Site::new(fold_in(fold_in(6, 0), 0)).at(17));
            assert_eq!(h.shape(), MaskShape::elementwise());
            assert_eq!((h.len(), h.is_empty(), h.training()), (n, false, false));

            let mut y = vec![f32::NAN; n];
            let mut bytes = vec![7u8; n];
            let hb = layer
                .at(17)
                .mask_out(MaskOut::Bytes(&mut bytes))
                .forward(&x, &mut y)
                .unwrap();
            assert_eq!(hb, h);
            assert_eq!(bits(&y), want_y, "{ctx}");
            assert!(bytes.iter().all(|&b| b == 1), "all kept bytes: {ctx}");

            // The handle, not the layer's state, decides the mode and site.
            layer.set_training(true);
            layer.advance();
            let mut dx = vec![f32::NAN; n];
            layer.replay(h).backward(&dy, &mut dx).unwrap();
            assert_eq!(bits(&dx), want_dx, "replayed backward: {ctx}");
            let mut g = dy.clone();
            layer.replay(h).backward_in_place(&mut g).unwrap();
            assert_eq!(bits(&g), want_dx, "replayed backward in place: {ctx}");
            let mut g = dy.clone();
            d.replay(h).backward_in_place(&mut g).unwrap();
            assert_eq!(bits(&g), want_dx, "Dropout::replay: {ctx}");

            // A mask shape: its mask elements, all kept; the handle keeps
            // the shape.
            layer.set_training(false);
            let dims = [2, 3, 4];
            let mut y = vec![f32::NAN; 24];
            let mut words = [u64::MAX; 1];
            let h = layer
                .at(5)
                .shape(MaskShape::channels_first())
                .mask_out(MaskOut::Bits(&mut words))
                .forward(
                    &View::dense(&x[..24], &dims).unwrap(),
                    &mut ViewMut::dense(&mut y, &dims).unwrap(),
                )
                .unwrap();
            assert_eq!(bits(&y), want_y[..24], "{ctx}");
            assert_eq!(words, [(1 << 6) - 1], "six mask elements kept: {ctx}");
            assert_eq!(h.shape(), MaskShape::channels_first());
            assert_eq!(
                (h.site(), h.len(), h.training()),
                (layer.site(5), 24, false)
            );
            let mut dx = vec![f32::NAN; 24];
            layer
                .replay(h)
                .backward(
                    &View::dense(&dy[..24], &dims).unwrap(),
                    &mut ViewMut::dense(&mut dx, &dims).unwrap(),
                )
                .unwrap();
            assert_eq!(bits(&dx), want_dx[..24], "shaped replay: {ctx}");
        }
    }
}

/// A replayed backward pass checks the gradient against the forward call's
/// element count: a wrong length is `Error::Size` naming both, and nothing
/// is written, for training and evaluation handles, out of place and in
/// place, elementwise and shaped.
#[test]
fn replayed_backward_with_a_wrong_length_is_a_size_error() {
    let d = Dropout::new(0.5).unwrap().with_seed(2);
    let mut layer = DropoutLayer::new(d, 1);
    let x = inputs(300, 1);
    let mut y = vec![0f32; 300];
    for training in [true, false] {
        layer.set_training(training);
        let h = layer.at(0).forward(&x, &mut y).unwrap();
        assert_eq!((h.len(), h.training()), (300, training));
        let size = |given| Error::Size {
            what: "elements (the forward call's)",
            expected: 300,
            given,
        };
        for len in [0, 299, 301] {
            let dy = inputs(len, 2);
            let mut dx = vec![7.0f32; len];
            assert_eq!(
                layer.replay(h).backward(&dy, &mut dx),
                Err(size(len)),
                "training {training} len {len}"
            );
            assert!(dx.iter().all(|&v| v == 7.0));
            let mut g = vec![7.0f32; len];
            assert_eq!(
                layer.replay(h).backward_in_place(&mut g),
                Err(size(len)),
                "in place, training {training} len {len}"
            );
            assert!(g.iter().all(|&v| v == 7.0));
            assert_eq!(d.replay(h).backward(&dy, &mut dx), Err(size(len)));
            assert!(dx.iter().all(|&v| v == 7.0));
        }
        // Shaped: the same rank and mask shape but another extent.
        let dims = [2, 3, 4];
        let h = layer
            .at(0)
            .shape(MaskShape::channels_first())
            .forward(
                &View::dense(&x[..24], &dims).unwrap(),
                &mut ViewMut::dense(&mut y[..24], &dims).unwrap(),
            )
            .unwrap();
        let other = [2, 3, 5];
        let mut dx = vec![7.0f32; 30];
        assert_eq!(
            layer.replay(h).backward(
                &View::dense(&x[..30], &other).unwrap(),
                &mut ViewMut::dense(&mut dx, &other).unwrap(),
            ),
            Err(Error::Size {
                what: "elements (the forward call's)",
                expected: 24,
                given: 30
            }),
            "shaped, training {training}"
        );
        assert!(dx.iter().all(|&v| v == 7.0));
    }
}

/// loss(W1, W2) = sum(W2 . dropout(relu(W1 x))) for a tiny network with a
/// fixed stream; the analytic gradient through the mask-free backward
/// matches central differences.
#[test]
fn finite_difference_gradient_through_dropout() {
    const IN: usize = 5;
    const HID: usize = 40;
    let d = Dropout::new(0.4).unwrap().with_seed(17);
    let x: Vec<f64> = (0..IN).map(|i| 0.3 * i as f64 - 0.5).collect();
    let w1: Vec<f64> = (0..HID * IN)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 17.0)
        .collect();
    let w2: Vec<f64> = (0..HID)
        .map(|i| ((i * 13 % 7) as f64 - 3.0) / 5.0)
        .collect();
    let stream = 99;

    let loss = |w1: &[f64]| -> f64 {
        let h: Vec<f32> = (0..HID)
            .map(|j| (0..IN).map(|i| w1[j * IN + i] * x[i]).sum::<f64>().max(0.0) as f32)
            .collect();
        let mut hd = vec![0f32; HID];
        d.at(Site::new(stream)).forward(&h, &mut hd).unwrap();
        hd.iter().zip(&w2).map(|(&a, &b)| f64::from(a) * b).sum()
    };

    // Analytic: dL/dhd = w2; dL/dh = backward(w2); dL/dW1 = relu' * dh * x.
    let pre: Vec<f64> = (0..HID)
        .map(|j| (0..IN).map(|i| w1[j * IN + i] * x[i]).sum())
        .collect();
    let dy: Vec<f32> = w2.iter().map(|&v| v as f32).collect();
    let mut dh = vec![0f32; HID];
    d.at(Site::new(stream)).backward(&dy, &mut dh).unwrap();
    assert!(
        dh.contains(&0.0) && dh.iter().any(|&v| v != 0.0),
        "mask is mixed"
    );

    let eps = 1e-3;
    for j in 0..HID {
        for i in 0..IN {
            let analytic = if pre[j] > 0.0 {
                f64::from(dh[j]) * x[i]
            } else {
                0.0
            };
            let (mut plus, mut minus) = (w1.clone(), w1.clone());
            plus[j * IN + i] += eps;
            minus[j * IN + i] -= eps;
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * eps);
            // Skip weights whose unit sits on the ReLU kink.
            if pre[j].abs() > 10.0 * eps {
                assert!(
                    (analytic - numeric).abs() < 1e-3 * (1.0 + analytic.abs()),
                    "w1[{j},{i}]: analytic {analytic} numeric {numeric}"
                );
            }
        }
    }
}

#[test]
fn mc_rows_are_forwards_on_folded_streams() {
    let x = inputs(3000, 4);
    let samples = 7;
    for isa in Isa::available() {
        let d = Dropout::new(0.2)
            .unwrap()
            .with_seed(8)
            .with_isa(isa)
            .unwrap();
        let mut rows = vec![0f32; samples * x.len()];
        d.at(Site::new(5))
            .mc_forward(&x, &mut rows, samples)
            .unwrap();
        for (k, row) in rows.chunks(x.len()).enumerate() {
            let want = crate::common::rforward(&d, fold_in(5, k as u64), 0, &x);
            assert_eq!(bits(row), bits(&want), "{isa:?} sample {k}");
        }
    }
    let d = Dropout::new(0.2).unwrap();
    let mut wrong = vec![0f32; 10];
    assert_eq!(
        d.at(Site::new(5)).mc_forward(&x, &mut wrong, samples),
        Err(Error::Size {
            what: "Monte-Carlo output elements (samples times the input's)",
            expected: samples * x.len(),
            given: 10
        })
    );
    assert!(wrong.iter().all(|&v| v == 0.0));
}

#[test]
fn mc_mean_converges_to_inference() {
    let x: Vec<f32> = (0..50).map(|i| i as f32 / 10.0 - 2.0).collect();
    let samples = 4000;
    for scaling in [Scaling::Inverted, Scaling::Classic] {
        for rate in [0.1, 0.5] {
            let d = Dropout::new(rate).unwrap().with_scaling(scaling);
            let mut rows = vec![0f32; samples * x.len()];
            d.at(Site::new(1))
                .mc_forward(&x, &mut rows, samples)
                .unwrap();
            let (mut mean, mut var) = (vec![0f32; x.len()], vec![0f32; x.len()]);
            mc_mean_var(&rows, x.len(), &mut mean, &mut var).unwrap();
            let mut inf = vec![0f32; x.len()];
            d.inference(&x, &mut inf).unwrap();
            let (p, q, s) = (rate, 1.0 - rate, f64::from(d.scale()));
            for i in 0..x.len() {
                let xi = f64::from(x[i]);
                let sd = (xi * s).abs() * (p * q / samples as f64).sqrt();
                assert!((f64::from(mean[i]) - f64::from(inf[i])).abs() <= 5.0 * sd + 1e-6);
                // Bernoulli variance of s * x: (s x)^2 p q.
                let want_var = (xi * s).powi(2) * p * q;
                assert!(
                    (f64::from(var[i]) - want_var).abs() <= 0.15 * want_var + 1e-6,
                    "var {i}"
                );
            }
        }
    }
}

#[test]
fn mc_mean_var_matches_a_direct_computation() {
    let rows: Vec<f32> = inputs(12 * 9, 5)
        .iter()
        .map(|v| if v.abs() < 1e6 { *v } else { 1.0 })
        .collect();
    let (mut mean, mut var) = ([0f32; 9], [0f32; 9]);
    mc_mean_var(&rows, 9, &mut mean, &mut var).unwrap();
    for i in 0..9 {
        let col: Vec<f64> = rows.chunks(9).map(|r| f64::from(r[i])).collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let v = col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(
            (f64::from(mean[i]) - m).abs() < 1e-5 * (1.0 + m.abs()),
            "mean {i}"
        );
        assert!((f64::from(var[i]) - v).abs() < 1e-5 * (1.0 + v), "var {i}");
    }
    assert_eq!(
        mc_mean_var(&rows[1..], 9, &mut mean, &mut var),
        Err(Error::Size {
            what: "sample elements (a whole number of rows of n, at least one)",
            expected: 108,
            given: 107
        })
    );
    assert_eq!(
        mc_mean_var(&rows, 9, &mut mean[..8], &mut var),
        Err(Error::Size {
            what: "mean and var elements (n)",
            expected: 9,
            given: 8
        })
    );
}

#[test]
fn mask_bits_are_forward_of_ones_on_every_isa() {
    let n = 3 * 4096 + 77;
    for isa in Isa::available() {
        for offset in [0u64, 13, 4096 * 5 + 64] {
            let d = Dropout::new(0.35)
                .unwrap()
                .with_seed(4)
                .with_isa(isa)
                .unwrap();
            let mut y = vec![0f32; n];
            let site = Site::new(2).at(offset);
            d.at(site).forward(&vec![1.0; n], &mut y).unwrap();
            let mut words = vec![0u64; mask_words(n)];
            let mut bytes = vec![0u8; n];
            d.mask(site, MaskOut::Bits(&mut words), n).unwrap();
            d.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
            for i in 0..n {
                let kept = y[i] != 0.0;
                assert_eq!(words[i / 64] >> (i % 64) & 1 == 1, kept, "{isa:?} bit {i}");
                assert_eq!(bytes[i] == 1, kept, "{isa:?} byte {i}");
            }
        }
    }
}
