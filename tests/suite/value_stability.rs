//! Value stability: outputs for fixed inputs are checked in
//! (`tests/data/stability.txt`), so any change to stream v1, the threshold or
//! the scaling breaks this test. Stream v1 is frozen: a change here is a
//! breaking release, never a fix. `DROPKIT_BLESS=1` rewrites the file from
//! the reference (only for a new file or a deliberate, documented change).

use crate::common::{rforward, Elem};
use dropkit::half::{bf16, f16};
use dropkit::{Dropout, Isa, Scaling, Site};
use std::fmt::Write;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stability.txt");

/// (rate, seed, stream, offset, n, scaling)
const CASES: [(f64, u64, u64, u64, usize, Scaling); 6] = [
    (0.1, 0, 0, 0, 40, Scaling::Inverted),
    (0.5, 42, 7, 4090, 24, Scaling::Inverted),
    (0.5, 1, 2, (1 << 40) - 9, 20, Scaling::Classic),
    (
        0.9,
        u64::MAX,
        u64::MAX,
        u64::MAX - 17,
        17,
        Scaling::Inverted,
    ),
    (1e-9, 3, 3, 123_456_789, 16, Scaling::Inverted),
    (0.3, 0xDEAD_BEEF, 1 << 33, 1 << 32, 33, Scaling::Classic),
];

fn input<E: Elem>(n: usize) -> Vec<E> {
    (0..n).map(|i| E::from_f32(i as f32 * 0.25 - 3.0)).collect()
}

/// One line per case; lines of types other than `f32` start with the type.
fn render<E: Elem>(f: &impl Fn(&Dropout, u64, u64, &[E]) -> Vec<E>, out: &mut String) {
    for (rate, seed, stream, offset, n, scaling) in CASES {
        let d = Dropout::new(rate)
            .unwrap()
            .with_seed(seed)
            .with_scaling(scaling);
        let y = f(&d, stream, offset, &input(n));
        if E::NAME != "f32" {
            write!(out, "{} ", E::NAME).unwrap();
        }
        write!(
            out,
            "rate={rate} seed={seed} stream={stream} offset={offset} n={n} {scaling:?}:"
        )
        .unwrap();
        let width = 2 * std::mem::size_of::<E>();
        for v in y {
            write!(out, " {:0width$x}", v.bits()).unwrap();
        }
        out.push('\n');
    }
}

/// Every type, by `oracle` (the reference) or by dropkit on `isa`.
fn render_all(isa: Option<Isa>) -> String {
    fn run<E: Elem>(isa: Option<Isa>, out: &mut String) {
        render::<E>(
            &|d, stream, offset, x| match isa {
                None => rforward(d, stream, offset, x),
                Some(isa) => {
                    let mut y = x.to_vec();
                    d.with_isa(isa)
                        .unwrap()
                        .at(Site::new(stream).at(offset))
                        .forward(x, &mut y)
                        .unwrap();
                    y
                }
            },
            out,
        );
    }
    let mut out = String::new();
    run::<f32>(isa, &mut out);
    run::<f64>(isa, &mut out);
    run::<f16>(isa, &mut out);
    run::<bf16>(isa, &mut out);
    out
}

/// `fold_in` is frozen too: layer streams derive from it.
fn render_fold_in() -> String {
    let mut out = String::new();
    for (a, b) in [
        (0u64, 0u64),
        (0, 1),
        (4, 0),
        (u64::MAX, 12345),
        (7, u64::MAX),
    ] {
        writeln!(out, "fold_in({a}, {b}) = {:016x}", dropkit::fold_in(a, b)).unwrap();
    }
    out
}

#[test]
fn outputs_are_stable() {
    let from_reference = render_all(None) + &render_fold_in();
    if std::env::var_os("DROPKIT_BLESS").is_some() {
        std::fs::write(FILE, &from_reference).unwrap();
    }
    let checked_in = std::fs::read_to_string(FILE).expect("tests/data/stability.txt");
    assert_eq!(
        from_reference, checked_in,
        "the reference changed stream v1"
    );
    for isa in Isa::available() {
        assert_eq!(
            render_all(Some(isa)) + &render_fold_in(),
            checked_in,
            "{isa:?}"
        );
    }
}
