//! Forward and forward+backward through candle's autograd, dropkit's op
//! against `candle_nn::ops::dropout`, f32, rate 0.1, at 64K, 1M and 16M
//! elements.
//!
//! ```text
//! cargo run --release -p dropkit-candle --example bench [-- --reps N] [--max 64K|1M|16M]
//! ```
//!
//! Each measurement is the median of N runs (default 7) after one warm-up
//! run. "fwd" is `y = dropout(x)`; "fwd+bwd" adds `y.backward()` (candle
//! seeds the gradient with ones and runs the op's backward: for candle_nn a
//! multiply by the stored mask, for dropkit the mask regenerated) and reads
//! the gradient of `x`. dropkit runs twice: on one thread
//! (`Threading::Sequential`) and with its default threading, which splits
//! calls of 2Mi elements and more over rayon's pool (16M only). candle's
//! own ops here (its uniform draw, compare, multiplies) may use its own
//! threads. "affine floor" is candle's own one-pass `x.affine(1, 0)` through
//! the same autograd: what any elementwise op costs there, the floor for
//! both dropouts (candle's backward seeds the gradient with ones, and adds
//! the op's gradient to zeros).

use candle_core::{DType, Device, Tensor, Var};
use dropkit::{Site, Threading};
use dropkit_candle::DropoutOp;
use std::hint::black_box;
use std::time::Instant;

const RATE: f64 = 0.1;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over `reps` runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut() -> candle_core::Result<()>) -> candle_core::Result<f64> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64());
    }
    Ok(median(t))
}

fn main() -> candle_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let reps = match args.iter().position(|a| a == "--reps") {
        Some(k) => args
            .get(k + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| candle_core::Error::msg("--reps takes a whole number"))?,
        None => 7,
    };
    // `--max 1M` leaves out the larger sizes (a quick check).
    let max = match args.iter().position(|a| a == "--max") {
        Some(k) => match args.get(k + 1).map(String::as_str) {
            Some("64K") => 1 << 16,
            Some("1M") => 1 << 20,
            Some("16M") => 1 << 24,
            _ => candle_core::bail!("--max takes 64K, 1M or 16M"),
        },
        None => 1 << 24,
    };
    println!(
        "f32, rate {RATE}, median of {reps}; ns per element (ratio = candle_nn time / dropkit time)"
    );
    println!(
        "| {:>5} | {:<7} | {:>9} | {:>13} | {:>12} | {:>10} | {:>10} | {:>12} |",
        "n",
        "pass",
        "candle_nn",
        "dropkit 1 thr",
        "dropkit auto",
        "ratio 1thr",
        "ratio auto",
        "affine floor"
    );
    println!(
        "|{:->7}|{:->9}|{:->11}|{:->15}|{:->14}|{:->12}|{:->12}|{:->14}|",
        "", "", "", "", "", "", "", ""
    );
    for (label, n) in [("64K", 1usize << 16), ("1M", 1 << 20), ("16M", 1 << 24)] {
        if n > max {
            break;
        }
        let x = Var::from_tensor(&Tensor::randn(0f32, 1f32, n, &Device::Cpu)?)?;
        let one = dropkit::Dropout::new(RATE)
            .map_err(candle_core::Error::wrap)?
            .with_seed(1)
            .with_threading(Threading::Sequential);
        let auto = one.with_threading(Threading::Auto);
        let mut step = 0u64;
        let mut ours = |drop: dropkit::Dropout, backward: bool| {
            step += 1;
            let y = DropoutOp::new(drop, Site::new(step)).forward(x.as_tensor())?;
            if backward {
                let g = y.backward()?;
                black_box(g.get(&x).map(Tensor::dims));
            }
            black_box(y);
            Ok(())
        };
        let theirs = |backward: bool| -> candle_core::Result<()> {
            let y = candle_nn::ops::dropout(x.as_tensor(), RATE as f32)?;
            if backward {
                let g = y.backward()?;
                black_box(g.get(&x).map(Tensor::dims));
            }
            black_box(y);
            Ok(())
        };
        // The floor of any elementwise op through candle's autograd: its own
        // one-pass `affine(1, 0)` (a new tensor forward, one pass backward).
        let floor = |backward: bool| -> candle_core::Result<()> {
            let y = x.as_tensor().affine(1.0, 0.0)?;
            if backward {
                let g = y.backward()?;
                black_box(g.get(&x).map(Tensor::dims));
            }
            black_box(y);
            Ok(())
        };
        for (pass, backward) in [("fwd", false), ("fwd+bwd", true)] {
            let c = time(reps, || theirs(backward))?;
            let f = time(reps, || floor(backward))?;
            let d1 = time(reps, || ours(one, backward))?;
            let da = time(reps, || ours(auto, backward))?;
            let ns = |s: f64| s * 1e9 / n as f64;
            println!(
                "| {label:>5} | {pass:<7} | {:>9.3} | {:>13.3} | {:>12.3} | {:>9.1}x | {:>9.1}x | {:>12.3} |",
                ns(c),
                ns(d1),
                ns(da),
                c / d1,
                c / da,
                ns(f)
            );
        }
        // Both give dropout: the kept fraction near 1 - RATE.
        let y = DropoutOp::new(one, Site::new(0)).forward(x.as_tensor())?;
        let kept = y
            .ne(0f32)?
            .to_dtype(DType::F32)?
            .mean_all()?
            .to_scalar::<f32>()?;
        if (kept as f64 - (1.0 - RATE)).abs() > 0.02 {
            candle_core::bail!(
                "kept fraction {kept} at n = {n}, expected about {}",
                1.0 - RATE
            );
        }
    }
    Ok(())
}
