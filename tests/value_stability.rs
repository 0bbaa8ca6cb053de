//! Value stability: outputs for fixed inputs are checked in
//! (`tests/data/stability.txt`), so any change to stream v1, the threshold or
//! the scaling breaks this test. Stream v1 is frozen: a change here is a
//! breaking release, never a fix. `DROPKIT_BLESS=1` rewrites the file from
//! the reference (only for a new file or a deliberate, documented change).

use dropkit::{reference, Dropout, Isa, Scaling};
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

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.25 - 3.0).collect()
}

fn render(f: impl Fn(&Dropout, u64, u64, &[f32]) -> Vec<f32>) -> String {
    let mut out = String::new();
    for (rate, seed, stream, offset, n, scaling) in CASES {
        let d = Dropout::new(rate)
            .unwrap()
            .with_seed(seed)
            .with_scaling(scaling);
        let y = f(&d, stream, offset, &input(n));
        write!(
            out,
            "rate={rate} seed={seed} stream={stream} offset={offset} n={n} {scaling:?}:"
        )
        .unwrap();
        for v in y {
            write!(out, " {:08x}", v.to_bits()).unwrap();
        }
        out.push('\n');
    }
    out
}

#[test]
fn outputs_are_stable() {
    let from_reference = render(reference::forward);
    if std::env::var_os("DROPKIT_BLESS").is_some() {
        std::fs::write(FILE, &from_reference).unwrap();
    }
    let checked_in = std::fs::read_to_string(FILE).expect("tests/data/stability.txt");
    assert_eq!(
        from_reference, checked_in,
        "the reference changed stream v1"
    );
    for isa in Isa::available() {
        let fast = render(|d, stream, offset, x| {
            let mut y = vec![0f32; x.len()];
            d.with_isa(isa)
                .unwrap()
                .forward(stream, offset, x, &mut y)
                .unwrap();
            y
        });
        assert_eq!(fast, checked_in, "{isa:?}");
    }
}
