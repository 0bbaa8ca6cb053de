//! The custom op against dropkit's own calls, bit for bit: every dtype,
//! contiguous, strided, transposed, narrowed (start offset) and broadcast
//! layouts, channel and per-sample masks, the backward pass through
//! candle's autograd, and the errors.

use candle_core::{DType, Device, IndexOp, Tensor, Var, WithDType};
use dropkit::half::{bf16, f16};
use dropkit::{Element, MaskShape, Site, View, ViewMut};
use dropkit_candle::{DropoutOp, Pass};

/// Bit patterns, so that `+0.0`, `-0.0` and NaN payloads count.
trait Bits: WithDType + Element + Copy {
    fn bits(self) -> u64;
}
impl Bits for f32 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}
impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}
impl Bits for f16 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}
impl Bits for bf16 {
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}

fn bits<E: Bits>(v: &[E]) -> Vec<u64> {
    v.iter().map(|x| x.bits()).collect()
}

/// The tensor's elements in row-major logical order.
fn values<E: Bits>(t: &Tensor) -> Vec<E> {
    t.flatten_all().unwrap().to_vec1::<E>().unwrap()
}

/// Deterministic values in [-2, 2) with a few exact zeros, as `dtype`.
fn data(dims: &[usize], dtype: DType, salt: u64) -> Tensor {
    let n: usize = dims.iter().product();
    let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ salt;
    let v: Vec<f32> = (0..n)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 17 == 5 {
                0.0
            } else {
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            }
        })
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

fn drop(rate: f64) -> dropkit::Dropout {
    dropkit::Dropout::new(rate).unwrap().with_seed(42)
}

/// dropkit's forward pass on the dense copy of `x` with `shape`.
fn reference<E: Bits>(x: &Tensor, d: &dropkit::Dropout, site: Site, shape: MaskShape) -> Vec<E> {
    let dims = x.dims().to_vec();
    let xs: Vec<E> = values(x);
    let mut ys = vec![E::zero(); xs.len()];
    // The elementwise mask follows the row-major order alone: the flat
    // call (also for ranks above dropkit's 8).
    if shape == MaskShape::elementwise() {
        d.at(site).shape(shape).forward(&xs, &mut ys).unwrap();
    } else {
        d.at(site)
            .shape(shape)
            .forward(
                &View::dense(&xs, &dims).unwrap(),
                &mut ViewMut::dense(&mut ys, &dims).unwrap(),
            )
            .unwrap();
    }
    ys
}

fn dtype_of<E: WithDType>() -> DType {
    E::DTYPE
}

/// The layouts under test, each from a fresh tensor of `dtype`: name,
/// tensor (not contiguous unless said).
fn layouts(dtype: DType) -> Vec<(&'static str, Tensor)> {
    let base = data(&[6, 10, 12], dtype, 1);
    let wide = data(&[4, 3000], dtype, 2);
    let small = data(&[1, 7, 1], dtype, 3);
    vec![
        ("contiguous", base.clone()),
        ("contiguous, 12000 elements", wide.clone()),
        ("transposed", base.transpose(0, 2).unwrap()),
        ("transposed 2-D", wide.t().unwrap()),
        ("narrowed axis 0 (offset)", base.narrow(0, 2, 3).unwrap()),
        (
            "narrowed axis 1 (offset, padded rows)",
            base.narrow(1, 3, 5).unwrap(),
        ),
        ("narrowed last axis", base.narrow(2, 1, 9).unwrap()),
        (
            "narrowed then transposed",
            base.narrow(1, 1, 8).unwrap().transpose(1, 2).unwrap(),
        ),
        ("strided step (i) slice", base.i((.., 4, ..)).unwrap()),
        ("broadcast", small.broadcast_as((5, 7, 9)).unwrap()),
        (
            "broadcast leading",
            wide.i(1).unwrap().broadcast_as((3, 3000)).unwrap(),
        ),
        (
            "scalar",
            Tensor::new(1.5f32, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        ),
        ("rank 10", data(&[2, 1, 2, 3, 1, 2, 2, 1, 3, 2], dtype, 4)),
        (
            "rank 10 transposed",
            data(&[2, 1, 2, 3, 1, 2, 2, 1, 3, 2], dtype, 5)
                .transpose(0, 9)
                .unwrap(),
        ),
        ("empty", data(&[3, 0, 4], dtype, 6)),
    ]
}

fn forward_matches_dropkit<E: Bits>() {
    let dtype = dtype_of::<E>();
    for rate in [0.0, 0.1, 0.5, 1.0] {
        let d = drop(rate);
        let site = Site::new(9).at(1234);
        let op = DropoutOp::new(d, site);
        for (name, x) in layouts(dtype) {
            let y = op.forward(&x).unwrap();
            assert_eq!(y.dims(), x.dims(), "{name}");
            assert_eq!(y.dtype(), dtype, "{name}");
            let want = reference::<E>(&x, &d, site, MaskShape::elementwise());
            assert_eq!(
                bits(&values::<E>(&y)),
                bits(&want),
                "{name}, rate {rate}, {dtype:?}"
            );
            // The same on the contiguous copy (no strides at all).
            let yc = op.forward(&x.contiguous().unwrap()).unwrap();
            assert_eq!(bits(&values::<E>(&yc)), bits(&want), "{name} (copy)");
        }
    }
}

#[test]
fn forward_f32() {
    forward_matches_dropkit::<f32>();
}
#[test]
fn forward_f64() {
    forward_matches_dropkit::<f64>();
}
#[test]
fn forward_f16() {
    forward_matches_dropkit::<f16>();
}
#[test]
fn forward_bf16() {
    forward_matches_dropkit::<bf16>();
}

/// A strided candle tensor goes to dropkit as a strided view, not a copy:
/// the bits equal dropkit's call on a `View` with the same strides.
#[test]
fn strided_view_is_passed_as_is() {
    let d = drop(0.3);
    let site = Site::new(2);
    let base = data(&[8, 20], DType::F32, 7);
    let x = base.narrow(1, 4, 13).unwrap(); // dims [8, 13], strides [20, 1], offset 4
    assert_eq!(x.stride(), &[20, 1]);
    let y = DropoutOp::new(d, site).forward(&x).unwrap();
    let storage: Vec<f32> = values(&base);
    let layout = dropkit::Layout::strided(&[8, 13], &[20, 1]).unwrap();
    let view = View::new(&storage[4..], layout).unwrap();
    let mut want = vec![0f32; 8 * 13];
    d.at(site)
        .forward(&view, &mut ViewMut::dense(&mut want, &[8, 13]).unwrap())
        .unwrap();
    assert_eq!(bits(&values::<f32>(&y)), bits(&want));
}

fn shaped_matches_dropkit<E: Bits>() {
    let dtype = dtype_of::<E>();
    let d = drop(0.5);
    let site = Site::new(5);
    let base = data(&[4, 6, 5, 7], dtype, 8);
    let tensors = [
        ("contiguous", base.clone()),
        ("spatial transposed", base.transpose(2, 3).unwrap()),
        ("narrowed channels", base.narrow(1, 1, 4).unwrap()),
        (
            "broadcast spatial",
            data(&[4, 6, 1, 1], dtype, 9)
                .broadcast_as((4, 6, 5, 7))
                .unwrap(),
        ),
    ];
    for shape in [
        MaskShape::channels_first(),
        MaskShape::channels_last(),
        MaskShape::per_sample(),
        MaskShape::broadcast_dims(&[0, 3]),
    ] {
        let op = DropoutOp::new(d, site).with_shape(shape);
        for (name, x) in &tensors {
            let y = op.forward(x).unwrap();
            let want = reference::<E>(x, &d, site, shape);
            assert_eq!(
                bits(&values::<E>(&y)),
                bits(&want),
                "{name}, {shape:?}, {dtype:?}"
            );
        }
    }
}

#[test]
fn shaped_masks_all_dtypes() {
    shaped_matches_dropkit::<f32>();
    shaped_matches_dropkit::<f64>();
    shaped_matches_dropkit::<f16>();
    shaped_matches_dropkit::<bf16>();
}

/// Channel dropout keeps or drops whole planes.
#[test]
fn channel_planes_are_whole() {
    let x = Tensor::ones((3, 8, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let y = DropoutOp::new(drop(0.5), Site::new(1))
        .with_shape(MaskShape::channels_first())
        .forward(&x)
        .unwrap();
    let v: Vec<f32> = values(&y);
    let mut seen = [false; 2];
    for plane in v.chunks(16) {
        assert!(plane == [0.0; 16] || plane == [2.0; 16], "{plane:?}");
        seen[usize::from(plane[0] == 2.0)] = true;
    }
    assert_eq!(seen, [true, true]);
}

/// The gradient through candle's autograd: `d(sum(w * dropout(x)))/dx` is
/// `w` through dropkit's backward pass, exactly (the mask times the factor).
fn backward_matches_dropkit<E: Bits>() {
    let dtype = dtype_of::<E>();
    for shape in [MaskShape::elementwise(), MaskShape::channels_first()] {
        let d = drop(0.4);
        let site = Site::new(77).at(5);
        let op = DropoutOp::new(d, site).with_shape(shape);
        let base = data(&[5, 6, 9], dtype, 10);
        let w = data(&[5, 6, 9], dtype, 11);
        // A transposed variable: the forward pass reads it strided.
        let x = Var::from_tensor(&base).unwrap();
        let xt = x.as_tensor().transpose(1, 2).unwrap();
        let wt = w.transpose(1, 2).unwrap().contiguous().unwrap();
        let y = op.forward(&xt).unwrap();
        let loss = (&y * &wt).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(&x).unwrap();
        // What dropkit gives for dy = wt, transposed back.
        let dims = wt.dims().to_vec();
        let dy: Vec<E> = values(&wt);
        let mut dx = vec![E::zero(); dy.len()];
        d.at(site)
            .shape(shape)
            .backward(
                &View::dense(&dy, &dims).unwrap(),
                &mut ViewMut::dense(&mut dx, &dims).unwrap(),
            )
            .unwrap();
        let want = Tensor::from_vec(dx, dims.as_slice(), &Device::Cpu)
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        assert_eq!(
            bits(&values::<E>(g)),
            bits(&values::<E>(&want)),
            "{dtype:?} {shape:?}"
        );
        // And the gradient of a plain sum (a broadcast gradient) is the
        // mask times the factor: the forward pass of ones.
        let g1 = y.sum_all().unwrap().backward().unwrap();
        let ones = Tensor::ones(xt.dims(), dtype, &Device::Cpu).unwrap();
        let mask = op.forward(&ones).unwrap().transpose(1, 2).unwrap();
        assert_eq!(
            bits(&values::<E>(g1.get(&x).unwrap())),
            bits(&values::<E>(&mask)),
            "{dtype:?} {shape:?}"
        );
    }
}

#[test]
fn backward_f32() {
    backward_matches_dropkit::<f32>();
}
#[test]
fn backward_f64() {
    backward_matches_dropkit::<f64>();
}
#[test]
fn backward_f16() {
    backward_matches_dropkit::<f16>();
}
#[test]
fn backward_bf16() {
    backward_matches_dropkit::<bf16>();
}

/// Finite differences in f64: the loss `sum(w * dropout(x)^2)` (not linear,
/// so the chain rule through the op is exercised) against central
/// differences at every element.
#[test]
fn gradient_by_finite_differences() {
    let d = drop(0.3);
    let op = DropoutOp::new(d, Site::new(3));
    let x0: Vec<f64> = values(&data(&[4, 7], DType::F64, 12));
    let w = data(&[4, 7], DType::F64, 13);
    let loss = |x: &Tensor| -> Tensor {
        let y = op.forward(x).unwrap();
        (y.sqr().unwrap() * &w).unwrap().sum_all().unwrap()
    };
    let x = Var::from_vec(x0.clone(), (4, 7), &Device::Cpu).unwrap();
    let g: Vec<f64> = values(loss(x.as_tensor()).backward().unwrap().get(&x).unwrap());
    let h = 1e-6;
    for i in 0..x0.len() {
        let at = |delta: f64| {
            let mut v = x0.clone();
            v[i] += delta;
            let t = Tensor::from_vec(v, (4, 7), &Device::Cpu).unwrap();
            loss(&t).to_scalar::<f64>().unwrap()
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() <= 1e-6 * (1.0 + g[i].abs()),
            "element {i}: autograd {} finite differences {fd}",
            g[i]
        );
    }
}

#[test]
fn in_place_matches_out_of_place() {
    for (name, x) in layouts(DType::F32) {
        // candle refuses in-place writes where strides repeat elements
        // (broadcasts, and the zero strides of an empty tensor).
        if name.starts_with("broadcast") || name == "empty" {
            continue;
        }
        let op = DropoutOp::new(drop(0.2), Site::new(6));
        let want: Vec<f32> = values(&op.forward(&x).unwrap());
        // A fresh copy of the same storage and layout.
        let copy = x.copy().unwrap();
        op.forward_in_place(&copy).unwrap();
        assert_eq!(bits(&values::<f32>(&copy)), bits(&want), "{name}");
    }
    // The backward pass in place, on a contiguous tensor.
    let op = DropoutOp::new(drop(0.2), Site::new(6));
    let g = data(&[9, 9], DType::F32, 15);
    let want: Vec<f32> = values(&op.with_pass(Pass::Backward).forward(&g).unwrap());
    let g2 = g.copy().unwrap();
    op.with_pass(Pass::Backward).forward_in_place(&g2).unwrap();
    assert_eq!(bits(&values::<f32>(&g2)), bits(&want));
}

#[test]
fn in_place_refuses_a_broadcast() {
    let x = data(&[1, 5], DType::F32, 16).broadcast_as((4, 5)).unwrap();
    let e = DropoutOp::new(drop(0.2), Site::new(6))
        .forward_in_place(&x)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dropkit-dropout") && e.contains("in-place"),
        "{e}"
    );
}

#[test]
fn errors_name_their_values() {
    let op = DropoutOp::new(drop(0.2), Site::new(6));
    // Integer dtypes.
    let u = Tensor::new(&[1u32, 2, 3], &Device::Cpu).unwrap();
    let e = op.forward(&u).unwrap_err().to_string();
    assert!(e.contains("U32") && e.contains("F32"), "{e}");
    // A mask shape the rank does not take.
    let x = data(&[7], DType::F32, 17);
    let e = op
        .with_shape(MaskShape::channels_first())
        .forward(&x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dropkit-dropout") && e.contains("[7]"), "{e}");
    // In words, not Rust's Debug structs.
    assert!(
        e.contains("mask shape channels first; stream 6, offset 0)")
            && !e.contains("MaskShape")
            && !e.contains("Site"),
        "{e}"
    );
    // An offset that overflows.
    let e = DropoutOp::new(drop(0.2), Site::new(1).at(u64::MAX - 2))
        .forward(&x)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&(u64::MAX - 2).to_string()), "{e}");
    // Rank 9 with a mask shape: above dropkit's rank.
    let x9 = data(&[2; 9], DType::F32, 18);
    let e = op
        .with_shape(MaskShape::per_sample())
        .forward(&x9)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rank 9"), "{e}");
}

/// The inference pass: identity under Inverted, `x * q` under Classic.
#[test]
fn inference_pass() {
    let x = data(&[3, 4], DType::F32, 19);
    let xv: Vec<f32> = values(&x);
    let op = DropoutOp::new(drop(0.25), Site::new(0)).with_pass(Pass::Inference);
    assert_eq!(bits(&values::<f32>(&op.forward(&x).unwrap())), bits(&xv));
    let classic = drop(0.25).with_scaling(dropkit::Scaling::Classic);
    let y = DropoutOp::new(classic, Site::new(0))
        .with_pass(Pass::Inference)
        .forward(&x)
        .unwrap();
    let want: Vec<f32> = xv.iter().map(|v| v * 0.75).collect();
    assert_eq!(bits(&values::<f32>(&y)), bits(&want));
}
