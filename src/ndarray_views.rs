//! `ndarray` arrays and views as dropkit views (the `ndarray` feature, for
//! `ndarray` 0.16): the array's shape and strides; negative strides are
//! refused.

use crate::layout::Layout;
use crate::limits::MAX_RANK;
use crate::tensor::{AsView, AsViewMut};
use crate::view::{View, ViewMut};
use crate::Error;
use ndarray::{ArrayBase, ArrayView, ArrayViewMut, Data, DataMut, Dimension};

/// The layout of an `ndarray` shape and strides.
fn layout_of(shape: &[usize], strides: &[isize]) -> Result<Layout, Error> {
    let mut s = [0usize; MAX_RANK];
    if shape.len() > MAX_RANK || shape.is_empty() {
        return Err(Error::UnsupportedRank {
            rank: shape.len(),
            min: 1,
            max: MAX_RANK,
        });
    }
    for (a, &st) in strides.iter().enumerate() {
        s[a] = usize::try_from(st).map_err(|_| Error::Unsupported {
            what: "ndarray views with negative strides",
        })?;
    }
    Layout::strided(shape, &s[..shape.len()])
}

impl<'a, E, D: Dimension> TryFrom<ArrayView<'a, E, D>> for View<'a, E> {
    type Error = Error;
    /// # Errors
    /// [`Error::UnsupportedRank`] (rank 0 or above 8),
    /// [`Error::Unsupported`] (a negative stride).
    fn try_from(a: ArrayView<'a, E, D>) -> Result<Self, Error> {
        let layout = layout_of(a.shape(), a.strides())?;
        // SAFETY: an `ArrayView` borrows every element its shape and
        // strides reach for `'a`, and `layout` is that shape and those
        // strides.
        Ok(unsafe { View::from_raw(a.as_ptr(), layout) })
    }
}

impl<'a, E, D: Dimension> TryFrom<ArrayViewMut<'a, E, D>> for ViewMut<'a, E> {
    type Error = Error;
    /// # Errors
    /// As for [`View`], and [`Error::SelfOverlap`] (an `ndarray` view
    /// made with unsafe code whose elements cannot be proven distinct:
    /// the conservative check of [`ViewMut::new`]).
    fn try_from(mut a: ArrayViewMut<'a, E, D>) -> Result<Self, Error> {
        let layout = layout_of(a.shape(), a.strides())?;
        if layout.overlaps() {
            return Err(Error::SelfOverlap);
        }
        // SAFETY: an `ArrayViewMut` borrows every element its shape and
        // strides reach exclusively for `'a`, `layout` is that shape and
        // those strides, and no two of its elements share an address
        // (checked above).
        Ok(unsafe { ViewMut::from_raw(a.as_mut_ptr(), layout) })
    }
}

impl<S: Data, D: Dimension> AsView for ArrayBase<S, D> {
    type Elem = S::Elem;
    fn as_view(&self) -> Result<View<'_, S::Elem>, Error> {
        View::try_from(self.view())
    }
}

impl<S: DataMut, D: Dimension> AsViewMut for ArrayBase<S, D> {
    type Elem = S::Elem;
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, S::Elem>, Error> {
        ViewMut::try_from(self.view_mut())
    }
}
