//! Every internal size constant of the crate, in one place.
//!
//! None of them changes an output bit: the mask depends only on
//! `(seed, stream, offset + i)`. They decide how a call is cut into blocks,
//! windows, chunks and thread pieces, which is where a wrong edge case
//! would hide, so the test suite (`tests/suite/limits.rs`) runs every shaped,
//! fused and elementwise entry point at sizes and offsets on both sides of
//! each of them, and the fuzz targets draw sizes past the largest.
//!
//! The kernels' own unroll factors (`UNROLL` steps of [`LANES`] elements:
//! 32 or 64) stay local to each generator; every length up to a few blocks
//! is tested against the oracle, which crosses them.
//!
//! ```
//! use dropkit::limits;
//! assert_eq!(limits::WINDOW % limits::BLOCK, 0);
//! assert!(limits::PARALLEL_MIN_IN_POOL <= limits::PARALLEL_MIN);
//! ```

/// Elements per generator block: each block has its own 16 lane
/// generators, and thread pieces start at block boundaries of the global
/// index.
pub const BLOCK: usize = 4096;

/// Lanes per generator step: 16 consecutive elements are one step of all
/// lanes.
pub const LANES: usize = 16;

/// The largest rank a view may have.
pub const MAX_RANK: usize = 8;

/// Bits of mask a shaped call generates at once (8 KiB on the stack): a
/// mask that repeats (channels last, locked) is generated once per window.
/// Windows start at block boundaries of the global index, so a window edge
/// can fall anywhere inside a mask run.
pub const WINDOW: usize = 1 << 16;

/// Bits of a periodic row's repeated mask run (channels last with short
/// rows): at most this many, a whole number of 64-bit words.
pub const REPEAT: usize = 4096;

/// The most bits the pattern of a periodic row may need before it repeats
/// in whole words (`lcm(period, 64)`): longer periods are not folded.
pub const PERIOD_BITS_MAX: usize = 1024;

/// Below this many elements a [`crate::Threading::Auto`] call made from
/// outside any rayon pool stays on the calling thread (the default of
/// [`crate::Dropout::with_parallel_min`]), and above it only when the pool
/// it would go to has at least two threads.
///
/// Chosen from the threading table of `cargo run --release --example report
/// -- --threads` (Auto against Sequential, interleaved, on two cores of a
/// Zen 5 under KVM): from outside a pool the caller starts at once, but it
/// must wait for the pool's sleeping workers to wake and check in, tens of
/// microseconds there; at 256Ki and 512Ki elements Auto was up to 1.24x
/// Sequential with a 2-thread global pool, from 2Mi it won (0.52-0.58x).
pub const PARALLEL_MIN: usize = 1 << 21;

/// The same threshold for a call made from inside a rayon pool (the caller
/// is a worker, the others are awake or cheap to wake): in the same table
/// two threads won from 128Ki elements (0.56-0.98x) and were even at 64Ki
/// (0.74-1.09x).
pub const PARALLEL_MIN_IN_POOL: usize = 1 << 17;

/// Smallest piece handed to one rayon task (a multiple of [`BLOCK`]).
pub const PIECE_MIN: usize = 1 << 15;

/// Calls of at most this many elements may run blocks in pairs (AVX-512).
/// On a Zen 4 core, one thread, pairs gave 8.0 elements/ns against 7.5 at
/// 1Mi elements (in L3) but 2.9 against 4.1 at 4Mi (from DRAM).
pub const PAIR_BLOCKS_MAX: usize = 1 << 20;

/// The fused backward's `dbias` sums rows in chunks of about this many
/// elements: `max(1, DBIAS_CHUNK_ELEMENTS / features)` rows, raised to a
/// multiple of 64 rows unless the chunk is already a whole number of mask
/// words (the chunk sums are added in chunk order, so the bits never
/// depend on the thread count).
pub const DBIAS_CHUNK_ELEMENTS: usize = 1 << 15;

/// Inside a chunk, the fused backward computes `dx` in passes of
/// `max(1, DBIAS_PASS_ELEMENTS / features)` rows, raised to a multiple of
/// 64 rows unless already a whole number of 64-element mask words (as the
/// chunk is; so where those rows do not fill whole mask words a pass is 64
/// rows, and there are no passes where that is the chunk), and adds each
/// pass to the chunk's sums while it is still in the first-level cache. Each column is still summed in row order, so
/// the bits do not depend on it.
pub const DBIAS_PASS_ELEMENTS: usize = 1 << 12;

/// Chunks are cut into passes only where a pass holds at least this many
/// rows: every pass loads and stores the chunk's column sums, and the sums
/// of a wide row (8 bytes per column) can cost more than the pass saves
/// (on a Sapphire Rapids, rows of 4096 in passes of one row measured up to
/// 2.9x the time of the mask-free backward, whole chunks up to 2.0x).
pub const DBIAS_PASS_MIN_ROWS: usize = 4;

/// The fused backward sums `dbias` over strips of this many columns at a
/// time, each strip down all the rows of a chunk in registers, then the
/// narrower last strip (each column still in row order: the bits do not
/// depend on it). 32 `f64` sums fill four 512-bit registers.
pub const DBIAS_SUM_STRIP: usize = 32;

/// Columns [`crate::mc_mean_var`] accumulates at once (on the stack).
pub const MC_COLUMNS: usize = 256;
