//! The generator of `src/generated.rs`: every exported function that
//! exists once per element type, from one table. Each table entry is an
//! operation; the generator writes its dtype-generic entry point
//! (`dk_<name>`, taking a `dk_dtype`) and its four typed ones
//! (`dk_<name>_f32`, `_f64`, `_f16`, `_bf16`), each a one-line call of the
//! generic body in `src/ops.rs`, as plain Rust that cbindgen reads.
//!
//! Adding a C operation: its generic body in `src/ops.rs`, an entry in
//! [`OPS`], then `DROPKIT_BLESS=1 cargo test -p dropkit-capi` (rewrites
//! `src/generated.rs`, from `build.rs` before the library compiles, and the
//! header). `tests/generated.rs` fails when the checked-in file differs.
//!
//! Used by `build.rs` and `tests/generated.rs` (`#[path]`); std only.

/// One operation: its dtype-generic and typed entry points.
pub struct Op {
    /// `dk_<name>`, `dk_<name>_<type>`.
    pub name: &'static str,
    /// Documentation of the dtype-generic entry (errors, thread safety,
    /// `# Safety`).
    pub doc: &'static str,
    /// Parameters of the dtype-generic entry (with `dtype: dk_dtype`).
    pub params: &'static [&'static str],
    /// Its body: an expression of type `Result<(), Fail>` in which `E` is
    /// the element type.
    pub call: &'static str,
    /// Documentation of the `float` entry; the others refer to it.
    pub typed_doc: &'static str,
    /// Parameters of a typed entry, `{T}` the C element type.
    pub typed_params: &'static [&'static str],
    /// Its body, as `call`.
    pub typed_call: &'static str,
}

/// An element type: the suffix, the C type (for documentation), the Rust
/// type of the C parameters, the element type of the bodies.
pub struct Ty {
    pub suffix: &'static str,
    pub c: &'static str,
    pub param: &'static str,
    pub elem: &'static str,
}

pub const TYPES: [Ty; 4] = [
    Ty {
        suffix: "f32",
        c: "`float`",
        param: "f32",
        elem: "f32",
    },
    Ty {
        suffix: "f64",
        c: "`double`",
        param: "f64",
        elem: "f64",
    },
    Ty {
        suffix: "f16",
        c: "`uint16_t` bits of IEEE binary16 (`f16`)",
        param: "u16",
        elem: "dropkit::half::f16",
    },
    Ty {
        suffix: "bf16",
        c: "`uint16_t` bits of bfloat16 (`bf16`)",
        param: "u16",
        elem: "dropkit::half::bf16",
    },
];

const TENSOR_SAFETY: &str = "\
# Safety
`d`, the tensor descriptors and `opt` null or valid; each tensor's `data`
valid for `len` elements of `dtype`, its `dims` and `strides` for `rank`
values (never read when `rank` is above 8); every buffer of `opt` valid
for its length (`opt->shape->values` for `count`, never read above 8); no
other thread accesses the outputs meanwhile.";

const TYPED_SAFETY: &str = "\
# Safety
`d` and `opt` null or valid; every pointer null or valid for its length
(`n` elements unless said); every buffer of `opt` valid for its length; no
other thread accesses the outputs meanwhile.";

/// The operations, in the header's order.
pub const OPS: &[Op] = &[
    Op {
        name: "forward",
        doc: "\
The training forward pass at `site` on tensors of `dtype`: `y` is `x`
times the training factor where its mask element is kept, `+0.0` where it
is dropped (alpha dropout: its affine). `x` `NULL`, or `x` describing
`y`'s buffer with `y`'s layout: in place on `y`. With `opt` (see
`dk_options`): a mask shape; the keep mask written to `opt->mask`
(`dk_mask_len` mask elements, bits or bytes); the fused epilogue
`y = residual + dropout(x + bias)` element by element in this order, no
FMA (the half types in `float`, rounded once; a NaN result is the positive
quiet NaN), and `opt->residual` may be `y`'s buffer: `y += dropout(x +
bias)`.

Errors: `DK_SIZE` (the output's length, the mask, bias or residual, a
buffer shorter than its tensor reaches), `DK_DIM_MISMATCH`,
`DK_RANK_MISMATCH`, `DK_UNSUPPORTED_RANK`, `DK_BAD_MASK_DIM`,
`DK_BAD_AXIS`, `DK_SLAB_OUT_OF_RANGE`, `DK_SELF_OVERLAP`,
`DK_NOT_WHOLE_ROWS`, `DK_OFFSET_OVERFLOW`, `DK_UNSUPPORTED` (dbias; a
fused option with a mask shape, on a strided tensor or under alpha
scaling), `DK_NULL_POINTER`, `DK_OVERLAP`, `DK_SIZE_OVERFLOW`,
`DK_INVALID_ARGUMENT` (an unknown dtype, mask kind or mask shape kind; a
misaligned buffer), any error of `*d` (see `dk_dropout_check`). Nothing is
written on error; `dk_last_error()` says what, with the values.

Thread safe (the call may split over `d`'s pool).",
        params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "dtype: dk_dtype",
            "x: *const dk_tensor",
            "y: *const dk_tensor",
            "opt: *const dk_options",
        ],
        call: "forward::<E>(d, site, x, y, opt)",
        typed_doc: "\
`dk_forward` on dense 1-D buffers of `n` `float` elements: `y` may equal
`x` (in place). The options are `dk_forward`'s (a mask shape sees 1-D
data of `n`).

Errors: as `dk_forward`. Thread safe.",
        typed_params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "x: *const {T}",
            "y: *mut {T}",
            "n: usize",
            "opt: *const dk_options",
        ],
        typed_call: "forward::<E>(d, site, &dense(x, n), &dense(y, n), opt)",
    },
    Op {
        name: "backward",
        doc: "\
The backward pass of `dk_forward` at the same `site` and mask shape:
`dx = kept ? dy * factor : +0.0` (alpha dropout: `dy * a`), the mask
regenerated from the site, or read from `opt->mask` as a forward pass
wrote it (the site is then not used). `dy` `NULL`, or `dy` describing
`dx`'s buffer with `dx`'s layout: in place on `dx`. With `opt->dbias`
(features: `dbias_len`), also its column sums over the rows of `dx`,
summed in `double` in a fixed order: the same bits for every thread
count and ISA. The residual's gradient is `dy` itself.

Errors: as `dk_forward` (`DK_UNSUPPORTED` for a bias or residual). Nothing
is written on error; `dk_last_error()` says what, with the values.

Thread safe (the call may split over `d`'s pool).",
        params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "dtype: dk_dtype",
            "dy: *const dk_tensor",
            "dx: *const dk_tensor",
            "opt: *const dk_options",
        ],
        call: "backward::<E>(d, site, dy, dx, opt)",
        typed_doc: "\
`dk_backward` on dense 1-D buffers of `n` `float` elements: `dx` may
equal `dy` (in place).

Errors: as `dk_backward`. Thread safe.",
        typed_params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "dy: *const {T}",
            "dx: *mut {T}",
            "n: usize",
            "opt: *const dk_options",
        ],
        typed_call: "backward::<E>(d, site, &dense(dy, n), &dense(dx, n), opt)",
    },
    Op {
        name: "inference",
        doc: "\
Inference on tensors of `dtype` (no site, no mask): the identity under
`DK_SCALING_INVERTED` and `DK_SCALING_ALPHA`, `x * (1 - rate)` under
`DK_SCALING_CLASSIC` (`+0.0` at rate 1). `x` `NULL`, or `x` describing
`y`'s buffer with `y`'s layout: in place. Strided tensors keep the
elements their strides skip.

Errors: `DK_SIZE`, `DK_DIM_MISMATCH`, `DK_RANK_MISMATCH`,
`DK_UNSUPPORTED_RANK`, `DK_SELF_OVERLAP`, `DK_NULL_POINTER`, `DK_OVERLAP`,
`DK_SIZE_OVERFLOW`, `DK_INVALID_ARGUMENT` (dtype, alignment), any error of
`*d`. Nothing is written on error.

Thread safe.",
        params: &[
            "d: *const dk_dropout",
            "dtype: dk_dtype",
            "x: *const dk_tensor",
            "y: *const dk_tensor",
        ],
        call: "inference::<E>(d, x, y)",
        typed_doc: "\
`dk_inference` on dense 1-D buffers of `n` `float` elements: `y` may
equal `x` (in place).

Errors: as `dk_inference`. Thread safe.",
        typed_params: &[
            "d: *const dk_dropout",
            "x: *const {T}",
            "y: *mut {T}",
            "n: usize",
        ],
        typed_call: "inference::<E>(d, &dense(x, n), &dense(y, n))",
    },
    Op {
        name: "mc_forward",
        doc: "\
Monte-Carlo dropout: `samples` training forward passes of `x` into the
dense rows of `out` (`out_len` elements: `samples` times `x`'s), sample
`k` in row `k` (in `x`'s logical order) on stream
`dk_fold_in(site.stream, k)` at `site.offset`. `opt` may give a mask
shape (applied to each sample), nothing else. See `dk_mc_mean_var`.

Errors: `DK_SIZE` (`out_len`), `DK_UNSUPPORTED` (a mask or fused option),
as `dk_forward`. Nothing is written on error.

Thread safe (the call may split over `d`'s pool).",
        params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "dtype: dk_dtype",
            "x: *const dk_tensor",
            "out: *mut c_void",
            "out_len: usize",
            "samples: usize",
            "opt: *const dk_options",
        ],
        call: "mc_forward::<E>(d, site, x, out, out_len, samples, opt)",
        typed_doc: "\
`dk_mc_forward` of a dense 1-D buffer of `n` `float` elements into `out`,
`n * samples` elements.

Errors: as `dk_mc_forward`, and `DK_SIZE_OVERFLOW` when `n * samples`
overflows. Thread safe.",
        typed_params: &[
            "d: *const dk_dropout",
            "site: dk_site",
            "x: *const {T}",
            "n: usize",
            "out: *mut {T}",
            "samples: usize",
            "opt: *const dk_options",
        ],
        typed_call:
            "mc_forward::<E>(d, site, &dense(x, n), out.cast(), times(n, samples)?, samples, opt)",
    },
    Op {
        name: "mc_mean_var",
        doc: "\
Per-element mean and population variance over the rows of `n` elements of
`samples` (`samples_len` elements, a whole non-zero number of rows: the
layout of `dk_mc_forward`) into `mean` and `var` (`n` elements each):
Welford's update in `double` in row order, rounded once; the same bits on
every machine. Allocates nothing.

Errors: `DK_SIZE` (`samples_len` not a non-zero multiple of `n`),
`DK_NULL_POINTER`, `DK_OVERLAP` (`mean`, `var` and `samples` must not
overlap), `DK_SIZE_OVERFLOW`, `DK_INVALID_ARGUMENT` (dtype, alignment).
Nothing is written on error.

Thread safe.

# Safety
Every pointer null or valid for its length.",
        params: &[
            "dtype: dk_dtype",
            "samples: *const c_void",
            "samples_len: usize",
            "n: usize",
            "mean: *mut c_void",
            "var: *mut c_void",
        ],
        call: "mc_mean_var::<E>(samples, samples_len, n, mean, var)",
        typed_doc: "\
`dk_mc_mean_var` on `float` elements.

Errors: as `dk_mc_mean_var`. Thread safe.

# Safety
Every pointer null or valid for its length (`mean` and `var`: `n`).",
        typed_params: &[
            "samples: *const {T}",
            "samples_len: usize",
            "n: usize",
            "mean: *mut {T}",
            "var: *mut {T}",
        ],
        typed_call: "mc_mean_var::<E>(samples.cast(), samples_len, n, mean.cast(), var.cast())",
    },
];

/// `text` as `///` lines.
fn doc(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("///\n");
        } else {
            out.push_str("/// ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn signature(out: &mut String, name: &str, params: &[&str], ty: Option<&Ty>) {
    out.push_str("#[no_mangle]\n");
    out.push_str(&format!("pub unsafe extern \"C\" fn {name}(\n"));
    for p in params {
        let p = match ty {
            Some(t) => p.replace("{T}", t.param),
            None => p.to_string(),
        };
        out.push_str(&format!("    {p},\n"));
    }
    out.push_str(") -> dk_status {\n");
}

/// The text of `src/generated.rs`.
pub fn generate() -> String {
    let mut out = String::from(
        "//! The exported functions that exist once per element type: a\n\
         //! dtype-generic entry and four typed ones per operation, each a call\n\
         //! of its generic body in `ops.rs`.\n\
         //!\n\
         //! GENERATED by `gen/generate.rs` from its table: do not edit; run\n\
         //! `DROPKIT_BLESS=1 cargo test -p dropkit-capi` to regenerate.\n\
         \n\
         use crate::ops::*;\n\
         use crate::{dk_dropout, dk_dtype, dk_options, dk_site, dk_status, dk_tensor, guard};\n\
         use std::ffi::c_void;\n",
    );
    for op in OPS {
        out.push('\n');
        let safety = if op.doc.contains("# Safety") {
            ""
        } else {
            TENSOR_SAFETY
        };
        doc(&mut out, op.doc);
        if !safety.is_empty() {
            out.push_str("///\n");
            doc(&mut out, safety);
        }
        signature(&mut out, &format!("dk_{}", op.name), op.params, None);
        out.push_str(&format!(
            "    // SAFETY: forwarded contract.\n    guard(|| dispatch!(dtype, E => unsafe {{ {} }}))\n}}\n",
            op.call
        ));
        for ty in &TYPES {
            out.push('\n');
            let first = &TYPES[0];
            if ty.suffix == first.suffix {
                doc(&mut out, op.typed_doc);
                if !op.typed_doc.contains("# Safety") {
                    out.push_str("///\n");
                    doc(&mut out, TYPED_SAFETY);
                }
            } else {
                doc(
                    &mut out,
                    &format!(
                        "`dk_{name}_{f}` on {c} elements.\n\nErrors: as `dk_{name}_{f}`. Thread safe.\n\n# Safety\nAs `dk_{name}_{f}`.",
                        name = op.name,
                        f = first.suffix,
                        c = ty.c
                    ),
                );
            }
            signature(
                &mut out,
                &format!("dk_{}_{}", op.name, ty.suffix),
                op.typed_params,
                Some(ty),
            );
            out.push_str(&format!(
                "    type E = {};\n    // SAFETY: forwarded contract.\n    guard(|| unsafe {{ {} }})\n}}\n",
                ty.elem, op.typed_call
            ));
        }
    }
    out
}
