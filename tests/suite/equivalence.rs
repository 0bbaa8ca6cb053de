//! Every ISA, sequential and threaded, bit for bit against the reference.

use crate::common::{available_or_required, check_case, check_isa, proptest_cases};
use dropkit::{Dropout, Isa, Site, Threading};
use proptest::prelude::*;

#[test]
fn scalar_matches_reference() {
    check_isa(Isa::Scalar);
}

#[test]
fn portable_matches_reference() {
    check_isa(Isa::Portable);
}

#[test]
fn avx2_matches_reference() {
    if available_or_required(Isa::Avx2) {
        check_isa(Isa::Avx2);
    }
}

#[test]
fn avx512_matches_reference() {
    if available_or_required(Isa::Avx512) {
        check_isa(Isa::Avx512);
    }
}

/// `DROPKIT_AVX512_LAYOUT` picks the AVX-512 register layout (CI runs the
/// suite once with each, so both meet the reference on an AVX-512 machine);
/// unset, AMD CPUs get halves and others a whole register.
#[test]
fn avx512_layout_follows_the_environment() {
    let layout = dropkit::avx512_layout();
    match std::env::var("DROPKIT_AVX512_LAYOUT") {
        Ok(v) => assert_eq!(layout.name(), v, "DROPKIT_AVX512_LAYOUT={v} not honoured"),
        #[cfg(target_arch = "x86_64")]
        Err(_) => {
            let id = std::arch::x86_64::__cpuid(0);
            let vendor: Vec<u8> = [id.ebx, id.edx, id.ecx]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            let amd = vendor == b"AuthenticAMD";
            let want = if amd { "halves" } else { "whole" };
            assert_eq!(layout.name(), want);
        }
        #[cfg(not(target_arch = "x86_64"))]
        Err(_) => assert_eq!(layout.name(), "whole"),
    }
}

#[test]
fn neon_matches_reference() {
    if available_or_required(Isa::Neon) {
        check_isa(Isa::Neon);
    }
}

#[test]
fn auto_isa_matches_reference() {
    let d = Dropout::new(0.3).unwrap().with_seed(5);
    assert_eq!(d.isa(), Isa::best());
    for n in [0, 17, 4097, 70000] {
        check_case(d, 1, 4090, n, 3, n % 16);
    }
}

/// Above the size where blocks stop running in pairs (1Mi elements), every
/// ISA still matches the reference, sequential and threaded.
#[test]
fn large_calls_match_reference() {
    let n = (1 << 20) + 3 * 4096 + 7;
    let x = crate::common::inputs(n, 8);
    let d = Dropout::new(0.3).unwrap().with_seed(12);
    let want = crate::common::bits(&crate::common::rforward(&d, 5, 64, &x));
    for isa in Isa::available() {
        for threading in [Threading::Sequential, Threading::Parallel] {
            let d = d.with_isa(isa).unwrap().with_threading(threading);
            let mut y = vec![0f32; n];
            d.at(Site::new(5).at(64)).forward(&x, &mut y).unwrap();
            assert!(crate::common::bits(&y) == want, "{isa:?} {threading:?}");
        }
    }
}

#[test]
fn forcing_an_unavailable_isa_is_an_error() {
    for isa in Isa::ALL {
        let r = Dropout::new(0.5).unwrap().with_isa(isa);
        assert_eq!(r.is_ok(), isa.is_available(), "{isa:?}");
        if let Err(e) = r {
            assert_eq!(e, dropkit::Error::IsaUnavailable { isa });
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn detection_agrees_with_std() {
    assert_eq!(
        Isa::Avx2.is_available(),
        std::arch::is_x86_feature_detected!("avx2")
    );
    assert_eq!(
        Isa::Avx512.is_available(),
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
    );
    assert_eq!(Isa::best(), *Isa::available().last().unwrap());
}

#[cfg(target_arch = "aarch64")]
#[test]
fn detection_agrees_with_std() {
    assert!(Isa::Neon.is_available());
    assert!(std::arch::is_aarch64_feature_detected!("neon"));
    assert!(!Isa::Avx2.is_available() && !Isa::Avx512.is_available());
    assert_eq!(Isa::best(), Isa::Neon);
    assert_eq!(Isa::best(), *Isa::available().last().unwrap());
}

#[cfg(not(target_arch = "aarch64"))]
#[test]
fn neon_is_unavailable_off_aarch64() {
    assert!(!Isa::Neon.is_available());
    assert!(!Isa::available().contains(&Isa::Neon));
    assert_eq!(
        Dropout::new(0.5).unwrap().with_isa(Isa::Neon).unwrap_err(),
        dropkit::Error::IsaUnavailable { isa: Isa::Neon }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(proptest_cases(64)))]

    /// Random cases on every available ISA.
    #[test]
    fn every_isa_matches_reference_on_random_cases(
        rate in prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0, 0.0f64..1e-6, (1.0 - 1e-6)..=1.0f64],
        seed in any::<u64>(),
        stream in any::<u64>(),
        offset in prop_oneof![0u64..10_000, any::<u64>(), (u64::MAX - 20_000)..=u64::MAX],
        n in 0usize..5000,
        salt in any::<u32>(),
        misalign in 0usize..16,
        parallel in any::<bool>(),
    ) {
        let offset = offset.min(u64::MAX - n as u64);
        let threading = if parallel { Threading::Parallel } else { Threading::Sequential };
        for isa in Isa::available() {
            let d = Dropout::new(rate).unwrap().with_seed(seed).with_isa(isa).unwrap().with_threading(threading);
            check_case(d, stream, offset, n, salt, misalign);
        }
    }
}
