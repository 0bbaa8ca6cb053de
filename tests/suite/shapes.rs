//! Strided views and broadcast masks against the dense oracle: expand the
//! mask of the mask shape over the data, apply it element by element with
//! `dropkit-reference`, and compare bit for bit, on every ISA, element type
//! and threading, over random ranks, broadcast patterns, padded and
//! permuted strides, offsets and slabs.

use crate::common::{available_or_required, bits, config, inputs_of, pack, Elem};
use dropkit::{
    limits, mask_words, Dropout, Error, Isa, Layout, MaskIn, MaskOut, MaskShape, Scaling, Site,
    Threading, View, ViewMut,
};
use half::{bf16, f16};

/// SplitMix64: the cases' randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Asserts `got == want` (bit patterns), naming the first difference and
/// the count instead of printing both vectors.
#[track_caller]
fn same(got: &[u64], want: &[u64], ctx: &str) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        let count = got.iter().zip(want).filter(|(a, b)| a != b).count();
        panic!(
            "{ctx}: {count} of {} differ (lengths {} and {}), first at {first:?}",
            want.len(),
            got.len(),
            want.len()
        );
    }
}

/// The keep decision of every data element of `dims`: mask element
/// `(i_a or 0 where the mask's extent is 1)`, from the oracle's
/// elementwise mask of the mask's elements.
fn expand(keep: &[bool], dims: &[usize], mask: &[usize]) -> Vec<bool> {
    let n: usize = dims.iter().product();
    (0..n)
        .map(|li| {
            // Row-major: the last axis varies fastest, in the data and in
            // the mask.
            let (mut rest, mut u, mut weight) = (li, 0, 1);
            for a in (0..dims.len()).rev() {
                let i = rest % dims[a];
                rest /= dims[a];
                if mask[a] != 1 {
                    u += i * weight;
                }
                weight *= mask[a];
            }
            keep[u]
        })
        .collect()
}

/// Strides for `dims` in a random memory order with random padding
/// (sometimes a non-unit innermost stride).
fn strides(dims: &[usize], rng: &mut Rng) -> Vec<usize> {
    let k = dims.len();
    let mut order: Vec<usize> = (0..k).collect();
    if rng.below(4) == 0 {
        for i in (1..k).rev() {
            order.swap(i, rng.below(i + 1));
        }
    }
    let mut s = vec![0; k];
    let mut step = 1 + usize::from(rng.below(5) == 0);
    for &a in order.iter().rev() {
        s[a] = step;
        step = step * dims[a].max(1) + rng.below(3);
    }
    s
}

/// A buffer holding `data` (logical order) at `layout`'s addresses, the
/// rest `fill`.
fn scatter<E: Copy>(data: &[E], layout: &Layout, fill: E) -> Vec<E> {
    let mut buf = vec![fill; layout.span()];
    for (li, &v) in data.iter().enumerate() {
        buf[addr(li, layout)] = v;
    }
    buf
}

/// The buffer index of logical (row-major) index `li` under `layout`.
fn addr(li: usize, layout: &Layout) -> usize {
    let mut rest = li;
    let mut at = 0;
    for (&d, &s) in layout.dims().iter().zip(layout.strides()).rev() {
        at += rest % d * s;
        rest /= d;
    }
    at
}

/// The logical elements of `buf` at `layout`, and whether every other
/// element is still `fill`.
fn gather<E: Elem>(buf: &[E], layout: &Layout, fill: E) -> (Vec<E>, bool) {
    let mut inside = vec![false; buf.len()];
    let vals = (0..layout.len())
        .map(|li| {
            let a = addr(li, layout);
            inside[a] = true;
            buf[a]
        })
        .collect();
    let padding_intact = buf
        .iter()
        .zip(&inside)
        .all(|(v, &i)| i || v.bits() == fill.bits());
    (vals, padding_intact)
}

/// One random case: whole-tensor dims and mask, and a slab of axis 0.
#[derive(Clone)]
struct Case {
    whole: Vec<usize>,
    mask: Vec<usize>,
    start: usize,
    rows: usize,
    slab: bool,
    /// The call's offset (`None`: drawn from a list near block and 2^40
    /// edges).
    offset: Option<u64>,
    /// Dense input and output (else randomly padded and permuted strides).
    dense: bool,
}

fn random_case(rng: &mut Rng) -> Case {
    let rank = 1 + rng.below(5);
    let pick = [0usize, 1, 2, 3, 5, 7, 16, 17, 33, 70];
    let whole: Vec<usize> = (0..rank)
        .map(|_| {
            let d = pick[rng.below(pick.len())];
            if d == 0 && rng.below(4) != 0 {
                3
            } else {
                d
            }
        })
        .collect();
    // Keep cases small: shrink axes until under 6000 elements.
    let mut whole = whole;
    while whole.iter().product::<usize>() > 6000 {
        let a = rng.below(rank);
        whole[a] = whole[a].div_ceil(2);
    }
    let mask = whole
        .iter()
        .map(|&d| if rng.below(2) == 0 { 1 } else { d })
        .collect();
    let total = whole[0];
    let slab = rng.below(3) != 0;
    let (start, rows) = if slab && total > 0 {
        let start = rng.below(total + 1);
        (start, rng.below(total - start + 1))
    } else {
        (0, total)
    };
    Case {
        whole,
        mask,
        start,
        rows,
        slab,
        offset: None,
        dense: false,
    }
}

const RATES: [f64; 6] = [0.0, 1e-9, 0.1, 0.5, 1.0 - 1e-7, 1.0];

/// One case through every shaped call of `d`, against the oracle.
fn check_shaped<E: Elem>(d: &Dropout, c: &Case, rng: &mut Rng, salt: u32) {
    let stream = rng.next();
    let offsets = [0u64, 5, 4090, (1 << 40) - 3];
    let offset = c.offset.unwrap_or(offsets[rng.below(offsets.len())]);
    let whole_n: usize = c.whole.iter().product();
    let m_whole: usize = c.mask.iter().product();
    let x_whole: Vec<E> = inputs_of(whole_n, salt);
    let dy_whole: Vec<E> = inputs_of(whole_n, salt ^ 0x55);
    let cfg = config(d);
    let keep_whole = expand(&cfg.keep_mask(stream, offset, m_whole), &c.whole, &c.mask);
    let want_whole = cfg.forward_from(&keep_whole, &x_whole);
    let grad_whole = cfg.apply(&keep_whole, &dy_whole);

    // The slab's rows.
    let per_row: usize = c.whole[1..].iter().product();
    let rows = c.start * per_row..(c.start + c.rows) * per_row;
    let mut dims = c.whole.clone();
    dims[0] = c.rows;
    let x = &x_whole[rows.clone()];
    let dy = &dy_whole[rows.clone()];
    let want = &want_whole[rows.clone()];
    let grad = &grad_whole[rows.clone()];
    let shape = if c.slab {
        MaskShape::noise_shape(&c.mask).slab(c.start, c.whole[0])
    } else {
        MaskShape::noise_shape(&c.mask)
    };
    let site = Site::new(stream).at(offset);
    let ctx = format!(
        "{} {:?} whole {:?} mask {:?} slab {}..+{} offset {offset} rate {}",
        E::NAME,
        d.isa(),
        c.whole,
        c.mask,
        c.start,
        c.rows,
        d.rate()
    );

    let (xl, yl) = if c.dense {
        (Layout::dense(&dims).unwrap(), Layout::dense(&dims).unwrap())
    } else {
        (
            Layout::strided(&dims, &strides(&dims, rng)).unwrap(),
            Layout::strided(&dims, &strides(&dims, rng)).unwrap(),
        )
    };
    let fill = E::specials()[1];
    let xb = scatter(x, &xl, fill);
    let xv = View::new(&xb, xl).unwrap();

    // Forward, out of place.
    let mut yb = vec![fill; yl.span()];
    d.at(site)
        .shape(shape)
        .forward(&xv, &mut ViewMut::new(&mut yb, yl).unwrap())
        .unwrap();
    let (got, intact) = gather(&yb, &yl, fill);
    same(&bits(&got), &bits(want), &format!("forward {ctx}"));
    assert!(intact, "forward wrote padding {ctx}");

    // In place.
    let mut zb = scatter(x, &yl, fill);
    d.at(site)
        .shape(shape)
        .forward_in_place(&mut ViewMut::new(&mut zb, yl).unwrap())
        .unwrap();
    let (got, intact) = gather(&zb, &yl, fill);
    same(&bits(&got), &bits(want), &format!("in place {ctx}"));
    assert!(intact, "in place wrote padding {ctx}");

    // The slab's mask: the mask layout, and its bits.
    let ml = shape.mask_layout(&yl).unwrap();
    let mlen = ml.len();
    let mask_before = if c.mask[0] != 1 {
        c.start * c.mask[1..].iter().product::<usize>()
    } else {
        0
    };
    let keep_slab = cfg.keep_mask(stream, offset + mask_before as u64, mlen);
    let mut words = vec![!0u64; mask_words(mlen) + 1];
    let mut yb = vec![fill; yl.span()];
    d.at(site)
        .shape(shape)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&xv, &mut ViewMut::new(&mut yb, yl).unwrap())
        .unwrap();
    if whole_n > 0 && c.rows > 0 && dims.iter().all(|&e| e > 0) {
        assert_eq!(
            words[..mask_words(mlen)],
            pack(&keep_slab)[..],
            "bits {ctx}"
        );
    }
    assert_eq!(*words.last().unwrap(), !0u64, "bits past the mask {ctx}");
    let (got, _) = gather(&yb, &yl, fill);
    same(
        &bits(&got),
        &bits(want),
        &format!("forward with mask {ctx}"),
    );
    let mut bytes = vec![7u8; mlen];
    let mut zb = scatter(x, &yl, fill);
    d.at(site)
        .shape(shape)
        .mask_out(MaskOut::Bytes(&mut bytes))
        .forward_in_place(&mut ViewMut::new(&mut zb, yl).unwrap())
        .unwrap();
    let (got, _) = gather(&zb, &yl, fill);
    same(
        &bits(&got),
        &bits(want),
        &format!("in place with byte mask {ctx}"),
    );

    // Backward: mask-free, in place, from bits, from bytes.
    let dyb = scatter(dy, &xl, fill);
    let dyv = View::new(&dyb, xl).unwrap();
    let mut dxb = vec![fill; yl.span()];
    d.at(site)
        .shape(shape)
        .backward(&dyv, &mut ViewMut::new(&mut dxb, yl).unwrap())
        .unwrap();
    let (got, intact) = gather(&dxb, &yl, fill);
    same(&bits(&got), &bits(grad), &format!("backward {ctx}"));
    assert!(intact, "backward wrote padding {ctx}");
    let mut dxb = scatter(dy, &yl, fill);
    d.at(site)
        .shape(shape)
        .backward_in_place(&mut ViewMut::new(&mut dxb, yl).unwrap())
        .unwrap();
    let (got, _) = gather(&dxb, &yl, fill);
    same(
        &bits(&got),
        &bits(grad),
        &format!("backward in place {ctx}"),
    );
    if dims.iter().all(|&e| e > 0) {
        for mask in [MaskIn::Bits(&words), MaskIn::Bytes(&bytes)] {
            let mut dxb = vec![fill; yl.span()];
            d.at(Site::default())
                .shape(shape)
                .mask_in(mask)
                .backward(&dyv, &mut ViewMut::new(&mut dxb, yl).unwrap())
                .unwrap();
            let (got, intact) = gather(&dxb, &yl, fill);
            same(
                &bits(&got),
                &bits(grad),
                &format!("backward from {mask:?} {ctx}"),
            );
            assert!(intact, "backward from mask wrote padding {ctx}");
        }
    }

    // Inference.
    let mut yb = vec![fill; yl.span()];
    d.inference(&xv, &mut ViewMut::new(&mut yb, yl).unwrap())
        .unwrap();
    let (got, intact) = gather(&yb, &yl, fill);
    same(
        &bits(&got),
        &bits(&cfg.inference(x)),
        &format!("inference {ctx}"),
    );
    assert!(intact, "inference wrote padding {ctx}");
}

fn check_isa_type<E: Elem>(isa: Isa, cases: usize, seed: u64) {
    let mut rng = Rng(seed);
    for k in 0..cases {
        let c = random_case(&mut rng);
        let scaling = [Scaling::Inverted, Scaling::Classic, Scaling::Alpha][k % 3];
        let threading = [Threading::Sequential, Threading::Parallel][(k / 3) % 2];
        let d = Dropout::new(RATES[k % RATES.len()])
            .unwrap()
            .with_seed(rng.next())
            .with_scaling(scaling)
            .with_threading(threading)
            .with_isa(isa)
            .unwrap();
        check_shaped::<E>(&d, &c, &mut rng, k as u32);
    }
}

fn check_isa(isa: Isa) {
    if !available_or_required(isa) {
        return;
    }
    check_isa_type::<f32>(isa, 120, 1);
    check_isa_type::<f64>(isa, 60, 2);
    check_isa_type::<f16>(isa, 60, 3);
    check_isa_type::<bf16>(isa, 60, 4);
}

#[test]
fn scalar_matches_dense_oracle() {
    check_isa(Isa::Scalar);
}

#[test]
fn portable_matches_dense_oracle() {
    check_isa(Isa::Portable);
}

#[test]
fn avx2_matches_dense_oracle() {
    check_isa(Isa::Avx2);
}

#[test]
fn avx512_matches_dense_oracle() {
    check_isa(Isa::Avx512);
}

#[test]
fn neon_matches_dense_oracle() {
    check_isa(Isa::Neon);
}

/// A fixed case through `check_shaped` (random strides and offset).
fn fixed(whole: &[usize], mask: &[usize], slab: Option<(usize, usize)>) -> Case {
    let (start, rows) = slab.unwrap_or((0, whole[0]));
    Case {
        whole: whole.to_vec(),
        mask: mask.to_vec(),
        start,
        rows,
        slab: slab.is_some(),
        offset: None,
        dense: false,
    }
}

/// Sizes past the generator's window (65536 mask bits), long rows, many
/// rows, periodic rows, on every ISA and both threadings.
#[test]
fn large_shapes_match_dense_oracle() {
    let cases = [
        fixed(&[3, 70001], &[3, 70001], None), // elementwise, rows past the window
        fixed(&[3, 2, 40000], &[1, 2, 40000], None), // locked, mask past the window
        fixed(&[1000, 70, 3], &[1000, 70, 1], None), // channels first, 70000 decisions
        fixed(&[8, 50, 64], &[8, 1, 64], Some((2, 4))), // channels last, periodic rows
        fixed(&[4, 300, 100], &[4, 1, 100], None), // period 100 (1600 bits)
        fixed(&[4, 30, 1000], &[4, 1, 1000], None), // period too long to fold
        fixed(&[70, 3, 1000], &[70, 1, 1], None), // drop-path
    ];
    let mut rng = Rng(99);
    for isa in Isa::available() {
        for (k, c) in cases.iter().enumerate() {
            for threading in [Threading::Sequential, Threading::Parallel] {
                let d = Dropout::new(0.3)
                    .unwrap()
                    .with_seed(k as u64)
                    .with_isa(isa)
                    .unwrap()
                    .with_threading(threading);
                check_shaped::<f32>(&d, c, &mut rng, k as u32);
            }
        }
        let d = Dropout::alpha(0.2).unwrap().with_isa(isa).unwrap();
        check_shaped::<bf16>(&d, &cases[3], &mut rng, 7);
    }
}

/// The calls that gave wrong bits in 0.1 (issue 16): channels last over
/// dense ones, more than [`limits::WINDOW`] mask elements, channels a
/// multiple of 64, and an offset that puts a window edge inside a sample's
/// run of channel bits. Every ISA, sequential and parallel, forward, with a
/// mask, in place and backward, against the oracle's mask expanded over
/// the shape.
#[test]
fn channels_last_window_edge_inside_a_run() {
    type C = (&'static [usize], f64, u64, u64, u64);
    let cases: [C; 3] = [
        (&[1100, 2, 128], 0.5, 1, 0, 100),
        (&[260, 4, 512], 0.1, 3, 9, 777),
        (&[1100, 3, 64], 0.3, 5, 2, 33),
    ];
    for (dims, rate, seed, stream, offset) in cases {
        let n: usize = dims.iter().product();
        let mask = [dims[0], 1, dims[2]];
        let m = dims[0] * dims[2];
        assert!(m > limits::WINDOW);
        let x = vec![1.0f32; n];
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel] {
                let d = Dropout::new(rate)
                    .unwrap()
                    .with_seed(seed)
                    .with_isa(isa)
                    .unwrap()
                    .with_threading(threading);
                let cfg = config(&d);
                let keep = expand(&cfg.keep_mask(stream, offset, m), dims, &mask);
                let want = bits(&cfg.forward_from(&keep, &x));
                let ctx = format!("{dims:?} offset {offset} {isa:?} {threading:?}");
                let shape = MaskShape::channels_last();
                let site = Site::new(stream).at(offset);
                let xv = View::dense(&x, dims).unwrap();
                let mut y = vec![0f32; n];
                d.at(site)
                    .shape(shape)
                    .forward(&xv, &mut ViewMut::dense(&mut y, dims).unwrap())
                    .unwrap();
                same(&bits(&y), &want, &format!("forward {ctx}"));
                let mut words = vec![0u64; mask_words(m)];
                let mut z = x.clone();
                d.at(site)
                    .shape(shape)
                    .mask_out(MaskOut::Bits(&mut words))
                    .forward_in_place(&mut ViewMut::dense(&mut z, dims).unwrap())
                    .unwrap();
                same(&bits(&z), &want, &format!("in place with mask {ctx}"));
                same(
                    &words,
                    &pack(&cfg.keep_mask(stream, offset, m)),
                    &format!("mask {ctx}"),
                );
                let mut dx = vec![0f32; n];
                d.at(site)
                    .shape(shape)
                    .backward(&xv, &mut ViewMut::dense(&mut dx, dims).unwrap())
                    .unwrap();
                same(
                    &bits(&dx),
                    &bits(&cfg.apply(&keep, &x)),
                    &format!("backward {ctx}"),
                );
            }
        }
    }
}

/// Every shaped entry point (through `check_shaped`) at sizes and offsets
/// on both sides of each internal constant a shaped call meets: the
/// generator window (edges inside runs and inside words), the block, the
/// periodic-row limits, the thread pieces and the in-pool threshold; every
/// ISA sequential, parallel and `Auto` inside a 2-thread pool for `f32`,
/// the other types on the best ISA.
#[test]
fn shaped_calls_cross_every_limit() {
    use limits::{BLOCK, PARALLEL_MIN_IN_POOL, PERIOD_BITS_MAX, PIECE_MIN, WINDOW};
    let at = |whole: &[usize], mask: &[usize], offset: u64| Case {
        offset: Some(offset),
        ..fixed(whole, mask, None)
    };

    let w = WINDOW;
    let p = PERIOD_BITS_MAX;
    let cases = [
        // Window edges inside channel runs of 64, 128 and 192 bits: the
        // second window starts at a block boundary of the global index,
        // which the offset puts inside a run (more than 2 windows of mask).
        at(&[2 * w / 64 + 3, 3, 64], &[2 * w / 64 + 3, 1, 64], 33),
        at(&[2 * w / 128 + 2, 2, 128], &[2 * w / 128 + 2, 1, 128], 100),
        at(
            &[2 * w / 192 + 2, 2, 192],
            &[2 * w / 192 + 2, 1, 192],
            BLOCK as u64 - 1,
        ),
        // Elementwise masks of 2 WINDOW - 2, 2 WINDOW and 2 WINDOW + 2 elements.
        at(&[2, w - 1], &[2, w - 1], 5),
        at(&[2, w], &[2, w], 64),
        at(&[2, w + 1], &[2, w + 1], (w - 7) as u64),
        // Locked: runs longer than the window starting inside a word.
        at(&[3, 2, w + 5], &[1, 2, w + 5], (w - 37) as u64),
        // Channels first: 2 WINDOW + 2 decisions.
        at(&[w + 1, 2, 3], &[w + 1, 2, 1], 61),
        // Periods at, below and above the folding limit.
        at(&[4, 3, p], &[4, 1, p], 7),
        at(&[4, 3, p - 64], &[4, 1, p - 64], 70),
        at(&[4, 3, p + 64], &[4, 1, p + 64], 9),
        at(&[4, 5, p / 2 + 1], &[4, 1, p / 2 + 1], 1),
        // Periodic rows of 2048 bits (the repeated run) and just past it.
        at(&[5, 32, 64], &[5, 1, 64], 3),
        at(&[5, 33, 64], &[5, 1, 64], 3),
        // Thread pieces (PIECE_MIN) and the in-pool threshold, cut inside
        // rows, from an offset inside a block.
        at(
            &[3 * PIECE_MIN / 8 + 1, 8],
            &[3 * PIECE_MIN / 8 + 1, 1],
            4095,
        ),
        at(&[PARALLEL_MIN_IN_POOL / 16 + 1, 16], &[1, 16], 4097),
        at(
            &[PARALLEL_MIN_IN_POOL / 16 - 1, 16],
            &[PARALLEL_MIN_IN_POOL / 16 - 1, 16],
            65,
        ),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut rng = Rng(16);
    let cases = cases.iter().flat_map(|c| {
        [true, false].map(|dense| Case {
            dense,
            whole: c.whole.clone(),
            mask: c.mask.clone(),
            ..*c
        })
    });
    for (k, c) in cases.enumerate() {
        let c = &c;
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel, Threading::Auto] {
                let d = Dropout::new(RATES[1 + k % 4])
                    .unwrap()
                    .with_seed(k as u64)
                    .with_isa(isa)
                    .unwrap()
                    .with_threading(threading);
                pool.install(|| check_shaped::<f32>(&d, c, &mut rng, k as u32));
            }
        }
        let d = Dropout::new(0.3).unwrap().with_seed(k as u64);
        check_shaped::<f64>(&d, c, &mut rng, k as u32);
        check_shaped::<f16>(&d, c, &mut rng, k as u32);
        let alpha = Dropout::alpha(0.2).unwrap().with_seed(k as u64);
        check_shaped::<bf16>(&alpha, c, &mut rng, k as u32);
    }
}

/// Each named mask shape is the mask shape the table says, and its calls
/// equal the noise-shape calls with that shape.
#[test]
fn named_variants_are_their_mask_shapes() {
    type Expect = fn(&[usize]) -> Vec<usize>;
    let named: [(MaskShape, Expect); 5] = [
        (MaskShape::channels_first(), |d| {
            let mut m = vec![1; d.len()];
            m[..2].copy_from_slice(&d[..2]);
            m
        }),
        (MaskShape::channels_last(), |d| {
            let mut m = vec![1; d.len()];
            m[0] = d[0];
            m[d.len() - 1] = d[d.len() - 1];
            m
        }),
        (MaskShape::per_sample(), |d| {
            let mut m = vec![1; d.len()];
            m[0] = d[0];
            m
        }),
        (MaskShape::locked_time_major(), |d| {
            let mut m = d.to_vec();
            m[0] = 1;
            m
        }),
        (MaskShape::locked_batch_major(), |d| {
            let mut m = d.to_vec();
            m[1] = 1;
            m
        }),
    ];
    let d = Dropout::new(0.4).unwrap().with_seed(5);
    for dims in [vec![3usize, 4, 5], vec![2, 3, 4, 5], vec![2, 3, 2, 2, 33]] {
        let n: usize = dims.iter().product();
        let x: Vec<f32> = inputs_of(n, 3);
        for (shape, expect) in named {
            let data = Layout::dense(&dims).unwrap();
            let mask = expect(&dims);
            assert_eq!(
                shape.mask_layout(&data).unwrap().dims(),
                &mask[..],
                "{shape:?}"
            );
            let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
            let xv = View::dense(&x, &dims).unwrap();
            d.at(Site::new(9).at(3))
                .shape(shape)
                .forward(&xv, &mut ViewMut::dense(&mut a, &dims).unwrap())
                .unwrap();
            d.at(Site::new(9).at(3))
                .shape(MaskShape::noise_shape(&mask))
                .forward(&xv, &mut ViewMut::dense(&mut b, &dims).unwrap())
                .unwrap();
            same(&bits(&a), &bits(&b), &format!("{shape:?} {dims:?}"));
            let axes: Vec<usize> = (0..dims.len()).filter(|&i| mask[i] == 1).collect();
            let by_axes = MaskShape::broadcast_dims(&axes);
            assert_eq!(by_axes.mask_layout(&data).unwrap().dims(), &mask[..]);
        }
    }
    // Ranks a named shape cannot take.
    let l1 = Layout::dense(&[5]).unwrap();
    let l2 = Layout::dense(&[5, 4]).unwrap();
    for (shape, l) in [
        (MaskShape::channels_first(), l1),
        (MaskShape::channels_last(), l1),
        (MaskShape::locked_time_major(), l1),
        (MaskShape::locked_batch_major(), l2),
    ] {
        assert!(
            matches!(shape.mask_layout(&l), Err(Error::UnsupportedRank { .. })),
            "{shape:?}"
        );
    }
}

/// Every kind of bad input: a typed error, and nothing written.
#[test]
fn bad_shapes_are_refused_and_nothing_is_written() {
    let d = Dropout::new(0.5).unwrap();
    let x = vec![1.0f32; 64];
    let xv = View::dense(&x, &[4, 4, 4]).unwrap();
    let mut y = vec![7.0f32; 64];
    let mut expect = |shape: MaskShape, x: &View<'_, f32>, dims: &[usize], want: Error| {
        let r = d
            .at(Site::new(0))
            .shape(shape)
            .forward(x, &mut ViewMut::dense(&mut y, dims).unwrap());
        assert_eq!(r, Err(want), "{shape:?}");
        assert!(y.iter().all(|&v| v == 7.0), "written on error {shape:?}");
    };
    expect(
        MaskShape::elementwise(),
        &xv,
        &[4, 16],
        Error::RankMismatch {
            expected: 3,
            given: 2,
        },
    );
    expect(
        MaskShape::elementwise(),
        &xv,
        &[4, 8, 2],
        Error::DimMismatch {
            axis: 1,
            input: 4,
            output: 8,
        },
    );
    expect(
        MaskShape::noise_shape(&[4, 2, 1]),
        &xv,
        &[4, 4, 4],
        Error::BadMaskDim {
            axis: 1,
            data: 4,
            mask: 2,
        },
    );
    expect(
        MaskShape::noise_shape(&[4, 1]),
        &xv,
        &[4, 4, 4],
        Error::RankMismatch {
            expected: 3,
            given: 2,
        },
    );
    expect(
        MaskShape::broadcast_dims(&[3]),
        &xv,
        &[4, 4, 4],
        Error::BadAxis { axis: 3, rank: 3 },
    );
    expect(
        MaskShape::elementwise().slab(6, 8),
        &xv,
        &[4, 4, 4],
        Error::SlabOutOfRange {
            start: 6,
            rows: 4,
            total: 8,
        },
    );
    expect(
        MaskShape::elementwise().slab(usize::MAX, 8),
        &xv,
        &[4, 4, 4],
        Error::SlabOutOfRange {
            start: usize::MAX,
            rows: 4,
            total: 8,
        },
    );

    // Offsets past the end of the index space (the mask's elements count).
    let r = d
        .at(Site::new(0).at(u64::MAX - 10))
        .shape(MaskShape::elementwise())
        .forward(&xv, &mut ViewMut::dense(&mut y, &[4, 4, 4]).unwrap());
    assert!(matches!(r, Err(Error::OffsetOverflow { .. })));
    d.at(Site::new(0).at(u64::MAX - 16))
        .shape(MaskShape::per_sample())
        .forward(&xv, &mut ViewMut::dense(&mut y, &[4, 4, 4]).unwrap())
        .unwrap(); // 4 mask elements fit
    y.fill(7.0);

    // Views: too short, overlapping, overflowing, bad ranks.
    assert_eq!(
        View::new(&x[..10], Layout::dense(&[3, 4]).unwrap()).unwrap_err(),
        Error::Size {
            what: "slice elements the view reaches (at least)",
            expected: 12,
            given: 10
        }
    );
    let overlapping = Layout::strided(&[4, 4], &[3, 1]).unwrap();
    assert_eq!(
        ViewMut::new(&mut y, overlapping).unwrap_err(),
        Error::SelfOverlap
    );
    let zero_stride = Layout::strided(&[4, 4], &[0, 1]).unwrap();
    assert_eq!(
        ViewMut::new(&mut y, zero_stride).unwrap_err(),
        Error::SelfOverlap
    );
    assert!(
        View::new(&x, zero_stride).is_ok(),
        "an input may repeat elements"
    );
    let interleaved = Layout::strided(&[2, 2], &[1, 2]).unwrap(); // column major: fine
    assert!(ViewMut::new(&mut y, interleaved).is_ok());
    assert_eq!(
        Layout::dense(&[usize::MAX, 2]).unwrap_err(),
        Error::SizeOverflow
    );
    assert_eq!(
        Layout::strided(&[2, 2], &[usize::MAX, 1]).unwrap_err(),
        Error::SizeOverflow
    );
    assert!(matches!(
        Layout::dense(&[]),
        Err(Error::UnsupportedRank { rank: 0, .. })
    ));
    assert!(matches!(
        Layout::dense(&[1; 9]),
        Err(Error::UnsupportedRank { rank: 9, .. })
    ));
    assert_eq!(
        Layout::strided(&[2, 2], &[1]).unwrap_err(),
        Error::RankMismatch {
            expected: 2,
            given: 1
        }
    );

    // Masks too small, for the forward and the backward.
    let mut words = [0u64; 0];
    // 16 mask elements: one word, or 16 bytes.
    let r = d
        .at(Site::new(0))
        .shape(MaskShape::channels_first())
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&xv, &mut ViewMut::dense(&mut y, &[4, 4, 4]).unwrap());
    assert_eq!(
        r,
        Err(Error::Size {
            what: "mask words (at least)",
            expected: 1,
            given: 0
        })
    );
    let r = d
        .at(Site::default())
        .shape(MaskShape::channels_first())
        .mask_in(MaskIn::Bytes(&[1; 15]))
        .backward(&xv, &mut ViewMut::dense(&mut y, &[4, 4, 4]).unwrap());
    assert_eq!(
        r,
        Err(Error::Size {
            what: "mask bytes (at least)",
            expected: 16,
            given: 15
        })
    );
    assert!(y.iter().all(|&v| v == 7.0));

    // Zero-sized axes: Ok, nothing written.
    let e = View::dense(&x[..0], &[4, 0, 4]).unwrap();
    let mut buf = [7.0f32; 3];
    d.at(Site::new(0))
        .shape(MaskShape::channels_first())
        .forward(&e, &mut ViewMut::dense(&mut buf, &[4, 0, 4]).unwrap())
        .unwrap();
    assert_eq!(buf, [7.0; 3]);
}

/// `SelfOverlap` is the documented conservative rule, not an exact test:
/// dims `[3, 3]` with strides `[2, 3]` has nine distinct addresses but is
/// refused, since the stride 3 is not above the span 4 of the stride-2
/// axis; one more (stride 5) passes, and at exactly the span (stride 4) two
/// elements do share an address.
#[test]
fn self_overlap_is_the_documented_conservative_rule() {
    let distinct = Layout::strided(&[3, 3], &[2, 3]).unwrap();
    let mut addrs: Vec<usize> = (0..3)
        .flat_map(|i| (0..3).map(move |j| 2 * i + 3 * j))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    assert_eq!(addrs.len(), 9, "the addresses are all distinct");
    let mut y = vec![7.0f32; distinct.span()];
    let err = ViewMut::new(&mut y, distinct).unwrap_err();
    assert_eq!(err, Error::SelfOverlap);
    let msg = err.to_string();
    assert!(
        msg.contains("cannot prove") && msg.contains("sorted by stride") && msg.contains("span"),
        "{msg}"
    );
    // The axis order does not matter: the rule sorts by stride.
    let swapped = Layout::strided(&[3, 3], &[3, 2]).unwrap();
    assert_eq!(
        ViewMut::new(&mut y, swapped).unwrap_err(),
        Error::SelfOverlap
    );
    // Inputs may share addresses, so the same layout reads fine.
    let x = vec![1.0f32; distinct.span()];
    assert!(View::new(&x, distinct).is_ok());
    // Past the span: accepted. At the span: a real shared address (0 + 4).
    let mut z = vec![7.0f32; 32];
    assert!(ViewMut::new(&mut z, Layout::strided(&[3, 3], &[2, 5]).unwrap()).is_ok());
    assert_eq!(
        ViewMut::new(&mut z, Layout::strided(&[3, 3], &[2, 4]).unwrap()).unwrap_err(),
        Error::SelfOverlap
    );
    // Axes of extent 1 are left out of the rule, whatever their stride.
    assert!(ViewMut::new(&mut z, Layout::strided(&[1, 3, 3], &[0, 1, 3]).unwrap()).is_ok());
    assert!(y.iter().all(|&v| v == 7.0) && z.iter().all(|&v| v == 7.0));
}

/// Channel dropout keeps each channel at rate `q` over samples, and keeps
/// whole planes.
#[test]
fn channels_keep_at_the_rate() {
    let (n, c, l) = (4000usize, 8usize, 16usize);
    let d = Dropout::new(0.25).unwrap().with_seed(77);
    let x = vec![1.0f32; n * c * l];
    let mut y = vec![0.0f32; n * c * l];
    let dims = [n, c, l];
    d.at(Site::new(3))
        .shape(MaskShape::channels_first())
        .forward(
            &View::dense(&x, &dims).unwrap(),
            &mut ViewMut::dense(&mut y, &dims).unwrap(),
        )
        .unwrap();
    let sigma = (n as f64 * 0.75 * 0.25).sqrt();
    for ch in 0..c {
        let mut kept = 0;
        for s in 0..n {
            let plane = &y[(s * c + ch) * l..(s * c + ch + 1) * l];
            assert!(plane.iter().all(|&v| v == plane[0]), "plane split");
            kept += usize::from(plane[0] != 0.0);
        }
        let z = (kept as f64 - 0.75 * n as f64) / sigma;
        assert!(
            z.abs() < 5.0,
            "channel {ch}: {kept} of {n} kept, {z:.1} sigma"
        );
    }
}

/// Standard normal draws (Box-Muller over SplitMix64).
fn normals(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let mut u = || (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let (a, b) = (u().max(1e-300), u());
            ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        })
        .collect()
}

fn mean_var(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var)
}

/// Alpha dropout keeps mean 0 and variance 1 on standard normal input,
/// elementwise and per channel (feature alpha dropout).
#[test]
fn alpha_dropout_keeps_mean_and_variance() {
    let n = 1 << 20;
    let x = normals(n, 1);
    let (m0, v0) = mean_var(&x);
    for rate in [0.1, 0.5] {
        let d = Dropout::alpha(rate).unwrap().with_seed(2);
        let mut y = vec![0f32; n];
        d.at(Site::new(0)).forward(&x, &mut y).unwrap();
        let (m, v) = mean_var(&y);
        // Sampling error of the input itself, plus the mask's: a few 1e-3.
        assert!(
            (m - m0).abs() < 6.0 / (n as f64).sqrt() * 2.0,
            "rate {rate}: mean {m} (input {m0})"
        );
        assert!(
            (v - v0).abs() < 0.01,
            "rate {rate}: variance {v} (input {v0})"
        );
        let dims = [256, 64, 64];
        let mut z = vec![0f32; n];
        d.at(Site::new(0))
            .shape(MaskShape::channels_first())
            .forward(
                &View::dense(&x, &dims).unwrap(),
                &mut ViewMut::dense(&mut z, &dims).unwrap(),
            )
            .unwrap();
        let (m, v) = mean_var(&z);
        // 16384 channel decisions: the mask's share of the error is larger.
        assert!(
            (m - m0).abs() < 0.03,
            "feature alpha, rate {rate}: mean {m}"
        );
        assert!(
            (v - v0).abs() < 0.05,
            "feature alpha, rate {rate}: variance {v}"
        );
    }
}

/// Alpha dropout's constants: known answers at rates 0.1 and 0.5 (from a
/// 50-digit evaluation of the formula), the edges, and the values it
/// writes.
#[test]
#[allow(clippy::excessive_precision)] // the digits of the exact values, on purpose
fn alpha_constants_known_answers() {
    // (rate, a, b, dropped) to 20 digits.
    let known: [(f64, f64, f64, f64); 2] = [
        (
            0.1,
            0.92128451614971151489,
            0.16197097005757020964,
            -1.4577387305181318868,
        ),
        (
            0.5,
            0.88640489466593192709,
            0.77919393051803160368,
            -0.77919393051803160368,
        ),
    ];
    for (rate, a, b, dropped) in known {
        let (ga, gb, gd) = Dropout::alpha(rate).unwrap().alpha_affine().unwrap();
        for (got, want) in [(ga, a), (gb, b), (gd, dropped)] {
            let ulp = f64::EPSILON * want.abs();
            assert!(
                (got - want).abs() <= 1.5 * ulp,
                "rate {rate}: {got} vs {want}"
            );
        }
        // And what the contract computes, bit for bit (1 / sqrt in f64).
        let (ra, rb, rd) = dropkit_reference::alpha_constants(rate);
        assert_eq!(
            (ga.to_bits(), gb.to_bits(), gd.to_bits()),
            (ra.to_bits(), rb.to_bits(), rd.to_bits())
        );
    }
    assert_eq!(Dropout::new(0.1).unwrap().alpha_affine(), None);
    assert_eq!(dropkit::ALPHA_PRIME, -1.7580993408473766);
    // Rate 1: all +0.0 (even for NaN and infinities); rate 0: the identity.
    let x = [f32::NAN, f32::INFINITY, -3.0, 0.0];
    let mut y = [1.0f32; 4];
    Dropout::alpha(1.0)
        .unwrap()
        .at(Site::new(0))
        .forward(&x, &mut y)
        .unwrap();
    assert!(y.iter().all(|v| v.to_bits() == 0));
    Dropout::alpha(0.0)
        .unwrap()
        .at(Site::new(0))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(bits(&y), bits(&x));
    // Inference is the identity; the fused forward refuses alpha.
    let d = Dropout::alpha(0.3).unwrap();
    d.inference(&x, &mut y).unwrap();
    assert_eq!(bits(&y), bits(&x));
    // `Fused::rows(4)` alone: the fused path needs a bias (zero here).
    let r = d.at(Site::new(0)).bias(&[0.0f32; 4]).forward(&x, &mut y);
    assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
    assert_eq!(bits(&y), bits(&x), "written on error");
}

/// Alpha dropout's backward over dense data (slices, vectors, dense views,
/// in place) is `dy * a` where kept and `+0.0` where dropped, not the
/// forward's affine: the dense fast path once ran the forward kernel (found
/// by the Python package's gradcheck). Every ISA, sequential and parallel,
/// sizes on both sides of the block and of `PARALLEL_MIN_IN_POOL`.
#[test]
fn alpha_backward_over_dense_data_is_dy_times_a() {
    for n in [1usize, 4095, 4097, limits::PARALLEL_MIN_IN_POOL + 33] {
        let dy: Vec<f32> = inputs_of(n, 3);
        for isa in Isa::available() {
            for threading in [Threading::Sequential, Threading::Parallel] {
                let d = Dropout::alpha(0.3)
                    .unwrap()
                    .with_seed(4)
                    .with_isa(isa)
                    .unwrap()
                    .with_threading(threading);
                let (a, _, _) = dropkit_reference::alpha_constants(0.3);
                let keep = config(&d).keep_mask(6, 4090, n);
                let want: Vec<f32> = dy
                    .iter()
                    .zip(&keep)
                    .map(|(&g, &k)| if k { g * a as f32 } else { 0.0 })
                    .collect();
                let site = Site::new(6).at(4090);
                let mut dx = vec![7.0f32; n];
                d.at(site).backward(&dy, &mut dx).unwrap();
                assert_eq!(bits(&dx), bits(&want), "{isa:?} {threading:?} n={n} slices");
                let mut dx = vec![7.0f32; n];
                let view = View::dense(&dy, &[n]).unwrap();
                let mut out = ViewMut::dense(&mut dx, &[n]).unwrap();
                d.at(site).backward(&view, &mut out).unwrap();
                assert_eq!(bits(&dx), bits(&want), "{isa:?} {threading:?} n={n} views");
                let mut inplace = dy.clone();
                d.at(site).backward_in_place(&mut inplace).unwrap();
                assert_eq!(
                    bits(&inplace),
                    bits(&want),
                    "{isa:?} {threading:?} n={n} in place"
                );
            }
        }
    }
}

/// The rate edges on periodic rows, split over threads at a position
/// inside a row (a piece starts mid-row), and inference likewise.
#[test]
fn edges_on_periodic_rows_split_mid_row() {
    let dims = [1usize, 4000, 2];
    let x: Vec<f32> = inputs_of(8000, 5);
    for rate in [0.0, 1.0] {
        for isa in Isa::available() {
            let d = Dropout::new(rate)
                .unwrap()
                .with_isa(isa)
                .unwrap()
                .with_threading(Threading::Parallel);
            let mut y = x.clone();
            d.at(Site::new(0).at(1))
                .shape(MaskShape::channels_last())
                .forward_in_place(&mut ViewMut::dense(&mut y, &dims).unwrap())
                .unwrap();
            let want = config(&d).forward(0, 1, &x);
            let want = if rate == 0.0 { want } else { vec![0.0; 8000] };
            same(&bits(&y), &bits(&want), &format!("rate {rate} {isa:?}"));
            let mut z = vec![1.0f32; 8000];
            d.at(Site::new(0).at(1))
                .shape(MaskShape::channels_last())
                .forward(
                    &View::dense(&x, &dims).unwrap(),
                    &mut ViewMut::dense(&mut z, &dims).unwrap(),
                )
                .unwrap();
            same(
                &bits(&z),
                &bits(&want),
                &format!("out of place, rate {rate} {isa:?}"),
            );
        }
    }
}

/// `ndarray` views (sliced, stepped, transposed) give the bits of the same
/// call on a dense copy, and write only their own elements.
#[cfg(feature = "ndarray")]
#[test]
fn ndarray_views_match_dense_copies() {
    use ndarray::{s, Array3};
    let d = Dropout::new(0.3).unwrap().with_seed(12);
    let full = Array3::from_shape_fn((6, 9, 20), |(a, b, c)| (a * 1000 + b * 30 + c) as f32);
    let mut out = Array3::<f32>::from_elem((6, 9, 20), -1.0);
    let xs = full.slice(s![1..5, ..;2, 3..19]);
    let xt = xs.t(); // a transposed (column-major) view
    for x in [xs, xt] {
        let dims = x.shape().to_vec();
        let dense: Vec<f32> = x.iter().copied().collect(); // logical order
        let mut want = vec![0f32; dense.len()];
        d.at(Site::new(4))
            .shape(MaskShape::channels_first())
            .forward(
                &View::dense(&dense, &dims).unwrap(),
                &mut ViewMut::dense(&mut want, &dims).unwrap(),
            )
            .unwrap();
        out.fill(-1.0);
        let mut y = out.slice_mut(s![..4, ..;2, 2..18]);
        if dims[0] != 4 {
            y.swap_axes(0, 2);
        }
        let xv = View::try_from(x.view()).unwrap();
        let mut yv = ViewMut::try_from(y.view_mut()).unwrap();
        d.at(Site::new(4))
            .shape(MaskShape::channels_first())
            .forward(&xv, &mut yv)
            .unwrap();
        let got: Vec<f32> = y.iter().copied().collect();
        same(&bits(&got), &bits(&want), &format!("{dims:?}"));
        let written = out.iter().filter(|&&v| v != -1.0).count();
        assert!(written <= want.len(), "wrote outside the view");
    }
    // Negative strides are refused.
    let rev = full.slice(s![..;-1, .., ..]);
    assert!(matches!(
        View::try_from(rev),
        Err(Error::Unsupported { .. })
    ));
}

/// Every name of `MaskShape::NAMES` gives its constructor's shape, and
/// every named shape, with and without a slab, answers `mask_len` at the
/// edge ranks (0, 1, 2 and past `MAX_RANK`) with a length or a typed
/// error, never a panic.
#[test]
fn named_shapes_by_name_and_at_edge_ranks() {
    let constructors = [
        MaskShape::elementwise(),
        MaskShape::channels_first(),
        MaskShape::channels_last(),
        MaskShape::per_sample(),
        MaskShape::locked_time_major(),
        MaskShape::locked_batch_major(),
    ];
    for (name, want) in MaskShape::NAMES.iter().zip(constructors) {
        assert_eq!(MaskShape::named(name), Some(want), "{name}");
    }
    assert_eq!(MaskShape::named("Channels_first"), None);
    assert_eq!(MaskShape::named(""), None);
    let too_many = vec![1usize; limits::MAX_RANK + 1];
    for shape in constructors {
        for dims in [&[][..], &[3], &[2, 3], &too_many] {
            for s in [shape, shape.slab(0, 2)] {
                let got = std::panic::catch_unwind(|| s.mask_len(dims));
                assert!(got.is_ok(), "{s:?} on {dims:?} panicked");
            }
        }
    }
    assert_eq!(MaskShape::per_sample().mask_len(&[3]), Ok(3));
}
