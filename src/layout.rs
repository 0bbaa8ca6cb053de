//! [`Layout`]: a row-major logical shape stored with element strides.

use crate::limits::MAX_RANK;
use crate::Error;

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
    pub(crate) fn overlaps(&self) -> bool {
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

impl Layout {
    /// The dense 1-D layout of `n` elements (never fails: rank 1, no
    /// product to overflow).
    pub(crate) fn of_len(n: usize) -> Layout {
        let mut dims = [1; MAX_RANK];
        let mut strides = [0; MAX_RANK];
        dims[0] = n;
        strides[0] = 1;
        Layout {
            rank: 1,
            dims,
            strides,
            len: n,
            span: n,
        }
    }

    /// Whether the elements are contiguous in row-major order from index 0
    /// (axes of extent 1 may have any stride).
    pub fn is_dense(&self) -> bool {
        let mut step = 1usize;
        for a in (0..self.rank).rev() {
            if self.dims[a] != 1 && self.strides[a] != step {
                return false;
            }
            step = step.saturating_mul(self.dims[a]);
        }
        true
    }

    /// Checks that `other` has the same rank and extents (the output of a
    /// call against its input).
    pub(crate) fn check_same_dims(&self, other: &Layout) -> Result<(), Error> {
        if self.rank == 1 && other.rank == 1 {
            if self.len == other.len {
                return Ok(());
            }
            return Err(Error::Size {
                what: "output elements (the input's)",
                expected: self.len,
                given: other.len,
            });
        }
        if self.rank != other.rank {
            return Err(Error::RankMismatch {
                expected: self.rank,
                given: other.rank,
            });
        }
        for axis in 0..self.rank {
            if self.dims[axis] != other.dims[axis] {
                return Err(Error::DimMismatch {
                    axis,
                    input: self.dims[axis],
                    output: other.dims[axis],
                });
            }
        }
        Ok(())
    }
}
