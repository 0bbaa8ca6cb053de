//! Strided views and broadcast masks against the dense oracle: expand the
//! mask of the mask shape over the data, apply it element by element with
//! `dropkit-reference`, and compare bit for bit, on every ISA, element type
//! and threading, over random ranks, broadcast patterns, padded and
//! permuted strides, offsets and slabs.

mod common;

use common::{available_or_required, bits, config, inputs_of, pack, Elem};
use dropkit::{
    mask_words, Dropout, Isa, Layout, MaskIn, MaskOut, Scaling, Shaped, Threading, View, ViewMut,
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

/// Row-major multi-index of logical index `li`.
fn unravel(mut li: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        idx[a] = li % dims[a];
        li /= dims[a];
    }
    idx
}

/// The keep decision of every data element of `dims`: mask element
/// `(i_a or 0 where the mask's extent is 1)`, from the oracle's
/// elementwise mask of the mask's elements.
fn expand(keep: &[bool], dims: &[usize], mask: &[usize]) -> Vec<bool> {
    let n: usize = dims.iter().product();
    (0..n)
        .map(|li| {
            let idx = unravel(li, dims);
            let mut u = 0;
            for a in 0..dims.len() {
                u = u * mask[a] + if mask[a] == 1 { 0 } else { idx[a] };
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

fn addr(li: usize, layout: &Layout) -> usize {
    let idx = unravel(li, layout.dims());
    idx.iter().zip(layout.strides()).map(|(i, s)| i * s).sum()
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
struct Case {
    whole: Vec<usize>,
    mask: Vec<usize>,
    start: usize,
    rows: usize,
    slab: bool,
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
    }
}

const RATES: [f64; 6] = [0.0, 1e-9, 0.1, 0.5, 1.0 - 1e-7, 1.0];

/// One case through every shaped call of `d`, against the oracle.
fn check_shaped<E: Elem>(d: &Dropout, c: &Case, rng: &mut Rng, salt: u32) {
    let stream = rng.next();
    let offsets = [0u64, 5, 4090, (1 << 40) - 3];
    let offset = offsets[rng.below(offsets.len())];
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
        Shaped::noise_shape(&c.mask).slab(c.start, c.whole[0])
    } else {
        Shaped::noise_shape(&c.mask)
    };
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

    let xl = Layout::strided(&dims, &strides(&dims, rng)).unwrap();
    let yl = Layout::strided(&dims, &strides(&dims, rng)).unwrap();
    let fill = E::specials()[1];
    let xb = scatter(x, &xl, fill);
    let xv = View::new(&xb, xl).unwrap();

    // Forward, out of place.
    let mut yb = vec![fill; yl.span()];
    d.forward_shaped(
        stream,
        offset,
        &shape,
        &xv,
        &mut ViewMut::new(&mut yb, yl).unwrap(),
    )
    .unwrap();
    let (got, intact) = gather(&yb, &yl, fill);
    assert_eq!(bits(&got), bits(want), "forward {ctx}");
    assert!(intact, "forward wrote padding {ctx}");

    // In place.
    let mut zb = scatter(x, &yl, fill);
    d.forward_shaped_in_place(
        stream,
        offset,
        &shape,
        &mut ViewMut::new(&mut zb, yl).unwrap(),
    )
    .unwrap();
    let (got, intact) = gather(&zb, &yl, fill);
    assert_eq!(bits(&got), bits(want), "in place {ctx}");
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
    d.forward_shaped_with_mask(
        stream,
        offset,
        &shape,
        &xv,
        &mut ViewMut::new(&mut yb, yl).unwrap(),
        MaskOut::Bits(&mut words),
    )
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
    assert_eq!(bits(&got), bits(want), "forward with mask {ctx}");
    let mut bytes = vec![7u8; mlen];
    let mut zb = scatter(x, &yl, fill);
    d.forward_shaped_in_place_with_mask(
        stream,
        offset,
        &shape,
        &mut ViewMut::new(&mut zb, yl).unwrap(),
        MaskOut::Bytes(&mut bytes),
    )
    .unwrap();
    let (got, _) = gather(&zb, &yl, fill);
    assert_eq!(bits(&got), bits(want), "in place with byte mask {ctx}");

    // Backward: mask-free, in place, from bits, from bytes.
    let dyb = scatter(dy, &xl, fill);
    let dyv = View::new(&dyb, xl).unwrap();
    let mut dxb = vec![fill; yl.span()];
    d.backward_shaped(
        stream,
        offset,
        &shape,
        &dyv,
        &mut ViewMut::new(&mut dxb, yl).unwrap(),
    )
    .unwrap();
    let (got, intact) = gather(&dxb, &yl, fill);
    assert_eq!(bits(&got), bits(grad), "backward {ctx}");
    assert!(intact, "backward wrote padding {ctx}");
    let mut dxb = scatter(dy, &yl, fill);
    d.backward_shaped_in_place(
        stream,
        offset,
        &shape,
        &mut ViewMut::new(&mut dxb, yl).unwrap(),
    )
    .unwrap();
    let (got, _) = gather(&dxb, &yl, fill);
    assert_eq!(bits(&got), bits(grad), "backward in place {ctx}");
    if dims.iter().all(|&e| e > 0) {
        for mask in [MaskIn::Bits(&words), MaskIn::Bytes(&bytes)] {
            let mut dxb = vec![fill; yl.span()];
            d.backward_shaped_from_mask(
                &shape,
                mask,
                &dyv,
                &mut ViewMut::new(&mut dxb, yl).unwrap(),
            )
            .unwrap();
            let (got, intact) = gather(&dxb, &yl, fill);
            assert_eq!(bits(&got), bits(grad), "backward from {mask:?} {ctx}");
            assert!(intact, "backward from mask wrote padding {ctx}");
        }
    }

    // Inference.
    let mut yb = vec![fill; yl.span()];
    d.inference_shaped(&xv, &mut ViewMut::new(&mut yb, yl).unwrap())
        .unwrap();
    let (got, intact) = gather(&yb, &yl, fill);
    assert_eq!(bits(&got), bits(&cfg.inference(x)), "inference {ctx}");
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
