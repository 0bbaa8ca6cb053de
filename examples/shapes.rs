//! Every mask shape on a small tensor: which elements each variant keeps
//! (`#`) and drops (`.`), and the PyTorch / TF / Flax call it stands for.
//!
//! ```text
//! cargo run --release --example shapes
//! ```

use dropkit::{Dropout, Error, Layout, MaskShape, Site, View, ViewMut};

/// Prints the keep pattern of `shape` on a `[2, 3, 8]` tensor of ones, one
/// line per row of 8, the two samples side by side.
fn show(d: &Dropout, name: &str, shape: MaskShape) -> Result<(), Error> {
    let dims = [2, 3, 8];
    let x = [1.0f32; 48];
    let mut y = [0.0f32; 48];
    // A mask shape needs the data's dims: the buffers as dense views.
    d.at(Site::new(7).at(0)).shape(shape).forward(
        &View::dense(&x, &dims)?,
        &mut ViewMut::dense(&mut y, &dims)?,
    )?;
    let mask = shape.mask_layout(&Layout::dense(&dims)?)?;
    println!("{name}: mask {:?} ({} decisions)", mask.dims(), mask.len());
    for row in 0..3 {
        let line = |s: usize| -> String {
            y[(s * 3 + row) * 8..(s * 3 + row + 1) * 8]
                .iter()
                .map(|&v| if v != 0.0 { '#' } else { '.' })
                .collect()
        };
        println!("    {}   {}", line(0), line(1));
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let d = Dropout::new(0.5)?.with_seed(2024);
    println!("data [2, 3, 8], rate 0.5: sample 0 on the left, sample 1 on the right\n");
    let variants = [
        ("elementwise (torch dropout)", MaskShape::elementwise()),
        (
            "channels first, [N, C, L] (torch dropout1d)",
            MaskShape::channels_first(),
        ),
        (
            "channels last, [N, L, C] (Keras SpatialDropout1D)",
            MaskShape::channels_last(),
        ),
        ("per sample (timm drop_path)", MaskShape::per_sample()),
        (
            "locked, time major [T, B, F] (AWD-LSTM LockedDropout; the halves are time steps)",
            MaskShape::locked_time_major(),
        ),
        (
            "locked, batch major [B, T, F]",
            MaskShape::locked_batch_major(),
        ),
        (
            "noise shape [2, 1, 8] (TF noise_shape)",
            MaskShape::noise_shape(&[2, 1, 8]),
        ),
        (
            "broadcast dims [2] (Flax broadcast_dims=(2,))",
            MaskShape::broadcast_dims(&[2]),
        ),
    ];
    for (name, shape) in variants {
        show(&d, name, shape)?;
    }

    // Alpha dropout: dropped elements take the SELU saturation's affine
    // image, kept ones x * a + b.
    let a = Dropout::alpha(0.5)?.with_seed(2024);
    let (ka, kb, dropped) = a.alpha_affine().expect("alpha");
    let x = [0.0f32, 1.0, -1.0, 2.0, 0.5, -0.5, 3.0, -2.0];
    let mut y = [0.0f32; 8];
    // Elementwise (the default mask shape): the slices need no view.
    a.at(Site::new(7).at(0)).forward(&x, &mut y)?;
    println!("\nalpha dropout, rate 0.5: a = {ka:.6}, b = {kb:.6}, dropped = {dropped:.6}");
    println!("    x = {x:?}\n    y = {y:?}");
    Ok(())
}
