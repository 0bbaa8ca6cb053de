//! A first tour of dropkit with `ndarray`: channel dropout with a stored
//! mask, strided views, a training layer, the fused epilogue and errors.
//!
//! ```sh
//! cargo run --example newcomer --features ndarray
//! ```

use dropkit::{Dropout, DropoutLayer, Error, MaskIn, MaskOut, MaskShape, Site};
use ndarray::{s, Array2, Array4, Axis};

fn main() -> Result<(), Error> {
    // rate = probability of DROPPING an element; the seed names the run.
    let drop = Dropout::new(0.25)?.with_seed(2024);
    let scale = drop.scale(); // 1 / (1 - rate), as f32 multiplies by it

    dropout2d(&drop, scale)?;
    layer_loop()?;
    fused_epilogue(&drop, scale)?;
    errors(&drop);
    Ok(())
}

/// 1. dropout2d on [N, C, H, W]: one keep decision per (sample, channel).
fn dropout2d(drop: &Dropout, scale: f32) -> Result<(), Error> {
    let dims = [4, 8, 6, 6];
    let x = Array4::<f32>::from_shape_fn(dims, |(n, c, h, w)| (1 + n + c + h + w) as f32);
    let channels = MaskShape::channels_first();
    let site = Site::new(1);

    // Out of place, with the mask kept as bits: one bit per (n, c).
    let mut bits = vec![0u64; dropkit::mask_words(channels.mask_len(&dims)?)];
    let mut y = Array4::<f32>::zeros(dims);
    drop.at(site)
        .shape(channels)
        .mask_out(MaskOut::Bits(&mut bits))
        .forward(&x, &mut y)?;

    // In place at the same site: the same mask, so the same bits.
    let mut z = x.clone();
    drop.at(site).shape(channels).forward_in_place(&mut z)?;
    assert_eq!(y, z);

    // Mask element n * C + c is bit (i % 64) of word i / 64.
    let kept = |n: usize, c: usize| {
        let i = n * dims[1] + c;
        bits[i / 64] >> (i % 64) & 1 == 1
    };
    for n in 0..dims[0] {
        for c in 0..dims[1] {
            let (plane, input) = (y.slice(s![n, c, .., ..]), x.slice(s![n, c, .., ..]));
            let expected = if kept(n, c) {
                input.mapv(|v| v * scale)
            } else {
                input.mapv(|_| 0.0)
            };
            assert_eq!(plane, expected);
        }
    }

    // Backward from the stored mask (no regeneration): dx = kept ? dy * s : 0.
    let dy = Array4::<f32>::ones(dims);
    let mut dx = Array4::<f32>::zeros(dims);
    drop.at(site)
        .shape(channels)
        .mask_in(MaskIn::Bits(&bits))
        .backward(&dy, &mut dx)?;
    assert_eq!(dx, y.mapv(|v| if v == 0.0 { 0.0 } else { scale }));
    let dropped = (0..dims[0] * dims[1])
        .filter(|&i| !kept(i / dims[1], i % dims[1]))
        .count();
    println!(
        "dropout2d: {dropped} of {} channels dropped, backward from {} mask word(s)",
        dims[0] * dims[1],
        bits.len()
    );

    // Elementwise dropout of non-contiguous views: every other channel, and
    // a channels-last permutation. Same bits as on a dense copy.
    let every_other = x.slice(s![.., ..;2, .., ..]);
    let nhwc = x.view().permuted_axes([0, 2, 3, 1]);
    for view in [every_other, nhwc] {
        let mut from_view = Array4::<f32>::zeros(view.raw_dim());
        let mut from_copy = Array4::<f32>::zeros(view.raw_dim());
        drop.at(Site::new(2)).forward(&view, &mut from_view)?;
        drop.at(Site::new(2))
            .forward(&view.to_owned(), &mut from_copy)?;
        assert_eq!(from_view, from_copy);
        println!(
            "strided view {:?} (strides {:?}): same as a dense copy",
            view.shape(),
            view.strides()
        );
    }
    Ok(())
}

/// 2. A `DropoutLayer` in a training loop: two steps of two micro-batches,
///    each forward followed by its backward, which regenerates the mask.
fn layer_loop() -> Result<(), Error> {
    let mut layer = DropoutLayer::new(Dropout::new(0.1)?.with_seed(7), /* layer id */ 0);
    let scale = layer.dropout().scale();
    let x = Array2::<f32>::from_elem((16, 64), 1.5);
    let ones = Array2::<f32>::ones(x.raw_dim());
    let mut masks: Vec<Vec<u8>> = Vec::new();

    for step in 0..2 {
        for micro in 0..2 {
            layer.set_micro_batch(micro); // every micro-batch gets its own mask
            let mut y = Array2::<f32>::zeros(x.raw_dim());
            let mut mask = vec![0u8; x.len()]; // kept only to check the backward
            let handle = layer
                .at(0)
                .mask_out(MaskOut::Bytes(&mut mask))
                .forward(&x, &mut y)?;

            // The handle remembers the site: the backward regenerates the mask.
            let mut dx = Array2::<f32>::zeros(x.raw_dim());
            layer.replay(handle).backward(&ones, &mut dx)?;

            // The forward's mask applied to ones (and scaled).
            let expected = Array2::from_shape_fn(x.raw_dim(), |(r, c)| {
                if mask[r * x.ncols() + c] != 0 {
                    ones[[r, c]] * scale
                } else {
                    0.0
                }
            });
            assert_eq!(dx, expected);
            let kept = mask.iter().filter(|&&m| m != 0).count();
            println!(
                "layer step {step} micro-batch {micro}: stream {:#018x}, {kept}/{} kept",
                layer.stream(),
                mask.len()
            );
            masks.push(mask);
        }
        layer.advance(); // next step, micro-batch 0: fresh masks
    }
    // Four different masks (steps and micro-batches never share one).
    for (i, a) in masks.iter().enumerate() {
        assert!(masks[i + 1..].iter().all(|b| a != b));
    }
    Ok(())
}

/// 3. The fused epilogue y = residual + dropout(x + bias) over rows of
///    `bias.len()` features, and its backward with dbias (column sums of dx).
fn fused_epilogue(drop: &Dropout, scale: f32) -> Result<(), Error> {
    let (rows, features) = (32, 768);
    let x =
        Array2::<f32>::from_shape_fn((rows, features), |(r, f)| ((r * 7 + f) % 13) as f32 * 0.25);
    let bias: Vec<f32> = (0..features).map(|f| (f % 5) as f32 * 0.5).collect();
    let residual = Array2::<f32>::from_elem((rows, features), 1.0);
    let site = Site::new(3);

    // bias and residual are plain slices; x and y any tensor.
    let mut y = Array2::<f32>::zeros((rows, features));
    let mut mask = vec![0u8; rows * features];
    drop.at(site)
        .bias(&bias)
        .residual(residual.as_slice().expect("a standard-layout array"))
        .mask_out(MaskOut::Bytes(&mut mask))
        .forward(&x, &mut y)?;
    for ((r, f), &v) in y.indexed_iter() {
        let keep = if mask[r * features + f] != 0 {
            (x[[r, f]] + bias[f]) * scale
        } else {
            0.0
        };
        assert_eq!(v, residual[[r, f]] + keep);
    }

    // Backward: the mask regenerated from the site, plus dbias.
    let dy = Array2::<f32>::from_shape_fn((rows, features), |(r, _)| 1.0 + r as f32);
    let mut dx = Array2::<f32>::zeros((rows, features));
    let mut dbias = vec![0.0f32; features];
    drop.at(site).dbias(&mut dbias).backward(&dy, &mut dx)?;
    for ((r, f), &g) in dx.indexed_iter() {
        assert_eq!(
            g,
            if mask[r * features + f] != 0 {
                dy[[r, f]] * scale
            } else {
                0.0
            }
        );
    }
    // dbias is summed in f64 in row order (one chunk here) and rounded once.
    for (f, column) in dx.axis_iter(Axis(1)).enumerate() {
        assert_eq!(
            dbias[f],
            column.iter().map(|&v| f64::from(v)).sum::<f64>() as f32
        );
    }
    println!(
        "fused [{rows}, {features}]: y[0, 0..4] = {:?}, dbias[0..4] = {:?}",
        y.slice(s![0, 0..4]).to_vec(),
        &dbias[..4]
    );
    Ok(())
}

/// 4. Errors are typed values whose messages carry the numbers; nothing is
///    written when a call fails.
fn errors(drop: &Dropout) {
    let x = Array2::<f32>::ones((4, 6));
    let mut y = Array2::<f32>::zeros((4, 6));

    let bad_rate = Dropout::new(1.5).unwrap_err();
    assert!(matches!(bad_rate, Error::InvalidRate { .. }));

    // Flat slices of different lengths. (A 2-D array into a 1-D buffer would
    // be a RankMismatch, an array of other extents a DimMismatch.)
    let flat = x.as_slice().expect("a standard-layout array");
    let mut short = vec![0.0f32; 23];
    let wrong_output = drop.at(Site::new(0)).forward(flat, &mut short).unwrap_err();
    assert!(matches!(wrong_output, Error::Size { .. }));

    // A bit mask of 24 elements needs one word; give none.
    let mut no_words: [u64; 0] = [];
    let small_mask = drop
        .at(Site::new(0))
        .mask_out(MaskOut::Bits(&mut no_words))
        .forward(&x, &mut y)
        .unwrap_err();
    assert!(matches!(small_mask, Error::Size { .. }));

    // A forward pass does not read a stored mask.
    let bits = [0u64; 1];
    let wrong_option = drop
        .at(Site::new(0))
        .mask_in(MaskIn::Bits(&bits))
        .forward(&x, &mut y)
        .unwrap_err();
    assert!(matches!(wrong_option, Error::Unsupported { .. }));

    // A flat fused call needs whole rows of bias.len() features. (On an
    // array, the bias must be as long as its last axis: a Size error.)
    let bias = [0.0f32; 5];
    let not_rows = drop
        .at(Site::new(0))
        .bias(&bias)
        .forward(flat, y.as_slice_mut().unwrap())
        .unwrap_err();
    assert!(matches!(not_rows, Error::NotWholeRows { .. }));

    assert!(y.iter().all(|&v| v == 0.0), "nothing written on error");
    for e in [bad_rate, wrong_output, small_mask, wrong_option, not_rows] {
        println!("error: {e}");
    }
}
