//! A tiny 64-128-10 ReLU network with plain SGD, shared by the digits
//! examples. Dense loops in f32; dropout through dropkit.

use dropkit::{fold_in, Dropout, DropoutLayer};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;

pub const IN: usize = 64;
pub const HID: usize = 128;
pub const OUT: usize = 10;

/// The digits data set, pixels scaled to [0, 1].
pub struct Data {
    pub x: Vec<[f32; IN]>,
    pub y: Vec<usize>,
}

/// Loads `data/digits.csv` and splits it: a Fisher-Yates shuffle driven by
/// Xoshiro128++ seeded with 2024, then the first 1000 rows for training and
/// the other 797 for testing.
pub fn load_split() -> (Data, Data) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv");
    let text = std::fs::read_to_string(path).expect("data/digits.csv");
    let mut rows: Vec<([f32; IN], usize)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f32> = line
                .split(',')
                .map(|f| f.trim().parse().expect("number"))
                .collect();
            let mut x = [0f32; IN];
            for (d, s) in x.iter_mut().zip(&v[..IN]) {
                *d = s / 16.0;
            }
            (x, v[IN] as usize)
        })
        .collect();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2024);
    for i in (1..rows.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        rows.swap(i, j);
    }
    let test = rows.split_off(1000);
    let split = |rows: Vec<([f32; IN], usize)>| Data {
        x: rows.iter().map(|r| r.0).collect(),
        y: rows.iter().map(|r| r.1).collect(),
    };
    (split(rows), split(test))
}

/// Weights and biases.
#[derive(Clone)]
pub struct Net {
    pub w1: Vec<f32>, // HID x IN
    pub b1: Vec<f32>,
    pub w2: Vec<f32>, // OUT x HID
    pub b2: Vec<f32>,
}

impl Net {
    /// He-style uniform initialisation from a fixed seed.
    pub fn new(seed: u64) -> Net {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let mut uniform = |fan_in: usize| {
            let a = (6.0 / fan_in as f32).sqrt();
            (rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0) * a
        };
        Net {
            w1: (0..HID * IN).map(|_| uniform(IN)).collect(),
            b1: vec![0.0; HID],
            w2: (0..OUT * HID).map(|_| uniform(HID)).collect(),
            b2: vec![0.0; OUT],
        }
    }

    /// Hidden activations (ReLU) of one input.
    pub fn hidden(&self, x: &[f32]) -> Vec<f32> {
        (0..HID)
            .map(|j| {
                let s: f32 = self.w1[j * IN..(j + 1) * IN]
                    .iter()
                    .zip(x)
                    .map(|(w, v)| w * v)
                    .sum();
                (s + self.b1[j]).max(0.0)
            })
            .collect()
    }

    /// Softmax probabilities from hidden activations.
    pub fn probs(&self, h: &[f32]) -> [f32; OUT] {
        let mut z = [0f32; OUT];
        for (k, zk) in z.iter_mut().enumerate() {
            *zk = self.w2[k * HID..(k + 1) * HID]
                .iter()
                .zip(h)
                .map(|(w, v)| w * v)
                .sum::<f32>()
                + self.b2[k];
        }
        softmax(z)
    }
}

pub fn softmax(z: [f32; OUT]) -> [f32; OUT] {
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e = z.map(|v| (v - m).exp());
    let s: f32 = e.iter().sum();
    e.map(|v| v / s)
}

pub fn argmax(p: &[f32]) -> usize {
    (0..p.len()).fold(0, |b, k| if p[k] > p[b] { k } else { b })
}

/// Mean cross-entropy and accuracy without dropout (inference).
pub fn evaluate(net: &Net, data: &Data) -> (f32, f32) {
    let (mut loss, mut right) = (0f32, 0usize);
    for (x, &y) in data.x.iter().zip(&data.y) {
        let p = net.probs(&net.hidden(x));
        loss -= p[y].max(1e-12).ln();
        right += usize::from(argmax(&p) == y);
    }
    (
        loss / data.y.len() as f32,
        right as f32 / data.y.len() as f32,
    )
}

/// Training settings.
pub struct Train {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// Hidden-layer dropout rate (0 = none).
    pub hidden_rate: f64,
    /// Input dropout rate (0 = none).
    pub input_rate: f64,
    pub seed: u64,
}

/// Trains with minibatch SGD; `report(epoch, net)` after each epoch. The
/// dropout masks of a batch come from dropkit: the batch's hidden layer is
/// one tensor, its stream `fold_in(layer id, step)`, and the backward pass
/// regenerates the mask instead of storing it.
pub fn train(net: &mut Net, data: &Data, t: &Train, mut report: impl FnMut(usize, &Net)) {
    let mut hidden = DropoutLayer::new(
        Dropout::new(t.hidden_rate).expect("rate").with_seed(t.seed),
        1,
    );
    let mut input = DropoutLayer::new(
        Dropout::new(t.input_rate).expect("rate").with_seed(t.seed),
        0,
    );
    let mut order: Vec<usize> = (0..data.y.len()).collect();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(fold_in(t.seed, 77));
    for epoch in 1..=t.epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for batch in order.chunks(t.batch) {
            let b = batch.len();
            // Forward: the batch as row-major tensors.
            let mut x0 = Vec::with_capacity(b * IN);
            for &i in batch {
                x0.extend_from_slice(&data.x[i]);
            }
            let mut x = vec![0f32; b * IN];
            // The batch is the layer's whole tensor: offset 0.
            input.at(0).forward(&x0, &mut x).expect("input dropout");
            let mut pre = vec![0f32; b * HID];
            for r in 0..b {
                for j in 0..HID {
                    let s: f32 = net.w1[j * IN..(j + 1) * IN]
                        .iter()
                        .zip(&x[r * IN..(r + 1) * IN])
                        .map(|(w, v)| w * v)
                        .sum();
                    pre[r * HID + j] = s + net.b1[j];
                }
            }
            let h: Vec<f32> = pre.iter().map(|v| v.max(0.0)).collect();
            let mut hd = vec![0f32; b * HID];
            let handle = hidden.at(0).forward(&h, &mut hd).expect("hidden dropout");
            // Softmax cross-entropy gradient at the output.
            let mut dz = vec![0f32; b * OUT];
            for r in 0..b {
                let p = net.probs(&hd[r * HID..(r + 1) * HID]);
                for k in 0..OUT {
                    let target = if k == data.y[batch[r]] { 1.0 } else { 0.0 };
                    dz[r * OUT + k] = (p[k] - target) / b as f32;
                }
            }
            // Backward.
            let mut dhd = vec![0f32; b * HID];
            for r in 0..b {
                for k in 0..OUT {
                    let g = dz[r * OUT + k];
                    for j in 0..HID {
                        dhd[r * HID + j] += g * net.w2[k * HID + j];
                    }
                }
            }
            let mut dh = vec![0f32; b * HID];
            // The forward call's site, replayed: the mask is regenerated.
            hidden
                .replay(handle)
                .backward(&dhd, &mut dh)
                .expect("mask-free backward");
            for (g, &p) in dh.iter_mut().zip(&pre) {
                if p <= 0.0 {
                    *g = 0.0;
                }
            }
            for r in 0..b {
                for k in 0..OUT {
                    let g = dz[r * OUT + k];
                    net.b2[k] -= t.lr * g;
                    for j in 0..HID {
                        net.w2[k * HID + j] -= t.lr * g * hd[r * HID + j];
                    }
                }
                for j in 0..HID {
                    let g = dh[r * HID + j];
                    net.b1[j] -= t.lr * g;
                    for i in 0..IN {
                        net.w1[j * IN + i] -= t.lr * g * x[r * IN + i];
                    }
                }
            }
            hidden.advance();
            input.advance();
        }
        report(epoch, net);
    }
}
