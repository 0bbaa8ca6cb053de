//! Performance report: dropkit against `copy_from_slice` of the same bytes,
//! measured in the same run (SPEC §6).
//!
//! ```text
//! cargo run --release --example report            # sizes up to 256M elements (1 GiB)
//! cargo run --release --example report -- --quick # up to 16M
//! cargo run --release --example report -- --types --quick # only the element-type table
//! cargo run --release --example report -- --fused         # only the fused epilogue
//! cargo run --release --example report -- --shapes        # only broadcast masks and strided rows
//! cargo run --release --example report -- --threads       # only Auto against Sequential
//! ```
//!
//! Each figure is the best of several timed batches (this machine is shared
//! and noisy: absolute times drift, ratios taken in one run hold). f32,
//! rate 0.1, one thread unless a column says otherwise.

use dropkit::half::{bf16, f16};
use dropkit::{
    bench, mask_words, Dropout, Element, Isa, Layout, MaskIn, MaskOut, MaskShape, Site, Threading,
    View, ViewMut,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Timed rounds per measurement: fewer for the huge sizes.
fn rounds(n: usize) -> usize {
    if n >= 1 << 26 {
        3
    } else if n >= 1 << 22 {
        5
    } else {
        9
    }
}

/// Calls per batch so that a batch lasts a few milliseconds (after one
/// warm-up call: page faults, caches, the rayon pool).
fn calibrate(f: &mut impl FnMut(), n: usize) -> u32 {
    f();
    let batch = Duration::from_millis(if n >= 1 << 24 { 1 } else { 4 });
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < batch {
        f();
        calls += 1;
    }
    calls.max(1)
}

/// Seconds per call over one batch, timed by one pair of clock reads.
fn per_call(f: &mut impl FnMut(), calls: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
}

/// Best time per call of `f` over several batches.
fn best(mut f: impl FnMut(), n: usize) -> f64 {
    let calls = calibrate(&mut f, n);
    (0..rounds(n))
        .map(|_| per_call(&mut f, calls))
        .fold(f64::INFINITY, f64::min)
}

/// Cost of `f(true)` relative to `f(false)`: the two are timed back to back
/// in every round, so both see the same machine, first one then the other
/// in alternate rounds, so that neither gains from its place in the round,
/// and the median of the per-round ratios is returned.
fn ratio(mut f: impl FnMut(bool), n: usize) -> f64 {
    let calls = calibrate(&mut || f(true), n).max(calibrate(&mut || f(false), n));
    let mut r: Vec<f64> = (0..rounds(n))
        .map(|k| {
            if k % 2 == 0 {
                let a = per_call(&mut || f(true), calls);
                a / per_call(&mut || f(false), calls)
            } else {
                let b = per_call(&mut || f(false), calls);
                per_call(&mut || f(true), calls) / b
            }
        })
        .collect();
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

/// Where every timed call runs: stream 1, from offset 0 (the calls below
/// cover whole tensors; the per-row loop of `shapes_table` gives each row
/// its own offset).
const SITE: Site = Site::new(1).at(0);

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut sizes = vec![1 << 10, 1 << 12, 1 << 16, 1 << 20, 1 << 24];
    if !quick {
        sizes.push(1 << 28);
    }
    let isas = Isa::available();
    if isas.contains(&Isa::Avx512) {
        // Set by DROPKIT_AVX512_LAYOUT, else chosen by CPU vendor.
        println!(
            "AVX-512 register layout: {}",
            dropkit::avx512_layout().name()
        );
    }
    if std::env::args().any(|a| a == "--types") {
        types_table(&isas, quick);
        return;
    }
    if std::env::args().any(|a| a == "--fused") {
        fused_table(quick);
        return;
    }
    if std::env::args().any(|a| a == "--shapes") {
        shapes_table();
        return;
    }
    if std::env::args().any(|a| a == "--threads") {
        threads_table(&Dropout::new(0.1).expect("valid rate").with_seed(42));
        return;
    }
    let one = pool(1);
    let two = pool(2);
    let base = Dropout::new(0.1).expect("valid rate").with_seed(42);
    println!("dropkit report: f32, rate 0.1, best of several batches; ISAs here: {isas:?}");
    println!("times in ns/element; 'x copy' = time / copy_from_slice time of the same length, same run\n");

    let mut header = format!("{:>10} {:>8}", "n", "copy");
    for isa in &isas {
        header += &format!(" {:>24}", format!("{isa:?} (el/ns, x, g)"));
    }
    header += &format!(
        " {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "auto x", "inplace x", "2thr speed", "+bits x", "bwd x", "bwdbits x", "bwdbyte x"
    );
    println!("{header}");

    for &n in &sizes {
        // Input and output in one buffer, 1 KiB off a 4 KiB step apart (see
        // `forward_time`): with the allocator's placement, `copy_from_slice`
        // itself ran at 1.4-1.7 ns/element at 1Ki-4Ki on a Zen 3 (source
        // and destination 16 bytes apart modulo 4 KiB).
        let mut buf = vec![0f32; 2 * n + 256];
        let (x, rest) = buf.split_at_mut(n);
        x.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i % 1000) as f32 * 0.01);
        let (x, y) = (&*x, &mut rest[256..]);
        let mut z = x.to_vec();
        let mut words = vec![0u64; mask_words(n)];
        let bytes: Vec<u8> = (0..n).map(|i| u8::from(i % 10 != 0)).collect();
        let per = |t: f64| t * 1e9 / n as f64;

        let copy = best(|| y.copy_from_slice(black_box(x)), n);
        let mut row = format!("{n:>10} {:>8.4}", per(copy));
        for &isa in &isas {
            let d = base
                .with_isa(isa)
                .unwrap()
                .with_threading(Threading::Sequential);
            let t = best(
                || {
                    d.at(SITE).forward(black_box(x), y).unwrap();
                },
                n,
            );
            let g = generator(isa, n);
            row += &format!(
                " {:>8.2} {:>7.2}x {:>5.2}g",
                n as f64 / (t * 1e9),
                t / copy,
                t / g
            );
        }
        // Auto: the defaults (best ISA, threading by size, the global rayon
        // pool: every core of this machine). The mask and backward ratios are
        // taken against the same auto forward.
        let auto = base;
        let seq = base.with_threading(Threading::Sequential);
        let t_auto = best(
            || {
                auto.at(SITE).forward(black_box(x), y).unwrap();
            },
            n,
        );
        let t_in = best(
            || {
                auto.at(SITE).forward_in_place(black_box(&mut z)).unwrap();
            },
            n,
        );
        let t_one = one.install(|| {
            best(
                || {
                    seq.at(SITE).forward(black_box(x), y).unwrap();
                },
                n,
            )
        });
        let t_two = two.install(|| {
            let par = base.with_threading(Threading::Parallel);
            best(
                || {
                    par.at(SITE).forward(black_box(x), y).unwrap();
                },
                n,
            )
        });
        // Mask and backward costs are kernel properties: compare them on one
        // thread against the plain forward, timed alternately with it.
        let mut vs_plain = |f: &mut (dyn FnMut(&mut [f32]) + Send)| {
            one.install(|| {
                ratio(
                    |other| {
                        if other {
                            f(y)
                        } else {
                            seq.at(SITE).forward(black_box(x), y).unwrap();
                        }
                    },
                    n,
                )
            })
        };
        let r_bits = vs_plain(&mut |y| {
            seq.at(SITE)
                .mask_out(MaskOut::Bits(&mut words))
                .forward(black_box(x), y)
                .unwrap();
        });
        let r_bwd = vs_plain(&mut |y| seq.at(SITE).backward(black_box(x), y).unwrap());
        // From a stored mask the site is not used.
        let r_bwd_bits = vs_plain(&mut |y| {
            seq.at(Site::default())
                .mask_in(MaskIn::Bits(&words))
                .backward(black_box(x), y)
                .unwrap()
        });
        let r_bwd_bytes = vs_plain(&mut |y| {
            seq.at(Site::default())
                .mask_in(MaskIn::Bytes(&bytes))
                .backward(black_box(x), y)
                .unwrap()
        });
        row += &format!(
            " {:>8.2}x {:>8.2}x {:>9.2}x {:>8.2}x {:>8.2}x {:>8.2}x {:>8.2}x",
            t_auto / copy,
            t_in / copy,
            t_one / t_two,
            r_bits,
            r_bwd,
            r_bwd_bits,
            r_bwd_bytes
        );
        println!("{row}");
        if n == 1 << 10 {
            let mut small = [0f32; 16];
            let t_setup = best(
                || {
                    auto.at(SITE)
                        .forward(black_box(&x[..16]), &mut small)
                        .unwrap();
                },
                n,
            );
            println!(
                "{:>10} whole call, auto, n = 16 (call + one block's Philox set-up + one step): {:.0} ns",
                "",
                t_setup * 1e9
            );
            println!(
                "{:>10} whole call, auto, n = 1024: {:.0} ns",
                "",
                t_auto * 1e9
            );
        }
    }
    println!(
        "\n'auto' = default Dropout (best ISA, threads by size, global pool of {} threads);",
        rayon::current_num_threads()
    );
    println!("per-ISA columns: elements/ns, x copy, and 'g' = time / the bare stream-v1 generator's time (same ISA, same run)");
    println!("'inplace x' = auto in-place time / copy time; '2thr speed' = 1-thread time / 2-thread time (forced split).");
    println!(
        "last four columns, one thread, best ISA, each against the plain forward of the same run:"
    );
    println!("'+bits x' = forward writing a bit mask; 'bwd x' = mask-free backward;");
    println!("'bwdbits x' / 'bwdbyte x' = backward from a bit / byte mask.");

    types_table(&isas, quick);
    fused_table(quick);

    threads_table(&base);
}

/// `Threading::Auto` against `Threading::Sequential` at every size: the
/// median of interleaved ratios, called from outside any pool (the global
/// pool, `RAYON_NUM_THREADS` threads) and from inside pools of one and two
/// threads; and where two threads start to beat one (a forced split).
fn threads_table(base: &Dropout) {
    let (one, two) = (pool(1), pool(2));
    println!(
        "\nthreading, best ISA: Auto time / Sequential time (median of interleaved rounds); global pool of {} threads",
        rayon::current_num_threads()
    );
    println!(
        "{:>10} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "n", "1thr ns", "2thr ns", "auto/seq gl", "auto/seq p1", "auto/seq p2", "worst"
    );
    let seq = base.with_threading(Threading::Sequential);
    let par = base.with_threading(Threading::Parallel);
    let mut worst = 0f64;
    for shift in 10..=24 {
        let n = 1usize << shift;
        let x = vec![1.0f32; n];
        let mut y = vec![0f32; n];
        let mut vs = |f: &mut dyn FnMut(&mut [f32])| {
            ratio(
                |auto| {
                    if auto {
                        f(&mut y)
                    } else {
                        seq.at(SITE).forward(black_box(&x), &mut y).unwrap();
                    }
                },
                n,
            )
        };
        let gl = vs(&mut |y| {
            base.at(SITE).forward(black_box(&x), y).unwrap();
        });
        let p1 = one.install(|| {
            vs(&mut |y| {
                base.at(SITE).forward(black_box(&x), y).unwrap();
            })
        });
        let p2 = two.install(|| {
            vs(&mut |y| {
                base.at(SITE).forward(black_box(&x), y).unwrap();
            })
        });
        let ts = best(
            || {
                seq.at(SITE).forward(black_box(&x), &mut y).unwrap();
            },
            n,
        );
        let tp = two.install(|| {
            best(
                || {
                    par.at(SITE).forward(black_box(&x), &mut y).unwrap();
                },
                n,
            )
        });
        let w = gl.max(p1).max(p2);
        worst = worst.max(w);
        println!(
            "{n:>10} {:>10.0} {:>12.0} {:>12.3} {:>12.3} {:>12.3} {:>12.3}",
            ts * 1e9,
            tp * 1e9,
            gl,
            p1,
            p2,
            w
        );
    }
    println!("worst auto/seq over all sizes and pools: {worst:.3} (goal: at most 1.05)");
}

/// Seconds for the bare stream-v1 generator over `n` indices on `isa`, one
/// thread (words only: the limit of any forward on that ISA).
fn generator(isa: Isa, n: usize) -> f64 {
    best(
        || {
            black_box(bench::stream_words(isa, 42, 1, 0, black_box(n)).unwrap());
        },
        n,
    )
}

/// Forward seconds per call of element type `E`, one thread, on `isa`.
fn forward_time<E: Element + Copy>(isa: Isa, n: usize, x: E) -> f64 {
    let d = Dropout::new(0.1)
        .unwrap()
        .with_seed(42)
        .with_isa(isa)
        .unwrap()
        .with_threading(Threading::Sequential);
    // Input and output in one buffer, the output 1 KiB past a 4 KiB step
    // from the input, so that no type's timing depends on where the
    // allocator happened to put two buffers (loads and stores 4 KiB apart
    // alias in the store buffer).
    let pad = 1024 / std::mem::size_of::<E>();
    let mut buf = vec![x; 2 * n + pad];
    let (x, rest) = buf.split_at_mut(n);
    let y = &mut rest[pad..];
    best(
        || {
            d.at(SITE).forward(black_box(&*x), y).unwrap();
        },
        n,
    )
}

/// Copy seconds per call of `bytes` bytes.
fn copy_time(bytes: usize) -> f64 {
    let x = vec![1u8; bytes];
    let mut y = vec![0u8; bytes];
    best(|| y.copy_from_slice(black_box(&x)), bytes / 4)
}

/// Every element type against `f32` in cache and against max(copy of the
/// same bytes, the same forward in cache) from memory, one thread per ISA.
fn types_table(isas: &[Isa], quick: bool) {
    println!("\nelement types, one thread, rate 0.1 (el/ns; 'vs f32' = el/ns ratio to f32 at 4096, same ISA;");
    println!("'1K vs f32' = the same at 1024 elements, where even f64's input and output fit a 32 KiB L1;");
    println!("'mem' = time / max(copy of the same bytes, the same forward at 4096 scaled to n)):");
    println!(
        "{:>9} {:>5} {:>8} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "isa", "type", "gen 4K", "4096", "vs f32", "vs gen", "1K vs f32", "1M mem", "16M mem"
    );
    let big: &[usize] = if quick {
        &[1 << 20]
    } else {
        &[1 << 20, 1 << 24]
    };
    for &isa in isas {
        let g = generator(isa, 4096);
        let f32_small = forward_time(isa, 4096, 1.5f32);
        let f32_1k = forward_time(isa, 1024, 1.5f32);
        let row =
            |name: &str, size: usize, small: f64, small_1k: f64, timed: &dyn Fn(usize) -> f64| {
                let mut line = format!(
                    "{:>9} {:>5} {:>8.2} {:>9.2} {:>7.2}x {:>7.2}x {:>8.2}x",
                    format!("{isa:?}"),
                    name,
                    4096.0 / (g * 1e9),
                    4096.0 / (small * 1e9),
                    f32_small / small,
                    small / g,
                    f32_1k / small_1k
                );
                for &n in big {
                    let t = timed(n);
                    let limit = copy_time(n * size).max(small * n as f64 / 4096.0);
                    line += &format!(" {:>7.2}x", t / limit);
                }
                println!("{line}");
            };
        row("f32", 4, f32_small, f32_1k, &|n| {
            forward_time(isa, n, 1.5f32)
        });
        let f64_ = |n| forward_time(isa, n, 1.5f64);
        row("f64", 8, f64_(4096), f64_(1024), &f64_);
        let f16_ = |n| forward_time(isa, n, f16::from_f32(1.5));
        row("f16", 2, f16_(4096), f16_(1024), &f16_);
        let bf16_ = |n| forward_time(isa, n, bf16::from_f32(1.5));
        row("bf16", 2, bf16_(4096), bf16_(1024), &bf16_);
    }
}

/// The fused epilogue `y = residual + dropout(x + bias)` (f32, best ISA,
/// one thread) against the three passes it replaces and against the plain
/// add of the same memory traffic; its backward with `dbias` against the
/// mask-free backward.
fn fused_table(quick: bool) {
    println!("\nfused epilogue, f32, one thread, best ISA, rate 0.1 (ratios of times, same run, each the median");
    println!("of rounds that alternate its two sides):");
    println!("'vs 3 passes' = fused / (bias add + dropout + residual add); 'vs add' = fused / (y = x + r);");
    println!("'bwd+dbias' = backward with dbias / mask-free backward");
    println!(
        "{:>5} {:>9} {:>10} {:>12} {:>9} {:>10}",
        "F", "n", "fused ns/el", "vs 3 passes", "vs add", "bwd+dbias"
    );
    let d = Dropout::new(0.1)
        .unwrap()
        .with_seed(42)
        .with_threading(Threading::Sequential);
    let mut sizes = vec![1 << 16, 1 << 20];
    if !quick {
        sizes.push(1 << 24);
    }
    for f in [768usize, 4096] {
        for &n in &sizes {
            let n = n / f * f;
            let x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.01).collect();
            let r: Vec<f32> = (0..n).map(|i| (i % 777) as f32 * 0.02).collect();
            let b: Vec<f32> = (0..f).map(|i| i as f32 * 0.001).collect();
            let mut y = vec![0f32; n];
            let mut t = vec![0f32; n];
            let mut db = vec![0f32; f];
            // Rows of f features: the bias's length.
            let fused = |y: &mut [f32]| {
                d.at(SITE)
                    .bias(&b)
                    .residual(&r)
                    .forward(black_box(&x), y)
                    .unwrap();
            };
            let mut three = |y: &mut [f32]| {
                for (row, out) in x.chunks_exact(f).zip(t.chunks_exact_mut(f)) {
                    for ((o, &v), &bb) in out.iter_mut().zip(row).zip(&b) {
                        *o = v + bb;
                    }
                }
                d.at(SITE).forward_in_place(&mut t).unwrap();
                for ((o, &v), &rr) in y.iter_mut().zip(&t).zip(&r) {
                    *o = rr + v;
                }
                black_box(&y);
            };
            let add = |y: &mut [f32]| {
                for ((o, &v), &rr) in y.iter_mut().zip(black_box(&x)).zip(&r) {
                    *o = v + rr;
                }
                black_box(&y);
            };
            let fused_time = best(|| fused(&mut y), n);
            // Each ratio alternates its two sides round by round (`ratio`).
            let vs_three = ratio(|a| if a { fused(&mut y) } else { three(&mut y) }, n);
            let vs_add = ratio(|a| if a { fused(&mut y) } else { add(&mut y) }, n);
            let bwd_db = ratio(
                |a| {
                    let call = d.at(SITE);
                    let call = if a { call.dbias(&mut db) } else { call };
                    call.backward(black_box(&x), &mut y).unwrap();
                },
                n,
            );
            println!(
                "{f:>5} {n:>9} {:>10.3} {:>11.2}x {:>8.2}x {:>9.2}x",
                fused_time * 1e9 / n as f64,
                vs_three,
                vs_add,
                bwd_db
            );
        }
    }
}

/// Broadcast masks and strided rows, f32, one thread, best ISA: each
/// against a copy of the same bytes and against the elementwise forward of
/// the same elements, timed back to back.
fn shapes_table() {
    println!("\nshaped dropout, f32, one thread, best ISA, rate 0.1, out of place (ratios of times, same run):");
    println!("'x copy' = time / copy_from_slice of the same bytes; 'x flat' = time / elementwise forward of n");
    println!(
        "{:>15} {:>18} {:>9} {:>8} {:>8} {:>8}",
        "variant", "dims", "n", "ns/el", "x copy", "x flat"
    );
    let d = Dropout::new(0.1)
        .unwrap()
        .with_seed(42)
        .with_threading(Threading::Sequential);
    let cases: [(&str, MaskShape, Vec<Vec<usize>>); 4] = [
        (
            "channels first",
            MaskShape::channels_first(),
            vec![
                vec![1, 64, 32, 32],
                vec![16, 64, 32, 32],
                vec![32, 64, 32, 32],
            ],
        ),
        (
            "channels last",
            MaskShape::channels_last(),
            vec![
                vec![1, 32, 32, 64],
                vec![16, 32, 32, 64],
                vec![32, 32, 32, 64],
            ],
        ),
        (
            "drop-path",
            MaskShape::per_sample(),
            vec![vec![16, 4096], vec![256, 4096]],
        ),
        (
            "locked",
            MaskShape::locked_time_major(),
            vec![vec![64, 2, 512], vec![64, 32, 512]],
        ),
    ];
    for (name, shape, all_dims) in cases {
        for dims in all_dims {
            let n: usize = dims.iter().product();
            // Input and output in one buffer, the output 1 KiB past a 4 KiB
            // step (as `forward_time`: no store-to-load aliasing).
            let mut buf: Vec<f32> = (0..2 * n + 256).map(|i| (i % 1000) as f32 * 0.01).collect();
            let (x, rest) = buf.split_at_mut(n);
            let (x, y) = (&*x, &mut rest[256..]);
            let xv = View::dense(x, &dims).unwrap();
            let run = |y: &mut [f32]| {
                let mut yv = ViewMut::dense(y, &dims).unwrap();
                d.at(SITE)
                    .shape(shape)
                    .forward(black_box(&xv), &mut yv)
                    .unwrap();
            };
            let t = best(|| run(y), n);
            let vs_copy = ratio(
                |shaped| {
                    if shaped {
                        run(y)
                    } else {
                        y.copy_from_slice(black_box(x))
                    }
                },
                n,
            );
            let vs_flat = ratio(
                |shaped| {
                    if shaped {
                        run(y)
                    } else {
                        d.at(SITE).forward(black_box(x), y).unwrap();
                    }
                },
                n,
            );
            println!(
                "{name:>15} {:>18} {n:>9} {:>8.3} {vs_copy:>7.2}x {vs_flat:>7.2}x",
                format!("{dims:?}"),
                t * 1e9 / n as f64
            );
        }
    }
    // Strided rows: 4096 rows of 200 elements in rows of 256, in place.
    let (rows, cols, stride) = (4096usize, 200usize, 256usize);
    let n = rows * cols;
    let mut buf: Vec<f32> = (0..rows * stride)
        .map(|i| (i % 1000) as f32 * 0.01)
        .collect();
    let mut dense: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.01).collect();
    let layout = Layout::strided(&[rows, cols], &[stride, 1]).unwrap();
    let strided = |buf: &mut Vec<f32>| {
        let mut v = ViewMut::new(buf, layout).unwrap();
        // The default (elementwise) mask: a strided view needs no option.
        d.at(SITE).forward_in_place(&mut v).unwrap();
    };
    let vs_dense = ratio(
        |s| {
            if s {
                strided(&mut buf)
            } else {
                d.at(SITE).forward_in_place(black_box(&mut dense)).unwrap();
            }
        },
        n,
    );
    let per_row = ratio(
        |s| {
            if s {
                for (r, row) in buf.chunks_exact_mut(stride).enumerate() {
                    d.at(SITE.at((r * cols) as u64))
                        .forward_in_place(&mut row[..cols])
                        .unwrap();
                }
            } else {
                d.at(SITE).forward_in_place(black_box(&mut dense)).unwrap();
            }
        },
        n,
    );
    println!(
        "\nstrided rows {rows} x {cols} (stride {stride}), in place: one shaped call {vs_dense:.2}x the dense call; one call per row {per_row:.2}x"
    );
}
