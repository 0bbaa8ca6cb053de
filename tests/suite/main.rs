//! The integration tests, as one binary: the kernels are instantiated and
//! linked once instead of once per file, which is most of the suite's build
//! time. Each file is a module; `cargo test --test suite -- shapes::` runs
//! one of them. Three tests stay in their own binaries: `alloc.rs` (it
//! installs a counting global allocator), `no_threads.rs` (it re-runs its
//! binary as a child with a capped address space) and `miri.rs` (the list
//! Miri runs).

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod determinism;
mod edges;
mod equivalence;
mod fused;
mod known_answers;
mod limits;
mod shapes;
mod statistics;
mod training;
mod types;
mod value_stability;
