//! What the element types add: the same mask in every type, the factor
//! rounded once to `f32` for the half types (not to the type itself, which
//! would bias every kept value), and random cases per type on every ISA.

use crate::common::{bits, check_type, config, proptest_cases, rkeep, Elem};
use dropkit::half::{bf16, f16};
use dropkit::{mask_words, Dropout, Isa, MaskOut, Site, Threading};
use proptest::prelude::*;

/// The keep pattern read from a forward of ones, in any type.
fn kept_of<E: Elem>(d: &Dropout, n: usize) -> Vec<bool> {
    let x = vec![E::from_f32(1.0); n];
    let mut y = x.clone();
    d.at(Site::new(5).at(77)).forward(&x, &mut y).unwrap();
    y.iter().map(|v| v.to_f32() != 0.0).collect()
}

#[test]
fn every_type_gets_the_same_mask() {
    for isa in Isa::available() {
        let d = Dropout::new(0.37)
            .unwrap()
            .with_seed(8)
            .with_isa(isa)
            .unwrap();
        let n = 10_000;
        let want = kept_of::<f32>(&d, n);
        assert_eq!(kept_of::<f64>(&d, n), want, "{isa:?} f64");
        assert_eq!(kept_of::<f16>(&d, n), want, "{isa:?} f16");
        assert_eq!(kept_of::<bf16>(&d, n), want, "{isa:?} bf16");
        let mut words = vec![0u64; mask_words(n)];
        let x = vec![bf16::ONE; n];
        let mut y = x.clone();
        d.at(Site::new(5).at(77))
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&x, &mut y)
            .unwrap();
        assert_eq!(words, crate::common::pack(&want), "{isa:?} bf16 mask");
    }
}

/// 4M random `bf16` values at rate 0.1: the kept values average `1/0.9`
/// times their inputs within 0.01%, as the `f32` factor gives (expected
/// -0.003%). A factor rounded to `bf16` (1.109375, PyTorch's CPU path) would
/// be 0.16% low, and the same check rejects it.
#[test]
fn bf16_kept_values_are_not_biased() {
    let n = 1 << 22;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let x: Vec<bf16> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bf16::from_f32(1.0 + (state >> 40) as f32 / (1u64 << 24) as f32 * 3.0)
        })
        .collect();
    let d = Dropout::new(0.1).unwrap().with_seed(2024);
    let mut y = x.clone();
    d.at(Site::new(0)).forward(&x, &mut y).unwrap();
    let ratio = |y: &[bf16]| {
        let (mut sx, mut sy) = (0f64, 0f64);
        for (a, b) in x.iter().zip(y) {
            if b.to_f32() != 0.0 {
                sx += f64::from(a.to_f32());
                sy += f64::from(b.to_f32());
            }
        }
        sy / sx * 0.9 - 1.0
    };
    let bias = ratio(&y);
    assert!(bias.abs() < 1e-4, "dropkit's bf16 bias {bias:e}");
    let rounded = bf16::from_f64(1.0 / 0.9);
    assert_eq!(rounded.to_f32(), 1.109375);
    let torch_like: Vec<bf16> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| {
            if b.to_f32() != 0.0 {
                *a * rounded
            } else {
                bf16::ZERO
            }
        })
        .collect();
    let torch_bias = ratio(&torch_like);
    assert!(
        torch_bias < -1e-3,
        "a bf16-rounded factor biases by {torch_bias:e}"
    );
    println!("bf16 at rate 0.1: dropkit bias {bias:+.5e}, bf16-rounded factor {torch_bias:+.5e}");
}

/// `f16` products that overflow become infinity, exactly as `from_f32`.
#[test]
fn f16_overflow_and_subnormal_results() {
    let d = Dropout::new(0.1).unwrap();
    let x = [
        f16::MAX,
        f16::from_bits(1),
        f16::from_bits(0x03ff),
        f16::MIN,
    ];
    for isa in Isa::available() {
        let d = d.with_isa(isa).unwrap();
        let mut y = [f16::ZERO; 4];
        d.inference(&x, &mut y).unwrap();
        assert_eq!(y, x, "inverted inference is the identity");
        let keep = rkeep(&d, 0, 0, 4);
        d.at(Site::new(0)).forward(&x, &mut y).unwrap();
        for i in 0..4 {
            let want = if keep[i] {
                f16::from_f32(x[i].to_f32() * d.scale())
            } else {
                f16::ZERO
            };
            assert_eq!(y[i].to_bits(), want.to_bits(), "{isa:?} {i}");
        }
    }
    assert_eq!(
        f16::from_f32(f16::MAX.to_f32() * (1.0 / 0.9f32)),
        f16::INFINITY
    );
}

/// One random case: (rate, seed, stream, offset, n, salt, misalign, parallel).
type Args = (f64, u64, u64, u64, usize, u32, usize, bool);

fn random_case<E: Elem>((rate, seed, stream, offset, n, salt, misalign, parallel): Args) {
    let offset = offset.min(u64::MAX - n as u64);
    let threading = if parallel {
        Threading::Parallel
    } else {
        Threading::Sequential
    };
    let base = Dropout::new(rate).unwrap().with_seed(seed);
    let keep = rkeep(&base, stream, offset, n);
    for isa in Isa::available() {
        let d = base.with_isa(isa).unwrap().with_threading(threading);
        check_type::<E>(d, stream, offset, &keep, salt, misalign);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(32)))]

    #[test]
    fn random_cases_per_type(
        elem in 0u8..4,
        rate in prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0, 0.0f64..1e-6, (1.0 - 1e-6)..=1.0f64],
        seed in any::<u64>(),
        stream in any::<u64>(),
        offset in prop_oneof![0u64..10_000, any::<u64>()],
        n in 0usize..5000,
        salt in any::<u32>(),
        misalign in 0usize..16,
        parallel in any::<bool>(),
    ) {
        let args = (rate, seed, stream, offset, n, salt, misalign, parallel);
        match elem {
            0 => random_case::<f32>(args),
            1 => random_case::<f64>(args),
            2 => random_case::<f16>(args),
            _ => random_case::<bf16>(args),
        }
    }
}

/// Every bit pattern of `f16` and `bf16` through the training forward on
/// every ISA, against the oracle. Kept products of every kind occur:
/// subnormal (which AVX-512's `vcvtneps2bf16` would flush to zero, so its
/// data side must not let it), overflowing, NaN, infinite, signed zeros,
/// and exact ties of the final rounding: at rate 1/257 the factor is
/// 257/256, so `x * s = x + x / 256` ends in exactly half of `bf16`'s last
/// place for many `x` (1/2049 does the same for `f16`), and round to
/// nearest even must break them.
#[test]
fn every_half_bit_pattern_matches_the_oracle() {
    fn all_patterns<E: Elem>(from_bits: fn(u16) -> E) {
        let x: Vec<E> = (0..=u16::MAX).map(from_bits).collect();
        for rate in [1e-7, 0.1, 0.5, 0.999, 1.0 / 257.0, 1.0 / 2049.0] {
            for isa in Isa::available() {
                let d = Dropout::new(rate)
                    .unwrap()
                    .with_seed(9)
                    .with_isa(isa)
                    .unwrap();
                let keep = rkeep(&d, 3, 11, x.len());
                let want = bits(&config(&d).apply(&keep, &x));
                let mut y = vec![E::from_f32(7.0); x.len()];
                d.at(Site::new(3).at(11)).forward(&x, &mut y).unwrap();
                assert_eq!(bits(&y), want, "{} {isa:?} rate {rate}", E::NAME);
            }
        }
    }
    all_patterns(bf16::from_bits);
    all_patterns(f16::from_bits);
}
