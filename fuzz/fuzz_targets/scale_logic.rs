//! Threshold and scale invariants for any rate and length: `T` falls as the
//! rate rises, kept = `x * s` exactly, dropped = `+0.0`, inverted inference
//! is the identity, classic inference is `x * q`, and the training mean
//! matches inference on large draws. No panic anywhere. Values in the
//! element type the input picks, by that type's rule. One case in eight is
//! big: near or past the thread piece, the generator window and the
//! paired-block limit (`dropkit::limits`).
#![no_main]

use dropkit::{mask_words, Dropout, MaskOut, Scaling, Site};
use dropkit_fuzz::{bits, class, for_case_type, Case, FuzzElem};
use dropkit_reference::Value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| for_case_type!(case, check));

fn check<E: FuzzElem>(case: &Case) {
    let _class = class(case, case.len());
    let rate = case.rate();
    let Ok(d) = Dropout::new(rate) else {
        assert!(Dropout::with_keep_prob(rate).is_err() || (0.0..=1.0).contains(&rate));
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());

    // Monotone threshold: a second rate from the case's other bits.
    let other = (case.offset_raw >> 11) as f64 / (1u64 << 53) as f64;
    let d2 = Dropout::new(other).unwrap();
    let (lo, hi) = if rate <= other { (d, d2) } else { (d2, d) };
    assert!(
        lo.threshold() >= hi.threshold(),
        "T not monotone: {rate} vs {other}"
    );

    // Kept = x * s exactly (the type's rule: one multiply by the factor
    // rounded once to the type's factor type), dropped = +0.0, as the mask
    // says.
    let (x, offset) = (case.input_of::<E>(), case.offset());
    let mut y = x.clone();
    let mut m = vec![0u64; mask_words(x.len())];
    d.at(Site::new(case.stream).at(offset))
        .mask_out(MaskOut::Bits(&mut m))
        .forward(&x, &mut y)
        .unwrap();
    for i in 0..x.len() {
        let kept = m[i / 64] >> (i % 64) & 1 == 1;
        if rate == 0.0 {
            assert!(kept && y[i].bits() == x[i].bits());
        } else if kept {
            assert_eq!(y[i].bits(), Value::times(x[i], d.training_factor()).bits());
        } else {
            assert_eq!(y[i].bits(), 0);
        }
    }

    // Inference.
    let mut inf = x.clone();
    d.inference(&x, &mut inf).unwrap();
    match d.scaling() {
        Scaling::Inverted => assert_eq!(bits(&inf), bits(&x)),
        _ => {
            for (a, b) in x.iter().zip(&inf) {
                let want = if rate == 0.0 {
                    a.bits()
                } else if rate == 1.0 {
                    0
                } else {
                    Value::times(*a, d.keep_prob()).bits()
                };
                assert_eq!(b.bits(), want);
            }
        }
    }

    // In expectation (rates away from the edges, 8192 draws of 1.0): the
    // mean training output is within 6 sigma of the inference output.
    if (0.01..=0.99).contains(&rate) {
        let n = 8192;
        let ones = vec![1.0f32; n];
        let mut t = vec![0f32; n];
        d.at(Site::new(case.stream).at(offset.min(u64::MAX - n as u64)))
            .forward(&ones, &mut t)
            .unwrap();
        let mean = t.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let mut i1 = [0f32; 1];
        d.inference(&[1.0], &mut i1).unwrap();
        let s = f64::from(d.scale());
        let sd = s * (d.keep_prob() * rate / n as f64).sqrt();
        assert!(
            (mean - f64::from(i1[0])).abs() <= 6.0 * sd + 1e-6,
            "mean {mean} rate {rate}"
        );
    }
}
