//! The fused epilogue against the unfused composition of the oracle (add,
//! dropout, add, in the computing type), bit for bit on every ISA, type and
//! threading; `dbias` against an `f64` sum and across thread counts; a
//! finite-difference gradient check; the errors.

mod common;

use common::{available_or_required, bits, config, inputs_of, pack, Elem, RATES};
use dropkit::half::{bf16, f16};
use dropkit::{mask_words, Dropout, Error, Fused, Isa, MaskOut, Threading};

fn check<E: Elem>(d: Dropout, stream: u64, offset: u64, features: usize, rows: usize, salt: u32) {
    let n = features * rows;
    let x = inputs_of::<E>(n, salt);
    let bias = inputs_of::<E>(features, salt ^ 1);
    let residual = inputs_of::<E>(n, salt ^ 2);
    let cfg = config(&d);
    let keep = cfg.keep_mask(stream, offset, n);
    let ctx = format!(
        "{} {d:?} stream {stream} offset {offset} F {features} rows {rows}",
        E::NAME
    );
    for (b, r) in [(false, false), (true, false), (false, true), (true, true)] {
        let (bo, ro) = (b.then_some(&bias[..]), r.then_some(&residual[..]));
        let want = bits(&cfg.fused(stream, offset, features, 0, &x, bo, ro));
        let mut f = Fused::rows(features);
        if let Some(bias) = bo {
            f = f.bias(bias);
        }
        if let Some(r) = ro {
            f = f.residual(r);
        }
        let mut y = vec![E::specials()[0]; n];
        d.fused_forward(stream, offset, f, &x, &mut y).unwrap();
        assert_eq!(bits(&y), want, "fused_forward bias {b} residual {r}: {ctx}");
        let mut z = x.clone();
        d.fused_forward_in_place(stream, offset, f, &mut z).unwrap();
        assert_eq!(
            bits(&z),
            want,
            "in place over x, bias {b} residual {r}: {ctx}"
        );
        let mut words = vec![u64::MAX; mask_words(n)];
        d.fused_forward_with_mask(stream, offset, f, &x, &mut y, MaskOut::Bits(&mut words))
            .unwrap();
        assert_eq!(
            (bits(&y), &words),
            (want.clone(), &pack(&keep)),
            "bits: {ctx}"
        );
        let mut bytes = vec![9u8; n];
        d.fused_forward_with_mask(stream, offset, f, &x, &mut y, MaskOut::Bytes(&mut bytes))
            .unwrap();
        assert!(
            bytes.iter().zip(&keep).all(|(&b, &k)| b == u8::from(k)),
            "bytes: {ctx}"
        );
        if r {
            let mut acc = residual.clone();
            let mut g = Fused::rows(features);
            if let Some(bias) = bo {
                g = g.bias(bias);
            }
            d.fused_forward_onto_residual(stream, offset, g, &x, &mut acc)
                .unwrap();
            assert_eq!(bits(&acc), want, "onto the residual, bias {b}: {ctx}");
        }
    }
}

fn check_all_types(d: Dropout, stream: u64, offset: u64, features: usize, rows: usize, salt: u32) {
    check::<f32>(d, stream, offset, features, rows, salt);
    check::<f64>(d, stream, offset, features, rows, salt);
    check::<f16>(d, stream, offset, features, rows, salt);
    check::<bf16>(d, stream, offset, features, rows, salt);
}

fn check_isa(isa: Isa) {
    let mut case = 0u64;
    for &rate in &RATES {
        for (features, rows) in [(1, 37), (7, 5), (16, 3), (100, 41), (768, 6), (33, 200)] {
            for offset in [0u64, 5, 4090, (1 << 32) - 100] {
                for threading in [Threading::Sequential, Threading::Parallel] {
                    let d = Dropout::new(rate)
                        .unwrap()
                        .with_seed(case.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                        .with_isa(isa)
                        .unwrap()
                        .with_threading(threading);
                    check_all_types(d, case, offset, features, rows, case as u32);
                    case += 1;
                }
            }
        }
    }
}

#[test]
fn scalar_fused_matches_the_oracle() {
    check_isa(Isa::Scalar);
}

#[test]
fn portable_fused_matches_the_oracle() {
    check_isa(Isa::Portable);
}

#[test]
fn avx2_fused_matches_the_oracle() {
    if available_or_required(Isa::Avx2) {
        check_isa(Isa::Avx2);
    }
}

#[test]
fn avx512_fused_matches_the_oracle() {
    if available_or_required(Isa::Avx512) {
        check_isa(Isa::Avx512);
    }
}

#[test]
fn neon_fused_matches_the_oracle() {
    if available_or_required(Isa::Neon) {
        check_isa(Isa::Neon);
    }
}

fn dbias_case<E: Elem>(features: usize, rows: usize) {
    let n = features * rows;
    let dy: Vec<E> = (0..n)
        .map(|i| E::from_f32(((i * 7919) % 1999) as f32 * 0.01 - 9.0))
        .collect();
    let base = Dropout::new(0.2).unwrap().with_seed(6);
    let mut first: Option<Vec<u64>> = None;
    for threads in [1usize, 2, 3, 7] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel, Threading::Auto] {
                let d = base.with_isa(isa).unwrap().with_threading(threading);
                let (mut dx, mut dbias) =
                    (vec![E::from_f32(9.0); n], vec![E::from_f32(9.0); features]);
                pool.install(|| d.fused_backward(3, 11, features, &dy, &mut dx, Some(&mut dbias)))
                    .unwrap();
                let mut want_dx = dy.clone();
                d.backward(3, 11, &dy, &mut want_dx).unwrap();
                assert_eq!(
                    bits(&dx),
                    bits(&want_dx),
                    "dx {} {threads} {isa:?}",
                    E::NAME
                );
                // From the stored mask: the same dx and dbias.
                let mut words = vec![0u64; mask_words(n)];
                d.mask_bits(3, 11, n, &mut words).unwrap();
                let (mut dx2, mut dbias2) = (dx.clone(), dbias.clone());
                d.fused_backward_from_mask(&words, features, &dy, &mut dx2, Some(&mut dbias2))
                    .unwrap();
                assert_eq!((bits(&dx2), bits(&dbias2)), (bits(&dx), bits(&dbias)));
                // Against the exact sum: within one rounding to E.
                for f in 0..features {
                    let exact: f64 = (0..rows).map(|r| dx[r * features + f].to_f64()).sum();
                    let got = dbias[f].to_f64();
                    let ulp = (E::from_f32(exact as f32).to_f64() - E::from_f64_next(exact)).abs();
                    assert!(
                        (got - exact).abs() <= ulp.max(f64::EPSILON * exact.abs()),
                        "{} column {f}: {got} vs {exact}",
                        E::NAME
                    );
                }
                let b = bits(&dbias);
                match &first {
                    None => first = Some(b),
                    Some(w) => assert_eq!(
                        &b,
                        w,
                        "dbias {} threads {threads} {isa:?} {threading:?}",
                        E::NAME
                    ),
                }
            }
        }
    }
}

/// A value-rounding helper for the bound: the neighbour of `x`'s rounding
/// in `E` away from `x` (one unit in the last place of `E` there).
trait NextUp: Elem {
    fn from_f64_next(x: f64) -> f64;
}
impl<E: Elem> NextUp for E {
    fn from_f64_next(x: f64) -> f64 {
        let r = E::from_f32(x as f32).to_f64();
        let bump = if E::NAME == "f64" {
            x.abs() * f64::EPSILON
        } else {
            0.0
        };
        let scale = match E::NAME {
            "f16" => 2f64.powi(-10),
            "bf16" => 2f64.powi(-7),
            "f32" => 2f64.powi(-23),
            _ => 2f64.powi(-52),
        };
        r + (r.abs().max(1e-30) * scale).max(bump)
    }
}

#[test]
fn dbias_is_the_column_sum_for_any_threads_and_isa() {
    for (features, rows) in [(1, 3000), (768, 50), (4096, 9), (5, 70_000)] {
        dbias_case::<f32>(features, rows);
        dbias_case::<f64>(features, rows);
        dbias_case::<f16>(features, rows.min(200));
        dbias_case::<bf16>(features, rows.min(200));
    }
}

/// Loss `L = sum(w * y)` with `y = residual + dropout(x + bias)`, in f64:
/// central differences against the analytic gradients (dx from the fused
/// backward, dbias its column sums, dresidual = dy = w).
#[test]
fn finite_difference_gradient_through_the_fused_op() {
    let (features, rows) = (6, 5);
    let n = features * rows;
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let bias: Vec<f64> = (0..features).map(|f| f as f64 * 0.1 - 0.2).collect();
    let residual: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
    let w: Vec<f64> = (0..n).map(|i| 1.0 + (i % 4) as f64 * 0.25).collect();
    let d = Dropout::new(0.3).unwrap().with_seed(21);
    let loss = |x: &[f64], b: &[f64], r: &[f64]| {
        let mut y = vec![0.0; n];
        d.fused_forward(5, 0, Fused::rows(features).bias(b).residual(r), x, &mut y)
            .unwrap();
        y.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>()
    };
    let (mut dx, mut dbias) = (vec![0.0; n], vec![0.0; features]);
    d.fused_backward(5, 0, features, &w, &mut dx, Some(&mut dbias))
        .unwrap();
    let h = 1e-6;
    for i in 0..n {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let num = (loss(&xp, &bias, &residual) - loss(&xm, &bias, &residual)) / (2.0 * h);
        assert!((num - dx[i]).abs() < 1e-6, "dx[{i}]: {num} vs {}", dx[i]);
        let (mut rp, mut rm) = (residual.clone(), residual.clone());
        rp[i] += h;
        rm[i] -= h;
        let num = (loss(&x, &bias, &rp) - loss(&x, &bias, &rm)) / (2.0 * h);
        assert!((num - w[i]).abs() < 1e-6, "dresidual[{i}]");
    }
    for f in 0..features {
        let (mut bp, mut bm) = (bias.clone(), bias.clone());
        bp[f] += h;
        bm[f] -= h;
        let num = (loss(&x, &bp, &residual) - loss(&x, &bm, &residual)) / (2.0 * h);
        assert!(
            (num - dbias[f]).abs() < 1e-6,
            "dbias[{f}]: {num} vs {}",
            dbias[f]
        );
    }
}

#[test]
fn bad_shapes_are_typed_errors_and_write_nothing() {
    let d = Dropout::new(0.5).unwrap();
    let x = vec![1.0f32; 12];
    let mut y = vec![7.0f32; 12];
    let bias = vec![0.0f32; 4];
    let cases: [(Fused<f32>, Error); 4] = [
        (
            Fused::rows(5),
            Error::NotWholeRows {
                len: 12,
                features: 5,
            },
        ),
        (
            Fused::rows(0),
            Error::NotWholeRows {
                len: 12,
                features: 0,
            },
        ),
        (
            Fused::rows(3).bias(&bias),
            Error::BiasMismatch {
                features: 3,
                given: 4,
            },
        ),
        (
            Fused::rows(4).residual(&x[..8]),
            Error::LengthMismatch {
                input: 12,
                output: 8,
            },
        ),
    ];
    for (f, want) in cases {
        assert_eq!(d.fused_forward(0, 0, f, &x, &mut y), Err(want));
        let mut z = x.clone();
        assert_eq!(d.fused_forward_in_place(0, 0, f, &mut z), Err(want));
        assert_eq!(z, x);
    }
    assert_eq!(
        d.fused_forward(0, 0, Fused::rows(4), &x, &mut y[..8]),
        Err(Error::LengthMismatch {
            input: 12,
            output: 8
        })
    );
    assert_eq!(
        d.fused_forward(0, u64::MAX - 3, Fused::rows(4), &x, &mut y),
        Err(Error::OffsetOverflow {
            offset: u64::MAX - 3,
            len: 12
        })
    );
    let mut words = [0u64; 0];
    assert!(matches!(
        d.fused_forward_with_mask(0, 0, Fused::rows(4), &x, &mut y, MaskOut::Bits(&mut words)),
        Err(Error::MaskTooSmall { .. })
    ));
    assert!(y.iter().all(|&v| v == 7.0), "nothing written on error");
    let (mut dx, mut dbias) = (vec![7.0f32; 12], vec![7.0f32; 3]);
    assert_eq!(
        d.fused_backward(0, 0, 4, &x, &mut dx, Some(&mut dbias)),
        Err(Error::BiasMismatch {
            features: 4,
            given: 3
        })
    );
    assert_eq!(
        d.fused_backward(0, 0, 5, &x, &mut dx, None),
        Err(Error::NotWholeRows {
            len: 12,
            features: 5
        })
    );
    assert!(dx.iter().chain(&dbias).all(|&v| v == 7.0));
    // Zero rows are fine, with any features (even 0), and dbias is zero.
    d.fused_forward::<f32>(0, 0, Fused::rows(0), &[], &mut [])
        .unwrap();
    let mut dbias = vec![7.0f32; 4];
    d.fused_backward::<f32>(0, 0, 4, &[], &mut [], Some(&mut dbias))
        .unwrap();
    assert_eq!(dbias, [0.0; 4]);
}

/// `dbias` in the documented order, from `dx`: chunks of `r` rows, `r =
/// max(1, DBIAS_CHUNK_ELEMENTS / features)` raised to a multiple of 64
/// unless `r * features` already is one; each chunk's rows added in row
/// order in `f64`, the chunk sums added in chunk order in `f64`, the total
/// rounded once; a NaN total as the positive quiet NaN.
fn dbias_in_documented_order<E: Elem>(dx: &[E], features: usize) -> Vec<u64> {
    use dropkit_reference::Value;
    let mut r = (dropkit::limits::DBIAS_CHUNK_ELEMENTS / features).max(1);
    if !(r * features).is_multiple_of(64) {
        r = r.div_ceil(64) * 64;
    }
    let mut total = vec![0f64; features];
    for chunk in dx.chunks(r * features) {
        let mut sums = vec![0f64; features];
        for row in chunk.chunks(features) {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += Value::to_f64(v);
            }
        }
        for (t, s) in total.iter_mut().zip(&sums) {
            *t += s;
        }
    }
    total
        .iter()
        .map(|&t| {
            Value::bits(<E as Value>::from_f64(if t.is_nan() {
                f64::NAN
            } else {
                t
            }))
        })
        .collect()
}

/// Every fused entry point at sizes on both sides of the dbias chunk, the
/// thread pieces and the in-pool threshold, from offsets inside a block:
/// forward calls against the oracle (`check`), the backward's `dx` against
/// the mask-free backward and its `dbias` bit for bit against the
/// documented summation order; sequential, parallel and `Auto` inside a
/// 2-thread pool, every ISA.
#[test]
fn fused_calls_cross_every_limit() {
    use dropkit::limits::{DBIAS_CHUNK_ELEMENTS, PARALLEL_MIN_IN_POOL, PIECE_MIN};
    let chunk_rows = |f: usize| (DBIAS_CHUNK_ELEMENTS / f).max(1);
    let mut shapes = vec![];
    for features in [768, 7, 3 * DBIAS_CHUNK_ELEMENTS / 2 + 1] {
        let r = chunk_rows(features);
        for rows in [r.saturating_sub(1).max(1), r, r + 1, 2 * r + 65] {
            shapes.push((features, rows));
        }
    }
    // Pieces and the in-pool threshold.
    shapes.push((64, PIECE_MIN / 64 + 1));
    shapes.push((100, PARALLEL_MIN_IN_POOL / 100 + 1));
    shapes.push((128, PARALLEL_MIN_IN_POOL / 128 - 1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut case = 0u64;
    for &(features, rows) in &shapes {
        let n = features * rows;
        let dy = inputs_of::<f32>(n, case as u32);
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel, Threading::Auto] {
                let d = Dropout::new(RATES[1 + case as usize % 4])
                    .unwrap()
                    .with_seed(case)
                    .with_isa(isa)
                    .unwrap()
                    .with_threading(threading);
                let offset = [4095u64, 61, (1 << 20) + 3][case as usize % 3];
                pool.install(|| {
                    check::<f32>(d, case, offset, features, rows, case as u32);
                    let (mut dx, mut dbias) = (vec![0f32; n], vec![7f32; features]);
                    d.fused_backward(case, offset, features, &dy, &mut dx, Some(&mut dbias))
                        .unwrap();
                    let mut want = vec![0f32; n];
                    d.backward(case, offset, &dy, &mut want).unwrap();
                    let ctx = format!("F {features} rows {rows} {isa:?} {threading:?}");
                    assert!(bits(&dx) == bits(&want), "dx {ctx}");
                    assert!(
                        bits(&dbias) == dbias_in_documented_order(&dx, features),
                        "dbias {ctx}"
                    );
                    let mut words = vec![0u64; mask_words(n)];
                    d.mask_bits(case, offset, n, &mut words).unwrap();
                    let (mut dx2, mut dbias2) = (vec![0f32; n], vec![7f32; features]);
                    d.fused_backward_from_mask(&words, features, &dy, &mut dx2, Some(&mut dbias2))
                        .unwrap();
                    assert!(bits(&dx2) == bits(&dx), "dx from mask {ctx}");
                    assert!(bits(&dbias2) == bits(&dbias), "dbias from mask {ctx}");
                });
                case += 1;
            }
        }
        // The other types, best ISA.
        let d = Dropout::new(0.3).unwrap().with_seed(case);
        check::<f64>(d, 5, 4095, features, rows, 1);
        let (dy16, mut dx16, mut db16) = (
            inputs_of::<bf16>(n, 3),
            vec![bf16::ZERO; n],
            vec![bf16::ZERO; features],
        );
        d.fused_backward(5, 4095, features, &dy16, &mut dx16, Some(&mut db16))
            .unwrap();
        assert!(bits(&db16) == dbias_in_documented_order(&dx16, features));
    }
}
