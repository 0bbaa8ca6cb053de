//! Every ISA, sequential and threaded, out-of-place and in-place, against
//! the reference, bit for bit; invalid rates give the error.
#![no_main]

use dropkit::{reference, Dropout, Error};
use dropkit_fuzz::{bits, Case};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let rate = case.rate();
    let d = match Dropout::new(rate) {
        Ok(d) => d,
        Err(Error::InvalidRate { rate: r }) => {
            assert!(!(0.0..=1.0).contains(&rate), "valid rate {rate} refused");
            assert_eq!(r.to_bits(), rate.to_bits());
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };
    assert!((0.0..=1.0).contains(&rate), "invalid rate {rate} accepted");
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let (x, offset) = (case.input(), case.offset());
    let want = bits(&reference::forward(&d, case.stream, offset, &x));
    for v in case.variants(d) {
        let mut y = vec![f32::NAN; x.len()];
        v.forward(case.stream, offset, &x, &mut y).unwrap();
        assert_eq!(bits(&y), want, "{v:?}");
        let mut z = x.clone();
        v.forward_in_place(case.stream, offset, &mut z).unwrap();
        assert_eq!(bits(&z), want, "in place {v:?}");
    }
    // A mismatched output is refused and left alone.
    let mut short = vec![7.0f32; x.len() / 2];
    if short.len() != x.len() {
        assert!(d.forward(case.stream, offset, &x, &mut short).is_err());
        assert!(short.iter().all(|&v| v == 7.0));
    }
});
