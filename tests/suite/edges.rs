//! Every row of SPEC §4, on every ISA and threading where it applies.

use crate::common::{bits, inputs};
use dropkit::{mask_words, Dropout, Error, Isa, MaskIn, MaskOut, Scaling, Site, Threading};

fn all_variants(rate: f64) -> Vec<Dropout> {
    let mut v = Vec::new();
    for isa in Isa::available() {
        for scaling in [Scaling::Inverted, Scaling::Classic] {
            for threading in [Threading::Sequential, Threading::Parallel] {
                let d = Dropout::new(rate).unwrap().with_isa(isa).unwrap();
                v.push(d.with_scaling(scaling).with_threading(threading));
            }
        }
    }
    v
}

#[test]
fn rate_zero_is_the_identity() {
    let x = inputs(5000, 1);
    for d in all_variants(0.0) {
        let mut y = vec![1.5f32; x.len()];
        let site = Site::new(1).at(2);
        d.at(site).forward(&x, &mut y).unwrap();
        assert_eq!(bits(&y), bits(&x), "{d:?}");
        // In place touches nothing: signalling NaN payloads survive.
        let mut z = x.clone();
        d.at(site).forward_in_place(&mut z).unwrap();
        assert_eq!(bits(&z), bits(&x));
        let mut dx = vec![0f32; x.len()];
        d.at(site).backward(&x, &mut dx).unwrap();
        assert_eq!(bits(&dx), bits(&x), "backward passes the gradient through");
        let mut words = vec![0u64; mask_words(x.len())];
        d.mask(site, MaskOut::Bits(&mut words), x.len()).unwrap();
        assert!((0..x.len()).all(|i| words[i / 64] >> (i % 64) & 1 == 1));
        assert_eq!(words.last().unwrap() >> (x.len() % 64), 0, "no bits past n");
        d.at(Site::default())
            .mask_in(MaskIn::Bits(&words))
            .backward(&x, &mut dx)
            .unwrap();
        assert_eq!(bits(&dx), bits(&x));
    }
}

#[test]
fn rate_one_is_all_positive_zero() {
    let x = inputs(5000, 2);
    for d in all_variants(1.0) {
        let mut y = vec![f32::NAN; x.len()];
        let site = Site::new(1).at(2);
        d.at(site).forward(&x, &mut y).unwrap();
        assert!(y.iter().all(|v| v.to_bits() == 0), "{d:?}");
        let mut z = x.clone();
        d.at(site).forward_in_place(&mut z).unwrap();
        assert!(z.iter().all(|v| v.to_bits() == 0));
        let mut dx = vec![f32::NAN; x.len()];
        d.at(site).backward(&x, &mut dx).unwrap();
        assert!(dx.iter().all(|v| v.to_bits() == 0));
        let ones = vec![u64::MAX; mask_words(x.len())];
        d.at(Site::default())
            .mask_in(MaskIn::Bits(&ones))
            .backward(&x, &mut dx)
            .unwrap();
        assert!(
            dx.iter().all(|v| v.to_bits() == 0),
            "never NaN, whatever the mask"
        );
        let mut bytes = vec![1u8; x.len()];
        d.mask(site, MaskOut::Bytes(&mut bytes), x.len()).unwrap();
        assert!(bytes.iter().all(|&b| b == 0));
    }
}

#[test]
fn dropped_elements_are_positive_zero_whatever_the_input() {
    let x = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        -1.0,
        f32::MIN_POSITIVE / 2.0,
    ];
    let x: Vec<f32> = x.iter().copied().cycle().take(6000).collect();
    for d in all_variants(0.5) {
        let mut y = vec![0f32; x.len()];
        let mut m = vec![0u8; x.len()];
        d.at(Site::new(3))
            .mask_out(MaskOut::Bytes(&mut m))
            .forward(&x, &mut y)
            .unwrap();
        for i in 0..x.len() {
            if m[i] == 0 {
                assert_eq!(y[i].to_bits(), 0, "dropped {i}");
            } else {
                assert_eq!(y[i].to_bits(), (x[i] * d.scale()).to_bits(), "kept {i}");
            }
        }
        assert!(m.contains(&0) && m.contains(&1));
    }
}

#[test]
fn bad_rates_are_errors() {
    for rate in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1e-300,
        -0.5,
        1.0 + 1e-15,
        2.0,
    ] {
        match Dropout::new(rate) {
            Err(Error::InvalidRate { rate: r }) => assert!(r.to_bits() == rate.to_bits()),
            other => panic!("rate {rate}: {other:?}"),
        }
        match Dropout::with_keep_prob(rate) {
            Err(Error::InvalidKeepProb { keep_prob }) => {
                assert!(keep_prob.to_bits() == rate.to_bits())
            }
            other => panic!("keep_prob {rate}: {other:?}"),
        }
        let msg = Dropout::new(rate).unwrap_err().to_string();
        assert!(
            msg.contains("rate") && msg.contains(&format!("{rate}")),
            "{msg}"
        );
    }
    // -0.0 is a valid rate 0.
    assert_eq!(Dropout::new(-0.0).unwrap().rate().to_bits(), 0);
    assert_eq!(
        Dropout::with_keep_prob(0.25).unwrap(),
        Dropout::new(0.75).unwrap()
    );
}

#[test]
fn empty_slices_are_ok_and_write_nothing() {
    for d in all_variants(0.5) {
        d.at::<f32>(Site::new(0))
            .forward(&[0f32; 0], &mut [])
            .unwrap();
        d.at::<f64>(Site::new(0).at(u64::MAX))
            .forward_in_place(&mut [0f64; 0])
            .unwrap();
        let mut words = [7u64; 1];
        d.mask(Site::new(0), MaskOut::Bits(&mut words), 0).unwrap();
        assert_eq!(words, [7]);
        d.at::<f32>(Site::new(0))
            .mask_out(MaskOut::Bits(&mut []))
            .forward(&[0f32; 0], &mut [])
            .unwrap();
        d.at::<dropkit::half::f16>(Site::default())
            .mask_in(MaskIn::Bits(&[]))
            .backward(&[dropkit::half::f16::ZERO; 0], &mut [])
            .unwrap();
        d.inference::<dropkit::half::bf16, _, _>(&[dropkit::half::bf16::ZERO; 0], &mut [])
            .unwrap();
    }
}

#[test]
fn length_mismatches_are_errors_and_write_nothing() {
    let d = Dropout::new(0.5).unwrap();
    let x = inputs(100, 3);
    let mut y = vec![9.0f32; 99];
    let site = Site::new(0);
    let err = d.at(site).forward(&x, &mut y).unwrap_err();
    assert_eq!(
        err,
        Error::Size {
            what: "output elements (the input's)",
            expected: 100,
            given: 99
        }
    );
    assert!(err.to_string().contains("100") && err.to_string().contains("99"));
    assert!(y.iter().all(|&v| v == 9.0));
    assert_eq!(
        d.at(site).backward(&x, &mut y),
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: 100,
            given: 99
        })
    );
    assert_eq!(
        d.inference(&x, &mut y),
        Err(Error::Size {
            what: "output elements (the input's)",
            expected: 100,
            given: 99
        })
    );
    assert!(y.iter().all(|&v| v == 9.0));

    // Mask buffers too small: named, with what was needed.
    let mut y = vec![9.0f32; 100];
    let mut words = [5u64; 1];
    assert_eq!(
        d.at(site)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y),
        Err(Error::Size {
            what: "mask words (at least)",
            expected: 2,
            given: 1
        })
    );
    let mut bytes = vec![5u8; 99];
    assert_eq!(
        d.at(site)
            .mask_out(MaskOut::Bytes(&mut bytes))
            .forward(&x, &mut y),
        Err(Error::Size {
            what: "mask bytes (at least)",
            expected: 100,
            given: 99
        })
    );
    assert_eq!(
        d.at(Site::default())
            .mask_in(MaskIn::Bits(&words))
            .backward(&x, &mut y),
        Err(Error::Size {
            what: "mask words (at least)",
            expected: 2,
            given: 1
        })
    );
    assert!(y.iter().all(|&v| v == 9.0) && words == [5] && bytes.iter().all(|&b| b == 5));
}

#[test]
fn offset_overflow_is_an_error_and_writes_nothing() {
    let d = Dropout::new(0.5).unwrap();
    let x = inputs(10, 4);
    let mut y = vec![9.0f32; 10];
    for offset in [u64::MAX - 8, u64::MAX] {
        let site = Site::new(0).at(offset);
        assert_eq!(
            d.at(site).forward(&x, &mut y),
            Err(Error::OffsetOverflow { offset, len: 10 })
        );
        assert_eq!(
            d.at(site).forward_in_place(&mut y),
            Err(Error::OffsetOverflow { offset, len: 10 })
        );
    }
    assert!(y.iter().all(|&v| v == 9.0));
    // The last valid position works: indices up to u64::MAX - 1.
    d.at(Site::new(0).at(u64::MAX - 10))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(
        bits(&y),
        bits(&crate::common::rforward(&d, 0, u64::MAX - 10, &x))
    );
}

#[test]
fn huge_requests_fail_before_touching_memory() {
    let d = Dropout::new(0.5).unwrap();
    let mut words = [3u64; 4];
    // A mask of usize::MAX elements cannot fit in 4 words: refused at once,
    // without allocating or writing.
    assert_eq!(
        d.mask(Site::new(0), MaskOut::Bits(&mut words), usize::MAX),
        Err(Error::Size {
            what: "mask words (at least)",
            expected: usize::MAX.div_ceil(64),
            given: 4
        })
    );
    assert_eq!(
        d.mask(
            Site::new(0).at(u64::MAX - 100),
            MaskOut::Bits(&mut words),
            256
        ),
        Err(Error::OffsetOverflow {
            offset: u64::MAX - 100,
            len: 256
        })
    );
    assert_eq!(words, [3; 4]);
}

#[test]
fn inference_modes() {
    let x = inputs(3000, 5);
    for rate in [0.0, 0.1, 0.5, 1.0] {
        let inv = Dropout::new(rate).unwrap();
        let mut y = vec![0f32; x.len()];
        inv.inference(&x, &mut y).unwrap();
        assert_eq!(bits(&y), bits(&x), "inverted inference is the identity");
        let mut z = x.clone();
        inv.inference_in_place(&mut z).unwrap();
        assert_eq!(bits(&z), bits(&x));

        let classic = inv.with_scaling(Scaling::Classic);
        classic.inference(&x, &mut y).unwrap();
        let want = crate::common::rinference(&classic, &x);
        assert_eq!(bits(&y), bits(&want), "classic rate {rate}");
        let mut z = x.clone();
        classic.inference_in_place(&mut z).unwrap();
        assert_eq!(bits(&z), bits(&want));
        if rate == 1.0 {
            assert!(y.iter().all(|v| v.to_bits() == 0), "never NaN at rate 1");
        }
        if rate == 0.1 {
            let q = 0.9f32;
            assert!(x
                .iter()
                .zip(&y)
                .all(|(a, b)| (a * q).to_bits() == b.to_bits()));
        }
    }
}

#[test]
fn accessors() {
    let d = Dropout::new(0.2).unwrap().with_seed(5);
    assert_eq!(d.rate(), 0.2);
    assert_eq!(d.keep_prob(), 1.0 - 0.2);
    assert_eq!(d.scale(), (1.0 / (1.0 - 0.2f64)) as f32);
    assert_eq!(d.with_scaling(Scaling::Classic).scale(), 1.0);
    assert_eq!(d.seed(), 5);
    assert_eq!(d.scaling(), Scaling::Inverted);
    assert_eq!(d.threading(), Threading::Auto);
}

#[test]
fn a_mask_call_without_a_mask_is_unsupported() {
    let d = Dropout::new(0.5).unwrap();
    assert!(matches!(
        d.mask(Site::new(0), MaskOut::None, 10),
        Err(Error::Unsupported { .. })
    ));
}
