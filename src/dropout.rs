//! The public dropout operator: validation, edges, and the parallel driver.

use crate::isa::{self, Isa};
use crate::kernel::{Io, MaskIn, MaskOut, Params, BLOCK};
use crate::Error;
use rayon::prelude::*;

/// How the kept elements are scaled (SPEC §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scaling {
    /// Training multiplies kept elements by `1 / q`; inference is the
    /// identity. What PyTorch, TensorFlow and JAX do.
    #[default]
    Inverted,
    /// Training leaves kept elements as they are (multiplied by `1.0`);
    /// inference multiplies by `q`. The original paper's form.
    Classic,
}

/// Whether a call may use more than one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Threading {
    /// One thread below [`PARALLEL_MIN`] elements, the rayon pool above.
    #[default]
    Auto,
    /// Always the calling thread only (for engines with their own threads).
    Sequential,
    /// Always split into pieces over the rayon pool, whatever the size
    /// (mostly for tests: it exercises the split on small inputs).
    Parallel,
}

/// Below this many elements [`Threading::Auto`] stays on the calling thread.
///
/// Measured with `cargo run --release --example report` (its last table) on
/// the project's 2-core machine: a call from outside the pool pays a rayon
/// wake-up of several microseconds, so two threads lost at 64Ki elements
/// (11.0 us against 9.2 us on one thread), were about even at 128Ki and won
/// at 256Ki (25.6 us against 34.3 us). Called from inside a pool, where the
/// caller is a worker, two threads already won at 64Ki (5.5 us).
pub const PARALLEL_MIN: usize = 1 << 18;

/// Calls of at most this many elements may run blocks in pairs (AVX-512).
/// On the project's machine, one thread, pairs gave 8.0 elements/ns against
/// 7.5 at 1Mi elements (in L3) but 2.9 against 4.1 at 4Mi (from DRAM).
const PAIR_BLOCKS_MAX: usize = 1 << 20;

/// Smallest piece handed to one rayon task (a multiple of the block size).
const PIECE_MIN: usize = 1 << 15;

/// A dropout operator: a validated rate, a seed and a scaling mode.
///
/// It is a small `Copy` value with no state: every call is a pure function of
/// `(seed, stream, offset + i, rate)`, so it can be shared freely between
/// threads. See the [crate docs](crate) for the contract.
///
/// ```
/// use dropkit::{Dropout, Scaling};
/// let drop = Dropout::new(0.5)?.with_seed(7).with_scaling(Scaling::Inverted);
/// let x = [1.0f32; 8];
/// let mut y = [0.0f32; 8];
/// drop.forward(0, 0, &x, &mut y)?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    rate: f64,
    seed: u64,
    scaling: Scaling,
    /// [`Dropout::threshold`] and [`Dropout::scale`], computed once.
    threshold: u32,
    scale: f32,
    isa: Option<Isa>,
    threading: Threading,
}

/// The rate edges, which never run the generator.
enum Edge {
    /// Rate 0: everything kept, values untouched.
    KeepAll,
    /// Rate 1: everything dropped.
    DropAll,
    /// `0 < rate < 1`.
    Random,
}

/// Raw pointers of one call, shared by the rayon tasks of that call. Every
/// task touches only its own disjoint range of elements.
#[derive(Clone, Copy)]
struct Job {
    src: *const f32,
    dst: *mut f32,
    mask: MaskOut,
}

// SAFETY: a `Job` is built from slices borrowed for the whole call; tasks use
// disjoint element ranges of it (see `Dropout::split`), so sharing the
// pointers between threads cannot create overlapping accesses.
unsafe impl Send for Job {}
// SAFETY: as for `Send`.
unsafe impl Sync for Job {}

impl Job {
    /// The job of the elements from `start` on. `start` is a multiple of 64
    /// when the mask is a bit mask.
    ///
    /// # Safety
    /// `start` is within the call's elements.
    unsafe fn at(self, start: usize) -> Io {
        let mask = match self.mask {
            MaskOut::None => MaskOut::None,
            MaskOut::Bits(w) => MaskOut::Bits(w.add(start / 64)),
            MaskOut::Bytes(b) => MaskOut::Bytes(b.add(start)),
        };
        let (src, dst) = if self.dst.is_null() {
            (self.src, self.dst)
        } else {
            (self.src.add(start), self.dst.add(start))
        };
        Io { src, dst, mask }
    }
}

/// Logical CPUs, asked once (`num_cpus` reads the affinity mask and cgroup
/// quota, which costs microseconds).
fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(num_cpus::get)
}

/// The factor of kept elements in training (SPEC §3), rounded once to f32.
fn training_scale(scaling: Scaling, keep_prob: f64) -> f32 {
    match scaling {
        Scaling::Inverted => (1.0 / keep_prob) as f32,
        Scaling::Classic => 1.0,
    }
}

/// Words a bit mask of `n` elements needs.
pub fn mask_words(n: usize) -> usize {
    n.div_ceil(64)
}

fn check_len(input: usize, output: usize) -> Result<(), Error> {
    if input == output {
        Ok(())
    } else {
        Err(Error::LengthMismatch { input, output })
    }
}

fn check_offset(offset: u64, len: usize) -> Result<(), Error> {
    match offset.checked_add(len as u64) {
        Some(_) => Ok(()),
        None => Err(Error::OffsetOverflow { offset, len }),
    }
}

fn check_mask(elements: usize, needed: usize, given: usize) -> Result<(), Error> {
    if given >= needed {
        Ok(())
    } else {
        Err(Error::MaskTooSmall {
            elements,
            needed,
            given,
        })
    }
}

/// Fills the first `n` bits of a bit mask with `keep` and the rest of the
/// last word with zeros.
fn fill_bits(words: &mut [u64], n: usize, keep: bool) {
    let full = n / 64;
    words[..full].fill(if keep { u64::MAX } else { 0 });
    if !n.is_multiple_of(64) {
        words[full] = if keep { (1u64 << (n % 64)) - 1 } else { 0 };
    }
}

/// The data side of a forward call.
enum Data<'a> {
    /// Only a mask of this many elements.
    None(usize),
    Out(&'a [f32], &'a mut [f32]),
    InPlace(&'a mut [f32]),
}

/// The mask side of a forward call.
enum Mask<'a> {
    None,
    Bits(&'a mut [u64]),
    Bytes(&'a mut [u8]),
}

impl Dropout {
    /// A dropout of rate `rate`: the probability that an element is
    /// **dropped**. Seed 0, [`Scaling::Inverted`], the best [`Isa`],
    /// [`Threading::Auto`].
    ///
    /// # Errors
    /// [`Error::InvalidRate`] unless `0 <= rate <= 1` (NaN and infinities
    /// included).
    ///
    /// ```
    /// assert!(dropkit::Dropout::new(0.1).is_ok());
    /// assert!(dropkit::Dropout::new(f64::NAN).is_err());
    /// assert!(dropkit::Dropout::new(1.5).is_err());
    /// ```
    pub fn new(rate: f64) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::InvalidRate { rate });
        }
        let rate = rate + 0.0; // -0.0 becomes +0.0
        let mut d = Dropout {
            rate,
            seed: 0,
            scaling: Scaling::Inverted,
            threshold: 0,
            scale: training_scale(Scaling::Inverted, 1.0 - rate),
            isa: None,
            threading: Threading::Auto,
        };
        d.threshold = match d.edge() {
            Edge::KeepAll => u32::MAX,
            Edge::DropAll => 0,
            Edge::Random => crate::reference::threshold(d.keep_prob()),
        };
        Ok(d)
    }

    /// A dropout that **keeps** each element with probability `keep_prob`:
    /// exactly `Dropout::new(1.0 - keep_prob)` (so [`Dropout::keep_prob`]
    /// returns `1 - (1 - keep_prob)`, which may differ in the last bit).
    ///
    /// # Errors
    /// [`Error::InvalidKeepProb`] unless `0 <= keep_prob <= 1`.
    pub fn with_keep_prob(keep_prob: f64) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&keep_prob) {
            return Err(Error::InvalidKeepProb { keep_prob });
        }
        Dropout::new(1.0 - keep_prob)
    }

    /// Sets the seed (one per model or run).
    pub fn with_seed(self, seed: u64) -> Self {
        Dropout { seed, ..self }
    }

    /// Sets the scaling mode.
    pub fn with_scaling(self, scaling: Scaling) -> Self {
        Dropout {
            scaling,
            scale: training_scale(scaling, self.keep_prob()),
            ..self
        }
    }

    /// Forces one implementation. The output bits do not change, only speed.
    ///
    /// # Errors
    /// [`Error::IsaUnavailable`] if this CPU does not run `isa`.
    pub fn with_isa(self, isa: Isa) -> Result<Self, Error> {
        Ok(Dropout {
            isa: Some(isa.check()?),
            ..self
        })
    }

    /// Sets the threading policy. The output bits do not change.
    pub fn with_threading(self, threading: Threading) -> Self {
        Dropout { threading, ..self }
    }

    /// The drop rate `p`.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The keep probability `q = 1 - p`, computed in `f64`.
    pub fn keep_prob(&self) -> f64 {
        1.0 - self.rate
    }

    /// The factor of kept elements in training: `(1 / q) as f32` under
    /// [`Scaling::Inverted`] (infinite at rate 1, where nothing is kept), `1.0`
    /// under [`Scaling::Classic`].
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The keep threshold `T` of SPEC §3: an element is kept iff its random
    /// word is below it. Meaningful for `0 < rate < 1`; 0 at rate 1 and
    /// `u32::MAX` at rate 0, where the generator is not run at all.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scaling mode.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// The implementation calls use: the forced one, or [`Isa::best`].
    pub fn isa(&self) -> Isa {
        self.isa.unwrap_or_else(Isa::best)
    }

    /// The threading policy.
    pub fn threading(&self) -> Threading {
        self.threading
    }

    fn edge(&self) -> Edge {
        if self.rate == 0.0 {
            Edge::KeepAll
        } else if self.rate == 1.0 {
            Edge::DropAll
        } else {
            Edge::Random
        }
    }

    /// Training forward pass, out of place: `y[i]` is `x[i] * scale()` if
    /// element `offset + i` of `stream` is kept, else `+0.0`.
    ///
    /// `offset` is the global index of `x[0]` in the whole tensor: a tensor
    /// computed in pieces, each with its own offset, equals the tensor
    /// computed whole.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `x.len() != y.len()`;
    /// [`Error::OffsetOverflow`] if `offset + x.len()` overflows. Nothing is
    /// written on error.
    pub fn forward(&self, stream: u64, offset: u64, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        self.forward_impl(stream, offset, Data::Out(x, y), Mask::None)
    }

    /// Training forward pass, in place. At rate 0 nothing is touched.
    ///
    /// # Errors
    /// [`Error::OffsetOverflow`] if `offset + x.len()` overflows.
    pub fn forward_in_place(&self, stream: u64, offset: u64, x: &mut [f32]) -> Result<(), Error> {
        self.forward_impl(stream, offset, Data::InPlace(x), Mask::None)
    }

    /// [`Dropout::forward`] that also writes the keep mask, in the same pass:
    /// bit `i % 64` of `mask[i / 64]` is 1 iff `y[i]` was kept; bits past
    /// `x.len()` in the last word are 0.
    ///
    /// # Errors
    /// As [`Dropout::forward`], and [`Error::MaskTooSmall`] if `mask` has
    /// fewer than [`mask_words`]`(x.len())` words.
    pub fn forward_with_mask(
        &self,
        stream: u64,
        offset: u64,
        x: &[f32],
        y: &mut [f32],
        mask: &mut [u64],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Data::Out(x, y), Mask::Bits(mask))
    }

    /// [`Dropout::forward`] that also writes one byte per element, 1 kept and
    /// 0 dropped, in the same pass.
    ///
    /// # Errors
    /// As [`Dropout::forward`], and [`Error::MaskTooSmall`] if
    /// `mask.len() < x.len()`.
    pub fn forward_with_byte_mask(
        &self,
        stream: u64,
        offset: u64,
        x: &[f32],
        y: &mut [f32],
        mask: &mut [u8],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Data::Out(x, y), Mask::Bytes(mask))
    }

    /// The keep bit mask of `n` elements alone (layout of
    /// [`Dropout::forward_with_mask`]).
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`], [`Error::OffsetOverflow`].
    pub fn mask_bits(
        &self,
        stream: u64,
        offset: u64,
        n: usize,
        mask: &mut [u64],
    ) -> Result<(), Error> {
        self.forward_impl(stream, offset, Data::None(n), Mask::Bits(mask))
    }

    /// The keep byte mask of `mask.len()` elements alone (1 kept, 0 dropped).
    ///
    /// # Errors
    /// [`Error::OffsetOverflow`].
    pub fn mask_bytes(&self, stream: u64, offset: u64, mask: &mut [u8]) -> Result<(), Error> {
        let n = mask.len();
        self.forward_impl(stream, offset, Data::None(n), Mask::Bytes(mask))
    }

    /// Backward pass without any stored mask: the mask is regenerated from
    /// `(seed, stream, offset)` by the forward kernel itself, so
    /// `dx[i] = kept ? dy[i] * scale() : +0.0` with exactly the forward's mask.
    ///
    /// # Errors
    /// As [`Dropout::forward`].
    pub fn backward(
        &self,
        stream: u64,
        offset: u64,
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<(), Error> {
        self.forward(stream, offset, dy, dx)
    }

    /// [`Dropout::backward`] in place.
    ///
    /// # Errors
    /// As [`Dropout::forward_in_place`].
    pub fn backward_in_place(&self, stream: u64, offset: u64, dy: &mut [f32]) -> Result<(), Error> {
        self.forward_in_place(stream, offset, dy)
    }

    /// Backward pass from a bit mask written by the forward pass.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::MaskTooSmall`].
    pub fn backward_from_mask(
        &self,
        mask: &[u64],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<(), Error> {
        check_len(dy.len(), dx.len())?;
        check_mask(dy.len(), mask_words(dy.len()), mask.len())?;
        self.apply_impl(MaskIn::Bits(mask.as_ptr()), Some(dy), dx)
    }

    /// [`Dropout::backward_from_mask`] in place.
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`].
    pub fn backward_from_mask_in_place(&self, mask: &[u64], dy: &mut [f32]) -> Result<(), Error> {
        check_mask(dy.len(), mask_words(dy.len()), mask.len())?;
        self.apply_impl(MaskIn::Bits(mask.as_ptr()), None, dy)
    }

    /// Backward pass from a byte mask (any non-zero byte means kept).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::MaskTooSmall`].
    pub fn backward_from_byte_mask(
        &self,
        mask: &[u8],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<(), Error> {
        check_len(dy.len(), dx.len())?;
        check_mask(dy.len(), dy.len(), mask.len())?;
        self.apply_impl(MaskIn::Bytes(mask.as_ptr()), Some(dy), dx)
    }

    /// [`Dropout::backward_from_byte_mask`] in place.
    ///
    /// # Errors
    /// [`Error::MaskTooSmall`].
    pub fn backward_from_byte_mask_in_place(
        &self,
        mask: &[u8],
        dy: &mut [f32],
    ) -> Result<(), Error> {
        check_mask(dy.len(), dy.len(), mask.len())?;
        self.apply_impl(MaskIn::Bytes(mask.as_ptr()), None, dy)
    }

    /// What the layer does at test time: the identity under
    /// [`Scaling::Inverted`], `x * q` (with `q` rounded once to `f32`) under
    /// [`Scaling::Classic`]; Classic at rate 1 writes `+0.0`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `x.len() != y.len()`.
    pub fn inference(&self, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        check_len(x.len(), y.len())?;
        match self.inference_factor() {
            None => y.copy_from_slice(x),
            Some(0.0) => y.fill(0.0),
            Some(q) => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * q),
        }
        Ok(())
    }

    /// [`Dropout::inference`] in place (under Inverted it touches nothing).
    ///
    /// # Errors
    /// Never fails today; the `Result` keeps the API uniform.
    pub fn inference_in_place(&self, x: &mut [f32]) -> Result<(), Error> {
        match self.inference_factor() {
            None => {}
            Some(0.0) => x.fill(0.0),
            Some(q) => x.iter_mut().for_each(|v| *v *= q),
        }
        Ok(())
    }

    /// `None` for the identity, else the factor of Classic inference; `0.0`
    /// (rate 1) means "write `+0.0`", never `x * 0`, which would turn
    /// infinities into NaN.
    fn inference_factor(&self) -> Option<f32> {
        match (self.scaling, self.edge()) {
            (Scaling::Inverted, _) | (Scaling::Classic, Edge::KeepAll) => None,
            (Scaling::Classic, Edge::DropAll) => Some(0.0),
            (Scaling::Classic, Edge::Random) => Some(self.keep_prob() as f32),
        }
    }

    fn forward_impl(
        &self,
        stream: u64,
        offset: u64,
        data: Data<'_>,
        mask: Mask<'_>,
    ) -> Result<(), Error> {
        let n = match &data {
            Data::None(n) => *n,
            Data::Out(x, y) => {
                check_len(x.len(), y.len())?;
                x.len()
            }
            Data::InPlace(x) => x.len(),
        };
        match &mask {
            Mask::None => {}
            Mask::Bits(w) => check_mask(n, mask_words(n), w.len())?,
            Mask::Bytes(b) => check_mask(n, n, b.len())?,
        }
        check_offset(offset, n)?;
        if n == 0 {
            return Ok(());
        }
        match self.edge() {
            Edge::KeepAll | Edge::DropAll => {
                let keep = matches!(self.edge(), Edge::KeepAll);
                match data {
                    Data::Out(x, y) if keep => y.copy_from_slice(x),
                    Data::Out(_, y) | Data::InPlace(y) if !keep => y.fill(0.0),
                    _ => {}
                }
                match mask {
                    Mask::None => {}
                    Mask::Bits(w) => fill_bits(w, n, keep),
                    Mask::Bytes(b) => b[..n].fill(u8::from(keep)),
                }
            }
            Edge::Random => {
                let (src, dst) = match data {
                    Data::None(_) => (core::ptr::null(), core::ptr::null_mut()),
                    Data::Out(x, y) => (x.as_ptr(), y.as_mut_ptr()),
                    Data::InPlace(x) => {
                        // One mutable pointer serves both sides.
                        let p = x.as_mut_ptr();
                        (p.cast_const(), p)
                    }
                };
                let mask = match mask {
                    Mask::None => MaskOut::None,
                    Mask::Bits(w) => MaskOut::Bits(w.as_mut_ptr()),
                    Mask::Bytes(b) => MaskOut::Bytes(b.as_mut_ptr()),
                };
                // SAFETY: the slices behind `src`, `dst` and `mask` hold at
                // least `n` elements (checked above) and stay borrowed until
                // `drive` returns; `offset + n` does not overflow.
                unsafe { self.drive(stream, offset, n, Job { src, dst, mask }) };
            }
        }
        Ok(())
    }

    /// Whether a call of `n` elements runs on the calling thread only, and
    /// otherwise over how many threads.
    fn threads_for(&self, n: usize) -> Option<usize> {
        match self.threading {
            Threading::Sequential => return None,
            Threading::Auto if n < PARALLEL_MIN => return None,
            Threading::Auto | Threading::Parallel => {}
        }
        let threads = if rayon::current_thread_index().is_some() {
            rayon::current_num_threads()
        } else {
            cpus()
        };
        match self.threading {
            Threading::Auto if threads < 2 => None,
            _ => Some(threads),
        }
    }

    /// Runs the kernel over `n` elements, cut into pieces at block
    /// boundaries (rounded up to whole mask words for a bit mask) and spread
    /// over the rayon pool; every piece computes its own `(block, lane)`
    /// generators from its global index, so the split never shows in the
    /// output.
    ///
    /// # Safety
    /// `job`'s pointers are valid for `n` elements (`dst` null: mask only);
    /// `offset + n` does not overflow; `0 < rate < 1`.
    unsafe fn drive(&self, stream: u64, offset: u64, n: usize, job: Job) {
        let isa = self.isa();
        let p = Params {
            seed: self.seed,
            stream,
            threshold: self.threshold(),
            scale: self.scale(),
            pair_blocks: n <= PAIR_BLOCKS_MAX,
        };
        let run = |start: usize, len: usize| {
            // SAFETY: `isa` is available (`Isa::best` or checked by
            // `with_isa`); `split` hands out disjoint pieces inside the
            // call's `n` elements, for which `job` is valid.
            unsafe { isa::forward(isa, &p, offset + start as u64, len, job.at(start)) }
        };
        let align = if matches!(job.mask, MaskOut::Bits(_)) {
            64
        } else {
            1
        };
        self.split(offset, n, align, run);
    }

    /// Calls `run(start, len)` over pieces covering `0..n`: all at once on
    /// this thread below the threading threshold, else cut at block
    /// boundaries of the global index (`offset + start`), each moved up to a
    /// multiple of `align`, and spread over the rayon pool.
    fn split(&self, offset: u64, n: usize, align: usize, run: impl Fn(usize, usize) + Sync) {
        let Some(threads) = self.threads_for(n) else {
            run(0, n);
            return;
        };
        let to_block = (BLOCK - (offset % BLOCK as u64) as usize) % BLOCK;
        let head = to_block.next_multiple_of(align).min(n);
        let rest = n - head;
        let piece = rest
            .div_ceil(threads * 4)
            .next_multiple_of(BLOCK)
            .max(PIECE_MIN);
        let pieces = usize::from(head > 0) + rest.div_ceil(piece);
        (0..pieces).into_par_iter().for_each(|k| {
            let (start, len) = if head > 0 && k == 0 {
                (0, head)
            } else {
                let start = head + (k - usize::from(head > 0)) * piece;
                (start, piece.min(n - start))
            };
            run(start, len);
        });
    }

    /// Backward from a stored mask: `dx = mask ? src * s : +0.0` with `src`
    /// the gradient `dy`, or `dx` itself when `None` (in place). The caller
    /// has checked the lengths of `src` and `mask`.
    fn apply_impl(&self, mask: MaskIn, src: Option<&[f32]>, dx: &mut [f32]) -> Result<(), Error> {
        let n = dx.len();
        let dst = dx.as_mut_ptr();
        let src = src.map_or(dst.cast_const(), <[f32]>::as_ptr);
        match self.edge() {
            // SAFETY: `src` is valid for `n` reads (checked by the caller);
            // `copy` tolerates `src == dst`.
            Edge::KeepAll => unsafe { core::ptr::copy(src, dst, n) },
            Edge::DropAll => dx.fill(0.0),
            Edge::Random => {
                let (isa, s) = (self.isa(), self.scale());
                let job = Job {
                    src,
                    dst,
                    mask: match mask {
                        MaskIn::Bits(w) => MaskOut::Bits(w.cast_mut()),
                        MaskIn::Bytes(b) => MaskOut::Bytes(b.cast_mut()),
                    },
                };
                // Pieces start at multiples of 64 elements: whole mask words.
                self.split(0, n, 64, |start, len| {
                    // SAFETY: the ISA is available; `src`, `dx` and the mask
                    // cover `n` elements (checked by the caller), the pieces
                    // are disjoint, and the mask is only read.
                    unsafe {
                        let io = job.at(start);
                        if let Some(mask) = io.mask.as_input() {
                            isa::apply(isa, mask, io.src, io.dst, len, s)
                        }
                    }
                });
            }
        }
        Ok(())
    }
}
