//! Raw C buffers: made slices after the checks every buffer gets (not
//! null, aligned, its end address representable), and the overlap check of
//! the buffers of one call.

use crate::{Fail, DK_OVERLAP, DK_SIZE_OVERFLOW};

/// `n` elements at `p` as a slice (empty for `n == 0`, whatever `p`);
/// `what` names the argument in messages.
///
/// # Safety
/// `p` is null or valid for reading `n` elements for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, n: usize, what: &str) -> Result<&'a [T], Fail> {
    if n == 0 {
        return Ok(&[]);
    }
    check_ptr(p, n, what)?;
    // SAFETY: non-null, aligned and valid for `n` elements (caller's
    // contract), of at most `isize::MAX` bytes not wrapping the address
    // space (checked).
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// `n` elements at `p` as a mutable slice.
///
/// # Safety
/// `p` is null or valid for reading and writing `n` elements for `'a`, and
/// nothing else accesses them meanwhile.
pub(crate) unsafe fn slice_mut<'a, T>(
    p: *mut T,
    n: usize,
    what: &str,
) -> Result<&'a mut [T], Fail> {
    if n == 0 {
        return Ok(&mut []);
    }
    check_ptr(p, n, what)?;
    // SAFETY: as in `slice`, and exclusive (caller's contract).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// A non-empty buffer's pointer: not null, its end address representable,
/// aligned.
fn check_ptr<T>(p: *const T, n: usize, what: &str) -> Result<(), Fail> {
    if p.is_null() {
        return Err(Fail::null(&format!("{what} ({n} elements)")));
    }
    end(p, n, what)?;
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(Fail::invalid(format!(
            "{what} is not aligned to {} bytes",
            align_of::<T>()
        )));
    }
    Ok(())
}

/// The end address of `n` elements at `p` (`p + n * size_of::<T>()`),
/// checked: `DK_SIZE_OVERFLOW` if the byte length exceeds `isize::MAX` (no
/// Rust slice or C object is that long) or the end passes the address
/// space.
pub(crate) fn end<T>(p: *const T, n: usize, what: &str) -> Result<usize, Fail> {
    n.checked_mul(size_of::<T>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .and_then(|bytes| (p as usize).checked_add(bytes))
        .ok_or_else(|| {
            Fail::new(
                DK_SIZE_OVERFLOW,
                format!(
                    "{what}: {n} elements of {} bytes overflow the address space",
                    size_of::<T>()
                ),
            )
        })
}

/// A byte range a call reads or writes.
#[derive(Clone, Copy)]
struct Region {
    start: usize,
    end: usize,
    name: &'static str,
    write: bool,
}

/// The buffers of one call, checked for overlap before any slice is made.
#[derive(Default)]
pub(crate) struct Regions {
    list: [Option<Region>; 8],
    len: usize,
}

impl Regions {
    /// Adds `n` elements of `T` at `p` (nothing for `n == 0`).
    pub(crate) fn add<T>(
        &mut self,
        p: *const T,
        n: usize,
        name: &'static str,
        write: bool,
    ) -> Result<(), Fail> {
        if n == 0 {
            return Ok(());
        }
        if p.is_null() {
            return Err(Fail::null(&format!("{name} ({n} elements)")));
        }
        let end = end(p, n, name)?;
        self.list[self.len] = Some(Region {
            start: p as usize,
            end,
            name,
            write,
        });
        self.len += 1;
        Ok(())
    }

    /// `DK_OVERLAP` if a written range meets any other range.
    pub(crate) fn check(&self) -> Result<(), Fail> {
        let list = &self.list[..self.len];
        for (i, a) in list.iter().flatten().enumerate() {
            for b in list[i + 1..].iter().flatten() {
                if (a.write || b.write) && a.start < b.end && b.start < a.end {
                    return Err(Fail::new(
                        DK_OVERLAP,
                        format!("{} and {} overlap", a.name, b.name),
                    ));
                }
            }
        }
        Ok(())
    }
}
