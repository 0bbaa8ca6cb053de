//! A residual MLP on real handwritten digits whose hidden blocks are
//! `h = h + dropout(W relu(h) + b)` through dropkit's fused epilogue (one
//! pass: bias, dropout, residual add), trained with and without dropout;
//! the backward pass regenerates every mask and takes `db` from the fused
//! backward's `dbias`.
//!
//! ```text
//! cargo run --release --example residual_digits
//! ```
//!
//! Data as in `mlp_digits` (1000 train / 797 test digits, fixed shuffle).
//! Network: 64 -> 64 (ReLU) -> 3 residual blocks of width 64 -> 10, SGD,
//! batch 20, 60 epochs; both runs share initial weights and batch order.

// Only the data loading and the softmax of the shared MLP are used here.
#[allow(dead_code)]
#[path = "common/mlp.rs"]
mod mlp;

use dropkit::{fold_in, Dropout, Site, Threading};
use mlp::{argmax, load_split, softmax, Data, IN, OUT};
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro128PlusPlus;

const W: usize = 64;
const BLOCKS: usize = 3;
const BATCH: usize = 20;

/// `out[r][o] = sum_i m[o][i] * v[r][i]` for a batch of rows.
fn matmul(m: &[f32], v: &[f32], rows: usize, inn: usize, out: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * out];
    for r in 0..rows {
        for o in 0..out {
            y[r * out + o] = (0..inn).map(|i| m[o * inn + i] * v[r * inn + i]).sum();
        }
    }
    y
}

/// The site of block `k`'s dropout at training step `step`: its own stream
/// per block and step, the batch from offset 0.
fn block_site(k: usize, step: u64) -> Site {
    Site::new(fold_in(fold_in(k as u64, step), 0)).at(0)
}

fn relu(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&a| a.max(0.0)).collect()
}

#[derive(Clone)]
struct Net {
    w0: Vec<f32>,
    b0: Vec<f32>,
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    wo: Vec<f32>,
    bo: Vec<f32>,
}

impl Net {
    fn new(seed: u64) -> Net {
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let mut init = |n: usize, fan_in: usize, scale: f32| -> Vec<f32> {
            let a = scale * (6.0 / fan_in as f32).sqrt();
            (0..n)
                .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0) * a)
                .collect()
        };
        Net {
            w0: init(W * IN, IN, 1.0),
            b0: vec![0.0; W],
            w: (0..BLOCKS).map(|_| init(W * W, W, 0.5)).collect(),
            b: vec![vec![0.0; W]; BLOCKS],
            wo: init(OUT * W, W, 1.0),
            bo: vec![0.0; OUT],
        }
    }

    /// Forward over a batch: the block inputs (for the backward pass) and
    /// the class probabilities. `drop` is `None` at evaluation.
    fn forward(
        &self,
        x: &[f32],
        rows: usize,
        drop: Option<(&Dropout, u64)>,
    ) -> (Vec<Vec<f32>>, Vec<[f32; OUT]>) {
        let mut h = matmul(&self.w0, x, rows, IN, W);
        for (r, v) in h.iter_mut().enumerate() {
            *v = (*v + self.b0[r % W]).max(0.0);
        }
        let mut hs = vec![h.clone()];
        // At evaluation the same fused pass at rate 0: bias and residual only.
        let eval = Dropout::new(0.0).unwrap();
        for k in 0..BLOCKS {
            let u = matmul(&self.w[k], &relu(&h), rows, W, W);
            let mut next = vec![0f32; rows * W];
            let (d, site) = match drop {
                Some((d, step)) => (d, block_site(k, step)),
                None => (&eval, Site::new(0)),
            };
            // next = h + dropout(u + b) in one pass: rows of W features
            // (the bias's length).
            d.at(site)
                .bias(&self.b[k])
                .residual(&h)
                .forward(&u, &mut next)
                .expect("shapes match");
            h = next;
            hs.push(h.clone());
        }
        let z = matmul(&self.wo, &h, rows, W, OUT);
        let p = (0..rows)
            .map(|r| softmax(core::array::from_fn(|o| z[r * OUT + o] + self.bo[o])))
            .collect();
        (hs, p)
    }

    /// One SGD step on a batch: cross-entropy, the masks regenerated.
    fn step(&mut self, x: &[f32], y: &[usize], d: &Dropout, step: u64, lr: f32) {
        let rows = y.len();
        let (hs, p) = self.forward(x, rows, Some((d, step)));
        let scale = lr / rows as f32;
        // Output layer.
        let mut dz = vec![0f32; rows * OUT];
        for r in 0..rows {
            for o in 0..OUT {
                dz[r * OUT + o] = p[r][o] - f32::from(u8::from(o == y[r]));
            }
        }
        let h = &hs[BLOCKS];
        let mut dh = vec![0f32; rows * W];
        for r in 0..rows {
            for o in 0..OUT {
                let g = dz[r * OUT + o];
                for i in 0..W {
                    dh[r * W + i] += self.wo[o * W + i] * g;
                }
            }
        }
        for r in 0..rows {
            for o in 0..OUT {
                let g = dz[r * OUT + o];
                self.bo[o] -= scale * g;
                for i in 0..W {
                    self.wo[o * W + i] -= scale * g * h[r * W + i];
                }
            }
        }
        // Residual blocks, last first: dresidual = dh; du and db from the
        // fused backward (the same mask, regenerated).
        for k in (0..BLOCKS).rev() {
            let (mut du, mut db) = (vec![0f32; rows * W], vec![0f32; W]);
            d.at(block_site(k, step))
                .dbias(&mut db)
                .backward(&dh, &mut du)
                .expect("shapes match");
            let a = relu(&hs[k]);
            let mut da = vec![0f32; rows * W];
            for r in 0..rows {
                for o in 0..W {
                    let g = du[r * W + o];
                    for i in 0..W {
                        da[r * W + i] += self.w[k][o * W + i] * g;
                    }
                }
            }
            for r in 0..rows {
                for o in 0..W {
                    let g = du[r * W + o];
                    for i in 0..W {
                        self.w[k][o * W + i] -= scale * g * a[r * W + i];
                    }
                }
            }
            for (b, g) in self.b[k].iter_mut().zip(&db) {
                *b -= scale * g;
            }
            for i in 0..rows * W {
                dh[i] += if hs[k][i] > 0.0 { da[i] } else { 0.0 };
            }
        }
        // Input layer (h0 = relu(W0 x + b0); hs[0] > 0 where it passed).
        for r in 0..rows {
            for o in 0..W {
                let g = if hs[0][r * W + o] > 0.0 {
                    dh[r * W + o]
                } else {
                    0.0
                };
                self.b0[o] -= scale * g;
                for i in 0..IN {
                    self.w0[o * IN + i] -= scale * g * x[r * IN + i];
                }
            }
        }
    }
}

fn evaluate(net: &Net, data: &Data) -> (f32, f32) {
    let x: Vec<f32> = data.x.iter().flatten().copied().collect();
    let (_, p) = net.forward(&x, data.y.len(), None);
    let loss = p
        .iter()
        .zip(&data.y)
        .map(|(p, &y)| -p[y].max(1e-12).ln())
        .sum::<f32>();
    let right = p
        .iter()
        .zip(&data.y)
        .filter(|(p, &y)| argmax(&p[..]) == y)
        .count();
    (
        loss / data.y.len() as f32,
        right as f32 / data.y.len() as f32,
    )
}

fn main() {
    let (train_set, test_set) = load_split();
    println!("digits: 1000 train / 797 test; 64-64-[3 residual blocks of 64]-10, fused bias+dropout+residual, SGD lr 0.05, batch 20, 60 epochs");
    let init = Net::new(5);
    let start = std::time::Instant::now();
    for (name, rate) in [("no dropout", 0.0), ("dropout 0.3", 0.3)] {
        let d = Dropout::new(rate)
            .unwrap()
            .with_seed(9)
            .with_threading(Threading::Sequential);
        let mut net = init.clone();
        let mut order: Vec<usize> = (0..train_set.y.len()).collect();
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(31);
        let mut step = 0u64;
        for _ in 0..60 {
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            for batch in order.chunks(BATCH) {
                let x: Vec<f32> = batch.iter().flat_map(|&i| train_set.x[i]).collect();
                let y: Vec<usize> = batch.iter().map(|&i| train_set.y[i]).collect();
                net.step(&x, &y, &d, step, 0.05);
                step += 1;
            }
        }
        let (trl, tra) = evaluate(&net, &train_set);
        let (tel, tea) = evaluate(&net, &test_set);
        println!(
            "{name:>12}: train loss {trl:.4} acc {:.2}% | test loss {tel:.4} acc {:.2}% | gap {:.4}",
            tra * 100.0,
            tea * 100.0,
            tel - trl
        );
    }
    println!(
        "(both runs took {:.1} s in total)",
        start.elapsed().as_secs_f64()
    );
}
