use dropkit::{Dropout, Isa, Threading};
use std::hint::black_box;
use std::time::Instant;
fn main() {
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        for n in [4096usize, 65536] {
            let x = vec![1.5f32; n];
            let mut y = vec![0f32; n];
            let d = Dropout::new(0.1).unwrap().with_isa(isa).unwrap().with_threading(Threading::Sequential);
            let mut best = f64::MAX;
            for _ in 0..15 {
                let reps = 20_000_000 / n;
                let t = Instant::now();
                for _ in 0..reps { d.forward(1, 0, black_box(&x), &mut y).unwrap(); }
                best = best.min(t.elapsed().as_secs_f64() / reps as f64);
            }
            println!("{isa:?} n={n}: {:.2} el/ns", n as f64 / best / 1e9);
        }
    }
}
