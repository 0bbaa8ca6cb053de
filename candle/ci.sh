#!/usr/bin/env bash
# CI for dropkit-candle, run from the repository root: formatting, clippy
# (all targets, warnings denied; skipped with DROPKIT_SKIP_CLIPPY=1), the
# tests, and the digits training example (shortened), all in the test
# profile so that they share one build of candle. CARGO_TARGET_DIR, if
# set, is used as given.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
say() { printf '\n=== dropkit-candle: %s (at %ds)\n' "$*" $(($(date +%s) - start)); }

say "cargo fmt --check"
cargo fmt -p dropkit-candle -- --check

# The repository's CI sets DROPKIT_SKIP_CLIPPY=1: its workspace clippy has
# checked this crate already (here, alone, it resolves candle's features
# anew and takes 40 s more).
if [[ ${DROPKIT_SKIP_CLIPPY:-0} != 1 ]]; then
    say "cargo clippy --all-targets -D warnings"
    cargo clippy -p dropkit-candle --all-targets -- -D warnings
fi

say "cargo test"
cargo test -p dropkit-candle

say "digits training example (the README table)"
cargo run --profile test -p dropkit-candle --example digits

say "bench example, one short run (checks that it runs, not its figures)"
cargo run --profile test -p dropkit-candle --example bench -- --reps 1 --max 1M

say "done in $(($(date +%s) - start)) s"
