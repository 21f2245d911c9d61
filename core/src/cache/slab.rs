//! A slab of entries linked into doubly linked lists by `u32` indices.
//!
//! Every cache in this module keeps its entries in one `Vec` and threads them into recency
//! lists through indices instead of pointers: no allocation per entry, no `unsafe`, and one
//! slab can hold several lists (the TinyLFU window, probation and protected segments).
//! Freed slots are chained into a free list and reused.

/// The "no entry" index.
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<T> {
    prev: u32,
    next: u32,
    /// `None` for a free slot; `next` then chains the free list.
    item: Option<T>,
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

/// Entries addressed by `u32` index, each linkable into one [`List`] at a time.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            slots: Vec::with_capacity(cap),
            free: NIL,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `item` in a free slot (unlinked) and returns its index.
    pub(crate) fn insert(&mut self, item: T) -> u32 {
        self.len += 1;
        if self.free != NIL {
            let idx = self.free;
            let slot = &mut self.slots[idx as usize];
            self.free = slot.next;
            slot.prev = NIL;
            slot.next = NIL;
            slot.item = Some(item);
            idx
        } else {
            let idx = self.slots.len() as u32;
            self.slots.push(Slot {
                prev: NIL,
                next: NIL,
                item: Some(item),
            });
            idx
        }
    }

    /// Frees slot `idx`, which must be occupied and already unlinked from its list.
    pub(crate) fn remove(&mut self, idx: u32) -> T {
        let slot = &mut self.slots[idx as usize];
        let item = slot.item.take();
        slot.prev = NIL;
        slot.next = self.free;
        self.free = idx;
        self.len -= 1;
        match item {
            Some(item) => item,
            None => unreachable!("slab slot {idx} freed twice"),
        }
    }

    #[inline]
    pub(crate) fn get(&self, idx: u32) -> &T {
        match &self.slots[idx as usize].item {
            Some(item) => item,
            None => unreachable!("slab slot {idx} is free"),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, idx: u32) -> &mut T {
        match &mut self.slots[idx as usize].item {
            Some(item) => item,
            None => unreachable!("slab slot {idx} is free"),
        }
    }

    /// Number of slots, free or not: valid indices are `0..slot_count()`.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The entry at `idx`, or `None` if the slot is free or out of range.
    pub(crate) fn try_get(&self, idx: u32) -> Option<&T> {
        self.slots.get(idx as usize).and_then(|s| s.item.as_ref())
    }

    /// Drops every entry and forgets every list (lists must be reset by their owners).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free = NIL;
        self.len = 0;
    }

    /// Releases memory of free slots at the end (after a shrink).
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.len == 0 {
            self.clear();
            self.slots.shrink_to_fit();
        }
    }

    /// Links `idx` at the front of `list`.
    #[inline]
    pub(crate) fn push_front(&mut self, list: &mut List, idx: u32) {
        let old_head = list.head;
        {
            let slot = &mut self.slots[idx as usize];
            slot.prev = NIL;
            slot.next = old_head;
        }
        if old_head != NIL {
            self.slots[old_head as usize].prev = idx;
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
            let slot = &self.slots[idx as usize];
            (slot.prev, slot.next)
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else {
            list.head = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else {
            list.tail = prev;
        }
        let slot = &mut self.slots[idx as usize];
        slot.prev = NIL;
        slot.next = NIL;
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

    /// The entry after `idx` (towards the back), if any.
    #[inline]
    pub(crate) fn next(&self, idx: u32) -> Option<u32> {
        let n = self.slots[idx as usize].next;
        (n != NIL).then_some(n)
    }

    /// The entry before `idx` (towards the front), if any.
    #[inline]
    pub(crate) fn prev(&self, idx: u32) -> Option<u32> {
        let p = self.slots[idx as usize].prev;
        (p != NIL).then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
