//! [`AsView`] and [`AsViewMut`]: the tensors a call takes (slices, `Vec`s,
//! arrays, views; `ndarray` arrays in `ndarray_views`).

use crate::error::Error;
use crate::view::{View, ViewMut};

/// A tensor a call reads: a slice or `Vec` (a dense 1-D tensor), a
/// [`View`] or [`ViewMut`], or under the `ndarray` feature any `ndarray`
/// array or view (its strides must not be negative).
pub trait AsView {
    /// The element type.
    type Elem;
    /// The tensor as a view.
    ///
    /// # Errors
    /// What building the [`View`] can reject (a rank above
    /// [`crate::MAX_RANK`] or 0, a negative `ndarray` stride).
    fn as_view(&self) -> Result<View<'_, Self::Elem>, Error>;

    /// The elements as one dense 1-D slice, when the tensor is one (a
    /// slice, `Vec` or array): the calls then skip building a view. `None`
    /// by default.
    fn as_slice(&self) -> Option<&[Self::Elem]> {
        None
    }
}

/// A tensor a call writes: a mutable slice or `Vec`, a [`ViewMut`], or
/// under the `ndarray` feature any mutable `ndarray` array or view whose
/// elements are at distinct addresses.
pub trait AsViewMut {
    /// The element type.
    type Elem;
    /// The tensor as a mutable view.
    ///
    /// # Errors
    /// As [`AsView::as_view`], and [`Error::SelfOverlap`].
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, Self::Elem>, Error>;

    /// As [`AsView::as_slice`], mutable.
    fn as_mut_slice(&mut self) -> Option<&mut [Self::Elem]> {
        None
    }
}

impl<E> AsView for [E] {
    type Elem = E;
    fn as_view(&self) -> Result<View<'_, E>, Error> {
        Ok(View::of_slice(self))
    }
    fn as_slice(&self) -> Option<&[E]> {
        Some(self)
    }
}

impl<E> AsView for Vec<E> {
    type Elem = E;
    fn as_view(&self) -> Result<View<'_, E>, Error> {
        Ok(View::of_slice(self))
    }
    fn as_slice(&self) -> Option<&[E]> {
        Some(self)
    }
}

impl<E, const N: usize> AsView for [E; N] {
    type Elem = E;
    fn as_view(&self) -> Result<View<'_, E>, Error> {
        Ok(View::of_slice(self))
    }
    fn as_slice(&self) -> Option<&[E]> {
        Some(self)
    }
}

impl<E> AsView for View<'_, E> {
    type Elem = E;
    fn as_view(&self) -> Result<View<'_, E>, Error> {
        Ok(*self)
    }
}

impl<E> AsView for ViewMut<'_, E> {
    type Elem = E;
    fn as_view(&self) -> Result<View<'_, E>, Error> {
        Ok(ViewMut::as_view(self))
    }
}

impl<E> AsViewMut for [E] {
    type Elem = E;
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, E>, Error> {
        Ok(ViewMut::of_slice(self))
    }
    fn as_mut_slice(&mut self) -> Option<&mut [E]> {
        Some(self)
    }
}

impl<E> AsViewMut for Vec<E> {
    type Elem = E;
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, E>, Error> {
        Ok(ViewMut::of_slice(self))
    }
    fn as_mut_slice(&mut self) -> Option<&mut [E]> {
        Some(self)
    }
}

impl<E, const N: usize> AsViewMut for [E; N] {
    type Elem = E;
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, E>, Error> {
        Ok(ViewMut::of_slice(self))
    }
    fn as_mut_slice(&mut self) -> Option<&mut [E]> {
        Some(self)
    }
}

impl<E> AsViewMut for ViewMut<'_, E> {
    type Elem = E;
    fn as_view_mut(&mut self) -> Result<ViewMut<'_, E>, Error> {
        Ok(self.reborrow())
    }
}
