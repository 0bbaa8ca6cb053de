//! Strided views and broadcast masks against the dense oracle: a rank,
//! extents, a broadcast pattern, padded strides, an offset and a slab from
//! the fuzzer's bytes; every ISA and threading, out of place and in place,
//! bit for bit, padding untouched; a bad mask extent is refused with
//! nothing written.
#![no_main]

use dropkit::{Dropout, Error, Layout, Shaped, View, ViewMut};
use dropkit_fuzz::{bits, config, for_case_type, Case, FuzzElem};
use libfuzzer_sys::fuzz_target;

/// The `k`-th small choice of the case (0 when it has run out).
fn pick(case: &Case, k: usize) -> usize {
    usize::from(case.cuts.get(k).copied().unwrap_or(0))
}

fn unravel(mut li: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        idx[a] = li % dims[a];
        li /= dims[a];
    }
    idx
}

fn addr(li: usize, l: &Layout) -> usize {
    let idx = unravel(li, l.dims());
    idx.iter().zip(l.strides()).map(|(i, s)| i * s).sum()
}

fn check<E: FuzzElem>(case: &Case) {
    let Ok(d) = Dropout::new(case.rate()) else {
        return; // rates are the other targets' business
    };
    let d = d.with_seed(case.seed).with_scaling(case.any_scaling());
    let rank = 1 + pick(case, 0) % 5;
    let mut whole: Vec<usize> = (0..rank).map(|a| pick(case, 1 + a) % 10).collect();
    whole[rank - 1] += 8 * (pick(case, 6) % 9); // rows up to 73 long
    let n_whole: usize = whole.iter().product();
    if n_whole > 20_000 {
        return;
    }
    let broadcast = pick(case, 7);
    let mut mask: Vec<usize> = (0..rank)
        .map(|a| if broadcast >> a & 1 == 1 { 1 } else { whole[a] })
        .collect();
    let bad_axis = (pick(case, 8) % 16 == 0).then(|| pick(case, 9) % rank);
    if let Some(a) = bad_axis {
        mask[a] = whole[a] + 2; // neither 1 nor the extent
    }
    // A slab of axis 0.
    let total = whole[0];
    let start = if total > 0 { pick(case, 10) % (total + 1) } else { 0 };
    let rows = if total > start { pick(case, 11) % (total - start + 1) } else { 0 };
    let mut dims = whole.clone();
    dims[0] = rows;
    // Padded strides, innermost 1 or 2.
    let mut strides = vec![0; rank];
    let mut step = 1 + pick(case, 12) % 2;
    for a in (0..rank).rev() {
        strides[a] = step;
        step = step * dims[a].max(1) + pick(case, 13 + a) % 3;
    }
    let layout = Layout::strided(&dims, &strides).expect("small shapes");
    let m_whole: usize = mask.iter().product();
    let offset = case.offset_raw.min(u64::MAX - m_whole as u64);
    let shape = Shaped::noise_shape(&mask).slab(start, total);

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
    let fill = E::from_raw(0x7fc0_dead, 0x1234_5678);
    let mut xb = vec![fill; layout.span()];
    for (li, &v) in x.iter().enumerate() {
        xb[addr(li, &layout)] = v;
    }
    let xv = View::new(&xb, layout).expect("fits");

    if let Some(axis) = bad_axis {
        let mut yb = vec![fill; layout.span()];
        let before = bits(&yb);
        let r = d.forward_shaped(case.stream, offset, &shape, &xv, &mut ViewMut::new(&mut yb, layout).unwrap());
        if whole[axis] + 2 != 1 {
            assert!(matches!(r, Err(Error::BadMaskDim { .. })), "{r:?}");
        }
        assert_eq!(bits(&yb), before, "written on error");
        return;
    }

    // The oracle: the whole tensor's mask, expanded, applied densely.
    let cfg = config(&d);
    let keep_mask = cfg.keep_mask(case.stream, offset, m_whole);
    let keep: Vec<bool> = (0..n_whole)
        .map(|li| {
            let idx = unravel(li, &whole);
            let u = (0..rank).fold(0, |u, a| u * mask[a] + if mask[a] == 1 { 0 } else { idx[a] });
            keep_mask[u]
        })
        .collect();
    let want_whole = cfg.forward_from(&keep, &x_whole);
    let want = bits(&want_whole[start * per_row..(start + rows) * per_row]);

    for v in case.variants(d) {
        let mut yb = vec![fill; layout.span()];
        v.forward_shaped(case.stream, offset, &shape, &xv, &mut ViewMut::new(&mut yb, layout).unwrap())
            .unwrap();
        let mut zb = xb.clone();
        v.forward_shaped_in_place(case.stream, offset, &shape, &mut ViewMut::new(&mut zb, layout).unwrap())
            .unwrap();
        for (buf, what) in [(&yb, "out of place"), (&zb, "in place")] {
            let got: Vec<E> = (0..x.len()).map(|li| buf[addr(li, &layout)]).collect();
            assert_eq!(bits(&got), want, "{what} {v:?} dims {dims:?} mask {mask:?}");
        }
        let mut inside = vec![false; yb.len()];
        (0..x.len()).for_each(|li| inside[addr(li, &layout)] = true);
        for (i, &is) in inside.iter().enumerate() {
            if !is {
                assert_eq!(yb[i].bits(), fill.bits(), "padding written");
            }
        }
    }
}

fuzz_target!(|case: Case| for_case_type!(case, check));
