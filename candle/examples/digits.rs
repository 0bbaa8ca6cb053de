//! Trains the digits MLP of dropkit's `examples/mlp_digits.rs` in candle,
//! three times from the same initial weights and batch order: without
//! dropout, with `candle_nn::Dropout` and with `dropkit_candle::Dropout`
//! (hidden rate 0.5), using candle_nn's SGD and cross-entropy.
//!
//! ```text
//! cargo run --release -p dropkit-candle --example digits [-- --epochs N]
//! ```
//!
//! Data: `data/digits.csv` at the repository root (UCI optical digits, 1797
//! 8x8 images, pixels / 16), shuffled by a Fisher-Yates pass driven by
//! Xoshiro128++ seeded with 2024: the first 1000 rows train, the other 797
//! test. Network 64-128-10 with ReLU, He-uniform weights from Xoshiro128++
//! seed 7 (w1 then w2, row-major), zero biases; SGD lr 0.1, batch 20, 40
//! epochs, batch order from Xoshiro128++ seeded with `fold_in(11, 77)`.
//!
//! The no-dropout and dropkit runs print the same numbers on every run;
//! `candle_nn::Dropout` draws its masks from candle's CPU generator, which
//! cannot be seeded, so its line changes from run to run.

use candle_core::{DType, Device, ModuleT, Tensor, D};
use candle_nn::{Linear, Module, Optimizer, VarBuilder, VarMap, SGD};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;
use std::time::Instant;

const IN: usize = 64;
const HID: usize = 128;
const OUT: usize = 10;
const RATE: f32 = 0.5;

/// Rows of pixels and their labels.
struct Data {
    x: Tensor,
    y: Tensor,
    n: usize,
}

fn load_split() -> candle_core::Result<(Data, Data)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits.csv");
    let text = std::fs::read_to_string(path).map_err(candle_core::Error::wrap)?;
    let mut rows: Vec<(Vec<f32>, u32)> = Vec::new();
    for (k, line) in text.lines().skip(1).enumerate() {
        let v: Vec<f32> = line
            .split(',')
            .map(|f| f.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|e| candle_core::Error::msg(format!("digits.csv row {}: {e}", k + 2)))?;
        if v.len() != IN + 1 {
            candle_core::bail!(
                "digits.csv row {}: {} fields, expected {}",
                k + 2,
                v.len(),
                IN + 1
            );
        }
        rows.push((v[..IN].iter().map(|p| p / 16.0).collect(), v[IN] as u32));
    }
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2024);
    for i in (1..rows.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        rows.swap(i, j);
    }
    let test = rows.split_off(1000);
    let tensors = |rows: Vec<(Vec<f32>, u32)>| -> candle_core::Result<Data> {
        let n = rows.len();
        let x: Vec<f32> = rows.iter().flat_map(|r| r.0.iter().copied()).collect();
        let y: Vec<u32> = rows.iter().map(|r| r.1).collect();
        Ok(Data {
            x: Tensor::from_vec(x, (n, IN), &Device::Cpu)?,
            y: Tensor::from_vec(y, n, &Device::Cpu)?,
            n,
        })
    };
    Ok((tensors(rows)?, tensors(test)?))
}

/// He-style uniform weights from a fixed seed, as dropkit's example.
fn init(map: &mut VarMap) -> candle_core::Result<()> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(7);
    let mut uniform = |fan_in: usize| {
        let a = (6.0 / fan_in as f32).sqrt();
        (rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0) * a
    };
    let w1: Vec<f32> = (0..HID * IN).map(|_| uniform(IN)).collect();
    let w2: Vec<f32> = (0..OUT * HID).map(|_| uniform(HID)).collect();
    map.set_one("l1.weight", Tensor::from_vec(w1, (HID, IN), &Device::Cpu)?)?;
    map.set_one("l2.weight", Tensor::from_vec(w2, (OUT, HID), &Device::Cpu)?)?;
    map.set_one("l1.bias", Tensor::zeros(HID, DType::F32, &Device::Cpu)?)?;
    map.set_one("l2.bias", Tensor::zeros(OUT, DType::F32, &Device::Cpu)?)?;
    Ok(())
}

/// The hidden dropout under test.
enum Hidden {
    None,
    Candle(candle_nn::Dropout),
    Dropkit(dropkit_candle::Dropout),
}

struct Mlp {
    l1: Linear,
    drop: Hidden,
    l2: Linear,
}

impl ModuleT for Mlp {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let h = self.l1.forward(xs)?.relu()?;
        let h = match &self.drop {
            Hidden::None => h,
            Hidden::Candle(d) => d.forward_t(&h, train)?,
            Hidden::Dropkit(d) => d.forward_t(&h, train)?,
        };
        self.l2.forward(&h)
    }
}

/// Mean cross-entropy and accuracy in evaluation mode.
fn evaluate(model: &Mlp, data: &Data) -> candle_core::Result<(f32, f32)> {
    let logits = model.forward_t(&data.x, false)?;
    let loss = candle_nn::loss::cross_entropy(&logits, &data.y)?.to_scalar::<f32>()?;
    let right = logits
        .argmax(D::Minus1)?
        .eq(&data.y)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok((loss, right / data.n as f32))
}

struct Run {
    name: &'static str,
    train: (f32, f32),
    test: (f32, f32),
    seconds: f64,
}

fn train(
    name: &'static str,
    drop: Hidden,
    set: &Data,
    test: &Data,
    epochs: usize,
) -> candle_core::Result<Run> {
    let mut map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    let model = Mlp {
        l1: candle_nn::linear(IN, HID, vb.pp("l1"))?,
        drop,
        l2: candle_nn::linear(HID, OUT, vb.pp("l2"))?,
    };
    init(&mut map)?;
    let mut sgd = SGD::new(map.all_vars(), 0.1)?;
    let mut order: Vec<u32> = (0..set.n as u32).collect();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(dropkit::fold_in(11, 77));
    println!("\n== {name}");
    println!(
        "{:>5} {:>10} {:>9} {:>10} {:>9}",
        "epoch", "train loss", "train acc", "test loss", "test acc"
    );
    let start = Instant::now();
    for epoch in 1..=epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for batch in order.chunks(20) {
            let idx = Tensor::new(batch, &Device::Cpu)?;
            let x = set.x.index_select(&idx, 0)?;
            let y = set.y.index_select(&idx, 0)?;
            let logits = model.forward_t(&x, true)?;
            sgd.backward_step(&candle_nn::loss::cross_entropy(&logits, &y)?)?;
        }
        if epoch % 10 == 0 || epoch == 1 || epoch == epochs {
            let (trl, tra) = evaluate(&model, set)?;
            let (tel, tea) = evaluate(&model, test)?;
            println!(
                "{epoch:>5} {trl:>10.4} {:>8.2}% {tel:>10.4} {:>8.2}%",
                tra * 100.0,
                tea * 100.0
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Run {
        name,
        train: evaluate(&model, set)?,
        test: evaluate(&model, test)?,
        seconds,
    })
}

fn main() -> candle_core::Result<()> {
    let mut epochs = 40;
    let args: Vec<String> = std::env::args().collect();
    if let Some(k) = args.iter().position(|a| a == "--epochs") {
        epochs = args
            .get(k + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| candle_core::Error::msg("--epochs takes a whole number"))?;
    }
    let (set, test) = load_split()?;
    println!(
        "digits: {} train / {} test; 64-128-10 ReLU, candle_nn SGD lr 0.1, batch 20, {epochs} epochs, hidden dropout {RATE}",
        set.n, test.n
    );
    let runs = [
        train("no dropout", Hidden::None, &set, &test, epochs)?,
        train(
            "candle_nn::Dropout",
            Hidden::Candle(candle_nn::Dropout::new(RATE)),
            &set,
            &test,
            epochs,
        )?,
        train(
            "dropkit_candle::Dropout",
            Hidden::Dropkit(
                dropkit_candle::Dropout::new(RATE)
                    .with_seed(11)
                    .with_layer_id(1),
            ),
            &set,
            &test,
            epochs,
        )?,
    ];
    println!("\n== final, after {epochs} epochs");
    println!(
        "| {:<25} | {:>10} | {:>9} | {:>9} | {:>8} | {:>6} |",
        "hidden dropout", "train loss", "train acc", "test loss", "test acc", "time"
    );
    println!(
        "|{:-<27}|{:->12}|{:->11}|{:->11}|{:->10}|{:->8}|",
        "", "", "", "", "", ""
    );
    for r in &runs {
        println!(
            "| {:<25} | {:>10.4} | {:>8.2}% | {:>9.4} | {:>7.2}% | {:>5.1}s |",
            r.name,
            r.train.0,
            r.train.1 * 100.0,
            r.test.0,
            r.test.1 * 100.0,
            r.seconds
        );
    }
    // A check for CI: every run learns the digits.
    for r in &runs {
        if r.test.1 < 0.9 {
            candle_core::bail!(
                "{}: test accuracy {:.2}% is below 90%",
                r.name,
                r.test.1 * 100.0
            );
        }
    }
    Ok(())
}
