//! Criterion benchmarks: per size, `copy_from_slice` of the same bytes next
//! to the bare stream-v1 generator and the forward of every available ISA
//! (forced, one thread), auto, in-place, two threads (large sizes), the mask
//! and backward paths, and the forward of every element type (best ISA, one
//! thread). Throughput is in bytes of `f32` input so the copy line reads as
//! memory bandwidth; the generator line is the limit a forward on the same
//! ISA can reach.
//!
//! `cargo bench` (all), `cargo bench -- 4K` (one size).

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use dropkit::half::{bf16, f16};
use dropkit::{
    bench, mask_words, Dropout, Element, Isa, Layout, MaskIn, MaskOut, MaskShape, Site, Threading,
    View, ViewMut,
};
use std::hint::black_box;
use std::time::Duration;

fn sizes() -> [(&'static str, usize); 5] {
    [
        ("1K", 1 << 10),
        ("4K", 1 << 12),
        ("64K", 1 << 16),
        ("1M", 1 << 20),
        ("16M", 1 << 24),
    ]
}

/// Where every benchmarked call runs: stream 1, from offset 0.
const SITE: Site = Site::new(1).at(0);

fn bench(c: &mut Criterion) {
    let base = Dropout::new(0.1).expect("valid rate").with_seed(42);
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    for (name, n) in sizes() {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes((n * 4) as u64));
        if n >= 1 << 20 {
            g.sample_size(10).measurement_time(Duration::from_secs(2));
        } else {
            g.measurement_time(Duration::from_secs(1));
        }
        g.warm_up_time(Duration::from_millis(300));
        let x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.01).collect();
        let mut y = vec![0f32; n];
        let mut words = vec![0u64; mask_words(n)];
        let mut bytes = vec![0u8; n];

        g.bench_function("copy", |b| b.iter(|| y.copy_from_slice(black_box(&x))));
        for isa in Isa::available() {
            g.bench_function(BenchmarkId::new("generator", format!("{isa:?}")), |b| {
                b.iter(|| black_box(bench::stream_words(isa, 42, 1, 0, black_box(n)).expect("ok")))
            });
            let d = base
                .with_isa(isa)
                .expect("available")
                .with_threading(Threading::Sequential);
            g.bench_function(BenchmarkId::new("forward", format!("{isa:?}")), |b| {
                b.iter(|| {
                    d.at(SITE)
                        .forward(black_box(&x), &mut y)
                        .expect("lengths match")
                })
            });
        }
        g.bench_function("auto", |b| {
            b.iter(|| base.at(SITE).forward(black_box(&x), &mut y).expect("ok"))
        });
        let mut z = x.clone();
        g.bench_function("auto_in_place", |b| {
            b.iter(|| {
                base.at(SITE)
                    .forward_in_place(black_box(&mut z))
                    .expect("ok")
            })
        });
        g.bench_function("auto_with_bit_mask", |b| {
            b.iter(|| {
                base.at(SITE)
                    .mask_out(MaskOut::Bits(&mut words))
                    .forward(black_box(&x), &mut y)
                    .expect("ok")
            })
        });
        g.bench_function("auto_with_byte_mask", |b| {
            b.iter(|| {
                base.at(SITE)
                    .mask_out(MaskOut::Bytes(&mut bytes))
                    .forward(black_box(&x), &mut y)
                    .expect("ok")
            })
        });
        g.bench_function("backward_mask_free", |b| {
            b.iter(|| base.at(SITE).backward(black_box(&x), &mut y).expect("ok"))
        });
        g.bench_function("backward_from_bits", |b| {
            b.iter(|| {
                base.at(Site::default())
                    .mask_in(MaskIn::Bits(&words))
                    .backward(black_box(&x), &mut y)
                    .expect("ok")
            })
        });
        g.bench_function("backward_from_bytes", |b| {
            b.iter(|| {
                base.at(Site::default())
                    .mask_in(MaskIn::Bytes(&bytes))
                    .backward(black_box(&x), &mut y)
                    .expect("ok")
            })
        });
        if n >= 1 << 20 {
            let par = base.with_threading(Threading::Parallel);
            g.bench_function("two_threads", |b| {
                two.install(|| b.iter(|| par.at(SITE).forward(black_box(&x), &mut y).expect("ok")))
            });
        }
        let seq = base.with_threading(Threading::Sequential);
        typed(&mut g, seq, n, 1.5f64);
        typed(&mut g, seq, n, f16::from_f32(1.5));
        typed(&mut g, seq, n, bf16::from_f32(1.5));
        g.finish();
    }
}

/// The forward of element type `E`, one thread, best ISA.
fn typed<E: Element + Copy>(g: &mut BenchmarkGroup<'_, WallTime>, d: Dropout, n: usize, v: E) {
    let x = vec![v; n];
    let mut y = x.clone();
    let name = std::any::type_name::<E>()
        .rsplit("::")
        .next()
        .unwrap_or("?");
    g.bench_function(BenchmarkId::new("forward_type", name), |b| {
        b.iter(|| d.at(SITE).forward(black_box(&x), &mut y).expect("ok"))
    });
}

/// The shapes of the figures (f32, one thread, best ISA) next to a
/// copy of the same bytes: channels first and last, drop-path and locked
/// masks, and strided rows (4096 x 200 in rows of 256) next to the dense
/// call. `cargo bench -- shapes`.
fn shapes(c: &mut Criterion) {
    let d = Dropout::new(0.1)
        .expect("valid rate")
        .with_seed(42)
        .with_threading(Threading::Sequential);
    let cases: [(&str, MaskShape, [usize; 4]); 4] = [
        (
            "channels_first",
            MaskShape::channels_first(),
            [32, 64, 32, 32],
        ),
        (
            "channels_last",
            MaskShape::channels_last(),
            [32, 32, 32, 64],
        ),
        ("drop_path", MaskShape::per_sample(), [1, 1, 256, 4096]),
        ("locked", MaskShape::locked_time_major(), [1, 64, 32, 512]),
    ];
    let mut g = c.benchmark_group("shapes");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    for (name, shape, dims) in cases {
        // Leading extents of 1 keep every case rank 4; the drop-path and
        // locked masks are then given by noise shape on the real axes.
        let dims: Vec<usize> = dims.into_iter().skip_while(|&e| e == 1).collect();
        let n: usize = dims.iter().product();
        let x = vec![1.5f32; n];
        let mut y = vec![0f32; n];
        g.throughput(Throughput::Bytes((n * 4) as u64));
        g.bench_function(BenchmarkId::new("copy", name), |b| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
        g.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| {
                let xv = View::dense(black_box(&x), &dims).expect("view");
                let mut yv = ViewMut::dense(&mut y, &dims).expect("view");
                d.at(SITE).shape(shape).forward(&xv, &mut yv).expect("ok")
            })
        });
    }
    let (rows, cols, stride) = (4096usize, 200usize, 256usize);
    let mut buf = vec![1.5f32; rows * stride];
    let mut dense = vec![1.5f32; rows * cols];
    let layout = Layout::strided(&[rows, cols], &[stride, 1]).expect("layout");
    g.throughput(Throughput::Bytes((rows * cols * 4) as u64));
    g.bench_function("strided_rows", |b| {
        b.iter(|| {
            let mut v = ViewMut::new(&mut buf, layout).expect("view");
            // The default (elementwise) mask on a strided view.
            d.at(SITE).forward_in_place(&mut v).expect("ok")
        })
    });
    g.bench_function("dense_rows", |b| {
        b.iter(|| {
            d.at(SITE)
                .forward_in_place(black_box(&mut dense))
                .expect("ok")
        })
    });
    g.finish();
}

criterion_group!(benches, bench, shapes);
criterion_main!(benches);
