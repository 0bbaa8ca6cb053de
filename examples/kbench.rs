use dropkit::{Dropout, Isa, Threading};
use std::hint::black_box;
use std::time::Instant;
fn t(mut f: impl FnMut(), n: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..15 {
        let reps = 10_000_000 / n;
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    n as f64 / best / 1e9
}
fn main() {
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        for n in [4096usize, 65536] {
            let x = vec![1.5f32; n];
            let mut y = vec![0f32; n];
            let mut w = vec![0u64; n / 64];
            let mut b = vec![0u8; n];
            let d = Dropout::new(0.1)
                .unwrap()
                .with_isa(isa)
                .unwrap()
                .with_threading(Threading::Sequential);
            let f = t(|| d.forward(1, 0, black_box(&x), &mut y).unwrap(), n);
            let fm = t(
                || {
                    d.forward_with_mask(1, 0, black_box(&x), &mut y, &mut w)
                        .unwrap()
                },
                n,
            );
            let fb = t(
                || {
                    d.forward_with_byte_mask(1, 0, black_box(&x), &mut y, &mut b)
                        .unwrap()
                },
                n,
            );
            let bb = t(
                || {
                    d.backward_from_byte_mask(&b, black_box(&x), &mut y)
                        .unwrap()
                },
                n,
            );
            println!("{isa:?} n={n}: fwd {f:.2} fwd+bits {fm:.2} fwd+bytes {fb:.2} bwd-bytes {bb:.2} el/ns");
        }
    }
}
