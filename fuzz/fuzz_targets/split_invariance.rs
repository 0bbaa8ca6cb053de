//! The same tensor computed in arbitrary pieces, each with its offset,
//! equals the whole, for every ISA.
#![no_main]

use dropkit::Dropout;
use dropkit_fuzz::{bits, Case};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let Ok(d) = Dropout::new(case.rate()) else {
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let (x, offset) = (case.input(), case.offset());
    let n = x.len();
    let mut whole = vec![0f32; n];
    d.forward(case.stream, offset, &x, &mut whole).unwrap();
    let mut cuts: Vec<usize> = case
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (n + 1))
        .collect();
    cuts.sort_unstable();
    for v in case.variants(d) {
        let mut pieces = vec![f32::NAN; n];
        let mut start = 0;
        for &end in cuts.iter().chain([&n]) {
            v.forward(
                case.stream,
                offset + start as u64,
                &x[start..end],
                &mut pieces[start..end],
            )
            .unwrap();
            start = end;
        }
        assert_eq!(bits(&pieces), bits(&whole), "{v:?} cuts {cuts:?}");
    }
});
