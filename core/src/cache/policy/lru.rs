//! The LRU policy: one recency list; the least recently used entry is evicted first.

use super::Entry;
use crate::cache::slab::{List, Slab};

/// One recency list over the store's slab.
#[derive(Debug, Default)]
pub(crate) struct Lru {
    pub(super) list: List,
}

impl Lru {
    /// Links a new entry at the front.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's list is threaded through (the store's invariant), and
    /// `idx` is an occupied slot of it in no list.
    pub(crate) unsafe fn on_insert<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        // SAFETY: forwarded contract.
        unsafe { slab.push_front_unchecked(&mut self.list, idx) }
    }

    /// Moves a hit entry to the front.
    ///
    /// # Safety
    ///
    /// As [`on_insert`](Self::on_insert), with `idx` in the list.
    #[inline]
    pub(crate) unsafe fn on_hit<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        // SAFETY: forwarded contract.
        unsafe { slab.move_to_front_unchecked(&mut self.list, idx) }
    }

    /// Unlinks an entry about to be removed.
    ///
    /// # Safety
    ///
    /// As [`on_hit`](Self::on_hit).
    pub(crate) unsafe fn on_remove<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        // SAFETY: forwarded contract.
        unsafe { slab.unlink_unchecked(&mut self.list, idx) }
    }

    pub(crate) fn select_victim(&self) -> Option<u32> {
        self.list.tail()
    }

    pub(crate) fn clear(&mut self) {
        self.list = List::new();
    }
}
