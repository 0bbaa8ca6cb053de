//! Elementwise and Monte-Carlo calls at sizes and offsets on both sides of
//! every internal constant they meet (`dropkit::limits`): the AVX-512 pair
//! limit, the thread pieces, both `Auto` thresholds (from outside a pool
//! and inside one), and the column block of `mc_mean_var`. Every entry
//! point against the oracle (`crate::common::check_case`), every ISA. The shaped
//! and fused entry points cross their limits in `tests/suite/shapes.rs` and
//! `tests/suite/fused.rs`.

use crate::common::{check_case, inputs_of, Elem};
use dropkit::half::{bf16, f16};
use dropkit::limits::{
    BLOCK, MC_COLUMNS, PAIR_BLOCKS_MAX, PARALLEL_MIN, PARALLEL_MIN_IN_POOL, PIECE_MIN,
};
use dropkit::{mc_mean_var, Dropout, Isa, Site, Threading};

/// Every ISA, the given threading, sizes `n` with an offset inside a block.
fn cross(n: usize, offset: u64, threading: Threading, salt: u32) {
    for isa in Isa::available() {
        let d = Dropout::new(0.3)
            .unwrap()
            .with_seed(u64::from(salt))
            .with_isa(isa)
            .unwrap()
            .with_threading(threading);
        check_case(d, 7, offset, n, salt, salt as usize % 16);
    }
}

/// AVX-512 runs blocks in pairs up to `PAIR_BLOCKS_MAX` elements.
#[test]
fn pair_blocks_limit() {
    for (k, n) in [PAIR_BLOCKS_MAX - 1, PAIR_BLOCKS_MAX, PAIR_BLOCKS_MAX + 1]
        .into_iter()
        .enumerate()
    {
        cross(n, [0, 4095, 77][k], Threading::Sequential, k as u32);
    }
}

/// Pieces of `PIECE_MIN` elements and more, cut at block boundaries of the
/// global index after a head that ends the offset's block.
#[test]
fn thread_pieces() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    for (k, n) in [PIECE_MIN - 1, PIECE_MIN + 1, 3 * PIECE_MIN + BLOCK / 2]
        .into_iter()
        .enumerate()
    {
        pool.install(|| {
            cross(
                n,
                [4095, 1, BLOCK as u64 + 17][k],
                Threading::Parallel,
                10 + k as u32,
            )
        });
    }
}

/// `Auto` on both sides of its two thresholds: inside a 2-thread pool and
/// from outside any pool (the global pool, the caller taking pieces too).
#[test]
fn auto_thresholds() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (k, n) in [PARALLEL_MIN_IN_POOL - 1, PARALLEL_MIN_IN_POOL + 1]
        .into_iter()
        .enumerate()
    {
        pool.install(|| cross(n, 61, Threading::Auto, 20 + k as u32));
    }
    // From outside a pool, f32 on the best ISA: sizes of 2Mi elements.
    for (k, n) in [PARALLEL_MIN - 1, PARALLEL_MIN + 1].into_iter().enumerate() {
        let d = Dropout::new(0.1).unwrap().with_seed(k as u64);
        let keep = crate::common::rkeep(&d, 3, 4093, n);
        crate::common::check_type::<f32>(d, 3, 4093, &keep, 30 + k as u32, 3);
    }
}

/// Mean and variance by the documented update, one column at a time:
/// `d = v - m; m += d * (1 / (k + 1)); m2 += d * (v - m)`, in `f64`, row
/// order; then `mean = m`, `var = m2 / rows`, each rounded once.
fn welford<E: Elem>(samples: &[E], n: usize) -> (Vec<u64>, Vec<u64>) {
    use dropkit_reference::Value;
    let rows = samples.len() / n;
    let (mut mean, mut var) = (vec![], vec![]);
    for j in 0..n {
        let (mut m, mut m2) = (0f64, 0f64);
        for k in 0..rows {
            let v = Value::to_f64(samples[k * n + j]);
            let d = v - m;
            m += d * (1.0 / (k + 1) as f64);
            m2 += d * (v - m);
        }
        mean.push(Value::bits(<E as Value>::from_f64(m)));
        var.push(Value::bits(<E as Value>::from_f64(m2 / rows as f64)));
    }
    (mean, var)
}

fn mc_case<E: Elem>(n: usize, samples: usize) {
    let d = Dropout::new(0.25).unwrap().with_seed(n as u64);
    let x = inputs_of::<E>(n, n as u32);
    let mut rows = vec![E::from_f32(0.0); n * samples];
    d.at(Site::new(4))
        .mc_forward(&x, &mut rows, samples)
        .unwrap();
    for (k, row) in rows.chunks(n).enumerate() {
        let mut want = vec![E::from_f32(0.0); n];
        d.at(Site::new(dropkit::fold_in(4, k as u64)))
            .forward(&x, &mut want)
            .unwrap();
        assert!(
            crate::common::bits(row) == crate::common::bits(&want),
            "{} row {k}",
            E::NAME
        );
    }
    let (mut mean, mut var) = (vec![E::from_f32(9.0); n], vec![E::from_f32(9.0); n]);
    mc_mean_var(&rows, n, &mut mean, &mut var).unwrap();
    let (wm, wv) = welford(&rows, n);
    assert!(crate::common::bits(&mean) == wm, "{} mean n {n}", E::NAME);
    assert!(crate::common::bits(&var) == wv, "{} var n {n}", E::NAME);
}

/// `mc_mean_var` goes through columns `MC_COLUMNS` at a time.
#[test]
fn mc_columns() {
    for n in [
        1,
        MC_COLUMNS - 1,
        MC_COLUMNS,
        MC_COLUMNS + 1,
        2 * MC_COLUMNS + 3,
    ] {
        mc_case::<f32>(n, 9);
        mc_case::<f64>(n, 4);
        mc_case::<f16>(n, 3);
        mc_case::<bf16>(n, 5);
    }
}
