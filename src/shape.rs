//! Shapes: strided views of tensors ([`Layout`], [`View`], [`ViewMut`]) and
//! the mask shapes of the structured dropouts ([`Shaped`]).

use crate::kernel::shaped::{gcd, MAX_RANK, PERIOD_BITS_MAX};
use crate::Error;
use core::marker::PhantomData;

/// A row-major logical shape with element strides, rank 1 to
/// [`MAX_RANK`](crate::MAX_RANK).
///
/// The logical index of element `(i0, .., ik-1)` is its row-major position
/// in the shape, whatever the strides; it is stored at `sum(i_a *
/// stride_a)`. A stride may exceed the extent of the axes inside it (rows
/// of a padded matrix): the padding is never read or written.
///
/// ```
/// use dropkit::Layout;
/// // 3 rows of 5 elements, each row in a stride of 8.
/// let l = Layout::strided(&[3, 5], &[8, 1])?;
/// assert_eq!((l.len(), l.span()), (15, 21));
/// assert_eq!(Layout::dense(&[2, 3, 4])?.strides(), &[12, 4, 1]);
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    rank: usize,
    dims: [usize; MAX_RANK],
    strides: [usize; MAX_RANK],
    len: usize,
    span: usize,
}

fn check_rank(rank: usize) -> Result<(), Error> {
    if (1..=MAX_RANK).contains(&rank) {
        Ok(())
    } else {
        Err(Error::UnsupportedRank {
            rank,
            min: 1,
            max: MAX_RANK,
        })
    }
}

impl Layout {
    /// A contiguous row-major layout of `dims`.
    ///
    /// # Errors
    /// [`Error::UnsupportedRank`], [`Error::SizeOverflow`].
    pub fn dense(dims: &[usize]) -> Result<Layout, Error> {
        check_rank(dims.len())?;
        let mut strides = [0; MAX_RANK];
        let mut step = 1usize;
        for a in (0..dims.len()).rev() {
            strides[a] = step;
            // An overflow past an empty axis is harmless, but then `len`
            // is 0 and the product below is what decides.
            step = step.saturating_mul(dims[a]);
        }
        Layout::strided(dims, &strides[..dims.len()])
    }

    /// A layout with the given element strides (one per axis).
    ///
    /// # Errors
    /// [`Error::UnsupportedRank`]; [`Error::RankMismatch`] if the lengths
    /// of `dims` and `strides` differ; [`Error::SizeOverflow`] if the
    /// element count or the largest address overflows `usize`.
    pub fn strided(dims: &[usize], strides: &[usize]) -> Result<Layout, Error> {
        check_rank(dims.len())?;
        if strides.len() != dims.len() {
            return Err(Error::RankMismatch {
                expected: dims.len(),
                given: strides.len(),
            });
        }
        let mut l = Layout {
            rank: dims.len(),
            dims: [1; MAX_RANK],
            strides: [0; MAX_RANK],
            len: 1,
            span: 1,
        };
        l.dims[..l.rank].copy_from_slice(dims);
        l.strides[..l.rank].copy_from_slice(strides);
        let mut len = 1usize;
        let mut last = 0usize;
        for &d in dims {
            len = len.checked_mul(d).ok_or(Error::SizeOverflow)?;
        }
        if len == 0 {
            l.len = 0;
            l.span = 0;
            return Ok(l);
        }
        for (&d, &stride) in dims.iter().zip(strides) {
            let reach = (d - 1).checked_mul(stride).ok_or(Error::SizeOverflow)?;
            last = last.checked_add(reach).ok_or(Error::SizeOverflow)?;
        }
        l.len = len;
        l.span = last.checked_add(1).ok_or(Error::SizeOverflow)?;
        Ok(l)
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The extents.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// The element strides.
    pub fn strides(&self) -> &[usize] {
        &self.strides[..self.rank]
    }

    /// Logical elements (the product of the extents).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements a slice needs to hold the view: the largest address plus
    /// one (0 when empty).
    pub fn span(&self) -> usize {
        self.span
    }

    /// Whether two logical elements may share an address (the check of
    /// [`Error::SelfOverlap`]). Conservative: leaving out axes of extent 1
    /// and sorting the others by stride, each stride must be greater than
    /// the span (`sum((dim - 1) * stride)`) of the axes before it.
    /// Layouts that interleave without touching, such as dims `[3, 3]`
    /// with strides `[2, 3]`, count as overlapping too.
    fn overlaps(&self) -> bool {
        if self.len == 0 {
            return false;
        }
        let mut axes: [(usize, usize); MAX_RANK] = [(0, 0); MAX_RANK];
        let mut k = 0;
        for a in 0..self.rank {
            if self.dims[a] > 1 {
                axes[k] = (self.strides[a], self.dims[a]);
                k += 1;
            }
        }
        axes[..k].sort_unstable();
        let mut reach = 0usize; // the largest offset the smaller axes reach
        for &(stride, dim) in &axes[..k] {
            if stride <= reach {
                return true;
            }
            // No overflow: the span was computed with checks.
            reach += (dim - 1) * stride;
        }
        false
    }
}

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
    /// [`Error::ViewOutOfBounds`] if `data` is shorter than the layout's
    /// span.
    pub fn new(data: &'a [E], layout: Layout) -> Result<Self, Error> {
        if layout.span() > data.len() {
            return Err(Error::ViewOutOfBounds {
                needed: layout.span(),
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
    /// [`Error::ViewOutOfBounds`] if `data` is shorter than the layout's
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
            return Err(Error::ViewOutOfBounds {
                needed: layout.span(),
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
}

/// `ndarray` views of any dimension (the `ndarray` feature): the view's
/// shape and strides; negative strides are refused.
#[cfg(feature = "ndarray")]
mod with_ndarray {
    use super::*;
    use ndarray::{ArrayView, ArrayViewMut, Dimension};

    /// The layout of an `ndarray` view's shape and strides.
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
            Ok(View {
                ptr: a.as_ptr(),
                layout,
                _borrow: PhantomData,
            })
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
            Ok(ViewMut {
                ptr: a.as_mut_ptr(),
                layout,
                _borrow: PhantomData,
            })
        }
    }
}

/// Which axes the mask broadcasts along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern<'a> {
    Elementwise,
    ChannelsFirst,
    ChannelsLast,
    PerSample,
    LockedTimeMajor,
    LockedBatchMajor,
    Noise(&'a [usize]),
    BroadcastDims(&'a [usize]),
}

/// The mask shape of a structured dropout, and which slab of leading rows
/// a call covers.
///
/// A mask shape has each extent equal to the data's or to 1: one keep
/// decision per mask element, shared by every data element that maps to it
/// (index 0 along the axes where the mask's extent is 1). Mask element `u`
/// (row-major in the mask shape) is decided by the random word of global
/// index `offset + u`, exactly as element `u` of an elementwise call, so
/// the mask is an elementwise mask of the mask's element count.
///
/// | variant | PyTorch / TF / Flax | data | mask |
/// |---|---|---|---|
/// | [`Shaped::elementwise`] | `dropout` | any | the data's shape |
/// | [`Shaped::channels_first`] | `dropout1d/2d/3d` (unbatched: add an axis of 1), `feature_alpha_dropout` | `[N, C, L..]` | `[N, C, 1..]` |
/// | [`Shaped::channels_last`] | Keras `SpatialDropout1D`, `2D/3D` channels last | `[N, L.., C]` | `[N, 1.., C]` |
/// | [`Shaped::per_sample`] | timm `drop_path`, torchvision `stochastic_depth(mode="row")` | `[N, ..]` | `[N, 1..]` |
/// | [`Shaped::locked_time_major`] | AWD-LSTM `LockedDropout` | `[T, B, F]` | `[1, B, F]` |
/// | [`Shaped::locked_batch_major`] | the same, batch first | `[B, T, F]` | `[B, 1, F]` |
/// | [`Shaped::noise_shape`] | TF `noise_shape` | any | as given |
/// | [`Shaped::broadcast_dims`] | Flax `Dropout(broadcast_dims=..)` | any | 1 on the given axes |
///
/// ```
/// use dropkit::{Dropout, Shaped, View, ViewMut};
/// let d = Dropout::new(0.5)?.with_seed(1);
/// let x = vec![1.0f32; 2 * 3 * 4];
/// let mut y = vec![0.0f32; 24];
/// // dropout2d on [N=2, C=3, H=2, W=2]: one decision per (sample, channel).
/// let dims = [2, 3, 2, 2];
/// d.forward_shaped(7, 0, &Shaped::channels_first(), &View::dense(&x, &dims)?,
///                  &mut ViewMut::dense(&mut y, &dims)?)?;
/// for plane in y.chunks(4) {
///     assert!(plane == [0.0; 4] || plane == [2.0; 4]);
/// }
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shaped<'a> {
    pattern: Pattern<'a>,
    slab: Option<(usize, usize)>,
}

impl<'a> Shaped<'a> {
    fn of(pattern: Pattern<'a>) -> Self {
        Shaped {
            pattern,
            slab: None,
        }
    }

    /// No broadcast: one decision per element (the elementwise dropout,
    /// here over strided views).
    pub fn elementwise() -> Self {
        Shaped::of(Pattern::Elementwise)
    }

    /// Channel dropout, channels first: data `[N, C, L..]` (rank 2 or
    /// more), mask `[N, C, 1..]`. PyTorch `dropout1d` (rank 3), `dropout2d`
    /// (rank 4), `dropout3d` (rank 5), `nn.Dropout1d/2d/3d`; with
    /// [`Dropout::alpha`](crate::Dropout::alpha), `feature_alpha_dropout`.
    pub fn channels_first() -> Self {
        Shaped::of(Pattern::ChannelsFirst)
    }

    /// Channel dropout, channels last: data `[N, L.., C]` (rank 2 or more),
    /// mask `[N, 1.., C]`. Keras `SpatialDropout1D`, and
    /// `SpatialDropout2D/3D` with `data_format="channels_last"`.
    pub fn channels_last() -> Self {
        Shaped::of(Pattern::ChannelsLast)
    }

    /// Drop-path (stochastic depth): one decision per sample, data `[N,
    /// ..]`, mask `[N, 1..]`. timm `drop_path`, torchvision
    /// `stochastic_depth(mode="row")`.
    pub fn per_sample() -> Self {
        Shaped::of(Pattern::PerSample)
    }

    /// Locked (variational) dropout, time major: one mask for every step
    /// of axis 0, data `[T, B, F..]` (rank 2 or more), mask `[1, B, F..]`.
    /// AWD-LSTM `LockedDropout`.
    pub fn locked_time_major() -> Self {
        Shaped::of(Pattern::LockedTimeMajor)
    }

    /// Locked (variational) dropout, batch major: one mask for every step
    /// of axis 1, data `[B, T, F..]` (rank 3 or more), mask `[B, 1, F..]`.
    pub fn locked_batch_major() -> Self {
        Shaped::of(Pattern::LockedBatchMajor)
    }

    /// Any mask shape (TF's `noise_shape`): one extent per data axis, each
    /// the data's or 1. With a slab, the extents refer to the whole tensor.
    pub fn noise_shape(mask_dims: &'a [usize]) -> Self {
        Shaped::of(Pattern::Noise(mask_dims))
    }

    /// The mask broadcasts along these axes (Flax's `broadcast_dims`) and
    /// follows the data along the others.
    pub fn broadcast_dims(axes: &'a [usize]) -> Self {
        Shaped::of(Pattern::BroadcastDims(axes))
    }

    /// The call covers rows `start..start + n` of a tensor of `total` rows
    /// along axis 0 (the data's axis 0 has extent `n`): the same bits as
    /// those rows of one call on the whole tensor with the same offset and
    /// stream (shards of one logical tensor: data-parallel ranks, or a batch
    /// cut into pieces under one stream). Where the mask follows axis 0
    /// its slab of the mask is used (and written); where it broadcasts
    /// along axis 0, every slab uses the whole mask.
    pub fn slab(self, start: usize, total: usize) -> Self {
        Shaped {
            slab: Some((start, total)),
            ..self
        }
    }

    /// The dense layout of the mask a call on `data` uses and writes
    /// (for a slab: its part of the mask); its `len()` is the number of
    /// mask elements, bits or bytes.
    ///
    /// # Errors
    /// As the calls: [`Error::UnsupportedRank`], [`Error::RankMismatch`],
    /// [`Error::BadMaskDim`], [`Error::BadAxis`],
    /// [`Error::SlabOutOfRange`], [`Error::SizeOverflow`].
    ///
    /// ```
    /// use dropkit::{Layout, Shaped};
    /// let data = Layout::dense(&[8, 16, 16, 32])?;
    /// assert_eq!(Shaped::channels_last().mask_layout(&data)?.dims(), &[8, 1, 1, 32]);
    /// let slab = Layout::dense(&[2, 16, 16, 32])?; // rows 4..6 of the 8
    /// assert_eq!(Shaped::channels_last().slab(4, 8).mask_layout(&slab)?.dims(), &[2, 1, 1, 32]);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mask_layout(&self, data: &Layout) -> Result<Layout, Error> {
        let (mask, _) = self.resolve(data.dims())?;
        Layout::dense(&mask[..data.rank()])
    }

    /// The mask extents for the slab with data extents `dims`, and how many
    /// mask elements precede the slab's.
    fn resolve(&self, dims: &[usize]) -> Result<([usize; MAX_RANK], usize), Error> {
        let k = dims.len();
        let mut full = [1usize; MAX_RANK];
        full[..k].copy_from_slice(dims);
        if let Some((start, total)) = self.slab {
            let end = start.checked_add(dims[0]);
            if end.is_none_or(|e| e > total) {
                return Err(Error::SlabOutOfRange {
                    start,
                    rows: dims[0],
                    total,
                });
            }
            full[0] = total;
        }
        let need = |min: usize| -> Result<(), Error> {
            if k < min {
                Err(Error::UnsupportedRank {
                    rank: k,
                    min,
                    max: MAX_RANK,
                })
            } else {
                Ok(())
            }
        };
        let mut m = full;
        match self.pattern {
            Pattern::Elementwise => {}
            Pattern::ChannelsFirst => {
                need(2)?;
                m[2..k].fill(1);
            }
            Pattern::ChannelsLast => {
                need(2)?;
                m[1..k - 1].fill(1);
            }
            Pattern::PerSample => m[1..k].fill(1),
            Pattern::LockedTimeMajor => {
                need(2)?;
                m[0] = 1;
            }
            Pattern::LockedBatchMajor => {
                need(3)?;
                m[1] = 1;
            }
            Pattern::Noise(given) => {
                if given.len() != k {
                    return Err(Error::RankMismatch {
                        expected: k,
                        given: given.len(),
                    });
                }
                for (axis, (&g, &d)) in given.iter().zip(&full[..k]).enumerate() {
                    if g != d && g != 1 {
                        return Err(Error::BadMaskDim {
                            axis,
                            data: d,
                            mask: g,
                        });
                    }
                    m[axis] = g;
                }
            }
            Pattern::BroadcastDims(axes) => {
                for &axis in axes {
                    if axis >= k {
                        return Err(Error::BadAxis { axis, rank: k });
                    }
                    m[axis] = 1;
                }
            }
        }
        // The slab's part of the mask.
        let mut before = 0;
        if let Some((start, total)) = self.slab {
            if m[0] == total && total != 1 {
                let per_row = m[1..k]
                    .iter()
                    .try_fold(1usize, |a, &b| a.checked_mul(b))
                    .ok_or(Error::SizeOverflow)?;
                before = start.checked_mul(per_row).ok_or(Error::SizeOverflow)?;
                m[0] = dims[0];
            }
        }
        Ok((m, before))
    }
}

/// A stored mask read by a backward pass: bits (as
/// [`Dropout::forward_with_mask`](crate::Dropout::forward_with_mask)) or
/// bytes (non-zero kept).
#[derive(Clone, Copy, Debug)]
pub enum MaskIn<'a> {
    /// Bit `i % 64` of word `i / 64` is mask element `i`.
    Bits(&'a [u64]),
    /// Byte `i` is mask element `i`.
    Bytes(&'a [u8]),
}

/// A validated shaped call: the collapsed axes and the mask's place.
pub(crate) struct Plan {
    pub rank: usize,
    pub dims: [usize; MAX_RANK],
    pub sx: [usize; MAX_RANK],
    pub sy: [usize; MAX_RANK],
    pub ms: [usize; MAX_RANK],
    /// See [`crate::kernel::shaped::Job::period`].
    pub period: usize,
    /// Global index of the slab's first mask element.
    pub g0: u64,
    /// Mask elements of the slab.
    pub m: usize,
    /// Data elements.
    pub n: usize,
}

/// Validates a shaped call (`x`: the input's layout, if not in place) and
/// collapses its axes: axes of extent 1 go, and neighbouring axes merge
/// where input, output and mask all step through them as one.
pub(crate) fn plan(
    shape: &Shaped<'_>,
    offset: u64,
    x: Option<&Layout>,
    y: &Layout,
) -> Result<Plan, Error> {
    let k = y.rank();
    let x = x.unwrap_or(y);
    if x.rank() != k {
        return Err(Error::RankMismatch {
            expected: x.rank(),
            given: k,
        });
    }
    for axis in 0..k {
        if x.dims()[axis] != y.dims()[axis] {
            return Err(Error::DimMismatch {
                axis,
                input: x.dims()[axis],
                output: y.dims()[axis],
            });
        }
    }
    let (mdims, before) = shape.resolve(y.dims())?;
    // The mask is never larger than the whole tensor, whose element count
    // fits (`Layout` checked the slab's; the whole tensor's rows may be
    // more, so check).
    let mut m = 1usize;
    for &e in &mdims[..k] {
        m = m.checked_mul(e).ok_or(Error::SizeOverflow)?;
    }
    let g0 = offset
        .checked_add(before as u64)
        .filter(|g| g.checked_add(m as u64).is_some())
        .ok_or(Error::OffsetOverflow {
            offset,
            len: before.saturating_add(m),
        })?;
    let mut mstride = [0usize; MAX_RANK];
    let mut step = 1usize;
    for a in (0..k).rev() {
        mstride[a] = if mdims[a] == 1 { 0 } else { step };
        // Saturating: an overflow here means an empty mask, and then no
        // data either.
        step = step.saturating_mul(mdims[a]);
    }
    let mut p = Plan {
        rank: 0,
        dims: [1; MAX_RANK],
        sx: [0; MAX_RANK],
        sy: [0; MAX_RANK],
        ms: [0; MAX_RANK],
        period: 0,
        g0,
        m,
        n: y.len(),
    };
    for (a, &ms) in mstride.iter().enumerate().take(k) {
        let d = y.dims()[a];
        if d == 1 {
            continue;
        }
        let (sx, sy) = (x.strides()[a], y.strides()[a]);
        if p.rank > 0 {
            let o = p.rank - 1;
            // Axis `o` steps as `d` steps of axis `a` in every operand
            // (`checked_mul`: a product that overflows cannot match).
            let merges = |outer: usize, inner: usize| inner.checked_mul(d) == Some(outer);
            if merges(p.sx[o], sx) && merges(p.sy[o], sy) && merges(p.ms[o], ms) {
                p.dims[o] *= d;
                p.sx[o] = sx;
                p.sy[o] = sy;
                p.ms[o] = ms;
                continue;
            }
        }
        let r = p.rank;
        p.dims[r] = d;
        p.sx[r] = sx;
        p.sy[r] = sy;
        p.ms[r] = ms;
        p.rank += 1;
    }
    if p.rank == 0 {
        // Every extent is 1: one element.
        p.rank = 1;
    }
    // Short contiguous rows that repeat one mask run (channels last): one
    // long row with a periodic mask.
    if p.rank >= 2 {
        let (o, l) = (p.rank - 2, p.rank - 1);
        let c = p.dims[l];
        if p.ms[l] == 1
            && p.ms[o] == 0
            && (p.sx[l], p.sy[l]) == (1, 1)
            && (p.sx[o], p.sy[o]) == (c, c)
            && c <= PERIOD_BITS_MAX
            && c * 64 / gcd(c, 64) <= PERIOD_BITS_MAX
        {
            p.period = c;
            p.dims[o] *= c;
            (p.sx[o], p.sy[o], p.ms[o]) = (1, 1, 1);
            p.rank -= 1;
        }
    }
    Ok(p)
}
