//! The dropout operator's configuration: a validated rate, a seed, a
//! scaling mode, an ISA and a threading policy. The operations are in
//! `ops`; the rule they all follow is in `rule`.

use crate::isa::Isa;
pub use crate::rule::Scaling;
use crate::rule::{Edge, Rule};
use crate::Error;

/// Whether a call may use more than one thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Threading {
    /// One thread below [`Dropout::parallel_min`] elements, the rayon pool
    /// above when it has at least two threads (from outside a pool the
    /// calling thread works alongside the global pool).
    #[default]
    Auto,
    /// Always the calling thread only (for engines with their own threads).
    Sequential,
    /// Always split into pieces over the rayon pool, whatever the size
    /// (mostly for tests: it exercises the split on small inputs). Without
    /// the `rayon` feature, or where no thread can be started, calls stay
    /// on the calling thread.
    Parallel,
}

use crate::limits::PARALLEL_MIN;

/// A dropout operator: a validated rate, a seed and a scaling mode.
///
/// It is a small `Copy` value with no state: every call is a pure function of
/// `(seed, stream, offset + i, rate)`, so it can be shared freely between
/// threads. See the [crate docs](crate) for the contract.
///
/// ```
/// use dropkit::{Dropout, Scaling, Site};
/// let drop = Dropout::new(0.5)?.with_seed(7).with_scaling(Scaling::Inverted);
/// let x = [1.0f32; 8];
/// let mut y = [0.0f32; 8];
/// drop.at(Site::new(0)).forward(&x, &mut y)?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// # Ok::<(), dropkit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    rule: Rule,
    seed: u64,
    isa: Option<Isa>,
    threading: Threading,
    parallel_min: Option<usize>,
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
        Ok(Dropout {
            rule: Rule::new(rate, Scaling::Inverted),
            seed: 0,
            isa: None,
            threading: Threading::Auto,
            parallel_min: None,
        })
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

    /// Alpha dropout of rate `rate` (PyTorch `nn.AlphaDropout`, Keras
    /// `AlphaDropout`): `Dropout::new(rate)` with [`Scaling::Alpha`]. With a
    /// channel mask shape ([`crate::MaskShape::channels_first`]) it is PyTorch's
    /// `feature_alpha_dropout`.
    ///
    /// # Errors
    /// [`Error::InvalidRate`] unless `0 <= rate <= 1`.
    ///
    /// ```
    /// let d = dropkit::Dropout::alpha(0.5)?.with_seed(2);
    /// let x = [0.0f32; 64];
    /// let mut y = [9.0f32; 64];
    /// d.at(dropkit::Site::new(0)).forward(&x, &mut y)?;
    /// let (a, b, dropped) = d.alpha_affine().unwrap();
    /// // Kept: 0 * a + b; dropped: the dropped value. Both rounded once to f32.
    /// assert!(y.iter().all(|&v| v == b as f32 || v == dropped as f32));
    /// assert!((a - 0.8864).abs() < 1e-4); // a at rate 0.5
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn alpha(rate: f64) -> Result<Self, Error> {
        Ok(Dropout::new(rate)?.with_scaling(Scaling::Alpha))
    }

    /// Alpha dropout's affine in `f64`, `Some((a, b, dropped))`, under
    /// [`Scaling::Alpha`] (else `None`): with `ALPHA' = -1.7580993408473766`,
    /// `a = 1 / sqrt((1 - p)(1 + p ALPHA'^2))` (an IEEE square root and
    /// division, the same bits on every platform), `b = -(a ALPHA' p)`, kept
    /// elements become `x * a + b` and dropped ones `dropped = a ALPHA' + b`.
    /// `f32`, `f16` and `bf16` use `a` and `b` rounded once to `f32`, one
    /// multiply then one add (no FMA), one conversion for the half types;
    /// `f64` uses them as they are; `dropped` is rounded once from `f64` to
    /// the element type. At rate 1 `a` is infinite and the output is all
    /// `+0.0` (the dropped value's limit).
    pub fn alpha_affine(&self) -> Option<(f64, f64, f64)> {
        (self.scaling() == Scaling::Alpha).then(|| crate::rule::alpha_affine(self.rate()))
    }

    /// Sets the seed (one per model or run).
    pub fn with_seed(self, seed: u64) -> Self {
        Dropout { seed, ..self }
    }

    /// Sets the scaling mode.
    pub fn with_scaling(self, scaling: Scaling) -> Self {
        Dropout {
            rule: Rule::new(self.rule.rate(), scaling),
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
    ///
    /// ```
    /// use dropkit::{Dropout, Site, Threading};
    /// let x = vec![1.0f32; 1 << 19];
    /// let (mut a, mut b) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
    /// // An engine that owns its threads: never leave the calling thread.
    /// let seq = Dropout::new(0.1)?.with_threading(Threading::Sequential);
    /// seq.at(Site::new(0)).forward(&x, &mut a)?;
    /// // Or dropkit's split, run inside the engine's own rayon pool.
    /// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// let auto = seq.with_threading(Threading::Auto);
    /// pool.install(|| auto.at(Site::new(0)).forward(&x, &mut b))?;
    /// assert_eq!(a, b);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn with_threading(self, threading: Threading) -> Self {
        Dropout { threading, ..self }
    }

    /// Sets the size from which [`Threading::Auto`] uses the rayon pool
    /// (`None`: [`PARALLEL_MIN`] from outside a pool,
    /// [`crate::limits::PARALLEL_MIN_IN_POOL`] from inside one). The output bits do not
    /// change.
    ///
    /// ```
    /// use dropkit::Dropout;
    /// // An engine that measured its own crossover at 32Ki elements.
    /// let d = Dropout::new(0.1)?.with_parallel_min(Some(1 << 15));
    /// assert_eq!(d.parallel_min(), 1 << 15);
    /// # Ok::<(), dropkit::Error>(())
    /// ```
    pub fn with_parallel_min(self, parallel_min: Option<usize>) -> Self {
        Dropout {
            parallel_min,
            ..self
        }
    }

    /// The size from which a [`Threading::Auto`] call made here (inside a
    /// rayon pool or not) uses the pool.
    pub fn parallel_min(&self) -> usize {
        self.parallel_min.unwrap_or({
            #[cfg(feature = "rayon")]
            if rayon::current_thread_index().is_some() {
                crate::limits::PARALLEL_MIN_IN_POOL
            } else {
                PARALLEL_MIN
            }
            #[cfg(not(feature = "rayon"))]
            PARALLEL_MIN
        })
    }

    /// The drop rate `p`.
    pub fn rate(&self) -> f64 {
        self.rule.rate()
    }

    /// The keep probability `q = 1 - p`, computed in `f64`.
    pub fn keep_prob(&self) -> f64 {
        self.rule.keep_prob()
    }

    /// The factor of kept elements in training, in `f64`: `1 / q` under
    /// [`Scaling::Inverted`] (infinite at rate 1, where nothing is kept),
    /// `1.0` under [`Scaling::Classic`], alpha dropout's `a` under
    /// [`Scaling::Alpha`]. `f64` elements use it as it is;
    /// the others use it rounded once to `f32` ([`Dropout::scale`]).
    pub fn training_factor(&self) -> f64 {
        self.rule.training()
    }

    /// The training factor rounded once to `f32`: what `f32`, `f16` and
    /// `bf16` elements are multiplied by.
    pub fn scale(&self) -> f32 {
        self.rule.training() as f32
    }

    /// The keep threshold `T`: an element is kept iff its random word is
    /// below it. Meaningful for `0 < rate < 1`; 0 at rate 1 and `u32::MAX`
    /// at rate 0, where the generator is not run at all.
    pub fn threshold(&self) -> u32 {
        self.rule.threshold()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scaling mode.
    pub fn scaling(&self) -> Scaling {
        self.rule.scaling()
    }

    /// The implementation calls use: the forced one, or [`Isa::best`].
    pub fn isa(&self) -> Isa {
        self.isa.unwrap_or_else(Isa::best)
    }

    /// The threading policy.
    pub fn threading(&self) -> Threading {
        self.threading
    }

    /// The rate-0 operator with this one's ISA and threading, when it
    /// computes this one's inference (identity inference: every scaling
    /// but Classic); a rate-0 call keeps everything and copies bits.
    pub(crate) fn inference_as_rate_zero(&self) -> Option<Dropout> {
        match self.rule.inference() {
            crate::rule::Infer::Identity => Some(Dropout {
                rule: Rule::new(0.0, Scaling::Inverted),
                ..*self
            }),
            _ => None,
        }
    }

    pub(crate) fn rule(&self) -> &Rule {
        &self.rule
    }

    pub(crate) fn edge(&self) -> Edge {
        self.rule.edge()
    }
}
