//! Bit mask, byte mask and mask-free backward agree with the forward mask,
//! on every ISA and threading. One case in eight is big: near or past the
//! thread piece, the generator window and the paired-block limit
//! (`dropkit::limits`).
#![no_main]

use dropkit::{mask_words, Dropout, MaskIn, MaskOut, Site};
use dropkit_fuzz::{assert_same, class, Case};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    let _class = class(&case, case.len());
    let Ok(d) = Dropout::new(case.rate()) else {
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let (dy, offset) = (case.input(), case.offset());
    let n = dy.len();
    let site = Site::new(case.stream).at(offset);
    // The forward mask: which elements of forward(ones) survive.
    let ones = vec![1.0f32; n];
    let mut f = vec![0f32; n];
    d.at(site).forward(&ones, &mut f).unwrap();
    let keep: Vec<bool> = f.iter().map(|&v| v != 0.0).collect();
    for v in case.variants(d) {
        let mut y = vec![0f32; n];
        let mut words = vec![u64::MAX; mask_words(n)];
        v.at(site)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&ones, &mut y)
            .unwrap();
        let mut bytes = vec![9u8; n];
        v.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
        for i in 0..n {
            assert_eq!(words[i / 64] >> (i % 64) & 1 == 1, keep[i], "bit {i}");
            assert_eq!(bytes[i] == 1, keep[i], "byte {i}");
        }
        if n % 64 != 0 {
            assert_eq!(words[n / 64] >> (n % 64), 0, "bits past n");
        }
        let mut free = vec![0f32; n];
        v.at(site).backward(&dy, &mut free).unwrap();
        // From a stored mask: the site is not used.
        let mut from_bits = vec![0f32; n];
        v.at(Site::default())
            .mask_in(MaskIn::Bits(&words))
            .backward(&dy, &mut from_bits)
            .unwrap();
        let mut from_bytes = dy.clone();
        v.at(Site::default())
            .mask_in(MaskIn::Bytes(&bytes))
            .backward_in_place(&mut from_bytes)
            .unwrap();
        assert_same!(from_bits, free, "{v:?}");
        assert_same!(from_bytes, free, "{v:?}");
        for i in 0..n {
            let want = if v.rate() == 0.0 {
                dy[i]
            } else if keep[i] {
                dy[i] * v.scale()
            } else {
                0.0
            };
            assert_eq!(free[i].to_bits(), want.to_bits(), "element {i}");
        }
    }
});
