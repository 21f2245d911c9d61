//! The LRU policy: one recency list; the least recently used entry is evicted first.

use super::Entry;
use crate::cache::slab::{List, Slab};

/// One recency list over the store's slab.
#[derive(Debug, Default)]
pub(crate) struct Lru {
    pub(super) list: List,
}

impl Lru {
    pub(crate) fn on_insert<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        slab.push_front(&mut self.list, idx);
    }

    #[inline]
    pub(crate) fn on_hit<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        slab.move_to_front(&mut self.list, idx);
    }

    pub(crate) fn on_remove<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        slab.unlink(&mut self.list, idx);
    }

    pub(crate) fn select_victim(&self) -> Option<u32> {
        self.list.tail()
    }

    pub(crate) fn clear(&mut self) {
        self.list = List::new();
    }
}
