//! Side-by-side comparisons, one module per component.
//!
//! Every module exposes `pub fn run(effort: Effort) -> Vec<Row>`, measuring the component and
//! its peers in one process, and `pub const NAME: &str`, the name `compare NAME` accepts.
//! [`ALL`] lists them in tour order.

use crate::measure::{Effort, Row};

pub mod async_pool;
pub mod cache;
pub mod map;
pub mod mmap;
pub mod monitor;
pub mod pool;
pub mod resource;
pub mod share;

/// A comparison: its name and the function that runs it.
pub type Comparison = (&'static str, fn(Effort) -> Vec<Row>);

/// Every comparison, in the order the tour runs them.
pub const ALL: &[Comparison] = &[
    (pool::NAME, pool::run),
    (cache::NAME, cache::run),
    (map::NAME, map::run),
    (share::NAME, share::run),
    (mmap::NAME, mmap::run),
    (resource::NAME, resource::run),
    (monitor::NAME, monitor::run),
];

/// The comparison called `name`, if there is one.
pub fn find(name: &str) -> Option<Comparison> {
    ALL.iter().copied().find(|(n, _)| *n == name)
}
