//! Strided views and broadcast masks against the dense oracle: a rank,
//! extents, a broadcast pattern, padded strides, an offset and a slab from
//! the fuzzer's bytes; every ISA and threading, out of place and in place,
//! bit for bit, padding untouched; a bad mask extent is refused with
//! nothing written.
//!
//! One case in eight is big: a channels-last, channels-first, locked or
//! free broadcast pattern whose mask has about one, two or three generator
//! windows (`limits::WINDOW` bits) of elements, channel counts mostly
//! multiples of 64 (periodic rows of whole words), dense rows mostly, so
//! that a window edge falls inside a mask run and inside a word (the
//! offset is raw: almost never a multiple of 64). Issue 16's wrong bits
//! (dense channels last `[N, H, C]`, `C` a multiple of 64 from 128,
//! `N * C > 2 * WINDOW`, `offset % 64 != 0`, sequential) are such a case:
//! `fuzz/regressions/shapes_differential/` holds the two inputs,
//! and from an empty corpus the target found the bug (reverted) in 29 s.
#![no_main]

use dropkit::limits::{PERIOD_BITS_MAX, WINDOW};
use dropkit::{Dropout, Error, Layout, MaskShape, Site, View, ViewMut};
use dropkit_fuzz::{bits, class, config, for_case_type, same_bits, Case, FuzzElem};
use libfuzzer_sys::fuzz_target;

/// The most data elements of a big case (a mask of up to 3 windows and a
/// little more, broadcast over at most 4).
const BIG_DATA: usize = 1 << 20;

/// The `k`-th small choice of the case: its `k`-th cut, or when the cuts
/// have run out (short inputs: libFuzzer starts with a few dozen bytes), a
/// byte of the fixed `choice` word, so that short inputs have shapes too.
fn pick(case: &Case, k: usize) -> usize {
    match case.cuts.get(k) {
        Some(&c) => usize::from(c),
        None => (case.choice >> (8 * (k % 8)) & 0xff) as usize,
    }
}

/// `sum(idx[a] * w[a])` for every index of `dims`, in row-major order.
fn linear(dims: &[usize], w: &[usize]) -> Vec<usize> {
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0; dims.len()];
    let mut at = 0;
    for _ in 0..n {
        out.push(at);
        for a in (0..dims.len()).rev() {
            idx[a] += 1;
            at += w[a];
            if idx[a] < dims[a] {
                break;
            }
            at -= w[a] * dims[a];
            idx[a] = 0;
        }
    }
    out
}

/// A call to check: the whole tensor's extents, the mask's, the slab, the
/// strides, and the mask shape to pass.
struct Plan {
    whole: Vec<usize>,
    mask: Vec<usize>,
    /// An axis whose mask extent is neither 1 nor the data's.
    bad_axis: Option<usize>,
    start: usize,
    rows: usize,
    strides: Vec<usize>,
    /// The named pattern with these mask extents, if the case picks it
    /// rather than `noise_shape`.
    named: Option<MaskShape>,
}

/// Padded strides for `dims` (innermost 1 or 2, each axis padded by 0 to 2
/// elements), from the case's choices from `k` on.
fn strides(case: &Case, dims: &[usize], k: usize) -> Vec<usize> {
    let mut strides = vec![0; dims.len()];
    let mut step = 1 + pick(case, k) % 2;
    for a in (0..dims.len()).rev() {
        strides[a] = step;
        step = step * dims[a].max(1) + pick(case, k + 1 + a) % 3;
    }
    strides
}

/// The common case: rank 1 to 5, extents below 10 (rows up to 73; the
/// largest halved until at most 20,000 elements), any broadcast pattern,
/// sometimes a bad mask extent.
fn small(case: &Case) -> Plan {
    let rank = 1 + pick(case, 0) % 5;
    let mut whole: Vec<usize> = (0..rank).map(|a| pick(case, 1 + a) % 10).collect();
    whole[rank - 1] += 8 * (pick(case, 6) % 9); // rows up to 73 long
                                                // At most 20,000 elements: halve the largest extent until they fit.
    while whole.iter().product::<usize>() > 20_000 {
        let a = (0..rank).max_by_key(|&a| whole[a]).expect("rank >= 1");
        whole[a] /= 2;
    }
    let broadcast = pick(case, 7);
    let mut mask: Vec<usize> = (0..rank)
        .map(|a| if broadcast >> a & 1 == 1 { 1 } else { whole[a] })
        .collect();
    let bad_axis = pick(case, 8)
        .is_multiple_of(16)
        .then(|| pick(case, 9) % rank);
    if let Some(a) = bad_axis {
        mask[a] = whole[a] + 2; // neither 1 nor the extent
    }
    // A slab of axis 0.
    let total = whole[0];
    let start = if total > 0 {
        pick(case, 10) % (total + 1)
    } else {
        0
    };
    let rows = if total > start {
        pick(case, 11) % (total - start + 1)
    } else {
        0
    };
    let mut dims = whole.clone();
    dims[0] = rows;
    let strides = strides(case, &dims, 12);
    Plan {
        whole,
        mask,
        bad_axis,
        start,
        rows,
        strides,
        named: None,
    }
}

/// The big class: a mask of about one to three windows of elements. Its
/// choices come from the fixed bits of `case.choice`, not from `cuts`.
fn big(case: &Case) -> Plan {
    // `bits` bits of the choice word from bit `at` on.
    let ch = |at: u32, bits: u32| (case.choice >> at & ((1 << bits) - 1)) as usize;
    let kind = ch(0, 3);
    let c = ch(3, 16);
    // The innermost extent: a multiple of 64 (3 in 4), else any up to 600
    // (periods folded or not: `lcm(c, 64)` on both sides of
    // PERIOD_BITS_MAX).
    let inner = if c % 4 != 3 {
        64 * (1 + (c >> 2) % 8)
    } else {
        1 + (c >> 2) % (PERIOD_BITS_MAX * 5 / 8)
    };
    // Broadcast extents, 1 to 4 in all (2 by default).
    let l1 = 1 + (ch(19, 2) + 1) % 4;
    let (l2, l3) = (1 + ch(21, 1), 1 + ch(22, 1));
    // Mask elements: near 1 or 2 windows (by 64 or by up to 16Ki), or
    // anywhere up to 3 windows; near 3 windows for one big case in 32.
    let m = case.big_len(&[WINDOW, 2 * WINDOW, 3 * WINDOW], 3 * WINDOW);
    let per = |other: usize| (m / other).max(1);
    let (whole, mask, named) = match kind {
        // Channels last [N, L.., C] / [N, 1.., C] (half the big cases).
        0..=3 if kind.is_multiple_of(2) => {
            let n = per(inner);
            (
                vec![n, l1, inner],
                vec![n, 1, inner],
                MaskShape::channels_last(),
            )
        }
        0..=3 => {
            let n = per(inner);
            (
                vec![n, l2, l3, inner],
                vec![n, 1, 1, inner],
                MaskShape::channels_last(),
            )
        }
        // Channels first [N, C, L] / [N, C, 1].
        4 => {
            let n = per(inner);
            (
                vec![n, inner, l1],
                vec![n, inner, 1],
                MaskShape::channels_first(),
            )
        }
        // Locked, time major [T, B, F] / [1, B, F].
        5 => {
            let b = per(inner);
            (
                vec![l1, b, inner],
                vec![1, b, inner],
                MaskShape::locked_time_major(),
            )
        }
        // Locked, batch major [B, T, F] / [B, 1, F].
        6 => {
            let b = per(inner);
            (
                vec![b, l1, inner],
                vec![b, 1, inner],
                MaskShape::locked_batch_major(),
            )
        }
        // Any broadcast of [N, L, C] but the last axis.
        _ => {
            let n = per(inner);
            let whole = vec![n, l1, inner];
            let broadcast = ch(23, 2);
            let mask = (0..3)
                .map(|a| if broadcast >> a & 1 == 1 { 1 } else { whole[a] })
                .collect();
            (whole, mask, MaskShape::elementwise())
        }
    };
    let mut whole = whole;
    let per_row: usize = whole[1..].iter().product();
    whole[0] = whole[0].min(BIG_DATA / per_row).max(1);
    let mut mask = mask;
    if mask[0] != 1 {
        mask[0] = whole[0];
    }
    // The whole tensor (3 in 4), or a slab of axis 0.
    let total = whole[0];
    let (start, rows) = if ch(25, 2) != 3 {
        (0, total)
    } else {
        let start = ch(39, 12) % (total + 1);
        (start, ch(51, 12) % (total - start + 1))
    };
    let mut dims = whole.clone();
    dims[0] = rows;
    // Dense rows (3 in 4: a periodic row needs them), else padded: the
    // innermost stride 1 or 2, each axis padded by 0 to 3 elements.
    let dense = ch(27, 2) != 3;
    let mut strides = vec![0; dims.len()];
    let mut step = if dense { 1 } else { 1 + ch(30, 1) };
    for a in (0..dims.len()).rev() {
        strides[a] = step;
        let pad = if dense { 0 } else { ch(31 + 2 * a as u32, 2) };
        step = step * dims[a].max(1) + pad;
    }
    // The named pattern (the elementwise kind: always `noise_shape`), or
    // the same extents through `noise_shape`, one in two.
    let named = (kind != 7 && ch(29, 1) == 0).then_some(named);
    Plan {
        whole,
        mask,
        bad_axis: None,
        start,
        rows,
        strides,
        named,
    }
}

fn check<E: FuzzElem>(case: &Case) {
    let Ok(d) = Dropout::new(case.rate()) else {
        return; // rates are the other targets' business
    };
    let d = d.with_seed(case.seed).with_scaling(case.any_scaling());
    let plan = if case.big() { big(case) } else { small(case) };
    let Plan {
        whole,
        mask,
        bad_axis,
        start,
        rows,
        strides,
        named,
    } = plan;
    let rank = whole.len();
    let n_whole: usize = whole.iter().product();
    let _class = class(case, n_whole);
    let total = whole[0];
    let mut dims = whole.clone();
    dims[0] = rows;
    let layout = Layout::strided(&dims, &strides).expect("small shapes");
    let m_whole: usize = mask.iter().product();
    let offset = case.offset_raw.min(u64::MAX - m_whole as u64);
    let site = Site::new(case.stream).at(offset);
    let shape = named
        .unwrap_or(MaskShape::noise_shape(&mask))
        .slab(start, total);
    if bad_axis.is_none() {
        // The named pattern has the mask the oracle expands.
        let slab_mask = [&[if mask[0] == 1 { 1 } else { rows }], &mask[1..]].concat();
        let got = shape.mask_layout(&layout).expect("a valid mask shape");
        assert_eq!(got.dims(), slab_mask, "{shape:?} on {dims:?}");
    }

    let x_whole: Vec<E> = {
        let v = &case.values;
        (0..n_whole)
            .map(|i| match v.len() {
                0 => E::from_raw((i as f32 - 50.0).to_bits(), 0),
                l => E::from_raw(v[i % l], v[(i + 1) % l]),
            })
            .collect()
    };
    let per_row: usize = whole[1..].iter().product();
    let x = &x_whole[start * per_row..(start + rows) * per_row];
    // Where each logical element of the view lives.
    let addrs = linear(&dims, &strides);
    let fill = E::from_raw(0x7fc0_dead, 0x1234_5678);
    let mut xb = vec![fill; layout.span()];
    for (&a, &v) in addrs.iter().zip(x) {
        xb[a] = v;
    }
    let xv = View::new(&xb, layout).expect("fits");

    if let Some(axis) = bad_axis {
        let mut yb = vec![fill; layout.span()];
        let before = bits(&yb);
        let r = d
            .at(site)
            .shape(shape)
            .forward(&xv, &mut ViewMut::new(&mut yb, layout).unwrap());
        if whole[axis] + 2 != 1 {
            assert!(matches!(r, Err(Error::BadMaskDim { .. })), "{r:?}");
        }
        assert_eq!(bits(&yb), before, "written on error");
        return;
    }

    // The oracle: the whole tensor's mask, expanded, applied densely.
    let cfg = config(&d);
    let keep_mask = cfg.keep_mask(case.stream, offset, m_whole);
    // Mask element of each data element: row-major in the mask's extents,
    // index 0 along the broadcast axes.
    let mut mask_w = vec![0; rank];
    let mut step = 1;
    for a in (0..rank).rev() {
        mask_w[a] = if mask[a] == 1 { 0 } else { step };
        step *= mask[a];
    }
    let keep: Vec<bool> = linear(&whole, &mask_w)
        .into_iter()
        .map(|u| keep_mask[u])
        .collect();
    let want_whole = cfg.forward_from(&keep, &x_whole);
    let want = &want_whole[start * per_row..(start + rows) * per_row];

    // The padding: every address of the span that is no element's.
    let mut inside = vec![false; layout.span()];
    addrs.iter().for_each(|&a| inside[a] = true);
    let padding: Vec<usize> = (0..inside.len()).filter(|&i| !inside[i]).collect();
    let dense = padding.is_empty() && addrs.iter().enumerate().all(|(i, &a)| a == i);
    for v in case.variants(d) {
        let mut yb = vec![fill; layout.span()];
        v.at(site)
            .shape(shape)
            .forward(&xv, &mut ViewMut::new(&mut yb, layout).unwrap())
            .unwrap();
        let mut zb = xb.clone();
        v.at(site)
            .shape(shape)
            .forward_in_place(&mut ViewMut::new(&mut zb, layout).unwrap())
            .unwrap();
        for (buf, what) in [(&yb, "out of place"), (&zb, "in place")] {
            let got: Vec<E> = if dense {
                buf.clone()
            } else {
                addrs.iter().map(|&a| buf[a]).collect()
            };
            if !same_bits(&got, want) {
                let first = (0..want.len())
                    .find(|&i| got[i].bits() != want[i].bits())
                    .unwrap_or(0);
                panic!(
                    "{what} {v:?} dims {dims:?} strides {strides:?} mask {mask:?} \
                     {shape:?} offset {offset}: first wrong element {first} of {}",
                    want.len()
                );
            }
        }
        for &i in &padding {
            assert_eq!(yb[i].bits(), fill.bits(), "padding written");
        }
    }
}

fuzz_target!(|case: Case| for_case_type!(case, check));
