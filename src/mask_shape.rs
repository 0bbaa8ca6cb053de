//! [`MaskShape`]: the mask shapes of the structured dropouts, and the mask
//! buffers a call writes ([`MaskOut`]) or reads ([`MaskIn`]).

use crate::layout::Layout;
use crate::limits::MAX_RANK;
use crate::Error;

/// Words a bit mask of `n` elements needs.
pub fn mask_words(n: usize) -> usize {
    n.div_ceil(64)
}

/// Checks a mask buffer of `given` words (`bits`) or bytes against `n`
/// mask elements.
pub(crate) fn check_mask(n: usize, bits: bool, given: usize) -> Result<(), Error> {
    let (expected, what) = if bits {
        (mask_words(n), "mask words (at least)")
    } else {
        (n, "mask bytes (at least)")
    };
    if given >= expected {
        Ok(())
    } else {
        Err(Error::Size {
            what,
            expected,
            given,
        })
    }
}

/// Which axes the mask broadcasts along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern {
    Elementwise,
    ChannelsFirst,
    ChannelsLast,
    PerSample,
    LockedTimeMajor,
    LockedBatchMajor,
    /// The mask's dims as given (their count, which may exceed the storage).
    Noise([usize; MAX_RANK], usize),
    /// Bit `a` set: broadcast along axis `a`; the smallest axis given that
    /// no rank has.
    BroadcastDims(u16, Option<usize>),
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
/// | [`MaskShape::elementwise`] | `dropout` | any | the data's shape |
/// | [`MaskShape::channels_first`] | `dropout1d/2d/3d` (unbatched: add an axis of 1), `feature_alpha_dropout` | `[N, C, L..]` | `[N, C, 1..]` |
/// | [`MaskShape::channels_last`] | Keras `SpatialDropout1D`, `2D/3D` channels last | `[N, L.., C]` | `[N, 1.., C]` |
/// | [`MaskShape::per_sample`] | timm `drop_path`, torchvision `stochastic_depth(mode="row")` | `[N, ..]` | `[N, 1..]` |
/// | [`MaskShape::locked_time_major`] | AWD-LSTM `LockedDropout` | `[T, B, F]` | `[1, B, F]` |
/// | [`MaskShape::locked_batch_major`] | the same, batch first | `[B, T, F]` | `[B, 1, F]` |
/// | [`MaskShape::noise_shape`] | TF `noise_shape` | any | as given |
/// | [`MaskShape::broadcast_dims`] | Flax `Dropout(broadcast_dims=..)` | any | 1 on the given axes |
///
/// ```
/// use dropkit::{Dropout, MaskShape, Site, View, ViewMut};
/// let d = Dropout::new(0.5)?.with_seed(1);
/// let x = vec![1.0f32; 2 * 3 * 4];
/// let mut y = vec![0.0f32; 24];
/// // dropout2d on [N=2, C=3, H=2, W=2]: one decision per (sample, channel).
/// let dims = [2, 3, 2, 2];
/// d.at(Site::new(7))
///     .shape(MaskShape::channels_first())
///     .forward(&View::dense(&x, &dims)?, &mut ViewMut::dense(&mut y, &dims)?)?;
/// for plane in y.chunks(4) {
///     assert!(plane == [0.0; 4] || plane == [2.0; 4]);
/// }
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskShape {
    pattern: Pattern,
    slab: Option<(usize, usize)>,
}

impl MaskShape {
    fn of(pattern: Pattern) -> Self {
        MaskShape {
            pattern,
            slab: None,
        }
    }

    /// The names of the named mask shapes, the constructors' names, in the
    /// table's order: what [`MaskShape::named`] takes (for bindings and
    /// engines that pass a shape as a string).
    pub const NAMES: [&'static str; 6] = [
        "elementwise",
        "channels_first",
        "channels_last",
        "per_sample",
        "locked_time_major",
        "locked_batch_major",
    ];

    /// The named mask shape whose constructor is called `name` (one of
    /// [`MaskShape::NAMES`]), or `None`.
    ///
    /// ```
    /// use dropkit::MaskShape;
    /// assert_eq!(MaskShape::named("channels_last"), Some(MaskShape::channels_last()));
    /// assert_eq!(MaskShape::named("spatial"), None);
    /// ```
    pub fn named(name: &str) -> Option<Self> {
        let pattern = match name {
            "elementwise" => Pattern::Elementwise,
            "channels_first" => Pattern::ChannelsFirst,
            "channels_last" => Pattern::ChannelsLast,
            "per_sample" => Pattern::PerSample,
            "locked_time_major" => Pattern::LockedTimeMajor,
            "locked_batch_major" => Pattern::LockedBatchMajor,
            _ => return None,
        };
        Some(MaskShape::of(pattern))
    }

    /// No broadcast: one decision per element (the elementwise dropout,
    /// here over strided views).
    pub fn elementwise() -> Self {
        MaskShape::of(Pattern::Elementwise)
    }

    /// Channel dropout, channels first: data `[N, C, L..]` (rank 2 or
    /// more), mask `[N, C, 1..]`. PyTorch `dropout1d` (rank 3), `dropout2d`
    /// (rank 4), `dropout3d` (rank 5), `nn.Dropout1d/2d/3d`; with
    /// [`Dropout::alpha`](crate::Dropout::alpha), `feature_alpha_dropout`.
    pub fn channels_first() -> Self {
        MaskShape::of(Pattern::ChannelsFirst)
    }

    /// Channel dropout, channels last: data `[N, L.., C]` (rank 2 or more),
    /// mask `[N, 1.., C]`. Keras `SpatialDropout1D`, and
    /// `SpatialDropout2D/3D` with `data_format="channels_last"`.
    pub fn channels_last() -> Self {
        MaskShape::of(Pattern::ChannelsLast)
    }

    /// Drop-path (stochastic depth): one decision per sample, data `[N,
    /// ..]`, mask `[N, 1..]`. timm `drop_path`, torchvision
    /// `stochastic_depth(mode="row")`.
    pub fn per_sample() -> Self {
        MaskShape::of(Pattern::PerSample)
    }

    /// Locked (variational) dropout, time major: one mask for every step
    /// of axis 0, data `[T, B, F..]` (rank 2 or more), mask `[1, B, F..]`.
    /// AWD-LSTM `LockedDropout`.
    pub fn locked_time_major() -> Self {
        MaskShape::of(Pattern::LockedTimeMajor)
    }

    /// Locked (variational) dropout, batch major: one mask for every step
    /// of axis 1, data `[B, T, F..]` (rank 3 or more), mask `[B, 1, F..]`.
    pub fn locked_batch_major() -> Self {
        MaskShape::of(Pattern::LockedBatchMajor)
    }

    /// Any mask shape (TF's `noise_shape`): one extent per data axis, each
    /// the data's or 1. With a slab, the extents refer to the whole tensor.
    pub fn noise_shape(mask_dims: &[usize]) -> Self {
        let mut dims = [1; MAX_RANK];
        let k = mask_dims.len().min(MAX_RANK);
        dims[..k].copy_from_slice(&mask_dims[..k]);
        MaskShape::of(Pattern::Noise(dims, mask_dims.len()))
    }

    /// The mask broadcasts along these axes (Flax's `broadcast_dims`) and
    /// follows the data along the others.
    pub fn broadcast_dims(axes: &[usize]) -> Self {
        let mut bits = 0u16;
        let mut bad: Option<usize> = None;
        for &a in axes {
            if a < MAX_RANK {
                bits |= 1 << a;
            } else {
                bad = Some(bad.map_or(a, |b| b.min(a)));
            }
        }
        MaskShape::of(Pattern::BroadcastDims(bits, bad))
    }

    /// The call covers rows `start..start + n` of a tensor of `total` rows
    /// along axis 0 (the data's axis 0 has extent `n`): the same bits as
    /// those rows of one call on the whole tensor with the same offset and
    /// stream (shards of one logical tensor: data-parallel ranks, or a batch
    /// cut into pieces under one stream). Where the mask follows axis 0
    /// its slab of the mask is used (and written); where it broadcasts
    /// along axis 0, every slab uses the whole mask.
    pub fn slab(self, start: usize, total: usize) -> Self {
        MaskShape {
            slab: Some((start, total)),
            ..self
        }
    }

    /// Whether this is the elementwise mask of the whole tensor (no slab).
    pub(crate) fn is_elementwise(&self) -> bool {
        self.pattern == Pattern::Elementwise && self.slab.is_none()
    }

    /// The mask's element count for data of `dims` (of a slab: the slab's
    /// part): the length a byte mask needs; a bit mask needs
    /// [`crate::mask_words`] of it.
    ///
    /// # Errors
    /// As [`MaskShape::mask_layout`].
    ///
    /// ```
    /// use dropkit::MaskShape;
    /// assert_eq!(MaskShape::channels_first().mask_len(&[8, 64, 32, 32])?, 8 * 64);
    /// assert_eq!(MaskShape::elementwise().mask_len(&[3, 5])?, 15);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mask_len(&self, dims: &[usize]) -> Result<usize, Error> {
        Ok(self.mask_layout(&Layout::dense(dims)?)?.len())
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
    /// use dropkit::{Layout, MaskShape};
    /// let data = Layout::dense(&[8, 16, 16, 32])?;
    /// assert_eq!(MaskShape::channels_last().mask_layout(&data)?.dims(), &[8, 1, 1, 32]);
    /// let slab = Layout::dense(&[2, 16, 16, 32])?; // rows 4..6 of the 8
    /// assert_eq!(MaskShape::channels_last().slab(4, 8).mask_layout(&slab)?.dims(), &[2, 1, 1, 32]);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn mask_layout(&self, data: &Layout) -> Result<Layout, Error> {
        let (mask, _) = self.resolve(data.dims())?;
        Layout::dense(&mask[..data.rank()])
    }

    /// The mask extents for the slab with data extents `dims`, and how many
    /// mask elements precede the slab's.
    pub(crate) fn resolve(&self, dims: &[usize]) -> Result<([usize; MAX_RANK], usize), Error> {
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
            Pattern::Noise(given, len) => {
                if len != k {
                    return Err(Error::RankMismatch {
                        expected: k,
                        given: len,
                    });
                }
                for (axis, (&g, &d)) in given[..k].iter().zip(&full[..k]).enumerate() {
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
            Pattern::BroadcastDims(bits, bad) => {
                let first_bad = (k..MAX_RANK).find(|&a| bits & (1 << a) != 0);
                if let Some(axis) = first_bad.or(bad) {
                    return Err(Error::BadAxis { axis, rank: k });
                }
                for (axis, e) in m.iter_mut().enumerate().take(k) {
                    if bits & (1 << axis) != 0 {
                        *e = 1;
                    }
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
/// [`crate::Call::mask_out`] wrote it) or
/// bytes (non-zero kept).
#[derive(Clone, Copy, Debug)]
pub enum MaskIn<'a> {
    /// Bit `i % 64` of word `i / 64` is mask element `i`.
    Bits(&'a [u64]),
    /// Byte `i` is mask element `i`.
    Bytes(&'a [u8]),
}

/// Where a forward pass writes its keep mask, if anywhere
/// ([`crate::Call::mask_out`]), one entry per mask element.
#[derive(Debug, Default)]
pub enum MaskOut<'a> {
    /// No mask.
    #[default]
    None,
    /// Bit `i % 64` of word `i / 64` is mask element `i` (bits past the
    /// last element are 0).
    Bits(&'a mut [u64]),
    /// Byte `i` is mask element `i` (1 kept, 0 dropped).
    Bytes(&'a mut [u8]),
}

impl MaskOut<'_> {
    /// Checks that the mask covers `n` elements.
    pub(crate) fn check(&self, n: usize) -> Result<(), Error> {
        match self {
            MaskOut::None => Ok(()),
            MaskOut::Bits(w) => check_mask(n, true, w.len()),
            MaskOut::Bytes(b) => check_mask(n, false, b.len()),
        }
    }

    /// Fills the mask of `n` elements with one decision (the rate edges);
    /// bits past `n` in the last word are 0.
    pub(crate) fn fill(self, n: usize, keep: bool) {
        match self {
            MaskOut::None => {}
            MaskOut::Bits(w) => {
                w[..n / 64].fill(if keep { u64::MAX } else { 0 });
                if !n.is_multiple_of(64) {
                    w[n / 64] = if keep { (1u64 << (n % 64)) - 1 } else { 0 };
                }
            }
            MaskOut::Bytes(b) => b[..n].fill(u8::from(keep)),
        }
    }
}

impl MaskIn<'_> {
    /// Checks that the mask covers `n` elements.
    pub(crate) fn check(&self, n: usize) -> Result<(), Error> {
        match self {
            MaskIn::Bits(w) => check_mask(n, true, w.len()),
            MaskIn::Bytes(b) => check_mask(n, false, b.len()),
        }
    }
}
