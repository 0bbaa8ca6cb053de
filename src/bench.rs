//! What benchmarks need beyond the operations: the speed limit of stream v1
//! on one ISA.

use crate::{Error, Isa};

/// The bare stream-v1 generator: every word `r(g)` of `n` global indices
/// from `offset`, on `isa`, one thread, with no loads, no stores and no
/// compares (the words are xor-folded into a 16-bit summary, returned so
/// that the work cannot be optimized away). A forward call cannot be faster
/// than this on the same ISA: it is the yardstick the report and the
/// benches divide by.
///
/// ```
/// let isa = dropkit::Isa::Scalar;
/// let a = dropkit::bench::stream_words(isa, 1, 2, 0, 4096)?;
/// assert_eq!(a, dropkit::bench::stream_words(dropkit::Isa::best(), 1, 2, 0, 4096)?);
/// # Ok::<(), dropkit::Error>(())
/// ```
///
/// # Errors
/// [`Error::IsaUnavailable`], [`Error::OffsetOverflow`].
pub fn stream_words(isa: Isa, seed: u64, stream: u64, offset: u64, n: usize) -> Result<u32, Error> {
    let isa = isa.check()?;
    if offset.checked_add(n as u64).is_none() {
        return Err(Error::OffsetOverflow { offset, len: n });
    }
    debug_assert!(isa.is_available());
    // SAFETY: `isa` is available and `offset + n` does not overflow (both
    // checked above).
    Ok(unsafe { crate::arch::words(isa, seed, stream, offset, n) })
}
