//! The Rust half of the Monte-Carlo demo: trains dropkit's digits MLP (the
//! 64-128-10 network of `examples/mc_dropout.rs`, same split, seeds and
//! hidden dropout 0.5) and writes, for `mc_dropout.py` to run in ORT:
//!
//! - `weights.bin`: `w1` (128 x 64), `b1`, `w2` (10 x 128), `b2`, f32 LE;
//! - `test_x.bin` (797 x 64 f32), `test_y.bin` (797 u8);
//! - `streams.bin`: the 100 sample streams `fold_in(STREAM, k)` (u64);
//! - `masks.bin`: each sample's hidden-layer keep bits over the whole
//!   797 x 128 test batch (`Dropout::mask`, offset 0), 100 x 1594 u64;
//! - `mean.bin`, `var.bin`: `mc_mean_var` of the 100 samples' softmax
//!   outputs (797 x 10 f32), the samples from `Call::mc_forward` of the
//!   batch's hidden activations;
//! - `meta.txt`: counts, rate, seed, stream, deterministic accuracy.
//!
//! ```text
//! cargo run --release -p dropkit-ort --example mc_train -- OUT_DIR [EPOCHS]
//! python ort/examples/mc_dropout.py OUT_DIR
//! ```

#[allow(dead_code)]
#[path = "../../examples/common/mlp.rs"]
mod mlp;

use std::io::Write;

use dropkit::{fold_in, mask_words, mc_mean_var, Dropout, MaskOut, Site};
use mlp::{evaluate, load_split, train, Net, Train, HID, IN, OUT};

/// Rate, seed and base stream of the Monte-Carlo samples.
const RATE: f64 = 0.5;
const SEED: u64 = 2025;
const STREAM: u64 = 1;
const SAMPLES: usize = 100;

fn write(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create output file");
    f.write_all(bytes).expect("write output file");
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: mc_train OUT_DIR [EPOCHS]"));
    let epochs: usize = args.next().map_or(40, |e| e.parse().expect("EPOCHS"));
    std::fs::create_dir_all(&dir).expect("create OUT_DIR");

    let (train_set, test_set) = load_split();
    let mut net = Net::new(7);
    let settings = Train {
        epochs,
        batch: 20,
        lr: 0.1,
        hidden_rate: RATE,
        input_rate: 0.0,
        seed: 11,
    };
    train(&mut net, &train_set, &settings, |_, _| {});
    let (_, det_acc) = evaluate(&net, &test_set);

    // The whole test batch's hidden activations, one tensor (digit t at
    // rows t * HID..), and 100 samples of its dropout on streams
    // fold_in(STREAM, k), offset 0.
    let n_test = test_set.y.len();
    let hidden: Vec<f32> = test_set.x.iter().flat_map(|x| net.hidden(x)).collect();
    let n = hidden.len();
    let drop = Dropout::new(RATE).expect("rate").with_seed(SEED);
    let mut rows = vec![0f32; SAMPLES * n];
    drop.at(Site::new(STREAM))
        .mc_forward(&hidden, &mut rows, SAMPLES)
        .expect("mc_forward");
    let mut probs = Vec::with_capacity(SAMPLES * n_test * OUT);
    let mut masks = Vec::with_capacity(SAMPLES * mask_words(n));
    let mut streams = Vec::with_capacity(SAMPLES * 8);
    for (k, row) in rows.chunks(n).enumerate() {
        for h in row.chunks(HID) {
            probs.extend_from_slice(&net.probs(h));
        }
        let stream = fold_in(STREAM, k as u64);
        let mut words = vec![0u64; mask_words(n)];
        drop.mask(Site::new(stream), MaskOut::Bits(&mut words), n)
            .expect("mask");
        masks.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        streams.extend_from_slice(&stream.to_le_bytes());
    }
    let (mut mean, mut var) = (vec![0f32; n_test * OUT], vec![0f32; n_test * OUT]);
    mc_mean_var(&probs, n_test * OUT, &mut mean, &mut var).expect("mc_mean_var");

    let mut weights = f32s(&net.w1);
    weights.extend(f32s(&net.b1));
    weights.extend(f32s(&net.w2));
    weights.extend(f32s(&net.b2));
    write(&dir.join("weights.bin"), &weights);
    let xs: Vec<f32> = test_set.x.iter().flatten().copied().collect();
    write(&dir.join("test_x.bin"), &f32s(&xs));
    let ys: Vec<u8> = test_set.y.iter().map(|&y| y as u8).collect();
    write(&dir.join("test_y.bin"), &ys);
    write(&dir.join("streams.bin"), &streams);
    write(&dir.join("masks.bin"), &masks);
    write(&dir.join("mean.bin"), &f32s(&mean));
    write(&dir.join("var.bin"), &f32s(&var));
    let meta = format!(
        "in {IN}\nhidden {HID}\nout {OUT}\ntest {n_test}\nsamples {SAMPLES}\nrate {RATE}\n\
         seed {SEED}\nstream {STREAM}\nepochs {epochs}\ndeterministic_accuracy {det_acc}\n"
    );
    write(&dir.join("meta.txt"), meta.as_bytes());
    println!(
        "trained {epochs} epochs (hidden dropout {RATE}); inference accuracy {:.2}%; wrote {}",
        det_acc * 100.0,
        dir.display()
    );
}
