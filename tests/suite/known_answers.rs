//! Known answers from SPEC §2-3: Philox, Xoshiro128++, stream v1, thresholds
//! and keep bits, checked against the reference and against every ISA.

use crate::common::pack;
use dropkit::{Dropout, Isa, MaskOut, Site, Threading};
use dropkit_reference::{self as reference, philox4x32_10};
use rand_xoshiro::rand_core::Rng;

#[test]
fn philox_random123_vectors() {
    let cases = [
        (
            [0u32; 4],
            [0u32; 2],
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
        ),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, out) in cases {
        assert_eq!(
            philox4x32_10(ctr, key),
            out,
            "ctr {ctr:08x?} key {key:08x?}"
        );
    }
}

#[test]
fn xoshiro128pp_from_1234() {
    let mut rng = reference::xoshiro_from_state([1, 2, 3, 4]);
    let got: Vec<u32> = (0..5).map(|_| rng.next_u32()).collect();
    assert_eq!(got, [641, 1573767, 3222811527, 3517856514, 836907274]);
}

const SEED0: [u32; 20] = [
    0xfa8a3f55, 0x2acad225, 0x4ae729ce, 0x32a785c4, 0xed9e1ac0, 0x977f8562, 0x79fd1857, 0xf13ae4bf,
    0x226868ef, 0x8ce24914, 0x13714aba, 0x567cdb3b, 0x5654b91c, 0x177190e7, 0xd86b4d5c, 0xa35b00c8,
    0xbd202032, 0x40331622, 0x84072b4b, 0x43f08787,
];
const SEED42: [u32; 12] = [
    0x69eefb5e, 0x7b364245, 0x7b845fae, 0xa64ee533, 0x60b92d18, 0xaccf6302, 0x5055c9ad, 0xbe0d4dd3,
    0xc52d4cb3, 0xbd69cd3d, 0xdef259cc, 0xb35a5f00,
];

#[test]
fn stream_v1_words() {
    assert_eq!(reference::random_words(0, 0, 0, 20), SEED0);
    assert_eq!(reference::random_words(42, 7, 4090, 12), SEED42);
    for (i, &w) in SEED42.iter().enumerate() {
        assert_eq!(reference::random_word(42, 7, 4090 + i as u64), w);
    }
    assert_eq!(
        reference::lane_state(42, 7, 3, 15),
        [0xf22a6e91, 0x9c6e0886, 0x90c6457b, 0x58ba81ad]
    );
}

#[test]
fn block_table_matches_the_definition() {
    // Spot checks across block boundaries and high offsets.
    for &(seed, stream, offset) in &[
        (1u64, 2u64, 0u64),
        (9, 9, 4090),
        (u64::MAX, 5, (1 << 40) + 7),
    ] {
        let words = reference::random_words(seed, stream, offset, 9000);
        for i in (0..9000).step_by(97).chain([4095, 4096, 8191, 8999]) {
            assert_eq!(
                words[i],
                reference::random_word(seed, stream, offset + i as u64)
            );
        }
    }
}

#[test]
fn thresholds() {
    let t = |rate| crate::common::config(&Dropout::new(rate).unwrap()).threshold();
    assert_eq!(t(0.1), Some(3865470566));
    assert_eq!(t(0.5), Some(2147483648));
    assert_eq!(Dropout::new(0.1).unwrap().threshold(), 3865470566);
    assert_eq!(Dropout::new(0.5).unwrap().threshold(), 2147483648);
    // q so close to 1 that q * 2^32 rounds to 2^32: clamped.
    assert_eq!(t(1e-12), Some(u32::MAX));
    assert_eq!(Dropout::new(1e-12).unwrap().threshold(), u32::MAX);
    assert_eq!(t(0.0), None, "rate 0 draws no words");
}

#[test]
fn keep_bits_known_answers() {
    let cases = [
        (0.5, 0, 0, [0xac64cc78ff8a3d4e_u64, 0x647e9bd36cf349e1]),
        (0.1, 42, 1, [0xf7bffffff77ff37b, 0xfd79dfff7fafdeff]),
    ];
    for (rate, seed, stream, want) in cases {
        let d = Dropout::new(rate).unwrap().with_seed(seed);
        assert_eq!(pack(&crate::common::rkeep(&d, stream, 0, 128)), want);
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel] {
                let d = d.with_isa(isa).unwrap().with_threading(threading);
                let x = vec![1.0f32; 128];
                let mut y = vec![0.0f32; 128];
                d.at(Site::new(stream)).forward(&x, &mut y).unwrap();
                let keep: Vec<bool> = y.iter().map(|&v| v != 0.0).collect();
                assert_eq!(pack(&keep), want, "{isa:?} {threading:?}");
                let mut bits = [0u64; 2];
                d.mask(Site::new(stream), MaskOut::Bits(&mut bits), 128)
                    .unwrap();
                assert_eq!(bits, want, "mask_bits {isa:?} {threading:?}");
            }
        }
    }
}

/// For `0 < rate <= 2^-54`, `q = 1 - rate` rounds to 1.0 and `T` to
/// `2^32 - 1`: the element whose word is `0xffffffff` is still dropped. Index
/// 3575652348 of seed 0, stream 0 is such an element (found by scanning the
/// first 2^32 indices).
#[test]
fn a_tiny_rate_still_drops_the_all_ones_word() {
    const G: u64 = 3_575_652_348;
    assert_eq!(reference::random_word(0, 0, G), u32::MAX);
    for rate in [f64::MIN_POSITIVE, 1e-300, 2f64.powi(-54), 1e-17] {
        let d = Dropout::new(rate).unwrap();
        assert_eq!(d.keep_prob(), 1.0, "q rounds to 1 at rate {rate}");
        let keep = crate::common::rkeep(&d, 0, G - 5, 11);
        assert_eq!(
            keep,
            (0..11).map(|i| i != 5).collect::<Vec<_>>(),
            "oracle at {rate}"
        );
        for isa in Isa::available() {
            let d = d.with_isa(isa).unwrap();
            let x = [1.0f32; 11];
            let mut y = [0.0f32; 11];
            d.at(Site::new(0).at(G - 5)).forward(&x, &mut y).unwrap();
            let got: Vec<bool> = y.iter().map(|&v| v != 0.0).collect();
            assert_eq!(got, keep, "{isa:?} at rate {rate}");
        }
    }
    // Rate 2^-53 is the largest whose q is not 1; nothing special there.
    assert!(Dropout::new(2f64.powi(-53)).unwrap().keep_prob() < 1.0);
}
