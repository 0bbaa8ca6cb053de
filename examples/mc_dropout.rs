//! Monte-Carlo dropout on real digits: predictive uncertainty from many
//! dropout masks at test time.
//!
//! ```text
//! cargo run --release --example mc_dropout
//! ```
//!
//! Trains the 64-128-10 network of `mlp_digits` with hidden dropout 0.5 (same
//! data split and seeds), then for each of the 797 test digits runs 100
//! stochastic passes of the hidden layer in one `Call::mc_forward` call,
//! averages the softmax outputs, and compares the mean confidence (largest
//! averaged probability) and the spread across samples on digits the
//! averaged prediction gets right against those it gets wrong.

#[path = "common/mlp.rs"]
mod mlp;

use dropkit::{Dropout, Site};
use mlp::{argmax, evaluate, load_split, train, Net, Train, HID, OUT};

fn main() {
    let (train_set, test_set) = load_split();
    let mut net = Net::new(7);
    let settings = Train {
        epochs: 40,
        batch: 20,
        lr: 0.1,
        hidden_rate: 0.5,
        input_rate: 0.0,
        seed: 11,
    };
    train(&mut net, &train_set, &settings, |_, _| {});
    let (_, det_acc) = evaluate(&net, &test_set);

    let samples = 100;
    let drop = Dropout::new(0.5).expect("rate").with_seed(2025);
    let mut rows = vec![0f32; samples * HID];
    let (mut right, mut conf_right, mut conf_wrong, mut n_wrong) = (0usize, 0f64, 0f64, 0usize);
    let (mut spread_right, mut spread_wrong) = (0f64, 0f64);
    for (t, (x, &y)) in test_set.x.iter().zip(&test_set.y).enumerate() {
        let h = net.hidden(x);
        // Digit t's stream; sample k runs on fold_in(t, k).
        drop.at(Site::new(t as u64))
            .mc_forward(&h, &mut rows, samples)
            .expect("shapes match");
        let probs: Vec<[f32; OUT]> = rows.chunks(HID).map(|r| net.probs(r)).collect();
        let mut mean = [0f32; OUT];
        for p in &probs {
            for k in 0..OUT {
                mean[k] += p[k] / samples as f32;
            }
        }
        let pred = argmax(&mean);
        // Spread: standard deviation across samples of the predicted class's probability.
        let sd = (probs
            .iter()
            .map(|p| (p[pred] - mean[pred]).powi(2))
            .sum::<f32>()
            / samples as f32)
            .sqrt();
        if pred == y {
            right += 1;
            conf_right += f64::from(mean[pred]);
            spread_right += f64::from(sd);
        } else {
            n_wrong += 1;
            conf_wrong += f64::from(mean[pred]);
            spread_wrong += f64::from(sd);
        }
    }
    let n = test_set.y.len();
    println!("test digits: {n}; {samples} dropout samples each (rate 0.5 on the hidden layer)");
    println!(
        "deterministic (inference) accuracy: {:.2}%",
        det_acc * 100.0
    );
    println!(
        "MC-averaged accuracy:              {:.2}%",
        right as f64 / n as f64 * 100.0
    );
    println!(
        "correct ({right}): mean confidence {:.3}, mean spread {:.3}",
        conf_right / right.max(1) as f64,
        spread_right / right.max(1) as f64
    );
    println!(
        "wrong   ({n_wrong}): mean confidence {:.3}, mean spread {:.3}",
        conf_wrong / n_wrong.max(1) as f64,
        spread_wrong / n_wrong.max(1) as f64
    );
}
