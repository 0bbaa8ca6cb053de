//! Every ISA, sequential and threaded, out-of-place and in-place, against
//! the independent oracle, bit for bit, in the element type the input picks;
//! invalid rates give the error. One case in eight is big: near or past
//! the thread piece, the generator window and the paired-block limit
//! (`dropkit::limits`), up to just past `PAIR_BLOCKS_MAX`.
#![no_main]

use dropkit::{Dropout, Error, Site};
use dropkit_fuzz::{assert_same, bits, class, config, for_case_type, Case, FuzzElem};
use libfuzzer_sys::fuzz_target;

fn check<E: FuzzElem>(case: &Case) {
    let _class = class(case, case.len());
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
    let d = d.with_seed(case.seed).with_scaling(case.any_scaling());
    let (x, offset) = (case.input_of::<E>(), case.offset());
    let want = config(&d).forward(case.stream, offset, &x);
    let site = Site::new(case.stream).at(offset);
    for v in case.variants(d) {
        let mut y = x.clone();
        v.at(site).forward(&x, &mut y).unwrap();
        assert_same!(y, want, "{v:?}");
        let mut z = x.clone();
        v.at(site).forward_in_place(&mut z).unwrap();
        assert_same!(z, want, "in place {v:?}");
    }
    // A mismatched output is refused and left alone.
    let mut short = x[..x.len() / 2].to_vec();
    let before = bits(&short);
    if short.len() != x.len() {
        assert!(d.at(site).forward(&x, &mut short).is_err());
        assert_eq!(bits(&short), before);
    }
}

fuzz_target!(|case: Case| for_case_type!(case, check));
