//! The one home of the keep rule and the factors: the threshold, the
//! training and inference factors, and the rate edges. Every entry point
//! asks [`Rule`]; nothing else computes them.

/// How the kept elements are scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scaling {
    /// Training multiplies kept elements by `1 / q`; inference is the
    /// identity. What PyTorch, TensorFlow and JAX do.
    #[default]
    Inverted,
    /// Training leaves kept elements as they are (multiplied by `1.0`);
    /// inference multiplies by `q`. The original paper's form.
    Classic,
    /// Alpha dropout for self-normalizing networks (PyTorch
    /// `alpha_dropout`): kept `x * a + b`, dropped `a * ALPHA' + b`, with
    /// `a` and `b` chosen so that mean 0 and variance 1 stay (see
    /// [`crate::Dropout::alpha_affine`]); inference is the identity and the
    /// backward pass multiplies kept gradients by `a`.
    Alpha,
}

/// The negative saturation value of SELU, `-lambda * alpha`, that alpha
/// dropout sets dropped elements to before its affine correction.
pub const ALPHA_PRIME: f64 = -1.7580993408473766;

/// The rate edges, which never run the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    /// Rate 0: everything kept, values untouched.
    KeepAll,
    /// Rate 1: everything dropped.
    DropAll,
    /// `0 < rate < 1`: element `g` kept iff `r(g) < threshold`.
    Random,
}

/// What inference does to each element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Infer {
    /// Nothing (Inverted, or Classic at rate 0).
    Identity,
    /// Writes `+0.0` (Classic at rate 1; never `x * 0`, which would turn
    /// infinities into NaN).
    Zero,
    /// Multiplies by this `f64` factor, rounded once to the element type's.
    Scale(f64),
}

/// A validated rate under a scaling mode, with everything derived from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rule {
    rate: f64,
    scaling: Scaling,
    edge: Edge,
    threshold: u32,
    training: f64,
}

impl Rule {
    /// The rule of a rate already checked to be in `[0, 1]`.
    pub(crate) fn new(rate: f64, scaling: Scaling) -> Rule {
        let rate = rate + 0.0; // -0.0 becomes +0.0
        let q = 1.0 - rate;
        let (edge, threshold) = if rate == 0.0 {
            (Edge::KeepAll, u32::MAX)
        } else if rate == 1.0 {
            (Edge::DropAll, 0)
        } else {
            // T = min(round(q * 2^32), 2^32 - 1). For rates up to 2^-54, q
            // rounds to 1.0 and T is 2^32 - 1: a word of 0xffffffff drops.
            let t = (q * 4294967296.0).round();
            let t = if t >= 4294967295.0 {
                u32::MAX
            } else {
                t as u32
            };
            (Edge::Random, t)
        };
        let training = match scaling {
            Scaling::Inverted => 1.0 / q,
            Scaling::Classic => 1.0,
            Scaling::Alpha => alpha_affine(rate).0,
        };
        Rule {
            rate,
            scaling,
            edge,
            threshold,
            training,
        }
    }

    /// The drop rate `p`.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The keep probability `q = 1 - p` in `f64`.
    pub(crate) fn keep_prob(&self) -> f64 {
        1.0 - self.rate
    }

    pub(crate) fn scaling(&self) -> Scaling {
        self.scaling
    }

    pub(crate) fn edge(&self) -> Edge {
        self.edge
    }

    /// Keep iff `r(g) < threshold` (meaningful for [`Edge::Random`]).
    pub(crate) fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The training factor of kept elements in `f64`: `1 / q` (infinite at
    /// rate 1, where nothing is kept) or `1.0`.
    pub(crate) fn training(&self) -> f64 {
        self.training
    }

    /// The inference transformation.
    pub(crate) fn inference(&self) -> Infer {
        match (self.scaling, self.edge) {
            (Scaling::Inverted | Scaling::Alpha, _) | (Scaling::Classic, Edge::KeepAll) => {
                Infer::Identity
            }
            (Scaling::Classic, Edge::DropAll) => Infer::Zero,
            (Scaling::Classic, Edge::Random) => Infer::Scale(self.keep_prob()),
        }
    }
}

/// Alpha dropout's affine at rate `p`, in `f64`: `(a, b, dropped)` with
/// `a = 1 / sqrt((1 - p)(1 + p ALPHA'^2))`, `b = -a ALPHA' p` and the dropped
/// value `a ALPHA' + b = ALPHA' a (1 - p)`. At `p = 1`, `a` is infinite and
/// the dropped value is `+0.0` (its limit).
pub(crate) fn alpha_affine(p: f64) -> (f64, f64, f64) {
    // `1 / sqrt`, not `powf(-0.5)`: IEEE square root and division round
    // the same on every platform, a libm `pow` need not.
    let a = 1.0 / ((1.0 - p) * (1.0 + p * ALPHA_PRIME * ALPHA_PRIME)).sqrt();
    let b = -a * ALPHA_PRIME * p;
    let dropped = if p == 1.0 {
        0.0
    } else {
        ALPHA_PRIME * a * (1.0 - p)
    };
    (a, b, dropped)
}
