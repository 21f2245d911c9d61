//! A slab of entries linked into doubly linked lists by `u32` indices.
//!
//! Every cache in this module keeps its entries in one slab and threads them into recency
//! lists through indices instead of pointers: no allocation per entry, no `unsafe`, and one
//! slab can hold several lists (the TinyLFU window, probation and protected segments).
//! Freed slots are chained into a free list and reused.
//!
//! Items and links live in two parallel arrays. A lookup reads only the item (key, value,
//! expiry, flags), and items are aligned to 32 bytes so that a small one (a `u64` key and
//! value) never straddles two cache lines; relinking reads only the 16-byte links, four to a
//! line. Each link also carries a small `meta` value the owner wants beside the links rather
//! than in the item (the cache store keeps the key's hash there: needed when an entry is
//! evicted or the table grows, not on a hit).

/// The "no entry" index.
pub(crate) const NIL: u32 = u32::MAX;

/// One item slot, aligned so that small items sit within one cache line.
#[derive(Debug)]
#[repr(align(32))]
struct Item<T>(Option<T>);

/// The links of one slot; `next` chains the free list when the slot is free.
#[derive(Debug, Clone, Copy)]
struct Link<M> {
    prev: u32,
    next: u32,
    meta: M,
}

/// The head, tail and length of one list threaded through a [`Slab`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        Self::new()
    }
}

impl List {
    pub(crate) const fn new() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }

    /// Most recently used entry (the front).
    pub(crate) fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Least recently used entry (the back).
    pub(crate) fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Entries addressed by `u32` index, each linkable into one [`List`] at a time, each with a
/// `meta` value of type `M` stored beside its links.
///
/// Laid out in order (`repr(C)`): the two arrays first, which the cache store's hits read
/// and, once the slab has stopped growing, nothing writes; then the free list and length,
/// which every insert and removal writes (see the store's layout).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Slab<T, M = ()> {
    items: Vec<Item<T>>,
    /// Same length as `items`.
    links: Vec<Link<M>>,
    free: u32,
    len: usize,
}

impl<T, M: Copy + Default> Default for Slab<T, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, M: Copy + Default> Slab<T, M> {
    pub(crate) const fn new() -> Self {
        Self {
            items: Vec::new(),
            links: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            items: Vec::with_capacity(cap),
            links: Vec::with_capacity(cap),
            free: NIL,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `item` in a free slot (unlinked) and returns its index.
    pub(crate) fn insert(&mut self, item: T) -> u32 {
        self.insert_with_meta(item, M::default())
    }

    /// Stores `item` with `meta` in a free slot (unlinked) and returns its index.
    #[inline]
    pub(crate) fn insert_with_meta(&mut self, item: T, meta: M) -> u32 {
        self.len += 1;
        let link = Link {
            prev: NIL,
            next: NIL,
            meta,
        };
        if self.free != NIL {
            let idx = self.free;
            let slot = &mut self.links[idx as usize];
            self.free = slot.next;
            *slot = link;
            self.items[idx as usize].0 = Some(item);
            idx
        } else {
            let idx = self.items.len() as u32;
            self.items.push(Item(Some(item)));
            self.links.push(link);
            idx
        }
    }

    /// Frees slot `idx`, which must be occupied and already unlinked from its list.
    pub(crate) fn remove(&mut self, idx: u32) -> T {
        let item = self.items[idx as usize].0.take();
        let link = &mut self.links[idx as usize];
        link.prev = NIL;
        link.next = self.free;
        self.free = idx;
        self.len -= 1;
        match item {
            Some(item) => item,
            None => unreachable!("slab slot {idx} freed twice"),
        }
    }

    #[inline]
    pub(crate) fn get(&self, idx: u32) -> &T {
        match &self.items[idx as usize].0 {
            Some(item) => item,
            None => unreachable!("slab slot {idx} is free"),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, idx: u32) -> &mut T {
        match &mut self.items[idx as usize].0 {
            Some(item) => item,
            None => unreachable!("slab slot {idx} is free"),
        }
    }

    /// The `meta` value stored with slot `idx`.
    #[cfg(test)]
    pub(crate) fn meta(&self, idx: u32) -> M {
        self.links[idx as usize].meta
    }

    /// Number of slots, free or not: valid indices are `0..slot_count()`.
    pub(crate) fn slot_count(&self) -> usize {
        self.items.len()
    }

    /// The entry at `idx`, or `None` if the slot is free or out of range.
    pub(crate) fn try_get(&self, idx: u32) -> Option<&T> {
        self.items.get(idx as usize).and_then(|s| s.0.as_ref())
    }

    /// Drops every entry and forgets every list (lists must be reset by their owners).
    /// Calls `f` on every stored item.
    pub(crate) fn for_each_mut(&mut self, f: impl FnMut(&mut T)) {
        self.items
            .iter_mut()
            .filter_map(|item| item.0.as_mut())
            .for_each(f);
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.links.clear();
        self.free = NIL;
        self.len = 0;
    }

    /// Releases memory of free slots at the end (after a shrink).
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.len == 0 {
            self.clear();
            self.items.shrink_to_fit();
            self.links.shrink_to_fit();
        }
    }

    /// Links `idx` at the front of `list`.
    #[inline]
    pub(crate) fn push_front(&mut self, list: &mut List, idx: u32) {
        let old_head = list.head;
        {
            let link = &mut self.links[idx as usize];
            link.prev = NIL;
            link.next = old_head;
        }
        if old_head != NIL {
            self.links[old_head as usize].prev = idx;
        } else {
            list.tail = idx;
        }
        list.head = idx;
        list.len += 1;
    }

    /// Unlinks `idx`, which must be in `list`.
    #[inline]
    pub(crate) fn unlink(&mut self, list: &mut List, idx: u32) {
        let (prev, next) = {
            let link = &self.links[idx as usize];
            (link.prev, link.next)
        };
        if prev != NIL {
            self.links[prev as usize].next = next;
        } else {
            list.head = next;
        }
        if next != NIL {
            self.links[next as usize].prev = prev;
        } else {
            list.tail = prev;
        }
        let link = &mut self.links[idx as usize];
        link.prev = NIL;
        link.next = NIL;
        list.len -= 1;
    }

    /// Moves `idx` (in `list`) to the front of `list`.
    #[inline]
    pub(crate) fn move_to_front(&mut self, list: &mut List, idx: u32) {
        if list.head != idx {
            self.unlink(list, idx);
            self.push_front(list, idx);
        }
    }

    /// Asks the CPU to start loading the item and links of slot `idx` into cache, for an
    /// access a little later (a hint: nothing is read, any `idx` is harmless).
    #[inline(always)]
    pub(crate) fn prefetch(&self, idx: u32) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let item = self.items.as_ptr().wrapping_add(idx as usize).cast::<i8>();
            let link = self.links.as_ptr().wrapping_add(idx as usize).cast::<i8>();
            // SAFETY: SSE is part of every x86_64 target, and a prefetch reads nothing: it
            // never faults and has no effect on memory, whatever the address.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(item);
                _mm_prefetch::<_MM_HINT_T0>(link);
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let _ = idx;
    }

    // Unchecked access for the cache store's hot paths. Each of these requires, as its
    // safety contract: `idx` is an occupied slot of this slab, and `list` (where taken) is a
    // list threaded through this slab only by these methods or their checked twins, so
    // every index in it (head, tail, and the links of its entries) is an occupied slot of
    // this slab too; `unlink` and `move_to_front` also require `idx` to be in `list`. The
    // links of a slot in a list name only NIL or slots of the same list, so following them
    // stays in bounds. Debug builds check all of it.

    /// The item at `idx` without bounds or occupancy check.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot (see the contract above).
    #[inline(always)]
    pub(crate) unsafe fn get_unchecked(&self, idx: u32) -> &T {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: the caller guarantees `idx < items.len()` and that the slot holds an item.
        unsafe {
            self.items
                .get_unchecked(idx as usize)
                .0
                .as_ref()
                .unwrap_unchecked()
        }
    }

    /// The item at `idx`, mutably, without bounds or occupancy check.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot (see the contract above).
    #[inline(always)]
    pub(crate) unsafe fn get_unchecked_mut(&mut self, idx: u32) -> &mut T {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: the caller guarantees `idx < items.len()` and that the slot holds an item.
        unsafe {
            self.items
                .get_unchecked_mut(idx as usize)
                .0
                .as_mut()
                .unwrap_unchecked()
        }
    }

    /// The links of slot `idx` without bounds check.
    ///
    /// # Safety
    ///
    /// `idx < links.len()` (true of every occupied slot: both arrays have the same length).
    #[inline(always)]
    unsafe fn link(&self, idx: u32) -> &Link<M> {
        debug_assert!((idx as usize) < self.links.len());
        // SAFETY: guaranteed by the caller.
        unsafe { self.links.get_unchecked(idx as usize) }
    }

    /// See [`link`](Self::link).
    ///
    /// # Safety
    ///
    /// `idx < links.len()`.
    #[inline(always)]
    unsafe fn link_mut(&mut self, idx: u32) -> &mut Link<M> {
        debug_assert!((idx as usize) < self.links.len());
        // SAFETY: guaranteed by the caller.
        unsafe { self.links.get_unchecked_mut(idx as usize) }
    }

    /// The `meta` value of slot `idx` without bounds check.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot (see the contract above).
    #[inline(always)]
    pub(crate) unsafe fn meta_unchecked(&self, idx: u32) -> M {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: an occupied slot is in bounds of `links`.
        unsafe { self.link(idx).meta }
    }

    /// [`remove`](Self::remove) without bounds or occupancy check.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot, already unlinked from its list.
    #[inline(always)]
    pub(crate) unsafe fn remove_unchecked(&mut self, idx: u32) -> T {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: `idx` is occupied, so in bounds of both arrays and holding an item.
        let item = unsafe {
            self.items
                .get_unchecked_mut(idx as usize)
                .0
                .take()
                .unwrap_unchecked()
        };
        let free = self.free;
        // SAFETY: as above.
        let link = unsafe { self.link_mut(idx) };
        link.prev = NIL;
        link.next = free;
        self.free = idx;
        self.len -= 1;
        item
    }

    /// [`push_front`](Self::push_front) without bounds checks.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot not in any list, and `list` follows the contract above.
    #[inline(always)]
    pub(crate) unsafe fn push_front_unchecked(&mut self, list: &mut List, idx: u32) {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        let old_head = list.head;
        // SAFETY: `idx` is occupied, so in bounds.
        let link = unsafe { self.link_mut(idx) };
        link.prev = NIL;
        link.next = old_head;
        if old_head != NIL {
            // SAFETY: the head of a list of this slab is an occupied slot.
            unsafe { self.link_mut(old_head).prev = idx };
        } else {
            list.tail = idx;
        }
        list.head = idx;
        list.len += 1;
    }

    /// Links `idx` into `list` just before `at` (towards the front), or at the back if `at` is
    /// NIL.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot not in any list, `at` is NIL or an occupied slot in `list`,
    /// and `list` follows the contract above.
    #[inline(always)]
    pub(crate) unsafe fn insert_before_unchecked(&mut self, list: &mut List, at: u32, idx: u32) {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        let prev = if at == NIL {
            list.tail
        } else {
            // SAFETY: `at` is an occupied slot.
            unsafe { self.link(at).prev }
        };
        // SAFETY: `idx` is occupied, so in bounds.
        let link = unsafe { self.link_mut(idx) };
        link.prev = prev;
        link.next = at;
        if prev != NIL {
            // SAFETY: a neighbour (or the tail) in a list of this slab is an occupied slot.
            unsafe { self.link_mut(prev).next = idx };
        } else {
            list.head = idx;
        }
        if at != NIL {
            // SAFETY: as above.
            unsafe { self.link_mut(at).prev = idx };
        } else {
            list.tail = idx;
        }
        list.len += 1;
    }

    /// [`unlink`](Self::unlink) without bounds checks.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot in `list`, and `list` follows the contract above.
    #[inline(always)]
    pub(crate) unsafe fn unlink_unchecked(&mut self, list: &mut List, idx: u32) {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: `idx` is occupied, so in bounds.
        let (prev, next) = unsafe {
            let link = self.link(idx);
            (link.prev, link.next)
        };
        if prev != NIL {
            // SAFETY: a neighbour in a list of this slab is an occupied slot.
            unsafe { self.link_mut(prev).next = next };
        } else {
            list.head = next;
        }
        if next != NIL {
            // SAFETY: as above.
            unsafe { self.link_mut(next).prev = prev };
        } else {
            list.tail = prev;
        }
        // SAFETY: `idx` is in bounds.
        let link = unsafe { self.link_mut(idx) };
        link.prev = NIL;
        link.next = NIL;
        list.len -= 1;
    }

    /// [`move_to_front`](Self::move_to_front) without bounds checks.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot in `list`, and `list` follows the contract above.
    #[inline(always)]
    pub(crate) unsafe fn move_to_front_unchecked(&mut self, list: &mut List, idx: u32) {
        if list.head != idx {
            // SAFETY: forwarded from the caller.
            unsafe {
                self.unlink_unchecked(list, idx);
                self.push_front_unchecked(list, idx);
            }
        }
    }

    /// [`prev`](Self::prev) without bounds check.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot.
    #[inline(always)]
    pub(crate) unsafe fn prev_unchecked(&self, idx: u32) -> Option<u32> {
        debug_assert!(
            self.try_get(idx).is_some(),
            "slab slot {idx} is not occupied"
        );
        // SAFETY: `idx` is in bounds.
        let p = unsafe { self.link(idx).prev };
        (p != NIL).then_some(p)
    }

    /// The entry after `idx` (towards the back), if any.
    #[inline]
    pub(crate) fn next(&self, idx: u32) -> Option<u32> {
        let n = self.links[idx as usize].next;
        (n != NIL).then_some(n)
    }

    /// The entry before `idx` (towards the front), if any.
    #[inline]
    pub(crate) fn prev(&self, idx: u32) -> Option<u32> {
        let p = self.links[idx as usize].prev;
        (p != NIL).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_items_do_not_straddle_cache_lines() {
        assert_eq!(std::mem::size_of::<Item<(u64, u64)>>(), 32);
        assert_eq!(std::mem::align_of::<Item<(u64, u64)>>(), 32);
        assert_eq!(std::mem::size_of::<Link<u64>>(), 16);
    }

    #[test]
    fn meta_is_kept_per_slot_and_reset_on_reuse() {
        let mut slab: Slab<u32, u64> = Slab::new();
        let a = slab.insert_with_meta(1, 10);
        let b = slab.insert_with_meta(2, 20);
        assert_eq!((slab.meta(a), slab.meta(b)), (10, 20));
        assert_eq!(slab.remove(a), 1);
        let c = slab.insert_with_meta(3, 30);
        assert_eq!(c, a);
        assert_eq!((slab.meta(c), slab.meta(b)), (30, 20));
    }

    fn collect(slab: &Slab<u32>, list: &List) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.head();
        while let Some(i) = cur {
            out.push(*slab.get(i));
            cur = slab.next(i);
        }
        out
    }

    #[test]
    fn lists_share_one_slab_and_reuse_free_slots() {
        let mut slab = Slab::new();
        let (mut a, mut b) = (List::new(), List::new());
        let i1 = slab.insert(1);
        let i2 = slab.insert(2);
        let i3 = slab.insert(3);
        slab.push_front(&mut a, i1);
        slab.push_front(&mut a, i2);
        slab.push_front(&mut b, i3);
        assert_eq!(collect(&slab, &a), vec![2, 1]);
        slab.move_to_front(&mut a, i1);
        assert_eq!(collect(&slab, &a), vec![1, 2]);
        slab.unlink(&mut a, i2);
        assert_eq!(slab.remove(i2), 2);
        let i4 = slab.insert(4);
        assert_eq!(i4, i2, "freed slot is reused");
        slab.push_front(&mut b, i4);
        assert_eq!(collect(&slab, &b), vec![4, 3]);
        assert_eq!((a.len(), b.len(), slab.len()), (1, 2, 3));
        assert_eq!(slab.prev(i3), Some(i4));
    }
}
