//! Second derivatives through the op: the backward op is itself
//! differentiable. candle detaches gradients unless
//! `CANDLE_GRAD_DO_NOT_DETACH` is set when a thread first runs a backward
//! pass, so this file holds one test, alone in its process.

use candle_core::{Device, Tensor, Var};
use dropkit::Site;
use dropkit_candle::DropoutOp;

#[test]
fn second_derivative_flows() {
    // Rust 2021: `set_var` is safe; this test binary runs no other thread
    // that reads the environment.
    std::env::set_var("CANDLE_GRAD_DO_NOT_DETACH", "1");
    let op = DropoutOp::new(
        dropkit::Dropout::new(0.5).unwrap().with_seed(42),
        Site::new(4),
    );
    let x = Var::from_tensor(
        &Tensor::arange(0f64, 64.0, &Device::Cpu)
            .unwrap()
            .affine(0.1, -3.0)
            .unwrap(),
    )
    .unwrap();
    let y = op.forward(x.as_tensor()).unwrap();
    // loss = sum(y^3): dloss/dx = 3 y^2 m s; the sum of that has gradient
    // 6 y (m s)^2 = 24 y for kept elements (s = 2), 0 for dropped (y = 0).
    let g = y.powf(3.0).unwrap().sum_all().unwrap().backward().unwrap();
    let gx = g.get(&x).unwrap();
    let g2 = gx.sum_all().unwrap().backward().unwrap();
    let second = g2
        .get(&x)
        .expect("a second-order gradient")
        .to_vec1::<f64>()
        .unwrap();
    let yv = y.to_vec1::<f64>().unwrap();
    assert!(yv.contains(&0.0) && yv.iter().any(|&v| v != 0.0));
    for (s, yi) in second.iter().zip(&yv) {
        assert!((s - 24.0 * yi).abs() < 1e-9, "{s} vs {}", 24.0 * yi);
    }
}
