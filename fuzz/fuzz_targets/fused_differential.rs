//! The fused epilogue against the oracle's unfused composition (add,
//! dropout, add), bit for bit, in the element type the input picks, on every
//! ISA and threading, with and without bias and residual, out of place, in
//! place and onto the residual; the fused backward's `dx` against the
//! oracle's mask and its `dbias` against the documented summation order
//! (chunks of `DBIAS_CHUNK_ELEMENTS`); bad shapes give their errors and
//! write nothing.
//!
//! Big cases (one in eight) draw rows past the thread piece, the generator
//! window, the dbias chunk and the paired-block limit, with feature counts
//! that are multiples of 64 or near the dbias chunk.
#![no_main]

use dropkit::limits::DBIAS_CHUNK_ELEMENTS;
use dropkit::{Call, Dropout, Error, Site};
use dropkit_fuzz::{
    assert_same, bits, class, config, elementwise_edges, for_case_type, Case, FuzzElem, BIG_LEN,
};
use dropkit_reference::Value;
use libfuzzer_sys::fuzz_target;

/// The feature count and the length of the case.
fn shape(case: &Case) -> (usize, usize) {
    if !case.big() {
        let c = usize::from(case.cuts.first().copied().unwrap_or(7));
        return (c % 300, case.len());
    }
    let c = case.choice as usize & 0xffff;
    let features = match c % 4 {
        0 | 1 => (c >> 2) % 300,
        2 => 64 * (1 + (c >> 2) % 16),
        _ => (DBIAS_CHUNK_ELEMENTS + (c >> 2) % 129).saturating_sub(64),
    };
    // The dbias chunk and three (past `64 * features` rows, the rounding),
    // then the elementwise edges, the paired-block limit last.
    let mut edges = vec![DBIAS_CHUNK_ELEMENTS, 3 * DBIAS_CHUNK_ELEMENTS];
    edges.extend(elementwise_edges());
    let n = case.big_len(&edges, BIG_LEN);
    // Whole rows, but for one big case in four (the error path).
    if case.elem & 48 == 48 || features == 0 {
        (features, n)
    } else {
        (features, n / features * features)
    }
}

/// `dbias` as documented: rows summed in `f64` in chunks of
/// `max(1, DBIAS_CHUNK_ELEMENTS / features)` rows (a multiple of 64 rows
/// unless the chunk is a whole number of words), each chunk from `+0.0` in
/// row order, the chunk sums added in chunk order, rounded once.
fn dbias_of<E: FuzzElem>(dx: &[E], features: usize) -> Vec<E> {
    let rows = (DBIAS_CHUNK_ELEMENTS / features).max(1);
    let rows = if (rows * features).is_multiple_of(64) {
        rows
    } else {
        rows.next_multiple_of(64)
    };
    let mut total: Option<Vec<f64>> = None;
    for chunk in dx.chunks(rows * features) {
        let mut sums = vec![0f64; features];
        for row in chunk.chunks_exact(features) {
            for (s, v) in sums.iter_mut().zip(row) {
                *s += Value::to_f64(*v);
            }
        }
        match total.as_mut() {
            None => total = Some(sums),
            Some(t) => t.iter_mut().zip(&sums).for_each(|(t, s)| *t += s),
        }
    }
    total
        .unwrap_or_else(|| vec![0f64; features])
        .into_iter()
        .map(<E as Value>::from_f64)
        .collect()
}

/// Equal bits, or both NaN (the order of a sum's NaN operands is the
/// compiler's).
fn same_sums<E: FuzzElem>(a: &[E], b: &[E]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.bits() == y.bits() || (Value::to_f64(*x).is_nan() && Value::to_f64(*y).is_nan())
        })
}

/// `c` with the case's fused options: the bias and the residual, if any.
fn with<'a, E>(c: Call<'a, E>, bias: Option<&'a [E]>, residual: Option<&'a [E]>) -> Call<'a, E> {
    let c = match bias {
        Some(b) => c.bias(b),
        None => c,
    };
    match residual {
        Some(r) => c.residual(r),
        None => c,
    }
}

fn check<E: FuzzElem>(case: &Case) {
    let Ok(d) = Dropout::new(case.rate()) else {
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let (features, n) = shape(case);
    let _class = class(case, n);
    let x = case.values_of::<E>(n);
    let offset = case.offset_for(n);
    let bias: Vec<E> = (0..features)
        .map(|i| {
            if n > 0 {
                x[(i * 7) % n]
            } else {
                E::from_raw(0, 0)
            }
        })
        .collect();
    let residual: Vec<E> = x.iter().rev().copied().collect();
    let (use_bias, use_res) = (case.elem & 4 != 0, case.elem & 8 != 0);
    // The fused pass takes its rows from the bias (`features` long) and
    // runs with a bias or a residual or both: without either, the zero
    // bias, which the oracle adds too (a `-0.0` in `x` then becomes `+0.0`).
    let zeros = vec![<E as Value>::zero(); features];
    let b = if use_bias || !use_res {
        Some(if use_bias { &bias[..] } else { &zeros[..] })
    } else {
        None
    };
    let r = use_res.then_some(&residual[..]);
    let site = Site::new(case.stream).at(offset);
    let mut y = x.clone();
    let whole_rows = n == 0 || (features > 0 && n % features == 0);
    if !whole_rows {
        // Rows are the bias's: a call with the bias (and the residual if
        // the case has one) is refused.
        let before = bits(&y);
        let got = with(d.at(site), Some(&bias), r).forward(&x, &mut y);
        assert_eq!(got, Err(Error::NotWholeRows { len: n, features }));
        assert_eq!(bits(&y), before, "written on error");
        let mut dbias = vec![E::from_raw(0, 0); features];
        let got = d.at(site).dbias(&mut dbias).backward(&x, &mut y);
        assert_eq!(got, Err(Error::NotWholeRows { len: n, features }));
        assert_eq!(bits(&y), before, "written on error");
        return;
    }
    let cfg = config(&d);
    let want = cfg.fused(case.stream, offset, features.max(1), 0, &x, b, r);
    // The backward of `dy = x`: the forward's mask and factor on `dy`.
    let want_dx = cfg.forward(case.stream, offset, &x);
    let want_dbias = (features > 0).then(|| dbias_of(&want_dx, features));
    for v in case.variants(d) {
        with(v.at(site), b, r).forward(&x, &mut y).unwrap();
        assert_same!(y, want, "{v:?}");
        let mut z = x.clone();
        with(v.at(site), b, r).forward_in_place(&mut z).unwrap();
        assert_same!(z, want, "in place {v:?}");
        if use_res {
            // The residual is the output: only the bias as an option.
            let mut onto = residual.clone();
            with(v.at(site), b, None)
                .forward_onto_residual(&x, &mut onto)
                .unwrap();
            assert_same!(onto, want, "onto the residual {v:?}");
        }
        if let Some(want_dbias) = &want_dbias {
            let mut dx = vec![E::from_raw(0x7fc0_dead, 1); n];
            let mut dbias = vec![E::from_raw(0x7fc0_dead, 1); features];
            v.at(site).dbias(&mut dbias).backward(&x, &mut dx).unwrap();
            assert_same!(dx, want_dx, "backward dx {v:?}");
            assert!(
                same_sums(&dbias, want_dbias),
                "dbias {v:?} features {features}"
            );
        }
    }
}

fuzz_target!(|case: Case| for_case_type!(case, check));
