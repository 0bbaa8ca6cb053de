//! The fused epilogue against the oracle's unfused composition (add,
//! dropout, add), bit for bit, in the element type the input picks, on every
//! ISA and threading, with and without bias and residual; bad shapes give
//! their errors and write nothing.
#![no_main]

use dropkit::{Dropout, Error, Fused};
use dropkit_fuzz::{bits, config, for_case_type, Case, FuzzElem};
use libfuzzer_sys::fuzz_target;

fn check<E: FuzzElem>(case: &Case) {
    let Ok(d) = Dropout::new(case.rate()) else {
        return;
    };
    let d = d.with_seed(case.seed).with_scaling(case.scaling());
    let x = case.input_of::<E>();
    let n = x.len();
    let features = usize::from(case.cuts.first().copied().unwrap_or(7)) % 300;
    let offset = case.offset();
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
    let mut f = Fused::rows(features);
    if use_bias {
        f = f.bias(&bias);
    }
    if use_res {
        f = f.residual(&residual);
    }
    let mut y = x.clone();
    let whole_rows = n == 0 || (features > 0 && n % features == 0);
    if !whole_rows {
        let before = bits(&y);
        let r = d.fused_forward(case.stream, offset, f, &x, &mut y);
        assert_eq!(r, Err(Error::NotWholeRows { len: n, features }));
        assert_eq!(bits(&y), before, "written on error");
        return;
    }
    let b = use_bias.then_some(&bias[..]);
    let r = use_res.then_some(&residual[..]);
    let want = bits(&config(&d).fused(case.stream, offset, features.max(1), 0, &x, b, r));
    for v in case.variants(d) {
        v.fused_forward(case.stream, offset, f, &x, &mut y).unwrap();
        assert_eq!(bits(&y), want, "{v:?}");
        let mut z = x.clone();
        v.fused_forward_in_place(case.stream, offset, f, &mut z)
            .unwrap();
        assert_eq!(bits(&z), want, "in place {v:?}");
    }
}

fuzz_target!(|case: Case| for_case_type!(case, check));
