//! [`View`] and [`ViewMut`]: a [`Layout`] over a borrowed slice.

use crate::layout::Layout;
use crate::Error;
use core::marker::PhantomData;

/// A read-only strided view: a [`Layout`] over elements borrowed for `'a`
/// (a slice that holds it, or an `ndarray` view with the `ndarray`
/// feature). Only the layout's elements are ever read.
#[derive(Debug)]
pub struct View<'a, E> {
    ptr: *const E,
    layout: Layout,
    _borrow: PhantomData<&'a [E]>,
}

impl<E> Clone for View<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for View<'_, E> {}

// SAFETY: a `View` is a shared borrow of `E`s, as `&[E]` is.
unsafe impl<E: Sync> Send for View<'_, E> {}
// SAFETY: as above.
unsafe impl<E: Sync> Sync for View<'_, E> {}

impl<'a, E> View<'a, E> {
    /// A view of `data` with `layout`. Its elements may share addresses (a
    /// stride of 0 reads one element many times).
    ///
    /// # Errors
    /// [`Error::Size`] if `data` is shorter than the layout's
    /// span.
    pub fn new(data: &'a [E], layout: Layout) -> Result<Self, Error> {
        if layout.span() > data.len() {
            return Err(Error::Size {
                what: "slice elements the view reaches (at least)",
                expected: layout.span(),
                given: data.len(),
            });
        }
        Ok(View {
            ptr: data.as_ptr(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// A contiguous row-major view of `data` with extents `dims`.
    ///
    /// # Errors
    /// As [`Layout::dense`] and [`View::new`].
    pub fn dense(data: &'a [E], dims: &[usize]) -> Result<Self, Error> {
        View::new(data, Layout::dense(dims)?)
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn ptr(&self) -> *const E {
        self.ptr
    }

    /// A view of `layout` from `ptr`.
    ///
    /// # Safety
    /// Every element `layout` reaches from `ptr` is valid and borrowed
    /// (shared) for `'a`.
    #[cfg(feature = "ndarray")]
    pub(crate) unsafe fn from_raw(ptr: *const E, layout: Layout) -> Self {
        View {
            ptr,
            layout,
            _borrow: PhantomData,
        }
    }

    /// A slice as a dense 1-D view.
    pub(crate) fn of_slice(data: &'a [E]) -> Self {
        View {
            ptr: data.as_ptr(),
            layout: Layout::of_len(data.len()),
            _borrow: PhantomData,
        }
    }

    /// The elements as a slice if the layout is dense.
    pub(crate) fn dense_slice(&self) -> Option<&'a [E]> {
        if !self.layout.is_dense() {
            return None;
        }
        // SAFETY: a dense layout's span is its length, and `new` checked the
        // span against the borrowed slice this pointer came from.
        Some(unsafe { core::slice::from_raw_parts(self.ptr, self.layout.len()) })
    }
}

/// A writable strided view: a [`Layout`] over elements borrowed mutably
/// for `'a` (a slice that holds it, or an `ndarray` view with the `ndarray`
/// feature), with one address per logical element. Only the layout's
/// elements are ever read or written.
#[derive(Debug)]
pub struct ViewMut<'a, E> {
    ptr: *mut E,
    layout: Layout,
    _borrow: PhantomData<&'a mut [E]>,
}

// SAFETY: a `ViewMut` is an exclusive borrow of `E`s, as `&mut [E]` is.
unsafe impl<E: Send> Send for ViewMut<'_, E> {}
// SAFETY: as above (shared access to it only reads its layout).
unsafe impl<E: Sync> Sync for ViewMut<'_, E> {}

impl<'a, E> ViewMut<'a, E> {
    /// A writable view of `data` with `layout`.
    ///
    /// # Errors
    /// [`Error::Size`] if `data` is shorter than the layout's
    /// span; [`Error::SelfOverlap`] if the layout's elements cannot be
    /// proven to be at distinct addresses. The check is conservative:
    /// leaving out axes of extent 1 and sorting the others by stride, each
    /// stride must be greater than the span (`sum((dim - 1) * stride)`) of
    /// the axes before it. So a layout that interleaves without touching,
    /// such as dims `[3, 3]` with strides `[2, 3]` (addresses 0, 2, 3, 4,
    /// 5, 6, 7, 8, 10), is refused too.
    ///
    /// ```
    /// use dropkit::{Error, Layout, ViewMut};
    /// let mut buf = [0.0f32; 16];
    /// assert!(ViewMut::new(&mut buf, Layout::strided(&[4, 3], &[4, 1])?).is_ok());
    /// let bad = Layout::strided(&[4, 3], &[1, 1])?; // rows overlap
    /// assert_eq!(ViewMut::new(&mut buf, bad).unwrap_err(), Error::SelfOverlap);
    /// let distinct = Layout::strided(&[3, 3], &[2, 3])?; // distinct, but unproven
    /// assert_eq!(ViewMut::new(&mut buf, distinct).unwrap_err(), Error::SelfOverlap);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn new(data: &'a mut [E], layout: Layout) -> Result<Self, Error> {
        if layout.span() > data.len() {
            return Err(Error::Size {
                what: "slice elements the view reaches (at least)",
                expected: layout.span(),
                given: data.len(),
            });
        }
        if layout.overlaps() {
            return Err(Error::SelfOverlap);
        }
        Ok(ViewMut {
            ptr: data.as_mut_ptr(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// A contiguous row-major view of `data` with extents `dims`.
    ///
    /// # Errors
    /// As [`Layout::dense`] and [`ViewMut::new`].
    pub fn dense(data: &'a mut [E], dims: &[usize]) -> Result<Self, Error> {
        ViewMut::new(data, Layout::dense(dims)?)
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A read-only view of the same elements.
    pub fn as_view(&self) -> View<'_, E> {
        View {
            ptr: self.ptr,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    pub(crate) fn ptr(&mut self) -> *mut E {
        self.ptr
    }

    /// A mutable view of `layout` from `ptr`.
    ///
    /// # Safety
    /// Every element `layout` reaches from `ptr` is valid and borrowed
    /// exclusively for `'a`, and `layout` does not overlap itself.
    #[cfg(feature = "ndarray")]
    pub(crate) unsafe fn from_raw(ptr: *mut E, layout: Layout) -> Self {
        ViewMut {
            ptr,
            layout,
            _borrow: PhantomData,
        }
    }

    /// A mutable slice as a dense 1-D view.
    pub(crate) fn of_slice(data: &'a mut [E]) -> Self {
        ViewMut {
            ptr: data.as_mut_ptr(),
            layout: Layout::of_len(data.len()),
            _borrow: PhantomData,
        }
    }

    /// The view borrowed again for a shorter time.
    pub(crate) fn reborrow(&mut self) -> ViewMut<'_, E> {
        ViewMut {
            ptr: self.ptr,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// The elements as a slice if the layout is dense.
    pub(crate) fn dense_slice_mut(&mut self) -> Option<&mut [E]> {
        if !self.layout.is_dense() {
            return None;
        }
        // SAFETY: a dense layout's span is its length, and `new` checked the
        // span against the slice borrowed exclusively for `'a`; the result
        // borrows `self` exclusively.
        Some(unsafe { core::slice::from_raw_parts_mut(self.ptr, self.layout.len()) })
    }
}
