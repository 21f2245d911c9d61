//! loom models of patinox-memory.
//!
//! The models live in `tests/` and compile only with `RUSTFLAGS="--cfg loom"`, which also
//! switches the core's `sync` module to loom's primitives, so each model checks the real code:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p patinox-memory-loom --release
//! ```
