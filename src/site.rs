//! [`Site`]: where a call sits in the random stream.

/// Where a call sits in the random stream: the `stream` (a call site and
/// step: layer, training step, micro-batch, Monte-Carlo sample; see
/// [`crate::fold_in`]) and the `offset`, the global index of the call's
/// first (mask) element in the whole logical tensor.
///
/// ```
/// use dropkit::Site;
/// let s = Site::new(7).at(4096);
/// assert_eq!((s.stream, s.offset), (7, 4096));
/// assert_eq!(Site::new(7), Site { stream: 7, offset: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Site {
    /// The stream.
    pub stream: u64,
    /// The global index of the call's first element.
    pub offset: u64,
}

impl Site {
    /// Stream `stream` from global index 0.
    pub const fn new(stream: u64) -> Site {
        Site { stream, offset: 0 }
    }

    /// The same stream from global index `offset` (a shard, a slab of rows).
    pub const fn at(self, offset: u64) -> Site {
        Site { offset, ..self }
    }
}
