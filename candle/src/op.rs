//! [`DropoutOp`]: dropkit's dropout as a candle `CustomOp1` (and
//! `InplaceOp1`) on CPU storage, candle's strided layout mapped to dropkit's
//! views without a copy.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, DType, Device, InplaceOp1, Layout, MetalStorage, Shape,
    Tensor,
};
use dropkit::{Element, MaskShape, Site, View, ViewMut, MAX_RANK};
use half::vec::HalfBitsVecExt;
use half::{bf16, f16};

/// What a [`DropoutOp`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// The training forward pass: kept elements times the factor, dropped
    /// ones `+0.0` (dropkit's [`dropkit::Call::forward`]).
    Forward,
    /// The gradient of [`Pass::Forward`]: `dy` times the factor where the
    /// same mask keeps, else `+0.0`. The mask is regenerated from the seed,
    /// stream and offset, never stored (dropkit's [`dropkit::Call::backward`]).
    Backward,
    /// What the layer does at test time ([`dropkit::Dropout::inference`]):
    /// the identity under `Scaling::Inverted` and `Scaling::Alpha`, `x * q`
    /// under `Scaling::Classic`. Its gradient is itself.
    Inference,
}

/// dropkit's dropout as a candle custom op: one [`dropkit::Dropout`] (rate,
/// seed, scaling, threads), one [`Site`] (stream and offset), one
/// [`MaskShape`] and a [`Pass`].
///
/// [`DropoutOp::forward`] applies it with autograd: candle's backward pass
/// calls [`CustomOp1::bwd`], which runs [`Pass::Backward`] at the same site,
/// so the mask is regenerated and nothing but the op's few bytes is kept
/// for the backward pass. The gradient is exact (the mask times the factor,
/// as the forward pass applies it), and the backward op has a gradient of
/// its own (itself), so second derivatives work too (candle keeps the
/// gradient graph only with `CANDLE_GRAD_DO_NOT_DETACH=1`).
///
/// Input layouts: any candle layout (strided, transposed, narrowed with a
/// start offset, broadcast with zero strides) is read in place through a
/// [`dropkit::View`]; the output is a new contiguous tensor of the same
/// shape. The logical index of an element is its row-major position in
/// the shape, whatever the strides, so the bits are those of the same call
/// on a contiguous copy. Element types: `F32`, `F64`, `F16`, `BF16`.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use dropkit::{Dropout, Site};
/// use dropkit_candle::DropoutOp;
///
/// let x = Var::from_tensor(&Tensor::ones((4, 8), candle_core::DType::F32, &Device::Cpu)?)?;
/// let op = DropoutOp::new(Dropout::new(0.5).unwrap().with_seed(1), Site::new(7));
/// let y = op.forward(x.as_tensor())?;
/// let grads = y.sum_all()?.backward()?;
/// // The gradient of a sum through dropout is the mask times the factor: y itself here.
/// assert_eq!(grads.get(&x).unwrap().to_vec2::<f32>()?, y.to_vec2::<f32>()?);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutOp {
    drop: dropkit::Dropout,
    site: Site,
    shape: MaskShape,
    pass: Pass,
}

impl DropoutOp {
    /// The training forward pass of `drop` at `site`, elementwise mask.
    pub fn new(drop: dropkit::Dropout, site: Site) -> Self {
        DropoutOp {
            drop,
            site,
            shape: MaskShape::elementwise(),
            pass: Pass::Forward,
        }
    }

    /// The same op with another mask shape: [`MaskShape::channels_first`]
    /// (`dropout1d/2d/3d` on `[N, C, ..]`), [`MaskShape::channels_last`],
    /// [`MaskShape::per_sample`] (drop-path), ... The tensor's axes are
    /// the mask shape's axes.
    pub fn with_shape(self, shape: MaskShape) -> Self {
        DropoutOp { shape, ..self }
    }

    /// The same op at another site.
    pub fn with_site(self, site: Site) -> Self {
        DropoutOp { site, ..self }
    }

    /// The same op computing `pass`.
    pub fn with_pass(self, pass: Pass) -> Self {
        DropoutOp { pass, ..self }
    }

    /// The operator.
    pub fn dropout(&self) -> &dropkit::Dropout {
        &self.drop
    }

    /// The site (stream and offset).
    pub fn site(&self) -> Site {
        self.site
    }

    /// The mask shape.
    pub fn shape(&self) -> MaskShape {
        self.shape
    }

    /// The pass.
    pub fn pass(&self) -> Pass {
        self.pass
    }

    /// Applies the op to `xs` with autograd (`Tensor::apply_op1`): a new
    /// contiguous tensor of `xs`'s shape and dtype.
    ///
    /// # Errors
    /// A tensor that is not on the CPU; a dtype other than F32, F64, F16,
    /// BF16; what dropkit rejects (a mask shape the tensor's rank does not
    /// take, a rank above 8 that cannot be merged, an offset overflow). The
    /// message names the values.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        check_cpu(xs.device(), self.op_name())?;
        xs.apply_op1(*self)
    }

    /// As [`DropoutOp::forward`], recorded without a backward pass
    /// (`Tensor::apply_op1_no_bwd`).
    ///
    /// # Errors
    /// As [`DropoutOp::forward`].
    pub fn forward_no_grad(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        check_cpu(xs.device(), self.op_name())?;
        xs.apply_op1_no_bwd(self)
    }

    /// Applies the op over `xs`'s own storage (`Tensor::inplace_op1`): no
    /// new tensor, no autograd. `xs`'s layout must put its elements at
    /// distinct addresses (no broadcast).
    ///
    /// # Errors
    /// As [`DropoutOp::forward`], and a layout whose elements may share
    /// addresses.
    pub fn forward_in_place(&self, xs: &Tensor) -> candle_core::Result<()> {
        check_cpu(xs.device(), self.op_name())?;
        xs.inplace_op1(self)
    }

    /// The op's name in candle (and in its errors).
    pub fn op_name(&self) -> &'static str {
        match self.pass {
            Pass::Forward => "dropkit-dropout",
            Pass::Backward => "dropkit-dropout-backward",
            Pass::Inference => "dropkit-dropout-inference",
        }
    }

    /// The op's result for one element type, read through `layout` from
    /// `src`, into a new dense vector.
    fn compute<E: Element + Copy>(
        &self,
        src: &[E],
        layout: &Layout,
        zeroed: fn(usize) -> Vec<E>,
    ) -> candle_core::Result<Vec<E>> {
        let (dims, strides) = self.view_axes(layout)?;
        let start = layout.start_offset();
        let src = src.get(start..).ok_or_else(|| {
            self.error(
                &format!(
                    "the layout's start offset {start} is past the storage's {} elements",
                    src.len()
                ),
                layout,
            )
        })?;
        let view_layout =
            dropkit::Layout::strided(&dims, &strides).map_err(|e| self.wrap(e, layout))?;
        let x = View::new(src, view_layout).map_err(|e| self.wrap(e, layout))?;
        let mut out = zeroed(view_layout.len());
        let mut y = ViewMut::dense(&mut out, &dims).map_err(|e| self.wrap(e, layout))?;
        self.run(&x, &mut y).map_err(|e| self.wrap(e, layout))?;
        Ok(out)
    }

    /// The op over `layout`'s elements of `data`, in place.
    fn compute_in_place<E: Element>(
        &self,
        data: &mut [E],
        layout: &Layout,
    ) -> candle_core::Result<()> {
        let (dims, strides) = self.view_axes(layout)?;
        let start = layout.start_offset();
        let len = data.len();
        let data = data.get_mut(start..).ok_or_else(|| {
            self.error(
                &format!("the layout's start offset {start} is past the storage's {len} elements"),
                layout,
            )
        })?;
        let view_layout =
            dropkit::Layout::strided(&dims, &strides).map_err(|e| self.wrap(e, layout))?;
        let mut x = ViewMut::new(data, view_layout).map_err(|e| self.wrap(e, layout))?;
        let call = self.drop.at::<E>(self.site).shape(self.shape);
        match self.pass {
            Pass::Forward => call.forward_in_place(&mut x).map(|_| ()),
            Pass::Backward => call.backward_in_place(&mut x),
            Pass::Inference => self.drop.inference_in_place(&mut x),
        }
        .map_err(|e| self.wrap(e, layout))
    }

    fn run<E: Element>(
        &self,
        x: &View<'_, E>,
        y: &mut ViewMut<'_, E>,
    ) -> Result<(), dropkit::Error> {
        let call = self.drop.at::<E>(self.site).shape(self.shape);
        match self.pass {
            Pass::Forward => call.forward(x, y).map(|_| ()),
            Pass::Backward => call.backward(x, y),
            Pass::Inference => self.drop.inference(x, y),
        }
    }

    /// The axes dropkit sees for `layout`. With the elementwise mask every
    /// axis of extent 1 is left out and neighbours that are contiguous with
    /// each other are merged (the row-major order, and so the bits, stay
    /// the same; dropkit's dense path takes a contiguous tensor as one
    /// slice); a scalar is one element. With another mask shape the axes
    /// are the tensor's, as the mask shape names them.
    fn view_axes(&self, layout: &Layout) -> candle_core::Result<(Vec<usize>, Vec<usize>)> {
        let (dims, strides) = (layout.dims(), layout.stride());
        if self.shape != MaskShape::elementwise() {
            if dims.len() > MAX_RANK {
                return Err(self.error(
                    &format!(
                        "rank {} is above dropkit's {MAX_RANK} for a mask shape other than elementwise",
                        dims.len()
                    ),
                    layout,
                ));
            }
            return Ok((dims.to_vec(), strides.to_vec()));
        }
        let (merged_dims, merged_strides) = merge_axes(dims, strides);
        if merged_dims.len() > MAX_RANK {
            return Err(self.error(
                &format!(
                    "{} axes remain after merging the contiguous ones, above dropkit's {MAX_RANK}",
                    merged_dims.len()
                ),
                layout,
            ));
        }
        Ok((merged_dims, merged_strides))
    }

    fn wrap(&self, e: dropkit::Error, layout: &Layout) -> candle_core::Error {
        self.error(&e.to_string(), layout)
    }

    fn error(&self, what: &str, layout: &Layout) -> candle_core::Error {
        candle_core::Error::Msg(format!(
            "{}: {what} (tensor dims {:?}, strides {:?}, start offset {}; mask shape {}; stream {}, offset {})",
            self.op_name(),
            layout.dims(),
            layout.stride(),
            layout.start_offset(),
            describe_shape(self.shape, layout.dims()),
            self.site.stream,
            self.site.offset,
        ))
        .bt()
    }

    fn unsupported_dtype(&self, dtype: DType) -> candle_core::Error {
        candle_core::Error::Msg(format!(
            "{}: dtype {dtype:?} is not supported (F32, F64, F16 and BF16 are)",
            self.op_name()
        ))
        .bt()
    }
}

/// A mask shape in words for error messages: its name, or for a
/// `noise_shape` / `broadcast_dims` shape the mask it gives `dims` (when it
/// gives one).
pub(crate) fn describe_shape(shape: MaskShape, dims: &[usize]) -> String {
    let named = [
        (MaskShape::elementwise(), "elementwise"),
        (MaskShape::channels_first(), "channels first"),
        (MaskShape::channels_last(), "channels last"),
        (MaskShape::per_sample(), "per sample (drop-path)"),
        (MaskShape::locked_time_major(), "locked, time-major"),
        (MaskShape::locked_batch_major(), "locked, batch-major"),
    ];
    if let Some((_, name)) = named.iter().find(|(s, _)| *s == shape) {
        return (*name).to_string();
    }
    let mask = dropkit::Layout::dense(dims)
        .and_then(|l| shape.mask_layout(&l))
        .map(|m| format!(" (mask {:?} here)", m.dims()))
        .unwrap_or_default();
    format!("noise_shape or broadcast_dims{mask}")
}

/// `dims` and `strides` without the axes of extent 1 and with contiguous
/// neighbours merged: the same elements in the same row-major order. At
/// least one axis; an empty tensor keeps one axis of extent 0.
pub(crate) fn merge_axes(dims: &[usize], strides: &[usize]) -> (Vec<usize>, Vec<usize>) {
    if dims.contains(&0) {
        return (vec![0], vec![1]);
    }
    let mut out_dims: Vec<usize> = Vec::with_capacity(dims.len());
    let mut out_strides: Vec<usize> = Vec::with_capacity(dims.len());
    for (&d, &s) in dims.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        match (out_dims.last_mut(), out_strides.last_mut()) {
            // The outer axis steps exactly over this one: one axis.
            (Some(od), Some(os)) if d.checked_mul(s) == Some(*os) => {
                *od *= d;
                *os = s;
            }
            _ => {
                out_dims.push(d);
                out_strides.push(s);
            }
        }
    }
    if out_dims.is_empty() {
        return (vec![1], vec![1]);
    }
    (out_dims, out_strides)
}

/// A clear error for a tensor that is not on the CPU.
pub(crate) fn check_cpu(device: &Device, op: &str) -> candle_core::Result<()> {
    if device.is_cpu() {
        Ok(())
    } else {
        Err(not_cpu(op, &format!("{:?}", device.location())))
    }
}

fn not_cpu(op: &str, location: &str) -> candle_core::Error {
    candle_core::Error::Msg(format!(
        "{op}: dropkit runs on the CPU only, and this tensor is on {location}; \
         move it with `.to_device(&Device::Cpu)` or use candle_nn::ops::dropout on that device"
    ))
    .bt()
}

fn zeroed_f32(n: usize) -> Vec<f32> {
    vec![0.0; n]
}
fn zeroed_f64(n: usize) -> Vec<f64> {
    vec![0.0; n]
}
fn zeroed_f16(n: usize) -> Vec<f16> {
    // Zeroed `u16`s come from a zeroed allocation; reinterpreting them is free.
    vec![0u16; n].reinterpret_into()
}
fn zeroed_bf16(n: usize) -> Vec<bf16> {
    vec![0u16; n].reinterpret_into()
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        self.op_name()
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(self.compute(s, layout, zeroed_f32)?),
            CpuStorage::F64(s) => CpuStorage::F64(self.compute(s, layout, zeroed_f64)?),
            CpuStorage::F16(s) => CpuStorage::F16(self.compute(s, layout, zeroed_f16)?),
            CpuStorage::BF16(s) => CpuStorage::BF16(self.compute(s, layout, zeroed_bf16)?),
            other => return Err(self.unsupported_dtype(other.dtype())),
        };
        Ok((out, layout.shape().clone()))
    }

    fn cuda_fwd(
        &self,
        _storage: &CudaStorage,
        _layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        Err(not_cpu(self.op_name(), "a CUDA device"))
    }

    fn metal_fwd(
        &self,
        _storage: &MetalStorage,
        _layout: &Layout,
    ) -> candle_core::Result<(MetalStorage, Shape)> {
        Err(not_cpu(self.op_name(), "a Metal device"))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // The forward and backward passes are linear in their input with
        // the same diagonal (mask times factor; for alpha dropout, mask
        // times `a`), and inference is its own gradient.
        let pass = match self.pass {
            Pass::Forward | Pass::Backward => Pass::Backward,
            Pass::Inference => Pass::Inference,
        };
        self.with_pass(pass).forward(grad_res).map(Some)
    }
}

impl InplaceOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        self.op_name()
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        match storage {
            CpuStorage::F32(s) => self.compute_in_place(s, layout),
            CpuStorage::F64(s) => self.compute_in_place(s, layout),
            CpuStorage::F16(s) => self.compute_in_place(s, layout),
            CpuStorage::BF16(s) => self.compute_in_place(s, layout),
            other => Err(self.unsupported_dtype(other.dtype())),
        }
    }

    fn cuda_fwd(&self, _storage: &mut CudaStorage, _layout: &Layout) -> candle_core::Result<()> {
        Err(not_cpu(self.op_name(), "a CUDA device"))
    }

    fn metal_fwd(&self, _storage: &mut MetalStorage, _layout: &Layout) -> candle_core::Result<()> {
        Err(not_cpu(self.op_name(), "a Metal device"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_order() {
        // Contiguous [2, 3, 4]: one axis.
        assert_eq!(merge_axes(&[2, 3, 4], &[12, 4, 1]), (vec![24], vec![1]));
        // Narrowed along axis 1 of [2, 5, 4]: rows of 12 in a stride of 20.
        assert_eq!(
            merge_axes(&[2, 3, 4], &[20, 4, 1]),
            (vec![2, 12], vec![20, 1])
        );
        // Transposed [4, 3] of a contiguous [3, 4]: nothing merges.
        assert_eq!(merge_axes(&[4, 3], &[1, 4]), (vec![4, 3], vec![1, 4]));
        // Broadcast along axis 0, and axes of extent 1 dropped.
        assert_eq!(merge_axes(&[5, 1, 3], &[0, 7, 1]), (vec![5, 3], vec![0, 1]));
        // Scalars and empty tensors.
        assert_eq!(merge_axes(&[], &[]), (vec![1], vec![1]));
        assert_eq!(merge_axes(&[3, 0], &[0, 1]), (vec![0], vec![1]));
    }

    #[test]
    fn the_device_error_names_the_device() {
        let e = not_cpu("dropkit-dropout", "Cuda { gpu_id: 0 }").to_string();
        assert!(
            e.contains("CPU only") && e.contains("Cuda { gpu_id: 0 }"),
            "{e}"
        );
        assert!(check_cpu(&Device::Cpu, "x").is_ok());
    }
}
