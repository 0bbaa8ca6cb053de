//! The element types of the dtype-generic calls: `dk_dtype` and its
//! values, the Rust element types the bodies run on and the dispatch from
//! one to the other.

use dropkit::Element;

/// The element type of a dtype-generic call.
pub type dk_dtype = u32;
/// `float`.
pub const DK_DTYPE_F32: dk_dtype = 0;
/// `double`.
pub const DK_DTYPE_F64: dk_dtype = 1;
/// IEEE binary16, as `uint16_t` bits.
pub const DK_DTYPE_F16: dk_dtype = 2;
/// bfloat16, as `uint16_t` bits.
pub const DK_DTYPE_BF16: dk_dtype = 3;

/// The element types the bodies run on (the Rust types of the dtypes).
pub(crate) trait Elem: Element + Copy + Send + Sync + 'static {}
impl<E: Element + Copy + Send + Sync + 'static> Elem for E {}

/// Runs `$body` with the type alias `$E` set to the element type of
/// `$dtype` (`DK_INVALID_ARGUMENT` for an unknown one).
macro_rules! dispatch {
    ($dtype:expr, $E:ident => $body:expr) => {
        match $dtype {
            $crate::DK_DTYPE_F32 => {
                type $E = f32;
                $body
            }
            $crate::DK_DTYPE_F64 => {
                type $E = f64;
                $body
            }
            $crate::DK_DTYPE_F16 => {
                type $E = dropkit::half::f16;
                $body
            }
            $crate::DK_DTYPE_BF16 => {
                type $E = dropkit::half::bf16;
                $body
            }
            other => Err($crate::Fail::invalid(format!("unknown dtype {other}"))),
        }
    };
}
pub(crate) use dispatch;
