//! Measurement helpers and side-by-side comparisons behind `patinox-bench`.
//!
//! Each component has a module under [`compare`] whose `run(effort)` measures it and its peer
//! libraries in the same process and returns one [`Row`] per (operation, library).

pub mod compare;
pub mod measure;
pub mod report;
pub mod sim;
pub mod svg;
pub mod trace;
pub mod workload;
