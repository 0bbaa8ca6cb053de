//! The same tensor computed in arbitrary pieces, each with its offset,
//! equals the whole, for every ISA. One case in eight is big (past the
//! thread piece, the window and the paired-block limit), its cuts anywhere.
#![no_main]

use dropkit::{Dropout, Site};
use dropkit_fuzz::{assert_same, class, Case};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let _class = class(&case, case.len());
    let Ok(d) = Dropout::new(case.rate()) else {
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let (x, offset) = (case.input(), case.offset());
    let n = x.len();
    let site = Site::new(case.stream).at(offset);
    let mut whole = vec![0f32; n];
    d.at(site).forward(&x, &mut whole).unwrap();
    // Cut points anywhere in a big case (odd raw cuts spread over `0..=n`),
    // else in the first 64Ki elements.
    let mut cuts: Vec<usize> = case
        .cuts
        .iter()
        .map(|&c| match (case.big(), usize::from(c)) {
            (true, c) if c & 1 == 1 => (c * (n + 1)) >> 16,
            (_, c) => c % (n + 1),
        })
        .collect();
    cuts.sort_unstable();
    for v in case.variants(d) {
        let mut pieces = vec![f32::NAN; n];
        let mut start = 0;
        for &end in cuts.iter().chain([&n]) {
            v.at(site.at(offset + start as u64))
                .forward(&x[start..end], &mut pieces[start..end])
                .unwrap();
            start = end;
        }
        assert_same!(pieces, whole, "{v:?} cuts {cuts:?}");
    }
});
