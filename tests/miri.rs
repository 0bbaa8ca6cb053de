//! A small pass over the scalar and portable kernels, sequential, meant for
//! Miri (`cargo +nightly miri test --test miri`), which checks every raw
//! pointer access of the walker, the sinks and the stored-mask path. Inputs
//! avoid NaN: Miri may pick any NaN payload an operation allows, so NaN bits
//! are checked by the native suite instead.

mod common;

use common::{bits, config, pack, Elem};
use dropkit::half::{bf16, f16};
use dropkit::{mask_words, Dropout, Isa, MaskIn, MaskOut, Site, Threading};

fn values<E: Elem>(n: usize) -> Vec<E> {
    let special = [f32::INFINITY, -0.0, 1e-40, -3.5, f32::MAX];
    (0..n)
        .map(|i| {
            E::from_f32(if i % 5 == 2 {
                special[i % 5]
            } else {
                i as f32 * 0.37 - 5.0
            })
        })
        .collect()
}

fn check<E: Elem>(d: Dropout, offset: u64, keep: &[bool]) {
    let n = keep.len();
    let x = values::<E>(n);
    let cfg = config(&d);
    let want = bits(&cfg.apply(keep, &x));
    let mut y = x.clone();
    let mut words = vec![u64::MAX; mask_words(n)];
    let site = Site::new(9).at(offset);
    d.at(site)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&x, &mut y)
        .unwrap();
    assert_eq!(bits(&y), want, "{} {d:?} {offset} {n}", E::NAME);
    assert_eq!(words, pack(keep));
    let mut bytes = vec![3u8; n];
    d.at(site)
        .mask_out(MaskOut::Bytes(&mut bytes))
        .forward(&x, &mut y)
        .unwrap();
    assert!(bytes.iter().zip(keep).all(|(&b, &k)| b == u8::from(k)));
    let mut z = x.clone();
    d.at(site).forward_in_place(&mut z).unwrap();
    assert_eq!(bits(&z), want);
    let mut dx = x.clone();
    d.at(Site::default())
        .mask_in(MaskIn::Bits(&words))
        .backward(&x, &mut dx)
        .unwrap();
    assert_eq!(bits(&dx), want);
    let mut w = x.clone();
    d.at(Site::default())
        .mask_in(MaskIn::Bytes(&bytes))
        .backward_in_place(&mut w)
        .unwrap();
    assert_eq!(bits(&w), want);
}

#[test]
fn scalar_and_portable_under_miri() {
    let base = Dropout::new(0.3).unwrap().with_seed(4);
    // Short slices at lane-unaligned offsets, one crossing a block end.
    for (offset, n) in [(0, 0), (0, 1), (3, 17), (60, 70), (4090, 9)] {
        let keep = config(&base).keep_mask(9, offset, n);
        for isa in [Isa::Scalar, Isa::Portable] {
            let d = base
                .with_isa(isa)
                .unwrap()
                .with_threading(Threading::Sequential);
            check::<f32>(d, offset, &keep);
            check::<f64>(d, offset, &keep);
            check::<f16>(d, offset, &keep);
            check::<bf16>(d, offset, &keep);
        }
    }
}

/// Shaped calls (the row walker, the window, periodic rows, the block
/// walker over strided rows, stored masks) on small padded tensors.
#[test]
fn shaped_under_miri() {
    use dropkit::{Layout, MaskShape, View, ViewMut};
    let d = Dropout::new(0.4)
        .unwrap()
        .with_seed(2)
        .with_isa(Isa::Portable)
        .unwrap()
        .with_threading(Threading::Sequential);
    let dims = [3usize, 4, 20];
    let layout = Layout::strided(&dims, &[4 * 24, 24, 1]).unwrap();
    let x = values::<f32>(layout.span());
    let xv = View::new(&x, layout).unwrap();
    let mask_sets: [&[usize]; 4] = [&[3, 4, 20], &[3, 4, 1], &[3, 1, 20], &[1, 4, 20]];
    for mask in mask_sets {
        let shape = MaskShape::noise_shape(mask);
        let site = Site::new(1).at(5);
        let m: usize = mask.iter().product();
        let keep = config(&d).keep_mask(1, 5, m);
        let mut y = vec![7.0f32; layout.span()];
        let mut words = vec![0u64; mask_words(m)];
        d.at(site)
            .shape(shape)
            .mask_out(MaskOut::Bits(&mut words))
            .forward(&xv, &mut ViewMut::new(&mut y, layout).unwrap())
            .unwrap();
        assert_eq!(words, pack(&keep));
        let mut z = vec![7.0f32; layout.span()];
        d.at(site)
            .shape(shape)
            .forward(&xv, &mut ViewMut::new(&mut z, layout).unwrap())
            .unwrap();
        assert_eq!(bits(&y), bits(&z), "{mask:?}");
        let mut w = x.clone();
        d.at(Site::default())
            .shape(shape)
            .mask_in(MaskIn::Bits(&words))
            .backward(&xv, &mut ViewMut::new(&mut w, layout).unwrap())
            .unwrap();
        for (i, (&a, &b)) in y.iter().zip(&w).enumerate() {
            if a != 7.0 {
                assert_eq!(a.to_bits(), b.to_bits(), "{mask:?} {i}");
            }
        }
    }
}

/// The fused epilogue in place (over `x`) and onto the residual: one
/// pointer reads and writes the same buffer, which Miri's aliasing model
/// checks. The values equal the out-of-place call's.
#[test]
fn fused_in_place_under_miri() {
    let (features, rows) = (8usize, 5usize);
    let n = features * rows;
    let x = values::<f32>(n);
    let bias = values::<f32>(features);
    let residual: Vec<f32> = values::<f32>(n + 3)[3..].to_vec();
    for isa in [Isa::Scalar, Isa::Portable] {
        let d = Dropout::new(0.3)
            .unwrap()
            .with_seed(6)
            .with_isa(isa)
            .unwrap()
            .with_threading(Threading::Sequential);
        let site = Site::new(2).at(11);
        let mut want = vec![0.0f32; n];
        d.at(site)
            .bias(&bias)
            .residual(&residual)
            .forward(&x, &mut want)
            .unwrap();
        let mut z = x.clone();
        d.at(site)
            .bias(&bias)
            .residual(&residual)
            .forward_in_place(&mut z)
            .unwrap();
        assert_eq!(bits(&z), bits(&want), "{isa:?} in place");
        let mut acc = residual.clone();
        d.at(site)
            .bias(&bias)
            .forward_onto_residual(&x, &mut acc)
            .unwrap();
        assert_eq!(bits(&acc), bits(&want), "{isa:?} onto the residual");
    }
}
