//! `dropkit._dropkit`: the compiled half of the Python package.
//!
//! One class, `Dropout`, whose four methods take every buffer from the
//! caller (the Python half, `dropkit/__init__.py` and `dropkit/torch.py`,
//! allocates outputs with `empty_like` and gives the friendly signatures).
//! A tensor argument is a NumPy array (read through the `numpy` crate:
//! pointer, dims, byte strides, dtype, the writeable flag) or, for torch
//! tensors, a tuple `(data_ptr, dtype code, dims, element strides)` that
//! `dropkit.torch` builds from a CPU tensor it holds for the call.
//!
//! Before anything is written every argument is checked: dtype, strides
//! (non-negative, whole elements), alignment, writeability, and that no
//! output shares memory with another argument unless it is the same tensor
//! (then the in-place kernel runs). The kernels run with the GIL released.

use std::ops::Range;

use dropkit::half::{bf16, f16};
use dropkit::{Element, Error, Layout, MaskIn, MaskOut, MaskShape, Scaling, Site, View, ViewMut};
use numpy::npyffi::NPY_ARRAY_WRITEABLE;
use numpy::{dtype, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

/// Element types, with the codes `dropkit.torch` passes in raw tuples.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dtype {
    F32 = 0,
    F64 = 1,
    F16 = 2,
    Bf16 = 3,
}

impl Dtype {
    fn from_code(code: u8) -> PyResult<Self> {
        Ok(match code {
            0 => Dtype::F32,
            1 => Dtype::F64,
            2 => Dtype::F16,
            3 => Dtype::Bf16,
            _ => return Err(PyValueError::new_err(format!("unknown dtype code {code}"))),
        })
    }
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::F16 => "float16",
            Dtype::Bf16 => "bfloat16",
        }
    }
}

/// What a mask buffer holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MaskKind {
    Bits,
    Bytes,
}

/// One buffer argument: where it is, its element type and its layout.
struct Tensor {
    name: &'static str,
    ptr: *mut u8,
    dtype: Option<Dtype>,
    mask: Option<MaskKind>,
    dims: Vec<usize>,
    /// In elements.
    strides: Vec<usize>,
    writable: bool,
}

impl Tensor {
    fn itemsize(&self) -> usize {
        match (self.dtype, self.mask) {
            (Some(d), _) => d.size(),
            (None, Some(MaskKind::Bits)) => 8,
            _ => 1,
        }
    }

    fn len(&self) -> usize {
        self.dims.iter().product()
    }

    fn layout(&self) -> PyResult<Layout> {
        Layout::strided(&self.dims, &self.strides).map_err(|e| value_error(self.name, e))
    }

    /// The bytes the tensor may touch (empty for an empty tensor).
    fn bytes(&self) -> PyResult<Range<usize>> {
        let span = self.layout()?.span();
        let start = self.ptr as usize;
        Ok(start..start + span * self.itemsize())
    }

    /// Elements of a 1-D (or any contiguous) buffer, for fused operands
    /// and masks: they must be dense in C order.
    fn require_contiguous(&self) -> PyResult<()> {
        if self.layout()?.is_dense() {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "{} must be C-contiguous (dims {:?}, element strides {:?})",
                self.name, self.dims, self.strides
            )))
        }
    }

    fn require_writable(&self) -> PyResult<()> {
        if self.writable {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!("{} is read-only", self.name)))
        }
    }

    fn same_as(&self, other: &Tensor) -> bool {
        self.ptr == other.ptr && self.dims == other.dims && self.strides == other.strides
    }
}

fn value_error(what: &str, e: Error) -> PyErr {
    PyValueError::new_err(format!("{what}: {e}"))
}

fn call_error(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn numpy_dtype(arr: &Bound<'_, PyUntypedArray>) -> PyResult<(Option<Dtype>, Option<MaskKind>)> {
    let py = arr.py();
    let d = arr.dtype();
    let found = if d.is_equiv_to(&dtype::<f32>(py)) {
        (Some(Dtype::F32), None)
    } else if d.is_equiv_to(&dtype::<f64>(py)) {
        (Some(Dtype::F64), None)
    } else if d.is_equiv_to(&dtype::<f16>(py)) {
        (Some(Dtype::F16), None)
    } else if d.is_equiv_to(&dtype::<u64>(py)) {
        (None, Some(MaskKind::Bits))
    } else if d.is_equiv_to(&dtype::<u8>(py)) || d.is_equiv_to(&dtype::<bool>(py)) {
        (None, Some(MaskKind::Bytes))
    } else if d.itemsize() == 2 && d.getattr("name")?.extract::<String>()? == "bfloat16" {
        (Some(Dtype::Bf16), None)
    } else {
        (None, None)
    };
    Ok(found)
}

/// Reads a NumPy array or a raw tuple from `dropkit.torch`; a 0-d array is
/// one element.
fn tensor(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Tensor> {
    let mut t = any_rank(obj, name)?;
    if t.dims.is_empty() {
        t.dims.push(1);
        t.strides.push(1);
    }
    Ok(t)
}

fn any_rank(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Tensor> {
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        let (dtype, mask) = numpy_dtype(arr)?;
        if dtype.is_none() && mask.is_none() {
            return Err(PyTypeError::new_err(format!(
                "{name}: dtype {} is not supported (float32, float64, float16, bfloat16; \
                 masks uint64 bits or uint8/bool bytes)",
                arr.dtype()
            )));
        }
        // SAFETY: `as_array_ptr` points at the live array object that `arr`
        // holds a reference to; `data` and `flags` are plain fields.
        let (ptr, flags) = unsafe {
            let raw = arr.as_array_ptr();
            ((*raw).fields.data as *mut u8, (*raw).fields.flags)
        };
        let mut t = Tensor {
            name,
            ptr,
            dtype,
            mask,
            dims: arr.shape().to_vec(),
            strides: Vec::with_capacity(arr.ndim()),
            writable: flags & NPY_ARRAY_WRITEABLE != 0,
        };
        let item = t.itemsize() as isize;
        for (&s, &d) in arr.strides().iter().zip(arr.shape()) {
            if d <= 1 {
                // NumPy may give any stride to an axis of extent 0 or 1.
                t.strides.push(0);
            } else if s < 0 {
                return Err(PyValueError::new_err(format!(
                    "{name} has a negative stride ({s} bytes; strides {:?}): \
                     pass a copy (numpy.ascontiguousarray)",
                    arr.strides()
                )));
            } else if s % item != 0 {
                return Err(PyValueError::new_err(format!(
                    "{name} has a stride of {s} bytes, not a whole number of {item}-byte elements"
                )));
            } else {
                t.strides.push((s / item) as usize);
            }
        }
        check_aligned(&t)?;
        return Ok(t);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let (ptr, code, dims, strides): (usize, u8, Vec<usize>, Vec<usize>) = tuple.extract()?;
        let t = Tensor {
            name,
            ptr: ptr as *mut u8,
            dtype: Some(Dtype::from_code(code)?),
            mask: None,
            dims,
            strides,
            writable: true,
        };
        if t.dims.len() != t.strides.len() {
            return Err(PyValueError::new_err(format!(
                "{name}: {} dims but {} strides",
                t.dims.len(),
                t.strides.len()
            )));
        }
        check_aligned(&t)?;
        return Ok(t);
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a numpy.ndarray, got {}",
        obj.get_type().name()?
    )))
}

fn check_aligned(t: &Tensor) -> PyResult<()> {
    if !(t.ptr as usize).is_multiple_of(t.itemsize()) && t.len() != 0 {
        return Err(PyValueError::new_err(format!(
            "{} is not aligned to its {}-byte elements",
            t.name,
            t.itemsize()
        )));
    }
    Ok(())
}

fn optional(obj: Option<&Bound<'_, PyAny>>, name: &'static str) -> PyResult<Option<Tensor>> {
    match obj {
        Some(o) if !o.is_none() => tensor(o, name).map(Some),
        _ => Ok(None),
    }
}

fn mask_shape(obj: Option<&Bound<'_, PyAny>>) -> PyResult<MaskShape> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(MaskShape::elementwise());
    };
    if let Ok(name) = obj.cast::<PyString>() {
        let name = name.to_cow()?;
        return MaskShape::named(&name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown mask shape {:?} ({}, or a tuple of extents)",
                name.as_ref(),
                MaskShape::NAMES.join(", ")
            ))
        });
    }
    let dims: Vec<usize> = obj.extract().map_err(|_| {
        PyTypeError::new_err("mask_shape must be a name or a sequence of non-negative ints")
    })?;
    Ok(MaskShape::noise_shape(&dims))
}

/// Refuses an output that shares bytes with another argument, unless it is
/// the same tensor as `x` (then the caller runs in place).
fn check_overlaps(outputs: &[&Tensor], inputs: &[&Tensor]) -> PyResult<()> {
    for (i, out) in outputs.iter().enumerate() {
        let o = out.bytes()?;
        let others = inputs.iter().chain(&outputs[i + 1..]);
        for other in others {
            let r = other.bytes()?;
            if o.start < r.end && r.start < o.end && !o.is_empty() && !r.is_empty() {
                return Err(PyValueError::new_err(format!(
                    "{} shares memory with {} (only out=x, the same array, runs in place)",
                    out.name, other.name
                )));
            }
        }
    }
    Ok(())
}

/// The pointers a kernel needs, moved to the thread that runs it with the
/// GIL released.
struct Job<T>(T);
// SAFETY: the buffers behind the pointers stay alive (their Python objects
// are referenced by the caller's frame) and are not touched by this thread
// while the GIL is released; the kernel is the only user.
unsafe impl<T> Send for Job<T> {}
// SAFETY: as above; the closure that holds it is only called once.
unsafe impl<T> Sync for Job<T> {}

/// A read-only view of a tensor.
///
/// SAFETY (for callers): the tensor's buffer must be live and hold `E`s
/// over its layout's span, and nothing may write it while the view lives.
unsafe fn view<'a, E: Element>(t: &Tensor) -> Result<View<'a, E>, Error> {
    let layout = Layout::strided(&t.dims, &t.strides)?;
    let span = layout.span();
    let data: &[E] = if span == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract: `span` elements from `ptr`.
        unsafe { std::slice::from_raw_parts(t.ptr as *const E, span) }
    };
    View::new(data, layout)
}

/// A writable view of a tensor.
///
/// SAFETY (for callers): as for [`view`], and no other reference to these
/// bytes may exist while the view lives.
unsafe fn view_mut<'a, E: Element>(t: &Tensor) -> Result<ViewMut<'a, E>, Error> {
    let layout = Layout::strided(&t.dims, &t.strides)?;
    let span = layout.span();
    let data: &mut [E] = if span == 0 {
        &mut []
    } else {
        // SAFETY: the caller's contract: `span` elements from `ptr`, unaliased.
        unsafe { std::slice::from_raw_parts_mut(t.ptr as *mut E, span) }
    };
    ViewMut::new(data, layout)
}

/// A dense buffer as a slice.
///
/// SAFETY (for callers): the buffer holds `len` `T`s and nothing writes it
/// while the slice lives.
unsafe fn slice<'a, T>(t: &Tensor) -> &'a [T] {
    let len = t.len();
    if len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(t.ptr as *const T, len) }
    }
}

/// A dense buffer as a mutable slice.
///
/// SAFETY (for callers): as for [`slice`], and no other reference to these
/// bytes exists while the slice lives.
unsafe fn slice_mut<'a, T>(t: &Tensor) -> &'a mut [T] {
    let len = t.len();
    if len == 0 {
        &mut []
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(t.ptr as *mut T, len) }
    }
}

macro_rules! for_dtype {
    ($dtype:expr, $f:ident, $($arg:expr),*) => {
        match $dtype {
            Dtype::F32 => $f::<f32>($($arg),*),
            Dtype::F64 => $f::<f64>($($arg),*),
            Dtype::F16 => $f::<f16>($($arg),*),
            Dtype::Bf16 => $f::<bf16>($($arg),*),
        }
    };
}

/// The arguments of one call, checked.
struct Args {
    x: Tensor,
    out: Tensor,
    in_place: bool,
    site: Site,
    shape: MaskShape,
    mask: Option<Tensor>,
    bias: Option<Tensor>,
    residual: Option<Tensor>,
}

impl Args {
    /// Type, writeability and overlap checks shared by both directions.
    fn check(&self, mask_is_output: bool) -> PyResult<()> {
        let dtype = self.x.dtype.ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{} must hold floats, not a mask dtype",
                self.x.name
            ))
        })?;
        for t in [Some(&self.out), self.bias.as_ref(), self.residual.as_ref()]
            .into_iter()
            .flatten()
        {
            if t.dtype != Some(dtype) {
                return Err(PyTypeError::new_err(format!(
                    "{} is {} but {} is {}",
                    t.name,
                    t.dtype.map_or("a mask", Dtype::name),
                    self.x.name,
                    dtype.name()
                )));
            }
        }
        self.out.require_writable()?;
        if let Some(m) = &self.mask {
            if m.mask.is_none() {
                return Err(PyTypeError::new_err(
                    "mask must be uint64 (bits) or uint8/bool (bytes)",
                ));
            }
            m.require_contiguous()?;
            if mask_is_output {
                m.require_writable()?;
            }
        }
        let fused = self.bias.is_some() || self.residual.is_some();
        for t in [self.bias.as_ref(), self.residual.as_ref()]
            .into_iter()
            .flatten()
        {
            t.require_contiguous()?;
        }
        if fused {
            self.x.require_contiguous()?;
            self.out.require_contiguous()?;
        }
        let mut outputs = vec![];
        let mut inputs = vec![];
        if !self.in_place {
            outputs.push(&self.out);
            inputs.push(&self.x);
        }
        if let Some(m) = &self.mask {
            if mask_is_output {
                outputs.push(m)
            } else {
                inputs.push(m)
            }
        }
        inputs.extend(self.bias.as_ref());
        if let Some(r) = &self.residual {
            if self.in_place || !r.same_as(&self.out) {
                inputs.push(r);
            }
        }
        if self.in_place {
            // x is the output: nothing else may share its bytes.
            outputs.push(&self.out);
        }
        check_overlaps(&outputs, &inputs)
    }
}

fn run_forward<E: Element>(d: &dropkit::Dropout, a: &Args) -> Result<(), Error> {
    // SAFETY (all blocks below): `Args::check` verified dtypes, alignment,
    // that the outputs are writable and that no output overlaps another
    // argument except x itself in the in-place case, which uses one view.
    let mut call = d.at::<E>(a.site).shape(a.shape);
    if let Some(m) = &a.mask {
        call = match m.mask {
            Some(MaskKind::Bits) => call.mask_out(MaskOut::Bits(unsafe { slice_mut(m) })),
            _ => call.mask_out(MaskOut::Bytes(unsafe { slice_mut(m) })),
        };
    }
    if let Some(b) = &a.bias {
        call = call.bias(unsafe { slice::<E>(b) });
    }
    let residual_is_out = a.residual.as_ref().is_some_and(|r| r.same_as(&a.out));
    if let Some(r) = a.residual.as_ref().filter(|_| !residual_is_out) {
        call = call.residual(unsafe { slice::<E>(r) });
    }
    if a.in_place {
        if a.bias.is_some() || a.residual.is_some() {
            call.forward_in_place(unsafe { slice_mut::<E>(&a.out) })?;
        } else {
            call.forward_in_place(&mut unsafe { view_mut::<E>(&a.out) }?)?;
        }
    } else if residual_is_out {
        call.forward_onto_residual(unsafe { slice::<E>(&a.x) }, unsafe {
            slice_mut::<E>(&a.out)
        })?;
    } else if a.bias.is_some() || a.residual.is_some() {
        call.forward(unsafe { slice::<E>(&a.x) }, unsafe {
            slice_mut::<E>(&a.out)
        })?;
    } else {
        call.forward(&unsafe { view::<E>(&a.x) }?, &mut unsafe {
            view_mut::<E>(&a.out)
        }?)?;
    }
    Ok(())
}

fn run_backward<E: Element>(
    d: &dropkit::Dropout,
    a: &Args,
    dbias: Option<&Tensor>,
) -> Result<(), Error> {
    // SAFETY (all blocks below): as in `run_forward`; `dbias` was checked
    // as an output too.
    let mut call = d.at::<E>(a.site).shape(a.shape);
    if let Some(m) = &a.mask {
        call = match m.mask {
            Some(MaskKind::Bits) => call.mask_in(MaskIn::Bits(unsafe { slice::<u64>(m) })),
            _ => call.mask_in(MaskIn::Bytes(unsafe { slice::<u8>(m) })),
        };
    }
    if let Some(db) = dbias {
        call = call.dbias(unsafe { slice_mut::<E>(db) });
        if a.in_place {
            call.backward_in_place(unsafe { slice_mut::<E>(&a.out) })
        } else {
            call.backward(unsafe { slice::<E>(&a.x) }, unsafe {
                slice_mut::<E>(&a.out)
            })
        }
    } else if a.in_place {
        call.backward_in_place(&mut unsafe { view_mut::<E>(&a.out) }?)
    } else {
        call.backward(&unsafe { view::<E>(&a.x) }?, &mut unsafe {
            view_mut::<E>(&a.out)
        }?)
    }
}

fn run_inference<E: Element>(d: &dropkit::Dropout, a: &Args) -> Result<(), Error> {
    // SAFETY: as in `run_forward`.
    if a.in_place {
        d.inference_in_place(&mut unsafe { view_mut::<E>(&a.out) }?)
    } else {
        d.inference(&unsafe { view::<E>(&a.x) }?, &mut unsafe {
            view_mut::<E>(&a.out)
        }?)
    }
}

/// Dropout with a fixed rate, seed and scaling (`dropkit.Dropout` wraps it).
#[pyclass(frozen, module = "dropkit._dropkit")]
struct Dropout {
    inner: dropkit::Dropout,
}

impl Dropout {
    #[allow(clippy::too_many_arguments)]
    fn args(
        (x, x_name): (&Bound<'_, PyAny>, &'static str),
        out: &Bound<'_, PyAny>,
        stream: u64,
        offset: u64,
        shape: Option<&Bound<'_, PyAny>>,
        mask: Option<&Bound<'_, PyAny>>,
        bias: Option<&Bound<'_, PyAny>>,
        residual: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Args> {
        let x = tensor(x, x_name)?;
        let out = tensor(out, "out")?;
        let in_place = x.same_as(&out);
        Ok(Args {
            in_place,
            x,
            out,
            site: Site::new(stream).at(offset),
            shape: mask_shape(shape)?,
            mask: optional(mask, "mask")?,
            bias: optional(bias, "bias")?,
            residual: optional(residual, "residual")?,
        })
    }
}

#[pymethods]
impl Dropout {
    /// `Dropout(p, seed, scaling)`: `scaling` is "inverted", "classic" or
    /// "alpha". Raises ValueError for a rate outside [0, 1] or NaN.
    #[new]
    #[pyo3(signature = (p, seed = 0, scaling = "inverted"))]
    fn new(p: f64, seed: u64, scaling: &str) -> PyResult<Self> {
        let inner = match scaling {
            "inverted" => dropkit::Dropout::new(p),
            "classic" => dropkit::Dropout::new(p).map(|d| d.with_scaling(Scaling::Classic)),
            "alpha" => dropkit::Dropout::alpha(p),
            other => {
                return Err(PyValueError::new_err(format!(
                    "scaling must be \"inverted\", \"classic\" or \"alpha\", got {other:?}"
                )))
            }
        }
        .map_err(call_error)?;
        Ok(Dropout {
            inner: inner.with_seed(seed),
        })
    }

    #[getter]
    fn p(&self) -> f64 {
        self.inner.rate()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed()
    }

    /// Forward pass into `out` (out is x: in place; out is residual: onto
    /// the residual). `mask`, when given, receives the mask.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, out, stream, offset, mask_shape = None, mask = None, bias = None, residual = None))]
    fn forward(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        stream: u64,
        offset: u64,
        mask_shape: Option<&Bound<'_, PyAny>>,
        mask: Option<&Bound<'_, PyAny>>,
        bias: Option<&Bound<'_, PyAny>>,
        residual: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let a = Self::args(
            (x, "x"),
            out,
            stream,
            offset,
            mask_shape,
            mask,
            bias,
            residual,
        )?;
        a.check(true)?;
        let dtype = a.x.dtype.expect("checked");
        let job = Job((&self.inner, &a));
        py.detach(|| {
            let job = &job;
            for_dtype!(dtype, run_forward, job.0 .0, job.0 .1)
        })
        .map_err(call_error)
    }

    /// Backward pass into `out`, from the regenerated mask or from `mask`;
    /// `dbias`, when given, receives the column sums of the result.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (dy, out, stream, offset, mask_shape = None, mask = None, dbias = None))]
    fn backward(
        &self,
        py: Python<'_>,
        dy: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        stream: u64,
        offset: u64,
        mask_shape: Option<&Bound<'_, PyAny>>,
        mask: Option<&Bound<'_, PyAny>>,
        dbias: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let a = Self::args(
            (dy, "dy"),
            out,
            stream,
            offset,
            mask_shape,
            mask,
            None,
            None,
        )?;
        let dbias = optional(dbias, "dbias")?;
        a.check(false)?;
        let dtype = a.x.dtype.expect("checked");
        if let Some(db) = &dbias {
            if db.dtype != Some(dtype) {
                return Err(PyTypeError::new_err(format!(
                    "dbias must be {} like dy",
                    dtype.name()
                )));
            }
            db.require_writable()?;
            db.require_contiguous()?;
            a.x.require_contiguous()?;
            a.out.require_contiguous()?;
            let mut inputs: Vec<&Tensor> = vec![&a.out];
            if !a.in_place {
                inputs.push(&a.x);
            }
            inputs.extend(a.mask.as_ref());
            check_overlaps(&[db], &inputs)?;
        }
        let job = Job((&self.inner, &a, dbias.as_ref()));
        py.detach(|| {
            let job = &job;
            for_dtype!(dtype, run_backward, job.0 .0, job.0 .1, job.0 .2)
        })
        .map_err(call_error)
    }

    /// Evaluation mode into `out`: the identity (inverted, alpha) or `x * q`
    /// (classic).
    fn inference(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let a = Self::args((x, "x"), out, 0, 0, None, None, None, None)?;
        a.check(true)?;
        let dtype = a.x.dtype.expect("checked");
        let job = Job((&self.inner, &a));
        py.detach(|| {
            let job = &job;
            for_dtype!(dtype, run_inference, job.0 .0, job.0 .1)
        })
        .map_err(call_error)
    }

    /// The mask alone, of `elements` mask elements, into `mask` (uint64 bits
    /// or uint8 bytes).
    fn mask(
        &self,
        py: Python<'_>,
        mask: &Bound<'_, PyAny>,
        stream: u64,
        offset: u64,
        elements: usize,
    ) -> PyResult<()> {
        let m = tensor(mask, "mask")?;
        m.require_contiguous()?;
        m.require_writable()?;
        let job = Job((&self.inner, &m));
        py.detach(|| {
            let job = &job;
            let (d, m) = job.0;
            let site = Site::new(stream).at(offset);
            // SAFETY: a writable, contiguous buffer of its dtype, the only
            // argument of the call.
            match m.mask {
                Some(MaskKind::Bits) => {
                    d.mask(site, MaskOut::Bits(unsafe { slice_mut(m) }), elements)
                }
                Some(MaskKind::Bytes) => {
                    d.mask(site, MaskOut::Bytes(unsafe { slice_mut(m) }), elements)
                }
                None => Err(Error::Unsupported {
                    what: "a float array as a mask (uint64 bits or uint8 bytes)",
                }),
            }
        })
        .map_err(call_error)
    }

    /// The elementwise forward (`backward` false) or backward pass over `n`
    /// contiguous elements at `x` into `out`, for `dropkit.torch`'s dense
    /// tensors (`code` the dtype code; `out == x` runs in place). The
    /// caller passes the data pointers of live, contiguous CPU tensors of
    /// `n` elements of that dtype that it holds for the call.
    #[allow(clippy::too_many_arguments)]
    fn dense(
        &self,
        py: Python<'_>,
        backward: bool,
        code: u8,
        x: usize,
        out: usize,
        n: usize,
        stream: u64,
        offset: u64,
    ) -> PyResult<()> {
        let dtype = Dtype::from_code(code)?;
        let tensor = |ptr: usize, name| Tensor {
            name,
            ptr: ptr as *mut u8,
            dtype: Some(dtype),
            mask: None,
            dims: vec![n],
            strides: vec![1],
            writable: true,
        };
        let (x, out) = (tensor(x, "x"), tensor(out, "out"));
        check_aligned(&x)?;
        check_aligned(&out)?;
        let in_place = x.ptr == out.ptr;
        if !in_place {
            check_overlaps(&[&out], &[&x])?;
        }
        let args = Args {
            x,
            out,
            in_place,
            site: Site::new(stream).at(offset),
            shape: MaskShape::elementwise(),
            mask: None,
            bias: None,
            residual: None,
        };
        let job = Job((&self.inner, &args));
        py.detach(|| {
            let job = &job;
            let (d, a) = job.0;
            if backward {
                for_dtype!(dtype, run_backward, d, a, None)
            } else {
                for_dtype!(dtype, run_forward, d, a)
            }
        })
        .map_err(call_error)
    }
}

/// The number of mask elements of a call over `dims` with a mask shape.
#[pyfunction]
#[pyo3(signature = (dims, mask_shape = None))]
fn mask_len(dims: Vec<usize>, mask_shape: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    self::mask_shape(mask_shape)?
        .mask_len(&dims)
        .map_err(call_error)
}

/// `fold_in(a, b)`: a stream derived from `a` and `b` (a bijection in `b`).
#[pyfunction]
fn fold_in(a: u64, b: u64) -> u64 {
    dropkit::fold_in(a, b)
}

#[pymodule]
fn _dropkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Dropout>()?;
    m.add_function(wrap_pyfunction!(mask_len, m)?)?;
    m.add_function(wrap_pyfunction!(fold_in, m)?)?;
    Ok(())
}
