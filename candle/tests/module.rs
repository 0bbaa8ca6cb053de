//! The `Dropout` module: candle_nn's surface, the stream convention (layer
//! id and step) against dropkit's `DropoutLayer`, channel dropout,
//! drop-path, evaluation mode and rate errors.

use candle_core::{DType, Device, ModuleT, Tensor};
use candle_nn::{Linear, Module, Optimizer, VarBuilder, VarMap, SGD};
use dropkit::{DropoutLayer, MaskShape, View, ViewMut};
use dropkit_candle::Dropout;

fn data(dims: &[usize], salt: u32) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761) ^ salt) as f32 / u32::MAX as f32 - 0.5)
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// What dropkit's `DropoutLayer` with the same id, seed and step gives.
fn layer_output(
    x: &Tensor,
    rate: f64,
    seed: u64,
    id: u64,
    step: u64,
    shape: MaskShape,
) -> Vec<u32> {
    let mut layer = DropoutLayer::new(dropkit::Dropout::new(rate).unwrap().with_seed(seed), id);
    layer.set_step(step);
    let dims = x.dims().to_vec();
    let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut ys = vec![0f32; xs.len()];
    layer
        .at(0)
        .shape(shape)
        .forward(
            &View::dense(&xs, &dims).unwrap(),
            &mut ViewMut::dense(&mut ys, &dims).unwrap(),
        )
        .unwrap();
    ys.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn streams_follow_the_layer_convention() {
    let x = data(&[8, 33], 1);
    let d = Dropout::new(0.3).with_seed(5).with_layer_id(12);
    for step in 0..4 {
        assert_eq!(d.step(), step);
        let y = d.forward(&x, true).unwrap();
        let want = layer_output(&x, 0.3, 5, 12, step, MaskShape::elementwise());
        assert_eq!(bits(&y), want, "step {step}");
        // The caller's step: the same mask, the counter untouched.
        assert_eq!(bits(&d.forward_step(&x, step).unwrap()), want);
        assert_eq!(d.step(), step + 1);
    }
    // Steps and layers differ.
    assert_ne!(
        bits(&d.forward_step(&x, 0).unwrap()),
        bits(&d.forward_step(&x, 1).unwrap())
    );
    let other = Dropout::new(0.3).with_seed(5).with_layer_id(13);
    assert_ne!(
        bits(&d.forward_step(&x, 0).unwrap()),
        bits(&other.forward_step(&x, 0).unwrap())
    );
    // Resuming.
    d.set_step(2);
    assert_eq!(
        bits(&d.forward(&x, true).unwrap()),
        layer_output(&x, 0.3, 5, 12, 2, MaskShape::elementwise())
    );
    let layer = DropoutLayer::new(dropkit::Dropout::new(0.3).unwrap(), 12);
    let mut at3 = layer;
    at3.set_step(3);
    assert_eq!(d.stream(3), at3.stream());
}

#[test]
fn new_layers_get_distinct_ids() {
    let a = Dropout::new(0.5);
    let b = Dropout::channels(0.5);
    let c = Dropout::drop_path(0.5);
    assert!(
        a.layer_id() != b.layer_id()
            && b.layer_id() != c.layer_id()
            && a.layer_id() != c.layer_id()
    );
    // A clone is the same layer at the same step...
    a.set_step(7);
    let a2 = a.clone();
    assert_eq!((a2.layer_id(), a2.step()), (a.layer_id(), 7));
    // ...with a counter of its own: trained alongside, it draws the
    // original's masks again (as the README and rustdoc say).
    let x = data(&[64], 9);
    let y = a.forward(&x, true).unwrap();
    let y2 = a2.forward(&x, true).unwrap();
    assert_eq!((a.step(), a2.step()), (8, 8));
    assert_eq!(bits(&y), bits(&y2));
}

#[test]
fn evaluation_mode() {
    let x = data(&[4, 10], 2);
    let d = Dropout::new(0.5).with_layer_id(0);
    assert_eq!(bits(&d.forward(&x, false).unwrap()), bits(&x));
    assert_eq!(bits(&x.apply_t(&d, false).unwrap()), bits(&x));
    assert_eq!(d.step(), 0, "evaluation does not count a step");
    // Training through ModuleT counts.
    let y = x.apply_t(&d, true).unwrap();
    assert_eq!(d.step(), 1);
    assert_eq!(
        bits(&y),
        layer_output(&x, 0.5, 0, 0, 0, MaskShape::elementwise())
    );
    // Classic scaling: inference scales by q.
    let classic = Dropout::from_dropkit(
        dropkit::Dropout::new(0.5)
            .unwrap()
            .with_scaling(dropkit::Scaling::Classic),
    );
    let want: Vec<u32> = x
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| (v * 0.5).to_bits())
        .collect();
    assert_eq!(bits(&classic.forward(&x, false).unwrap()), want);
}

#[test]
fn channel_dropout_and_drop_path() {
    let x = data(&[3, 4, 5, 6], 3);
    let cases = [
        (Dropout::channels(0.4), MaskShape::channels_first()),
        (Dropout::channels_last(0.4), MaskShape::channels_last()),
        (Dropout::drop_path(0.4), MaskShape::per_sample()),
        (
            Dropout::new(0.4).with_mask_shape(MaskShape::locked_time_major()),
            MaskShape::locked_time_major(),
        ),
    ];
    for (d, shape) in cases {
        let d = d.with_seed(8).with_layer_id(40);
        assert_eq!(d.mask_shape(), shape);
        let y = d.forward(&x, true).unwrap();
        assert_eq!(
            bits(&y),
            layer_output(&x, 0.4, 8, 40, 0, shape),
            "{shape:?}"
        );
        // A transposed input gives the bits of its contiguous copy.
        let xt = x.transpose(2, 3).unwrap();
        let yt = d.forward_step(&xt, 0).unwrap();
        assert_eq!(
            bits(&yt),
            bits(&d.forward_step(&xt.contiguous().unwrap(), 0).unwrap())
        );
    }
    // Drop-path keeps or drops whole samples.
    let ones = Tensor::ones((16, 3, 4), DType::F32, &Device::Cpu).unwrap();
    let y = Dropout::drop_path(0.5).forward(&ones, true).unwrap();
    for sample in y.flatten_from(1).unwrap().to_vec2::<f32>().unwrap() {
        assert!(sample.iter().all(|&v| v == sample[0]) && (sample[0] == 0.0 || sample[0] == 2.0));
    }
}

#[test]
fn bad_rates_are_errors_naming_the_rate() {
    for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let e = Dropout::try_new(p).unwrap_err().to_string();
        assert!(e.contains(&p.to_string()), "{e}");
        // Said once, plainly (the first line; a backtrace may follow).
        let first = e.lines().next().unwrap_or_default();
        let want = format!("dropkit-candle Dropout: invalid dropout rate {p}: ");
        assert!(
            first.starts_with(&want) && first.matches("rate").count() == 1,
            "{e}"
        );
        let d = Dropout::new(p);
        let x = data(&[4], 4);
        let e = d.forward(&x, true).unwrap_err().to_string();
        assert!(e.contains(&p.to_string()) && e.contains("rate"), "{e}");
        assert_eq!(d.step(), 0);
        // Evaluation mode returns the input whatever the rate, as
        // candle_nn::Dropout (which checks the rate in training only).
        assert_eq!(bits(&d.forward(&x, false).unwrap()), bits(&x));
        assert_eq!(bits(&x.apply_t(&d, false).unwrap()), bits(&x));
        assert_eq!(d.step(), 0);
    }
    // Rate 1 is all zeros (candle_nn refuses it), with an f32 argument too.
    let y = Dropout::new(1.0f32).forward(&data(&[9], 5), true).unwrap();
    assert!(bits(&y).iter().all(|&b| b == 0));
    // A mask shape the rank does not take: an error, the step unmoved.
    let d = Dropout::channels(0.5);
    assert!(d.forward(&data(&[9], 6), true).is_err());
    assert_eq!(d.step(), 0);
}

/// A new user's swap: the same small candle_nn model trains with
/// `dropkit_candle::Dropout` in place of `candle_nn::Dropout`.
#[test]
fn a_candle_model_trains_through_it() {
    struct Model {
        l1: Linear,
        drop: Dropout,
        l2: Linear,
    }
    impl ModuleT for Model {
        fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
            let h = self.l1.forward(xs)?.relu()?;
            let h = self.drop.forward_t(&h, train)?;
            self.l2.forward(&h)
        }
    }
    let map = VarMap::new();
    let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
    let model = Model {
        l1: candle_nn::linear(4, 32, vb.pp("l1")).unwrap(),
        drop: Dropout::new(0.2).with_seed(1),
        l2: candle_nn::linear(32, 1, vb.pp("l2")).unwrap(),
    };
    // y = sum of the inputs.
    let x = data(&[64, 4], 7);
    let y = x.sum_keepdim(1).unwrap();
    let mut sgd = SGD::new(map.all_vars(), 0.05).unwrap();
    let loss = |train| {
        let p = model.forward_t(&x, train).unwrap();
        (p - &y).unwrap().sqr().unwrap().mean_all().unwrap()
    };
    let before = loss(false).to_scalar::<f32>().unwrap();
    for _ in 0..200 {
        sgd.backward_step(&loss(true)).unwrap();
    }
    let after = loss(false).to_scalar::<f32>().unwrap();
    assert!(after < before * 0.2, "loss {before} -> {after}");
    assert_eq!(model.drop.step(), 200);
}

/// One module called from several threads at once: every call takes its
/// own step, so no two masks repeat.
#[test]
fn concurrent_calls_take_distinct_steps() {
    let d = Dropout::new(0.5).with_layer_id(99);
    let x = Tensor::ones(256, DType::F32, &Device::Cpu).unwrap();
    let outputs: Vec<Vec<u32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| bits(&d.forward(&x, true).unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(d.step(), 40);
    let mut all: Vec<Vec<u32>> = (0..40)
        .map(|s| bits(&d.forward_step(&x, s).unwrap()))
        .collect();
    let mut got = outputs;
    all.sort();
    got.sort();
    assert_eq!(got, all);
}
