//! Side-by-side comparisons, one module per component.
//!
//! Every module exposes `pub fn run(effort: Effort) -> Vec<Row>`, measuring the component and
//! its peers in one process, and `pub const NAME: &str`, the name `compare NAME` accepts.

pub mod cache;
pub mod monitor;
