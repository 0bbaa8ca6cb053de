//! `dropkit-ort`: dropkit's dropout as ONNX Runtime custom operators.
//!
//! The crate builds `libdropkit_ort.so`, a custom-op library that ORT loads
//! from any of its languages (Python `SessionOptions.register_custom_ops_library`,
//! C `RegisterCustomOpsLibrary_V2`, C++, C#, Java): it exports
//! [`RegisterCustomOps`], which adds the domain [`DOMAIN`] (`"dropkit"`,
//! opset version 1) with two ops on the CPU execution provider, each for
//! `float`, `double`, `float16` and `bfloat16`:
//!
//! | op | inputs | outputs | attributes |
//! |---|---|---|---|
//! | `Dropout` | `X: T`, `stream: int64`, `offset: int64` (optional, default 0) | `Y: T`, `mask: bool` (optional), `mask_bits: uint64` (optional) | `rate` (float, default 0.5), `seed` (int, default 0), `mask_shape` (string, default `"elementwise"`) |
//! | `BiasDropoutResidual` | `X: T`, `bias: T` (1-D, X's last axis), `residual: T` (X's shape), `stream: int64`, `offset: int64` (optional) | as `Dropout` | `rate`, `seed` |
//!
//! `Y` is, bit for bit, what `dropkit` computes for
//! `Dropout::new(rate)?.with_seed(seed)` at `Site::new(stream).at(offset)`
//! (stream: the int64's bits as a `u64`; offset `>= 0`). The bool `mask` has
//! the mask's shape (X's for elementwise and the fused op; `[N, C, 1..]` for
//! `channels_first`, ...), `true` = kept, as ONNX `Dropout`'s mask;
//! `mask_bits` is dropkit's bit mask, `ceil(M / 64)` words, bit `i % 64` of
//! word `i / 64` = mask element `i`.
//!
//! `rate` is a float32 attribute: the op uses the `f64` of its shortest
//! decimal form (`0.1f` is read as `0.1`), so a rate written as a literal
//! gives the same mask as dropkit's `Dropout::new` of that literal.
//!
//! A node carrying an attribute it likely meant as one of the op's (ONNX
//! `Dropout`'s `ratio`, `training_mode`, ...: see `MISTAKEN_ATTRIBUTES`) is
//! refused at kernel creation; ORT's C API cannot list a node's attributes,
//! so other unknown attributes are ignored.
//!
//! Every callback catches panics; every failure is an `OrtStatus` whose
//! message names the node, the input or attribute and the values.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

use dropkit::half::{bf16, f16};
use dropkit::{
    mask_words, Dropout, Element, Error as DkError, Layout, MaskOut, MaskShape, Site, Threading,
    View, ViewMut,
};
use ort_sys::{
    ONNXTensorElementDataType as Onnx, OrtApi, OrtApiBase, OrtCustomOp,
    OrtCustomOpInputOutputCharacteristic as Io, OrtErrorCode, OrtKernelContext, OrtKernelInfo,
    OrtMemType, OrtSessionOptions, OrtStatus, OrtStatusPtr, OrtTypeInfo, OrtValue,
};

/// The op domain: a graph imports it as `onnx.helper.make_opsetid("dropkit", 1)`.
pub const DOMAIN: &CStr = c"dropkit";
/// The ORT C API version this library asks for and declares in its ops
/// (ORT 1.17 and later load it).
pub const API_VERSION: u32 = 17;
/// Elements per task handed to ORT's intra-op thread pool: a multiple of
/// dropkit's block (4096) and of 64 (whole words of a bit mask).
pub const CHUNK: usize = 1 << 17;

const CPU: &CStr = c"CPUExecutionProvider";

/// The C API version of `TensorTypeAndShape_HasShape` (ORT 1.24), the one
/// call of a later version than [`API_VERSION`] that the library makes, and
/// only where ORT offers it: it tells a declared rank 0 (a scalar) from an
/// unknown shape.
const HAS_SHAPE_API_VERSION: u32 = 24;

/// ORT's function table as `GetApi(HAS_SHAPE_API_VERSION)` returned it
/// (null where this ORT is older), set by [`RegisterCustomOps`].
static API_HAS_SHAPE: AtomicPtr<OrtApi> = AtomicPtr::new(core::ptr::null_mut());

/// The two ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dropout,
    Fused,
}

impl Kind {
    fn name(self) -> &'static CStr {
        match self {
            Kind::Dropout => c"Dropout",
            Kind::Fused => c"BiasDropoutResidual",
        }
    }
    fn text(self) -> &'static str {
        match self {
            Kind::Dropout => "Dropout",
            Kind::Fused => "BiasDropoutResidual",
        }
    }
    fn inputs(self) -> usize {
        match self {
            Kind::Dropout => 3,
            Kind::Fused => 5,
        }
    }
    /// Index of the `stream` input (`offset` follows it, last).
    fn stream_index(self) -> usize {
        self.inputs() - 2
    }
}

/// The element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DType {
    F32,
    F64,
    F16,
    Bf16,
}

impl DType {
    fn onnx(self) -> Onnx {
        match self {
            DType::F32 => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
            DType::F64 => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE,
            DType::F16 => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
            DType::Bf16 => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16,
        }
    }
}

/// An `OrtCustomOp` with what it is: ORT hands the `op` pointer back to
/// every callback, and `op` is the first field of this `repr(C)` struct.
#[repr(C)]
struct OpDef {
    op: OrtCustomOp,
    kind: Kind,
    dtype: DType,
}

const fn op_def(kind: Kind, dtype: DType) -> OpDef {
    OpDef {
        op: OrtCustomOp {
            version: API_VERSION,
            CreateKernel: None,
            GetName: Some(get_name),
            GetExecutionProviderType: Some(get_ep),
            GetInputType: Some(get_input_type),
            GetInputTypeCount: Some(get_input_count),
            GetOutputType: Some(get_output_type),
            GetOutputTypeCount: Some(get_output_count),
            KernelCompute: None,
            KernelDestroy: Some(kernel_destroy),
            GetInputCharacteristic: Some(get_input_characteristic),
            GetOutputCharacteristic: Some(get_output_characteristic),
            GetInputMemoryType: Some(get_input_memory_type),
            GetVariadicInputMinArity: Some(variadic_min_arity),
            GetVariadicInputHomogeneity: Some(variadic_homogeneity),
            GetVariadicOutputMinArity: Some(variadic_min_arity),
            GetVariadicOutputHomogeneity: Some(variadic_homogeneity),
            CreateKernelV2: Some(create_kernel),
            KernelComputeV2: Some(kernel_compute),
            InferOutputShapeFn: None,
            GetStartVersion: Some(start_version),
            GetEndVersion: Some(end_version),
            // Read by ORT only from version 18 on: left empty.
            GetMayInplace: None,
            ReleaseMayInplace: None,
            GetAliasMap: None,
            ReleaseAliasMap: None,
        },
        kind,
        dtype,
    }
}

static OPS: [OpDef; 8] = [
    op_def(Kind::Dropout, DType::F32),
    op_def(Kind::Dropout, DType::F64),
    op_def(Kind::Dropout, DType::F16),
    op_def(Kind::Dropout, DType::Bf16),
    op_def(Kind::Fused, DType::F32),
    op_def(Kind::Fused, DType::F64),
    op_def(Kind::Fused, DType::F16),
    op_def(Kind::Fused, DType::Bf16),
];

/// The `OpDef` behind an op pointer that ORT passes back.
fn def_of(op: *const OrtCustomOp) -> &'static OpDef {
    // SAFETY: ORT only calls these callbacks with the pointers registered by
    // `RegisterCustomOps`, which are `&OPS[i].op`; `op` is the first field of
    // the `repr(C)` `OpDef`, so the pointer is also a valid `&'static OpDef`.
    unsafe { &*op.cast::<OpDef>() }
}

extern "system" fn get_name(op: *const OrtCustomOp) -> *const c_char {
    def_of(op).kind.name().as_ptr()
}

extern "system" fn get_ep(_op: *const OrtCustomOp) -> *const c_char {
    CPU.as_ptr()
}

extern "system" fn get_input_count(op: *const OrtCustomOp) -> usize {
    def_of(op).kind.inputs()
}

extern "system" fn get_output_count(_op: *const OrtCustomOp) -> usize {
    3
}

extern "system" fn get_input_type(op: *const OrtCustomOp, index: usize) -> Onnx {
    let d = def_of(op);
    if index >= d.kind.stream_index() {
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
    } else {
        d.dtype.onnx()
    }
}

extern "system" fn get_output_type(op: *const OrtCustomOp, index: usize) -> Onnx {
    match index {
        0 => def_of(op).dtype.onnx(),
        1 => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL,
        _ => Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64,
    }
}

extern "system" fn get_input_characteristic(op: *const OrtCustomOp, index: usize) -> Io {
    if index + 1 == def_of(op).kind.inputs() {
        Io::INPUT_OUTPUT_OPTIONAL
    } else {
        Io::INPUT_OUTPUT_REQUIRED
    }
}

extern "system" fn get_output_characteristic(_op: *const OrtCustomOp, index: usize) -> Io {
    if index == 0 {
        Io::INPUT_OUTPUT_REQUIRED
    } else {
        Io::INPUT_OUTPUT_OPTIONAL
    }
}

extern "system" fn get_input_memory_type(_op: *const OrtCustomOp, _index: usize) -> OrtMemType {
    OrtMemType::OrtMemTypeDefault
}

extern "system" fn variadic_min_arity(_op: *const OrtCustomOp) -> c_int {
    1
}

extern "system" fn variadic_homogeneity(_op: *const OrtCustomOp) -> c_int {
    1
}

extern "system" fn start_version(_op: *const OrtCustomOp) -> c_int {
    1
}

extern "system" fn end_version(_op: *const OrtCustomOp) -> c_int {
    c_int::MAX
}

/// A thin handle on ORT's function table.
#[derive(Clone, Copy)]
struct Api(&'static OrtApi);

// SAFETY: `OrtApi` is a table of function pointers that ORT never changes
// after handing it out; ORT's C API functions are callable from any thread.
unsafe impl Send for Api {}
// SAFETY: as above: shared reads of an immutable table.
unsafe impl Sync for Api {}

impl Api {
    /// A new `OrtStatus` with `msg` (ORT copies it).
    fn status(self, code: OrtErrorCode, msg: &str) -> *mut OrtStatus {
        let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        // SAFETY: `CreateStatus` copies the null-terminated string, which
        // lives until after the call.
        unsafe { (self.0.CreateStatus)(code, text.as_ptr()) }.0
    }

    /// Turns an `OrtStatus` returned by ORT into a `Result`, releasing it.
    fn check(self, status: OrtStatusPtr, what: &str) -> Result<(), String> {
        if status.0.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null status from ORT, not yet released.
        let text = unsafe { (self.0.GetErrorMessage)(status.0) };
        let msg = if text.is_null() {
            String::from("(no message)")
        } else {
            // SAFETY: ORT's message is a valid null-terminated string until
            // the status is released (below, after this copy).
            unsafe { CStr::from_ptr(text) }
                .to_string_lossy()
                .into_owned()
        };
        // SAFETY: the status is ours to release, once, and not used after.
        unsafe { (self.0.ReleaseStatus)(status.0) };
        Err(format!("{what}: {msg}"))
    }

    /// Whether an ORT call succeeded (the status, if any, released).
    fn ok(self, status: OrtStatusPtr) -> bool {
        self.check(status, "").is_ok()
    }
}

/// The library's entry point, called by ORT when the library is
/// registered with a session's options: adds the `dropkit` domain and its
/// ops to `options`.
///
/// # Safety
/// Called by ONNX Runtime with its own `options` and `api_base` pointers
/// (valid for the call); not meant to be called from Rust.
#[no_mangle]
pub unsafe extern "C" fn RegisterCustomOps(
    options: *mut OrtSessionOptions,
    api_base: *const OrtApiBase,
) -> *mut OrtStatus {
    if api_base.is_null() || options.is_null() {
        // ORT never passes null here; there is no table to make a status with.
        return core::ptr::null_mut();
    }
    // SAFETY: `api_base` is ORT's non-null, static `OrtApiBase`.
    let base = unsafe { &*api_base };
    // SAFETY: `GetApi` may be called with any version; it returns null for
    // one this ORT does not support.
    let api_ptr = unsafe { (base.GetApi)(API_VERSION) };
    if api_ptr.is_null() {
        // Without a function table there is no way to make a status:
        // returning null would claim success, so ORT would fail later on
        // the unknown ops, which name the domain.
        return core::ptr::null_mut();
    }
    // SAFETY: as above; null where this ORT is older than 1.24.
    let newer = unsafe { (base.GetApi)(HAS_SHAPE_API_VERSION) };
    API_HAS_SHAPE.store(newer.cast_mut(), Ordering::Release);
    // SAFETY: a non-null `OrtApi` pointer from ORT is valid for the life of
    // the process.
    let api = Api(unsafe { &*api_ptr });
    let result = catch_unwind(AssertUnwindSafe(|| register(api, options)));
    match result {
        Ok(Ok(())) => core::ptr::null_mut(),
        Ok(Err(msg)) => api.status(OrtErrorCode::ORT_FAIL, &msg),
        Err(_) => api.status(
            OrtErrorCode::ORT_FAIL,
            "dropkit-ort: internal error (panic) while registering the ops",
        ),
    }
}

fn register(api: Api, options: *mut OrtSessionOptions) -> Result<(), String> {
    let mut domain = core::ptr::null_mut();
    // SAFETY: `DOMAIN` is null-terminated; `domain` is a valid out pointer.
    let status = unsafe { (api.0.CreateCustomOpDomain)(DOMAIN.as_ptr(), &mut domain) };
    api.check(status, "dropkit-ort: CreateCustomOpDomain")?;
    for def in &OPS {
        // SAFETY: `domain` was just created; each op is a `'static` struct
        // that outlives every session.
        let status = unsafe { (api.0.CustomOpDomain_Add)(domain, &def.op) };
        api.check(status, "dropkit-ort: CustomOpDomain_Add")?;
    }
    // SAFETY: `options` is ORT's session options; the domain is handed over
    // and deliberately never released (ORT requires it to outlive every
    // session made from these options; one small allocation per
    // registration).
    let status = unsafe { (api.0.AddCustomOpDomain)(options, domain) };
    api.check(status, "dropkit-ort: AddCustomOpDomain")
}

/// The mask shape the `mask_shape` attribute names (one of
/// `MaskShape::NAMES`) and the least rank its input takes.
fn mask_shape_of(name: &str) -> Option<(MaskShape, usize)> {
    let least_rank = match name {
        "elementwise" => 0,
        "per_sample" => 1,
        "locked_batch_major" => 3,
        _ => 2,
    };
    Some((MaskShape::named(name)?, least_rank))
}

/// One node's kernel: its attributes, checked.
struct Kernel {
    api: Api,
    kind: Kind,
    dtype: DType,
    node: String,
    drop: Dropout,
    shape_name: String,
    shape: MaskShape,
}

impl Kernel {
    fn err(&self, msg: impl core::fmt::Display) -> String {
        format!("dropkit {} node '{}': {msg}", self.kind.text(), self.node)
    }
}

/// An attribute read: absent, or its value, or the wrong type.
enum Attr<T> {
    Absent,
    Value(T),
}

fn attr_f32(api: Api, info: *const OrtKernelInfo, name: &CStr) -> Attr<f32> {
    let mut v = 0f32;
    // SAFETY: `info` is ORT's kernel info for this call; `name` is
    // null-terminated; `v` is a valid out pointer.
    let status = unsafe { (api.0.KernelInfoGetAttribute_float)(info, name.as_ptr(), &mut v) };
    if api.ok(status) {
        Attr::Value(v)
    } else {
        Attr::Absent
    }
}

fn attr_i64(api: Api, info: *const OrtKernelInfo, name: &CStr) -> Attr<i64> {
    let mut v = 0i64;
    // SAFETY: as in `attr_f32`.
    let status = unsafe { (api.0.KernelInfoGetAttribute_int64)(info, name.as_ptr(), &mut v) };
    if api.ok(status) {
        Attr::Value(v)
    } else {
        Attr::Absent
    }
}

fn attr_string(api: Api, info: *const OrtKernelInfo, name: &CStr) -> Attr<String> {
    let mut size = 0usize;
    // SAFETY: a null buffer asks ORT for the size (terminator included).
    let status = unsafe {
        (api.0.KernelInfoGetAttribute_string)(info, name.as_ptr(), core::ptr::null_mut(), &mut size)
    };
    if !api.ok(status) || size == 0 {
        return Attr::Absent;
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds `size` bytes, as ORT asked for.
    let status = unsafe {
        (api.0.KernelInfoGetAttribute_string)(
            info,
            name.as_ptr(),
            buf.as_mut_ptr().cast::<c_char>(),
            &mut size,
        )
    };
    if !api.ok(status) {
        return Attr::Absent;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Attr::Value(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Whether the node carries an attribute `name` of a type that ORT's C API
/// can read (float, int, string, or arrays of floats or ints).
fn attr_present(api: Api, info: *const OrtKernelInfo, name: &CStr) -> bool {
    if matches!(attr_f32(api, info, name), Attr::Value(_))
        || matches!(attr_i64(api, info, name), Attr::Value(_))
        || matches!(attr_string(api, info, name), Attr::Value(_))
    {
        return true;
    }
    let mut size = 0usize;
    // SAFETY: a null buffer asks ORT for the array's size only.
    let floats = unsafe {
        (api.0.KernelInfoGetAttributeArray_float)(
            info,
            name.as_ptr(),
            core::ptr::null_mut(),
            &mut size,
        )
    };
    if api.ok(floats) {
        return true;
    }
    // SAFETY: as above.
    let ints = unsafe {
        (api.0.KernelInfoGetAttributeArray_int64)(
            info,
            name.as_ptr(),
            core::ptr::null_mut(),
            &mut size,
        )
    };
    api.ok(ints)
}

/// Attributes a node may carry by mistake, each with what to say of it.
/// ORT's C API (version 17) cannot list a node's attributes, so an unknown
/// attribute not named here is ignored.
const MISTAKEN_ATTRIBUTES: [(&CStr, &str); 6] = [
    (
        c"ratio",
        "is ONNX Dropout's name for the rate; dropkit's op calls it 'rate'",
    ),
    (
        c"training_mode",
        "is not an attribute of this op (it always samples; ONNX Dropout takes training_mode as an input)",
    ),
    (
        c"is_test",
        "is not an attribute of this op (it always samples)",
    ),
    (c"Rate", "is not an attribute of this op: the name is 'rate'"),
    (c"Seed", "is not an attribute of this op: the name is 'seed'"),
    (
        c"noise_shape",
        "is not an attribute of this op: use 'mask_shape' (a string)",
    ),
];

fn node_name(api: Api, info: *const OrtKernelInfo) -> String {
    let mut size = 0usize;
    // SAFETY: a null buffer asks for the size.
    let status = unsafe { (api.0.KernelInfo_GetNodeName)(info, core::ptr::null_mut(), &mut size) };
    if !api.ok(status) || size == 0 {
        return String::new();
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds `size` bytes.
    let status = unsafe {
        (api.0.KernelInfo_GetNodeName)(info, buf.as_mut_ptr().cast::<c_char>(), &mut size)
    };
    if !api.ok(status) {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The `f64` rate of a float32 attribute: the shortest decimal form that
/// reads back as the same `f32`, read as an `f64` (`0.1f` -> `0.1`).
pub fn rate_from_f32(rate: f32) -> f64 {
    format!("{rate}").parse::<f64>().unwrap_or(f64::from(rate))
}

/// Whether a type info of rank 0 declares a scalar (`Some(true)`), an
/// unknown shape (`Some(false)`), or cannot say (`None`: ORT older than
/// 1.24, where both read as rank 0).
fn declares_shape(tensor: *const ort_sys::OrtTensorTypeAndShapeInfo) -> Option<bool> {
    let newer = API_HAS_SHAPE.load(Ordering::Acquire);
    if newer.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer stored by `RegisterCustomOps` is the table
    // ORT returned for API version 24, which has `TensorTypeAndShape_HasShape`
    // and lives for the whole process; `tensor` is a live type info.
    Some(unsafe { ((*newer).TensorTypeAndShape_HasShape)(tensor) })
}

/// What a graph says of an input at kernel creation: element type and
/// dims (`None` = unknown; `-1` entries = symbolic; `Some([])` = a declared
/// scalar).
struct StaticInfo {
    elem: Onnx,
    dims: Option<Vec<i64>>,
}

fn static_input(api: Api, info: *const OrtKernelInfo, index: usize) -> Option<StaticInfo> {
    let mut ti: *mut OrtTypeInfo = core::ptr::null_mut();
    // SAFETY: `info` is ORT's; `ti` a valid out pointer.
    let status = unsafe { (api.0.KernelInfo_GetInputTypeInfo)(info, index, &mut ti) };
    if !api.ok(status) || ti.is_null() {
        return None;
    }
    let mut tensor = core::ptr::null();
    // SAFETY: `ti` is a live type info; the tensor info it yields is owned
    // by it (not released separately).
    let status = unsafe { (api.0.CastTypeInfoToTensorInfo)(ti, &mut tensor) };
    let mut out = None;
    if api.ok(status) && !tensor.is_null() {
        let mut elem = Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
        let mut rank = 0usize;
        // SAFETY: `tensor` is live while `ti` is.
        let ok_elem = api.ok(unsafe { (api.0.GetTensorElementType)(tensor, &mut elem) });
        // SAFETY: as above.
        let ok_rank = api.ok(unsafe { (api.0.GetDimensionsCount)(tensor, &mut rank) });
        let mut dims = vec![0i64; rank];
        // SAFETY: `dims` holds `rank` values.
        let ok_dims =
            ok_rank && api.ok(unsafe { (api.0.GetDimensions)(tensor, dims.as_mut_ptr(), rank) });
        if ok_elem {
            out = Some(StaticInfo {
                elem,
                // A rank of 0 here may be a scalar or an unknown shape:
                // a fact to check against only where ORT can tell them apart.
                dims: (ok_dims && (rank > 0 || declares_shape(tensor) == Some(true)))
                    .then_some(dims),
            });
        }
    }
    // SAFETY: `ti` came from `KernelInfo_GetInputTypeInfo` and is released
    // once; `tensor` (owned by it) is not used after.
    unsafe { (api.0.ReleaseTypeInfo)(ti) };
    out
}

fn fmt_dims(d: &[i64]) -> String {
    let parts: Vec<String> = d
        .iter()
        .map(|&v| if v < 0 { "?".into() } else { v.to_string() })
        .collect();
    format!("[{}]", parts.join(", "))
}

const INPUT_NAMES_DROPOUT: [&str; 3] = ["X", "stream", "offset"];
const INPUT_NAMES_FUSED: [&str; 5] = ["X", "bias", "residual", "stream", "offset"];

fn input_name(kind: Kind, i: usize) -> &'static str {
    match kind {
        Kind::Dropout => INPUT_NAMES_DROPOUT.get(i).copied().unwrap_or("?"),
        Kind::Fused => INPUT_NAMES_FUSED.get(i).copied().unwrap_or("?"),
    }
}

fn type_name(t: Onnx) -> String {
    match t {
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT => "float".into(),
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE => "double".into(),
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 => "float16".into(),
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 => "bfloat16".into(),
        Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 => "int64".into(),
        other => format!("{other:?}"),
    }
}

/// Builds and checks a kernel: attributes, then what the graph says of the
/// inputs' types and shapes.
fn new_kernel(def: &OpDef, api: Api, info: *const OrtKernelInfo) -> Result<Kernel, String> {
    let node = node_name(api, info);
    let mut k = Kernel {
        api,
        kind: def.kind,
        dtype: def.dtype,
        node,
        drop: Dropout::new(0.5).map_err(|e| e.to_string())?,
        shape_name: "elementwise".into(),
        shape: MaskShape::elementwise(),
    };
    for (name, why) in MISTAKEN_ATTRIBUTES {
        if attr_present(api, info, name) {
            return Err(k.err(format_args!("attribute '{}' {why}", name.to_string_lossy())));
        }
    }
    // rate
    let rate = match attr_f32(api, info, c"rate") {
        Attr::Value(r) => rate_from_f32(r),
        Attr::Absent => {
            if let Attr::Value(v) = attr_i64(api, info, c"rate") {
                return Err(k.err(format_args!(
                    "attribute 'rate' must be a float (the probability of dropping, in [0, 1]), got the int {v}"
                )));
            }
            if let Attr::Value(v) = attr_string(api, info, c"rate") {
                return Err(k.err(format_args!(
                    "attribute 'rate' must be a float (the probability of dropping, in [0, 1]), got the string \"{v}\""
                )));
            }
            0.5
        }
    };
    k.drop = Dropout::new(rate)
        .map_err(|e| k.err(format_args!("attribute 'rate' = {rate}: {e}")))?
        .with_threading(Threading::Sequential);
    // seed
    match attr_i64(api, info, c"seed") {
        Attr::Value(s) => k.drop = k.drop.with_seed(s as u64),
        Attr::Absent => {
            if let Attr::Value(v) = attr_f32(api, info, c"seed") {
                return Err(k.err(format_args!(
                    "attribute 'seed' must be an int (any int64, read as its u64 bits), got the float {v}"
                )));
            }
            if let Attr::Value(v) = attr_string(api, info, c"seed") {
                return Err(k.err(format_args!(
                    "attribute 'seed' must be an int, got the string \"{v}\""
                )));
            }
        }
    }
    // mask_shape
    let mut least_rank = 0;
    match attr_string(api, info, c"mask_shape") {
        Attr::Value(name) => {
            if def.kind == Kind::Fused {
                return Err(k.err(format_args!(
                    "attribute 'mask_shape' = \"{name}\" is not taken by the fused op (its mask is elementwise)"
                )));
            }
            let Some((shape, rank)) = mask_shape_of(&name) else {
                return Err(k.err(format_args!(
                    "attribute 'mask_shape' = \"{name}\" is not one of {}",
                    MaskShape::NAMES.join(", ")
                )));
            };
            k.shape = shape;
            k.shape_name = name;
            least_rank = rank;
        }
        Attr::Absent => {
            if matches!(attr_i64(api, info, c"mask_shape"), Attr::Value(_))
                || matches!(attr_f32(api, info, c"mask_shape"), Attr::Value(_))
            {
                return Err(k.err(format_args!(
                    "attribute 'mask_shape' must be a string, one of {}",
                    MaskShape::NAMES.join(", ")
                )));
            }
        }
    }
    // Inputs as the graph declares them.
    let mut count = 0usize;
    // SAFETY: `info` is ORT's; `count` a valid out pointer.
    let status = unsafe { (api.0.KernelInfo_GetInputCount)(info, &mut count) };
    api.check(status, &k.err("KernelInfo_GetInputCount"))?;
    let infos: Vec<Option<StaticInfo>> = (0..count.min(k.kind.inputs()))
        .map(|i| static_input(api, info, i))
        .collect();
    for (i, s) in infos.iter().enumerate() {
        let Some(s) = s else { continue };
        let want = if i >= k.kind.stream_index() {
            Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
        } else {
            def.dtype.onnx()
        };
        if s.elem != want {
            return Err(k.err(format_args!(
                "input {i} ('{}') has type {}, expected {}",
                input_name(k.kind, i),
                type_name(s.elem),
                type_name(want)
            )));
        }
        if i >= k.kind.stream_index() {
            if let Some(d) = &s.dims {
                if d.len() > 1 || d.iter().any(|&v| v >= 0 && v != 1) {
                    return Err(k.err(format_args!(
                        "input {i} ('{}') must be one int64 (shape [] or [1]), the graph says {}",
                        input_name(k.kind, i),
                        fmt_dims(d)
                    )));
                }
            }
        }
    }
    let x_dims = infos
        .first()
        .and_then(|s| s.as_ref())
        .and_then(|s| s.dims.clone());
    if let Some(xd) = &x_dims {
        if xd.len() < least_rank {
            return Err(k.err(format_args!(
                "mask_shape \"{}\" needs X of rank {least_rank} or more, the graph says X is {}",
                k.shape_name,
                fmt_dims(xd)
            )));
        }
        if xd.len() > dropkit::MAX_RANK && least_rank > 0 {
            return Err(k.err(format_args!(
                "mask_shape \"{}\" takes X of rank at most {}, the graph says X is {}",
                k.shape_name,
                dropkit::MAX_RANK,
                fmt_dims(xd)
            )));
        }
    }
    if k.kind == Kind::Fused {
        if let Some(xd) = x_dims.as_ref().filter(|d| d.is_empty()) {
            return Err(k.err(format_args!(
                "X must have rank 1 or more (rows of bias's length), the graph says X is {}",
                fmt_dims(xd)
            )));
        }
        let bias = infos
            .get(1)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.dims.clone());
        let res = infos
            .get(2)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.dims.clone());
        if let Some(b) = &bias {
            if b.len() != 1 {
                return Err(k.err(format_args!(
                    "input 1 ('bias') must be 1-D (X's last axis), the graph says {}",
                    fmt_dims(b)
                )));
            }
            if let Some(xd) = &x_dims {
                let (f, last) = (b[0], xd[xd.len() - 1]);
                if f >= 0 && last >= 0 && f != last {
                    return Err(k.err(format_args!(
                        "input 1 ('bias') has {f} elements, X's last axis has {last} (X is {})",
                        fmt_dims(xd)
                    )));
                }
            }
        }
        if let (Some(r), Some(xd)) = (&res, &x_dims) {
            let clash =
                r.len() != xd.len() || r.iter().zip(xd).any(|(&a, &b)| a >= 0 && b >= 0 && a != b);
            if clash {
                return Err(k.err(format_args!(
                    "input 2 ('residual') is {}, X is {}: they must have the same shape",
                    fmt_dims(r),
                    fmt_dims(xd)
                )));
            }
        }
    }
    Ok(k)
}

extern "system" fn create_kernel(
    op: *const OrtCustomOp,
    api: *const OrtApi,
    info: *const OrtKernelInfo,
    kernel: *mut *mut c_void,
) -> OrtStatusPtr {
    if api.is_null() || kernel.is_null() {
        return OrtStatusPtr(core::ptr::null_mut());
    }
    // SAFETY: ORT passes its live, static function table.
    let api = Api(unsafe { &*api });
    let def = def_of(op);
    let result = catch_unwind(AssertUnwindSafe(|| new_kernel(def, api, info)));
    let status = match result {
        Ok(Ok(k)) => {
            let raw = Box::into_raw(Box::new(k));
            // SAFETY: `kernel` is ORT's non-null out pointer.
            unsafe { *kernel = raw.cast::<c_void>() };
            return OrtStatusPtr(core::ptr::null_mut());
        }
        Ok(Err(msg)) => api.status(OrtErrorCode::ORT_INVALID_ARGUMENT, &msg),
        Err(_) => api.status(
            OrtErrorCode::ORT_FAIL,
            "dropkit-ort: internal error (panic) while creating a kernel",
        ),
    };
    OrtStatusPtr(status)
}

extern "system" fn kernel_destroy(kernel: *mut c_void) {
    if kernel.is_null() {
        return;
    }
    // SAFETY: `kernel` is the `Box<Kernel>` made by `create_kernel`, which
    // ORT destroys once.
    let k = unsafe { Box::from_raw(kernel.cast::<Kernel>()) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(k)));
}

extern "system" fn kernel_compute(kernel: *mut c_void, ctx: *mut OrtKernelContext) -> OrtStatusPtr {
    if kernel.is_null() || ctx.is_null() {
        return OrtStatusPtr(core::ptr::null_mut());
    }
    // SAFETY: `kernel` is the `Kernel` made by `create_kernel`, alive until
    // `kernel_destroy`; ORT may run it from several threads, and `compute`
    // only reads it.
    let k = unsafe { &*kernel.cast::<Kernel>() };
    let result = catch_unwind(AssertUnwindSafe(|| compute(k, ctx)));
    let status = match result {
        Ok(Ok(())) => core::ptr::null_mut(),
        Ok(Err(msg)) => k.api.status(OrtErrorCode::ORT_INVALID_ARGUMENT, &msg),
        Err(_) => k.api.status(
            OrtErrorCode::ORT_FAIL,
            &k.err("internal error (panic) during the run"),
        ),
    };
    OrtStatusPtr(status)
}

/// An input tensor at run time.
struct Input {
    value: *const OrtValue,
    elem: Onnx,
    dims: Vec<usize>,
    len: usize,
}

fn input(k: &Kernel, ctx: *mut OrtKernelContext, i: usize) -> Result<Option<Input>, String> {
    let api = k.api;
    let mut value = core::ptr::null();
    // SAFETY: `ctx` is ORT's live context; `value` a valid out pointer.
    let status = unsafe { (api.0.KernelContext_GetInput)(ctx, i, &mut value) };
    api.check(status, &k.err(format_args!("KernelContext_GetInput({i})")))?;
    if value.is_null() {
        return Ok(None);
    }
    let (elem, dims) = value_type_shape(api, value)
        .map_err(|e| k.err(format_args!("input {i} ('{}'): {e}", input_name(k.kind, i))))?;
    let mut ud = Vec::with_capacity(dims.len());
    for &d in &dims {
        ud.push(usize::try_from(d).map_err(|_| {
            k.err(format_args!(
                "input {i} ('{}') has a negative extent: {}",
                input_name(k.kind, i),
                fmt_dims(&dims)
            ))
        })?);
    }
    let len = ud
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| k.err("an input's element count overflows usize"))?;
    Ok(Some(Input {
        value,
        elem,
        dims: ud,
        len,
    }))
}

fn value_type_shape(api: Api, value: *const OrtValue) -> Result<(Onnx, Vec<i64>), String> {
    let mut info = core::ptr::null_mut();
    // SAFETY: `value` is a live input value; `info` a valid out pointer.
    let status = unsafe { (api.0.GetTensorTypeAndShape)(value, &mut info) };
    api.check(status, "GetTensorTypeAndShape")?;
    let mut elem = Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    let mut rank = 0usize;
    // SAFETY: `info` is live until released below.
    let s1 = unsafe { (api.0.GetTensorElementType)(info, &mut elem) };
    // SAFETY: as above.
    let s2 = unsafe { (api.0.GetDimensionsCount)(info, &mut rank) };
    let mut dims = vec![0i64; rank];
    let r = api
        .check(s1, "GetTensorElementType")
        .and(api.check(s2, "GetDimensionsCount"));
    let r = r.and_then(|()| {
        // SAFETY: `dims` holds `rank` values.
        let s3 = unsafe { (api.0.GetDimensions)(info, dims.as_mut_ptr(), rank) };
        api.check(s3, "GetDimensions")
    });
    // SAFETY: `info` came from `GetTensorTypeAndShape`; released once.
    unsafe { (api.0.ReleaseTensorTypeAndShapeInfo)(info) };
    r.map(|()| (elem, dims))
}

/// The data of an input as a slice of `T` (the element type checked by the
/// caller).
fn input_slice<'a, T>(k: &Kernel, inp: &'a Input) -> Result<&'a [T], String> {
    if inp.len == 0 {
        return Ok(&[]);
    }
    let mut p: *mut c_void = core::ptr::null_mut();
    // SAFETY: `GetTensorMutableData` only reports the data pointer; the
    // input is only read through it.
    let status = unsafe { (k.api.0.GetTensorMutableData)(inp.value.cast_mut(), &mut p) };
    k.api.check(status, &k.err("GetTensorMutableData"))?;
    if p.is_null() || !(p as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return Err(k.err("an input's data pointer is null or misaligned"));
    }
    // SAFETY: a CPU tensor of `len` elements of `T` (type checked against
    // the op's), aligned, alive and unchanged for the run.
    Ok(unsafe { core::slice::from_raw_parts(p.cast::<T>(), inp.len) })
}

/// Allocates output `i` with `dims`; `None` if the node does not have it.
fn output<'a, T>(
    k: &Kernel,
    ctx: *mut OrtKernelContext,
    i: usize,
    dims: &[usize],
) -> Result<Option<&'a mut [T]>, String> {
    let mut count = 0usize;
    // SAFETY: `ctx` is live; `count` a valid out pointer.
    let status = unsafe { (k.api.0.KernelContext_GetOutputCount)(ctx, &mut count) };
    k.api
        .check(status, &k.err("KernelContext_GetOutputCount"))?;
    if i >= count {
        return Ok(None);
    }
    let d: Vec<i64> = dims
        .iter()
        .map(|&v| i64::try_from(v).map_err(|_| k.err("an output extent exceeds int64")))
        .collect::<Result<_, _>>()?;
    let mut value = core::ptr::null_mut();
    // SAFETY: `d` holds `d.len()` extents; `value` a valid out pointer.
    let status =
        unsafe { (k.api.0.KernelContext_GetOutput)(ctx, i, d.as_ptr(), d.len(), &mut value) };
    k.api
        .check(status, &k.err(format_args!("KernelContext_GetOutput({i})")))?;
    if value.is_null() {
        return Ok(None);
    }
    let len: usize = dims.iter().product();
    if len == 0 {
        return Ok(Some(&mut []));
    }
    let mut p: *mut c_void = core::ptr::null_mut();
    // SAFETY: `value` is the output ORT just allocated.
    let status = unsafe { (k.api.0.GetTensorMutableData)(value, &mut p) };
    k.api
        .check(status, &k.err("GetTensorMutableData (output)"))?;
    if p.is_null() || !(p as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return Err(k.err("an output's data pointer is null or misaligned"));
    }
    // SAFETY: ORT allocated `len` elements of the output's type (`T` of the
    // same size and alignment), owned by this run and aliased by nothing
    // else this kernel holds.
    Ok(Some(unsafe {
        core::slice::from_raw_parts_mut(p.cast::<T>(), len)
    }))
}

/// Reads the one int64 of a `stream` or `offset` input.
fn scalar_i64(k: &Kernel, inp: &Input, i: usize) -> Result<i64, String> {
    if inp.len != 1 {
        let d: Vec<i64> = inp.dims.iter().map(|&v| v as i64).collect();
        return Err(k.err(format_args!(
            "input {i} ('{}') must hold one int64 (shape [] or [1]), it is {}",
            input_name(k.kind, i),
            fmt_dims(&d)
        )));
    }
    Ok(input_slice::<i64>(k, inp)?[0])
}

fn compute(k: &Kernel, ctx: *mut OrtKernelContext) -> Result<(), String> {
    let api = k.api;
    let mut count = 0usize;
    // SAFETY: `ctx` is live; `count` a valid out pointer.
    let status = unsafe { (api.0.KernelContext_GetInputCount)(ctx, &mut count) };
    api.check(status, &k.err("KernelContext_GetInputCount"))?;
    let mut inputs = Vec::with_capacity(k.kind.inputs());
    for i in 0..k.kind.inputs() {
        inputs.push(if i < count { input(k, ctx, i)? } else { None });
    }
    for (i, inp) in inputs.iter().enumerate() {
        let want = if i >= k.kind.stream_index() {
            Onnx::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
        } else {
            k.dtype.onnx()
        };
        match inp {
            Some(inp) if inp.elem != want => {
                return Err(k.err(format_args!(
                    "input {i} ('{}') has type {}, expected {}",
                    input_name(k.kind, i),
                    type_name(inp.elem),
                    type_name(want)
                )))
            }
            None if i + 1 < k.kind.inputs() => {
                return Err(k.err(format_args!(
                    "input {i} ('{}') is required",
                    input_name(k.kind, i)
                )))
            }
            _ => {}
        }
    }
    let si = k.kind.stream_index();
    let stream = match &inputs[si] {
        Some(s) => scalar_i64(k, s, si)? as u64,
        None => unreachable_input(k, si)?,
    };
    let offset = match &inputs[si + 1] {
        Some(o) => {
            let v = scalar_i64(k, o, si + 1)?;
            u64::try_from(v).map_err(|_| {
                k.err(format_args!(
                    "input {} ('offset') = {v}: the offset (global index of X's first element) must be >= 0",
                    si + 1
                ))
            })?
        }
        None => 0,
    };
    let site = Site::new(stream).at(offset);
    match k.dtype {
        DType::F32 => run::<f32>(k, ctx, &inputs, site),
        DType::F64 => run::<f64>(k, ctx, &inputs, site),
        DType::F16 => run::<f16>(k, ctx, &inputs, site),
        DType::Bf16 => run::<bf16>(k, ctx, &inputs, site),
    }
}

fn unreachable_input(k: &Kernel, i: usize) -> Result<u64, String> {
    Err(k.err(format_args!(
        "input {i} ('{}') is required",
        input_name(k.kind, i)
    )))
}

/// A piece of work handed to ORT's thread pool.
type Task<'a> = Box<dyn FnOnce() -> Result<(), DkError> + Send + 'a>;

fn run<E: Element>(
    k: &Kernel,
    ctx: *mut OrtKernelContext,
    inputs: &[Option<Input>],
    site: Site,
) -> Result<(), String> {
    let Some(xin) = &inputs[0] else {
        return Err(k.err("input 0 ('X') is required"));
    };
    let x: &[E] = input_slice(k, xin)?;
    let dims = xin.dims.clone();
    let n = x.len();
    let dk = |e: DkError| {
        let d: Vec<i64> = dims.iter().map(|&v| v as i64).collect();
        k.err(format_args!("X {}: {e}", fmt_dims(&d)))
    };
    // Validate everything before any output exists.
    let (bias, residual): (&[E], &[E]) = if k.kind == Kind::Fused {
        let (Some(b), Some(r)) = (&inputs[1], &inputs[2]) else {
            return Err(k.err("inputs 1 ('bias') and 2 ('residual') are required"));
        };
        let xd: Vec<i64> = dims.iter().map(|&v| v as i64).collect();
        let bd: Vec<i64> = b.dims.iter().map(|&v| v as i64).collect();
        let rd: Vec<i64> = r.dims.iter().map(|&v| v as i64).collect();
        if dims.is_empty() {
            return Err(k.err("X must have rank 1 or more (rows of bias's length)"));
        }
        if b.dims.len() != 1 || b.dims[0] != dims[dims.len() - 1] {
            return Err(k.err(format_args!(
                "input 1 ('bias') is {}, X is {}: bias must be 1-D with X's last extent",
                fmt_dims(&bd),
                fmt_dims(&xd)
            )));
        }
        if r.dims != dims {
            return Err(k.err(format_args!(
                "input 2 ('residual') is {}, X is {}: they must have the same shape",
                fmt_dims(&rd),
                fmt_dims(&xd)
            )));
        }
        (input_slice(k, b)?, input_slice(k, r)?)
    } else {
        (&[], &[])
    };
    let (mask_dims, m) = if k.shape == MaskShape::elementwise() {
        (dims.clone(), n)
    } else {
        let layout = Layout::dense(&dims).map_err(dk)?;
        let ml = k.shape.mask_layout(&layout).map_err(dk)?;
        (ml.dims().to_vec(), ml.len())
    };
    if site.offset.checked_add(m as u64).is_none() {
        return Err(k.err(format_args!(
            "offset {} + {m} mask elements overflows the u64 index range",
            site.offset
        )));
    }
    if k.kind == Kind::Fused {
        // The fused op's own checks, on an empty call of the same shape.
        let f = bias.len();
        if f == 0 && n > 0 {
            return Err(k.err("X's last extent is 0 but X has elements"));
        }
    }
    // Outputs.
    let y: &mut [E] =
        output(k, ctx, 0, &dims)?.ok_or_else(|| k.err("output 0 ('Y') is missing"))?;
    let bools: Option<&mut [u8]> = output(k, ctx, 1, &mask_dims)?;
    let bits: Option<&mut [u64]> = output(k, ctx, 2, &[mask_words(m)])?;
    if n == 0 {
        return Ok(());
    }
    // The bit mask when asked for (bools expanded from it afterwards), else
    // the byte mask straight into the bool output.
    let expand_later = bools.is_some() && bits.is_some();
    let mut bits_holder = bits;
    let mut bools_holder = bools;
    let tasks: Vec<Task<'_>> = {
        let mask_bits: Option<&mut [u64]> = bits_holder.as_deref_mut();
        let mask_bytes: Option<&mut [u8]> = if expand_later {
            None
        } else {
            bools_holder.as_deref_mut()
        };
        match k.kind {
            Kind::Fused => fused_tasks(k, site, x, bias, residual, y, mask_bits, mask_bytes),
            Kind::Dropout if k.shape == MaskShape::elementwise() => {
                flat_tasks(k, site, x, y, mask_bits, mask_bytes, CHUNK)
            }
            Kind::Dropout => {
                shaped_tasks(k, site, x, &dims, y, mask_bits, mask_bytes).map_err(dk)?
            }
        }
    };
    run_tasks(k, ctx, tasks, dk)?;
    if expand_later {
        if let (Some(words), Some(bytes)) = (bits_holder, bools_holder) {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = ((words[i / 64] >> (i % 64)) & 1) as u8;
            }
        }
    }
    Ok(())
}

fn mask_of<'a>(bits: Option<&'a mut [u64]>, bytes: Option<&'a mut [u8]>) -> MaskOut<'a> {
    match (bits, bytes) {
        (Some(w), _) => MaskOut::Bits(w),
        (None, Some(b)) => MaskOut::Bytes(b),
        (None, None) => MaskOut::None,
    }
}

/// Splits `v` (optional) into `count` pieces of `size` (the last shorter).
fn pieces<T>(v: Option<&mut [T]>, size: usize, count: usize) -> Vec<Option<&mut [T]>> {
    match v {
        Some(v) => {
            let mut out: Vec<Option<&mut [T]>> = v.chunks_mut(size.max(1)).map(Some).collect();
            out.resize_with(count, || None);
            out
        }
        None => (0..count).map(|_| None).collect(),
    }
}

/// Elementwise dropout: pieces of `chunk` elements, each at its offset.
fn flat_tasks<'a, E: Element>(
    k: &'a Kernel,
    site: Site,
    x: &'a [E],
    y: &'a mut [E],
    bits: Option<&'a mut [u64]>,
    bytes: Option<&'a mut [u8]>,
    chunk: usize,
) -> Vec<Task<'a>> {
    let count = x.len().div_ceil(chunk);
    let mut bits = pieces(bits, chunk / 64, count).into_iter();
    let mut bytes = pieces(bytes, chunk, count).into_iter();
    x.chunks(chunk)
        .zip(y.chunks_mut(chunk))
        .enumerate()
        .map(|(c, (xc, yc))| {
            let mask = mask_of(bits.next().flatten(), bytes.next().flatten());
            let at = site.offset + (c * chunk) as u64;
            let drop = &k.drop;
            let t: Task<'a> = Box::new(move || {
                drop.at(Site::new(site.stream).at(at))
                    .mask_out(mask)
                    .forward(xc, yc)
                    .map(|_| ())
            });
            t
        })
        .collect()
}

/// A shaped (channel, per-sample, locked) dropout: one call with a mask
/// out; without one, slabs of rows along axis 0 (`MaskShape::slab`).
fn shaped_tasks<'a, E: Element>(
    k: &'a Kernel,
    site: Site,
    x: &'a [E],
    dims: &[usize],
    y: &'a mut [E],
    bits: Option<&'a mut [u64]>,
    bytes: Option<&'a mut [u8]>,
) -> Result<Vec<Task<'a>>, DkError> {
    let dims = dims.to_vec();
    let drop = &k.drop;
    let shape = k.shape;
    let rows = dims.first().copied().unwrap_or(1);
    let per_row = x.len().checked_div(rows).unwrap_or(0);
    if bits.is_some() || bytes.is_some() || rows < 2 || x.len() <= CHUNK || per_row == 0 {
        let mask = mask_of(bits, bytes);
        let t: Task<'a> = Box::new(move || {
            drop.at(site)
                .shape(shape)
                .mask_out(mask)
                .forward(&View::dense(x, &dims)?, &mut ViewMut::dense(y, &dims)?)
                .map(|_| ())
        });
        return Ok(vec![t]);
    }
    let rows_per = (CHUNK / per_row).max(1);
    let step = rows_per * per_row;
    Ok(x.chunks(step)
        .zip(y.chunks_mut(step))
        .enumerate()
        .map(|(c, (xc, yc))| {
            let mut d = dims.clone();
            d[0] = xc.len() / per_row;
            let start = c * rows_per;
            let t: Task<'a> = Box::new(move || {
                drop.at(site)
                    .shape(shape.slab(start, rows))
                    .forward(&View::dense(xc, &d)?, &mut ViewMut::dense(yc, &d)?)
                    .map(|_| ())
            });
            t
        })
        .collect())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The fused op: pieces of whole rows (a multiple of 64 elements, so that
/// each piece owns whole words of a bit mask), each at its offset.
#[allow(clippy::too_many_arguments)]
fn fused_tasks<'a, E: Element>(
    k: &'a Kernel,
    site: Site,
    x: &'a [E],
    bias: &'a [E],
    residual: &'a [E],
    y: &'a mut [E],
    bits: Option<&'a mut [u64]>,
    bytes: Option<&'a mut [u8]>,
) -> Vec<Task<'a>> {
    let f = bias.len().max(1);
    let unit = f * (64 / gcd(f, 64));
    let chunk = (CHUNK / unit).max(1) * unit;
    let count = x.len().div_ceil(chunk);
    let mut bits = pieces(bits, chunk / 64, count).into_iter();
    let mut bytes = pieces(bytes, chunk, count).into_iter();
    let drop = &k.drop;
    x.chunks(chunk)
        .zip(residual.chunks(chunk))
        .zip(y.chunks_mut(chunk))
        .enumerate()
        .map(|(c, ((xc, rc), yc))| {
            let mask = mask_of(bits.next().flatten(), bytes.next().flatten());
            let at = site.offset + (c * chunk) as u64;
            let t: Task<'a> = Box::new(move || {
                drop.at(Site::new(site.stream).at(at))
                    .bias(bias)
                    .residual(rc)
                    .mask_out(mask)
                    .forward(xc, yc)
                    .map(|_| ())
            });
            t
        })
        .collect()
}

/// The state shared by the pool's calls of [`trampoline`].
struct Pool<'a> {
    tasks: Vec<Mutex<Option<Task<'a>>>>,
    errors: Vec<Mutex<Option<Result<(), DkError>>>>,
}

/// ORT's `ParallelFor` callback: runs task `i` once.
extern "system" fn trampoline(data: *mut c_void, i: usize) {
    // SAFETY: `data` is the `&Pool` passed to `KernelContext_ParallelFor`
    // by `run_tasks`, which outlives the call (ParallelFor returns only
    // when every index has run).
    let pool = unsafe { &*data.cast::<Pool<'_>>() };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let task = pool.tasks.get(i).and_then(|m| m.lock().ok()?.take());
        if let Some(task) = task {
            let r = task();
            if let Some(slot) = pool.errors.get(i) {
                if let Ok(mut g) = slot.lock() {
                    *g = Some(r);
                }
            }
        }
    }));
}

/// Runs the tasks, over ORT's intra-op pool when there are several (so
/// `intra_op_num_threads` sets the op's threads too); the first error in
/// task order wins.
fn run_tasks(
    k: &Kernel,
    ctx: *mut OrtKernelContext,
    tasks: Vec<Task<'_>>,
    dk: impl Fn(DkError) -> String,
) -> Result<(), String> {
    if tasks.len() <= 1 {
        return tasks.into_iter().try_for_each(|t| t()).map_err(dk);
    }
    let count = tasks.len();
    let pool = Pool {
        tasks: tasks.into_iter().map(|t| Mutex::new(Some(t))).collect(),
        errors: (0..count).map(|_| Mutex::new(None)).collect(),
    };
    // SAFETY: `ctx` is the live context of this run; `pool` outlives the
    // call, and `trampoline` reads it only as shared.
    let status = unsafe {
        (k.api.0.KernelContext_ParallelFor)(
            ctx,
            trampoline,
            count,
            0,
            (&pool as *const Pool<'_>).cast_mut().cast::<c_void>(),
        )
    };
    k.api.check(status, &k.err("KernelContext_ParallelFor"))?;
    // A task ORT did not run (it never happens) runs here.
    for (t, e) in pool.tasks.into_iter().zip(pool.errors) {
        let left = t.into_inner().ok().flatten();
        if let Some(task) = left {
            task().map_err(&dk)?;
        }
        if let Some(Err(err)) = e.into_inner().ok().flatten() {
            return Err(dk(err));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_literals_read_as_f64() {
        assert_eq!(rate_from_f32(0.1), 0.1);
        assert_eq!(rate_from_f32(0.3), 0.3);
        assert_eq!(rate_from_f32(1.0), 1.0);
        assert!(rate_from_f32(f32::NAN).is_nan());
    }

    #[test]
    fn op_table() {
        for def in &OPS {
            let back = def_of(&def.op);
            assert!(core::ptr::eq(back, def));
            assert_eq!(get_output_count(&def.op), 3);
            assert_eq!(get_input_count(&def.op), def.kind.inputs());
        }
    }

    #[test]
    fn pieces_cover() {
        let mut v = [0u8; 10];
        let p = pieces(Some(&mut v[..]), 4, 3);
        assert_eq!(
            p.iter()
                .map(|c| c.as_ref().map_or(0, |c| c.len()))
                .sum::<usize>(),
            10
        );
        assert_eq!(pieces::<u8>(None, 4, 3).len(), 3);
    }
}
