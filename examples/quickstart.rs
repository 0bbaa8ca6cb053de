//! dropkit in one screen: masks, keep statistics and one timing.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use dropkit::{mask_words, Dropout, Isa, MaskOut, Scaling, Site, Threading};
use std::hint::black_box;
use std::time::Instant;

fn main() -> Result<(), dropkit::Error> {
    println!(
        "dropkit: ISAs on this CPU {:?}, auto picks {:?}\n",
        Isa::available(),
        Isa::best()
    );

    // 1. Masks: 64 elements of streams 0 and 1, rate 0.5, seed 42. A call
    //    runs at a site: a stream (here 0 or 1) and the offset of its first
    //    element in the whole tensor (here 0: the call covers all of it).
    let drop = Dropout::new(0.5)?.with_seed(42);
    let x: Vec<f32> = (1..=64).map(|i| i as f32).collect();
    let mut y = vec![0f32; 64];
    for stream in [0, 1] {
        drop.at(Site::new(stream).at(0)).forward(&x, &mut y)?;
        let mask: String = y
            .iter()
            .map(|&v| if v != 0.0 { '1' } else { '.' })
            .collect();
        println!("rate 0.5, stream {stream}:  {mask}");
    }
    println!(
        "kept values are x * 2 (inverted scaling): x[0..8] -> {:?}\n",
        &y[..8]
    );

    // 2. Keep statistics over 1M elements: only the mask, as bits.
    let n = 1 << 20;
    let mut words = vec![0u64; mask_words(n)];
    println!(
        "{:>6} {:>10} {:>10} {:>8}",
        "rate", "kept", "expected", "sigmas"
    );
    for rate in [0.1, 0.5, 0.9] {
        let d = Dropout::new(rate)?.with_seed(7);
        d.mask(Site::new(3), MaskOut::Bits(&mut words), n)?;
        let kept: u32 = words.iter().map(|w| w.count_ones()).sum();
        let q = d.keep_prob();
        let expected = n as f64 * q;
        let sigma = (n as f64 * q * (1.0 - q)).sqrt();
        println!(
            "{rate:>6} {kept:>10} {expected:>10.0} {:>8.2}",
            (f64::from(kept) - expected) / sigma
        );
    }

    // 3. Classic vs inverted inference.
    let classic = Dropout::new(0.1)?.with_scaling(Scaling::Classic);
    let mut inf = [0f32; 3];
    classic.inference(&[1.0, 2.0, 3.0], &mut inf)?;
    println!("\nclassic inference at rate 0.1 scales by q = 0.9: {inf:?}");

    // 4. One timing: 1M elements, one thread, next to copy_from_slice.
    let x = vec![1.0f32; n];
    let mut y = vec![0f32; n];
    let d = Dropout::new(0.1)?.with_threading(Threading::Sequential);
    let time = |f: &mut dyn FnMut()| {
        f();
        (0..7)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..20 {
                    f();
                }
                t.elapsed().as_secs_f64() / 20.0
            })
            .fold(f64::INFINITY, f64::min)
    };
    let t_copy = time(&mut || y.copy_from_slice(black_box(&x)));
    let site = Site::new(1);
    let t_drop = time(&mut || {
        d.at(site).forward(black_box(&x), &mut y).unwrap();
    });
    println!(
        "\n1M f32, one thread, {:?}: dropout {:.3} ns/element, copy_from_slice {:.3} ns/element ({:.2}x copy)",
        d.isa(),
        t_drop * 1e9 / n as f64,
        t_copy * 1e9 / n as f64,
        t_drop / t_copy
    );
    Ok(())
}
