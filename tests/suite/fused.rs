//! The fused epilogue against the unfused composition of the oracle (add,
//! dropout, add, in the computing type), bit for bit on every ISA, type and
//! threading; `dbias` against an `f64` sum and across thread counts; a
//! finite-difference gradient check; the errors.

use crate::common::{available_or_required, bits, config, inputs_of, pack, Elem, RATES};
use dropkit::half::{bf16, f16};
use dropkit::{
    mask_words, Call, Dropout, Error, Isa, MaskIn, MaskOut, MaskShape, Site, Threading, View,
    ViewMut,
};

/// A fused call with the given options (the bias sets the row length).
fn fused_call<'a, E>(
    d: &'a Dropout,
    site: Site,
    bias: Option<&'a [E]>,
    residual: Option<&'a [E]>,
) -> Call<'a, E> {
    let mut c = d.at(site);
    if let Some(b) = bias {
        c = c.bias(b);
    }
    if let Some(r) = residual {
        c = c.residual(r);
    }
    c
}

/// A backward call with `dbias`, its mask regenerated from `site` or read
/// from `mask`.
fn dbias_call<'a, E>(
    d: &'a Dropout,
    site: Site,
    mask: Option<MaskIn<'a>>,
    dbias: &'a mut [E],
) -> Call<'a, E> {
    match mask {
        Some(m) => d.at(Site::default()).mask_in(m),
        None => d.at(site),
    }
    .dbias(dbias)
}

fn check<E: Elem>(d: Dropout, stream: u64, offset: u64, features: usize, rows: usize, salt: u32) {
    let n = features * rows;
    let x = inputs_of::<E>(n, salt);
    let bias = inputs_of::<E>(features, salt ^ 1);
    let residual = inputs_of::<E>(n, salt ^ 2);
    // Rows alone (no bias, no residual) have no fused call: they are the
    // fused path with a zero bias, and the plain forward pass.
    let zero_bias = vec![E::from_f32(0.0); features];
    let cfg = config(&d);
    let keep = cfg.keep_mask(stream, offset, n);
    let site = Site::new(stream).at(offset);
    let ctx = format!(
        "{} {d:?} stream {stream} offset {offset} F {features} rows {rows}",
        E::NAME
    );
    for (b, r) in [(false, false), (true, false), (false, true), (true, true)] {
        let bo = match (b, r) {
            (true, _) => Some(&bias[..]),
            (false, false) => Some(&zero_bias[..]),
            (false, true) => None,
        };
        let ro = r.then_some(&residual[..]);
        let want = bits(&cfg.fused(stream, offset, features, 0, &x, bo, ro));
        let mut y = vec![E::specials()[0]; n];
        fused_call(&d, site, bo, ro).forward(&x, &mut y).unwrap();
        assert_eq!(bits(&y), want, "fused forward bias {b} residual {r}: {ctx}");
        let mut z = x.clone();
        fused_call(&d, site, bo, ro)
            .forward_in_place(&mut z)
            .unwrap();
        assert_eq!(
            bits(&z),
            want,
            "in place over x, bias {b} residual {r}: {ctx}"
        );
        let mut words = vec![u64::MAX; mask_words(n)];
        let mut y = vec![E::specials()[0]; n];
        fused_call(&d, site, bo, ro)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y)
            .unwrap();
        assert_eq!(
            (bits(&y), &words),
            (want.clone(), &pack(&keep)),
            "bits: {ctx}"
        );
        let mut bytes = vec![9u8; n];
        let mut y = vec![E::specials()[0]; n];
        fused_call(&d, site, bo, ro)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(&x, &mut y)
            .unwrap();
        assert_eq!(bits(&y), want, "with bytes: {ctx}");
        assert!(
            bytes.iter().zip(&keep).all(|(&b, &k)| b == u8::from(k)),
            "bytes: {ctx}"
        );
        if r {
            let mut acc = residual.clone();
            fused_call(&d, site, bo, None)
                .forward_onto_residual(&x, &mut acc)
                .unwrap();
            assert_eq!(bits(&acc), want, "onto the residual, bias {b}: {ctx}");
        }
    }
    // Rows alone by the plain forward pass: the oracle's unfused forward
    // (a kept NaN keeps its payload there), with the same masks.
    let want = bits(&cfg.forward(stream, offset, &x));
    let mut y = vec![E::specials()[0]; n];
    d.at(site).forward(&x, &mut y).unwrap();
    assert_eq!(bits(&y), want, "rows alone, plain forward: {ctx}");
    let mut z = x.clone();
    d.at(site).forward_in_place(&mut z).unwrap();
    assert_eq!(bits(&z), want, "rows alone, in place: {ctx}");
    let mut words = vec![u64::MAX; mask_words(n)];
    let mut y = vec![E::specials()[0]; n];
    d.at(site)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(
        (bits(&y), &words),
        (want, &pack(&keep)),
        "rows alone, bits: {ctx}"
    );
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
                let site = Site::new(3).at(11);
                let (mut dx, mut dbias) =
                    (vec![E::from_f32(9.0); n], vec![E::from_f32(9.0); features]);
                pool.install(|| d.at(site).dbias(&mut dbias).backward(&dy, &mut dx))
                    .unwrap();
                let mut want_dx = dy.clone();
                d.at(site).backward(&dy, &mut want_dx).unwrap();
                assert_eq!(
                    bits(&dx),
                    bits(&want_dx),
                    "dx {} {threads} {isa:?}",
                    E::NAME
                );
                // From the stored mask: the same dx and dbias.
                let mut words = vec![0u64; mask_words(n)];
                d.mask(site, MaskOut::Bits(&mut words), n).unwrap();
                let (mut dx2, mut dbias2) = (dx.clone(), dbias.clone());
                d.at(Site::default())
                    .mask_in(MaskIn::Bits(&words))
                    .dbias(&mut dbias2)
                    .backward(&dy, &mut dx2)
                    .unwrap();
                assert_eq!((bits(&dx2), bits(&dbias2)), (bits(&dx), bits(&dbias)));
                // In place, from the site and from either stored mask (any
                // non-zero byte is kept): the same dx and dbias.
                let mut bytes = vec![0u8; n];
                d.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
                let loud: Vec<u8> = bytes.iter().map(|&b| b * 0x80).collect();
                let calls: [(&str, Option<MaskIn>); 3] = [
                    ("site", None),
                    ("bits", Some(MaskIn::Bits(&words))),
                    ("bytes", Some(MaskIn::Bytes(&loud))),
                ];
                for (name, mask) in calls {
                    let mut g = dy.clone();
                    let mut db = vec![E::from_f32(9.0); features];
                    pool.install(|| dbias_call(&d, site, mask, &mut db).backward_in_place(&mut g))
                        .unwrap();
                    assert_eq!(
                        (bits(&g), bits(&db)),
                        (bits(&dx), bits(&dbias)),
                        "in place from {name}: {} {threads} {isa:?} {threading:?}",
                        E::NAME
                    );
                    if mask.is_some() {
                        let mut dx3 = vec![E::from_f32(9.0); n];
                        let mut db = vec![E::from_f32(9.0); features];
                        pool.install(|| {
                            dbias_call(&d, site, mask, &mut db).backward(&dy, &mut dx3)
                        })
                        .unwrap();
                        assert_eq!(
                            (bits(&dx3), bits(&db)),
                            (bits(&dx), bits(&dbias)),
                            "from {name}: {} {threads} {isa:?} {threading:?}",
                            E::NAME
                        );
                    }
                }
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
        d.at(Site::new(5))
            .bias(b)
            .residual(r)
            .forward(x, &mut y)
            .unwrap();
        y.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>()
    };
    let (mut dx, mut dbias) = (vec![0.0; n], vec![0.0; features]);
    d.at(Site::new(5))
        .dbias(&mut dbias)
        .backward(&w, &mut dx)
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
    let site = Site::new(0);
    let x = vec![1.0f32; 12];
    let mut y = vec![7.0f32; 12];
    let bias = vec![0.0f32; 4];
    // The bias sets the row length: data that are not whole rows of
    // `bias.len()` (or a bias of none), with or without a residual; a
    // residual of the wrong length.
    let (bias5, bias7) = (vec![0.0f32; 5], vec![0.0f32; 7]);
    let residual_short = Error::Size {
        what: "residual elements (the input's)",
        expected: 12,
        given: 8,
    };
    /// (bias, residual, the error).
    type Case<'a> = (Option<&'a [f32]>, Option<&'a [f32]>, Error);
    let cases: [Case<'_>; 5] = [
        (
            Some(&bias5),
            None,
            Error::NotWholeRows {
                len: 12,
                features: 5,
            },
        ),
        (
            Some(&[]),
            None,
            Error::NotWholeRows {
                len: 12,
                features: 0,
            },
        ),
        (
            Some(&bias7),
            Some(&x),
            Error::NotWholeRows {
                len: 12,
                features: 7,
            },
        ),
        (Some(&bias), Some(&x[..8]), residual_short),
        (None, Some(&x[..8]), residual_short),
    ];
    for (b, r, want) in cases {
        assert_eq!(fused_call(&d, site, b, r).forward(&x, &mut y), Err(want));
        let mut z = x.clone();
        assert_eq!(
            fused_call(&d, site, b, r).forward_in_place(&mut z),
            Err(want)
        );
        assert_eq!(z, x);
        if r.is_none() {
            let mut acc = x.clone();
            assert_eq!(
                fused_call(&d, site, b, None).forward_onto_residual(&x, &mut acc),
                Err(want)
            );
            assert_eq!(acc, x);
        }
    }
    assert_eq!(
        d.at(site).bias(&bias).forward(&x, &mut y[..8]),
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: 12,
            given: 8
        })
    );
    assert_eq!(
        d.at(site.at(u64::MAX - 3)).bias(&bias).forward(&x, &mut y),
        Err(Error::OffsetOverflow {
            offset: u64::MAX - 3,
            len: 12
        })
    );
    let mut words = [0u64; 0];
    assert_eq!(
        d.at(site)
            .bias(&bias)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y),
        Err(Error::Size {
            what: "mask words (at least)",
            expected: 1,
            given: 0
        })
    );
    let mut bytes = [5u8; 11];
    assert_eq!(
        d.at(site)
            .residual(&x)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(&x, &mut y),
        Err(Error::Size {
            what: "mask bytes (at least)",
            expected: 12,
            given: 11
        })
    );
    assert_eq!(bytes, [5; 11]);
    assert!(y.iter().all(|&v| v == 7.0), "nothing written on error");
    // Backward: `dbias.len()` is the row length, so it cannot mismatch a
    // feature count; data that are not whole rows of it are the error.
    let (mut dx, mut dbias) = (vec![7.0f32; 12], vec![7.0f32; 5]);
    assert_eq!(
        d.at(site).dbias(&mut dbias).backward(&x, &mut dx),
        Err(Error::NotWholeRows {
            len: 12,
            features: 5
        })
    );
    let mut g = x.clone();
    assert_eq!(
        d.at(site).dbias(&mut dbias).backward_in_place(&mut g),
        Err(Error::NotWholeRows {
            len: 12,
            features: 5
        })
    );
    assert_eq!(g, x);
    assert_eq!(
        d.at(site).dbias(&mut []).backward(&x, &mut dx),
        Err(Error::NotWholeRows {
            len: 12,
            features: 0
        })
    );
    let mut dbias4 = vec![7.0f32; 4];
    assert_eq!(
        d.at(site).dbias(&mut dbias4).backward(&x[..8], &mut dx),
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: 8,
            given: 12
        })
    );
    let short = [u64::MAX; 0];
    assert_eq!(
        d.at(Site::default())
            .mask_in(MaskIn::Bits(&short))
            .dbias(&mut dbias4)
            .backward(&x, &mut dx),
        Err(Error::Size {
            what: "mask words (at least)",
            expected: 1,
            given: 0
        })
    );
    let short = [1u8; 11];
    assert_eq!(
        d.at(Site::default())
            .mask_in(MaskIn::Bytes(&short))
            .dbias(&mut dbias4)
            .backward_in_place(&mut g),
        Err(Error::Size {
            what: "mask bytes (at least)",
            expected: 12,
            given: 11
        })
    );
    assert_eq!(g, x);
    assert_eq!(
        d.at(site.at(u64::MAX - 3))
            .dbias(&mut dbias4)
            .backward(&x, &mut dx),
        Err(Error::OffsetOverflow {
            offset: u64::MAX - 3,
            len: 12
        })
    );
    assert!(dx.iter().chain(&dbias).chain(&dbias4).all(|&v| v == 7.0));
    // On a tensor of rank 2 or more the last axis is the feature axis: a
    // bias or dbias of another length (the old feature-count mismatch) is a
    // size error naming the last axis's extent.
    let bias_axis = |expected, given| Error::Size {
        what: "bias or dbias elements (the last axis's extent)",
        expected,
        given,
    };
    let (d43, d34) = ([4, 3], [3, 4]);
    assert_eq!(
        d.at(site).bias(&bias).forward(
            &View::dense(&x, &d43).unwrap(),
            &mut ViewMut::dense(&mut y, &d43).unwrap()
        ),
        Err(bias_axis(3, 4))
    );
    assert_eq!(
        d.at(site)
            .bias(&bias)
            .forward_in_place(&mut ViewMut::dense(&mut y, &d43).unwrap()),
        Err(bias_axis(3, 4))
    );
    let mut acc = y.clone();
    assert_eq!(
        d.at(site).bias(&bias).forward_onto_residual(
            &View::dense(&x, &d43).unwrap(),
            &mut ViewMut::dense(&mut acc, &d43).unwrap()
        ),
        Err(bias_axis(3, 4))
    );
    assert_eq!(acc, y);
    let mut dbias3 = vec![7.0f32; 3];
    assert_eq!(
        d.at(site).dbias(&mut dbias3).backward(
            &View::dense(&x, &d34).unwrap(),
            &mut ViewMut::dense(&mut dx, &d34).unwrap()
        ),
        Err(bias_axis(4, 3))
    );
    assert_eq!(
        d.at(Site::default())
            .mask_in(MaskIn::Bytes(&[1; 12]))
            .dbias(&mut dbias3)
            .backward_in_place(&mut ViewMut::dense(&mut dx, &d34).unwrap()),
        Err(bias_axis(4, 3))
    );
    assert!(y.iter().chain(&dx).chain(&dbias3).all(|&v| v == 7.0));
    // With the last axis right, a rank-2 tensor is the same call as its
    // dense slice.
    let mut y2 = vec![7.0f32; 12];
    d.at(site)
        .bias(&bias)
        .residual(&x)
        .forward(
            &View::dense(&x, &d34).unwrap(),
            &mut ViewMut::dense(&mut y2, &d34).unwrap(),
        )
        .unwrap();
    let mut y1 = vec![7.0f32; 12];
    d.at(site)
        .bias(&bias)
        .residual(&x)
        .forward(&x, &mut y1)
        .unwrap();
    assert_eq!(bits(&y2), bits(&y1));
    let (mut dx2, mut db2) = (vec![7.0f32; 12], vec![7.0f32; 4]);
    d.at(site)
        .dbias(&mut db2)
        .backward(
            &View::dense(&x, &d34).unwrap(),
            &mut ViewMut::dense(&mut dx2, &d34).unwrap(),
        )
        .unwrap();
    let (mut dx1, mut db1) = (vec![7.0f32; 12], vec![7.0f32; 4]);
    d.at(site).dbias(&mut db1).backward(&x, &mut dx1).unwrap();
    assert_eq!((bits(&dx2), bits(&db2)), (bits(&dx1), bits(&db1)));
    assert_eq!(bits(&db1), dbias_in_documented_order(&dx1, 4));
    // A dbias of 3 on these 12 elements is four rows of 3.
    let mut dbias3 = vec![7.0f32; 3];
    d.at(site).dbias(&mut dbias3).backward(&x, &mut dx).unwrap();
    assert_eq!(bits(&dbias3), dbias_in_documented_order(&dx, 3));
    // An option the pass does not take, alpha dropout in the fused pass,
    // and the fused options with a non-elementwise mask: refused, nothing
    // written.
    let mut y = vec![7.0f32; 12];
    let mut dx = vec![7.0f32; 12];
    let mut dbias = vec![7.0f32; 4];
    let unsupported = |r: Result<(), Error>, name: &str| {
        assert!(matches!(r, Err(Error::Unsupported { .. })), "{name}: {r:?}");
    };
    unsupported(
        d.at(site).bias(&bias).backward(&x, &mut dx),
        "bias in backward",
    );
    unsupported(
        d.at(site).residual(&x).backward(&x, &mut dx),
        "residual in backward",
    );
    unsupported(
        d.at(site).dbias(&mut dbias).forward(&x, &mut y).map(|_| ()),
        "dbias in forward",
    );
    unsupported(
        d.at(site)
            .residual(&x)
            .forward_onto_residual(&x, &mut y)
            .map(|_| ()),
        "residual with forward_onto_residual",
    );
    unsupported(
        Dropout::alpha(0.5)
            .unwrap()
            .at(site)
            .bias(&bias)
            .forward(&x, &mut y)
            .map(|_| ()),
        "alpha dropout fused",
    );
    let dims = [3, 4];
    unsupported(
        d.at(site)
            .shape(MaskShape::channels_first())
            .bias(&bias)
            .forward(
                &View::dense(&x, &dims).unwrap(),
                &mut ViewMut::dense(&mut y, &dims).unwrap(),
            )
            .map(|_| ()),
        "fused with a mask shape",
    );
    // Strided views (rows 4 apart, 2 features): refused, nothing written.
    let strided = dropkit::Layout::strided(&[3, 2], &[4, 1]).unwrap();
    let mut y6 = vec![7.0f32; 6];
    unsupported(
        d.at(site)
            .bias(&bias[..2])
            .forward(
                &View::new(&x, strided).unwrap(),
                &mut ViewMut::dense(&mut y6, &[3, 2]).unwrap(),
            )
            .map(|_| ()),
        "fused forward from a strided view",
    );
    unsupported(
        d.at(site).dbias(&mut dbias[..2]).backward(
            &View::dense(&x[..6], &[3, 2]).unwrap(),
            &mut ViewMut::new(&mut dx, strided).unwrap(),
        ),
        "dbias into a strided view",
    );
    assert!(y6.iter().all(|&v| v == 7.0));
    assert!(y.iter().chain(&dx).chain(&dbias).all(|&v| v == 7.0));
    // Zero rows are fine, with any features (even 0), and dbias is zero.
    let empty: [f32; 0] = [];
    d.at(site).bias(&empty).forward(&empty, &mut []).unwrap();
    d.at(site)
        .residual(&empty)
        .forward(&empty, &mut [])
        .unwrap();
    let mut dbias = vec![7.0f32; 4];
    d.at(site)
        .dbias(&mut dbias)
        .backward(&empty, &mut [])
        .unwrap();
    assert_eq!(dbias, [0.0; 4]);
    let mut dbias = vec![7.0f32; 4];
    d.at(Site::default())
        .mask_in(MaskIn::Bytes(&[]))
        .dbias(&mut dbias)
        .backward_in_place(&mut [0f32; 0])
        .unwrap();
    assert_eq!(dbias, [0.0; 4]);
    d.at(site).dbias(&mut []).backward(&empty, &mut []).unwrap();
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
/// dbias pass and the dbias column strip, the thread pieces and the in-pool
/// threshold, from offsets inside a block:
/// forward calls against the oracle (`check`), the backward's `dx` against
/// the mask-free backward and its `dbias` bit for bit against the
/// documented summation order; sequential, parallel and `Auto` inside a
/// 2-thread pool, every ISA.
#[test]
fn fused_calls_cross_every_limit() {
    use dropkit::limits::{
        DBIAS_CHUNK_ELEMENTS, DBIAS_PASS_ELEMENTS, DBIAS_PASS_MIN_ROWS, DBIAS_SUM_STRIP,
        PARALLEL_MIN_IN_POOL, PIECE_MIN,
    };
    let chunk_rows = |f: usize| (DBIAS_CHUNK_ELEMENTS / f).max(1);
    let mut shapes = vec![];
    // A chunk's passes (whole rows, a multiple of 64 rows unless already a
    // multiple of 64 elements, as the chunk): rows on both sides of one
    // pass and of three, up to the widest rows cut into passes; and rows
    // one wider, which are not.
    let widest = DBIAS_PASS_ELEMENTS / DBIAS_PASS_MIN_ROWS;
    shapes.push((widest + 1, 2 * DBIAS_PASS_MIN_ROWS + 1));
    for features in [768, 7, 64, widest] {
        let mut p = (DBIAS_PASS_ELEMENTS / features).max(1);
        if !(p * features).is_multiple_of(64) {
            p = p.next_multiple_of(64);
        }
        for rows in [p - 1, p + 1, 3 * p - 1, 3 * p + 1] {
            shapes.push((features, rows));
        }
    }
    let strip = DBIAS_SUM_STRIP;
    for features in [
        768,
        7,
        strip - 1,
        2 * strip + 1,
        3 * DBIAS_CHUNK_ELEMENTS / 2 + 1,
    ] {
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
                    let site = Site::new(case).at(offset);
                    let (mut dx, mut dbias) = (vec![0f32; n], vec![7f32; features]);
                    d.at(site).dbias(&mut dbias).backward(&dy, &mut dx).unwrap();
                    let mut want = vec![0f32; n];
                    d.at(site).backward(&dy, &mut want).unwrap();
                    let ctx = format!("F {features} rows {rows} {isa:?} {threading:?}");
                    assert!(bits(&dx) == bits(&want), "dx {ctx}");
                    let want_dbias = dbias_in_documented_order(&dx, features);
                    assert!(bits(&dbias) == want_dbias, "dbias {ctx}");
                    let mut words = vec![0u64; mask_words(n)];
                    d.mask(site, MaskOut::Bits(&mut words), n).unwrap();
                    let (mut dx2, mut dbias2) = (vec![0f32; n], vec![7f32; features]);
                    d.at(Site::default())
                        .mask_in(MaskIn::Bits(&words))
                        .dbias(&mut dbias2)
                        .backward(&dy, &mut dx2)
                        .unwrap();
                    assert!(bits(&dx2) == bits(&dx), "dx from mask {ctx}");
                    assert!(bits(&dbias2) == bits(&dbias), "dbias from mask {ctx}");
                    // In place (from the site and from the bits) and from a
                    // byte mask (out of place and in place): the same dx
                    // against the mask-free backward, the same dbias in the
                    // documented order.
                    let mut bytes = vec![0u8; n];
                    d.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
                    let masks: [(&str, Option<MaskIn>); 3] = [
                        ("site", None),
                        ("bits", Some(MaskIn::Bits(&words))),
                        ("bytes", Some(MaskIn::Bytes(&bytes))),
                    ];
                    for (name, mask) in masks {
                        let mut g = dy.clone();
                        let mut db = vec![7f32; features];
                        dbias_call(&d, site, mask, &mut db)
                            .backward_in_place(&mut g)
                            .unwrap();
                        assert!(bits(&g) == bits(&want), "dx in place from {name} {ctx}");
                        assert!(bits(&db) == want_dbias, "dbias in place from {name} {ctx}");
                    }
                    let (mut dx3, mut dbias3) = (vec![0f32; n], vec![7f32; features]);
                    d.at(Site::default())
                        .mask_in(MaskIn::Bytes(&bytes))
                        .dbias(&mut dbias3)
                        .backward(&dy, &mut dx3)
                        .unwrap();
                    assert!(bits(&dx3) == bits(&want), "dx from bytes {ctx}");
                    assert!(bits(&dbias3) == want_dbias, "dbias from bytes {ctx}");
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
        d.at(Site::new(5).at(4095))
            .dbias(&mut db16)
            .backward(&dy16, &mut dx16)
            .unwrap();
        assert!(bits(&db16) == dbias_in_documented_order(&dx16, features));
    }
}
