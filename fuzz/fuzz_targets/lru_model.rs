//! `LruCache` against a model: a `Vec` ordered from the most to the least recently used
//! entry. After every operation the cache and the model agree on the result, on the length,
//! and on the full recency order (`iter()` forwards and backwards).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use patinox_memory::cache::LruCache;

#[derive(Debug, Arbitrary)]
enum Op {
    Put(u8, u16),
    Push(u8, u16),
    Get(u8),
    GetMut(u8, u16),
    Peek(u8),
    Contains(u8),
    Pop(u8),
    PopLru,
    Resize(u8),
    Clear,
}

#[derive(Debug, Arbitrary)]
struct Input {
    capacity: u8,
    ops: Vec<Op>,
}

/// Keys from a small range so operations hit the same entries often.
fn key(k: u8) -> u8 {
    k % 24
}

/// The obviously correct LRU: index 0 is the most recent entry.
struct Model {
    cap: usize,
    entries: Vec<(u8, u16)>,
}

impl Model {
    fn position(&self, k: u8) -> Option<usize> {
        self.entries.iter().position(|(key, _)| *key == k)
    }

    fn touch(&mut self, i: usize) {
        let e = self.entries.remove(i);
        self.entries.insert(0, e);
    }

    /// What `push` returns: the old value of `k`, else the evicted least recent entry.
    fn push(&mut self, k: u8, v: u16) -> Option<(u8, u16)> {
        if self.cap == 0 {
            return Some((k, v));
        }
        if let Some(i) = self.position(k) {
            let old = std::mem::replace(&mut self.entries[i].1, v);
            self.touch(i);
            return Some((k, old));
        }
        let evicted = if self.entries.len() >= self.cap {
            self.entries.pop()
        } else {
            None
        };
        self.entries.insert(0, (k, v));
        evicted
    }

    fn get(&mut self, k: u8) -> Option<u16> {
        let i = self.position(k)?;
        self.touch(i);
        Some(self.entries[0].1)
    }
}

fuzz_target!(|input: Input| {
    let cap = usize::from(input.capacity % 20);
    let mut cache: LruCache<u8, u16> = LruCache::new(cap);
    let mut model = Model {
        cap,
        entries: Vec::new(),
    };
    for op in input.ops {
        match op {
            Op::Put(k, v) => {
                let k = key(k);
                let expected = match model.push(k, v) {
                    Some((old_k, old_v)) if old_k == k && model.cap > 0 => Some(old_v),
                    _ => None,
                };
                // A put of a key already present returns its old value; an eviction or a
                // zero capacity returns nothing.
                assert_eq!(cache.put(k, v), expected, "put({k}, {v})");
            }
            Op::Push(k, v) => {
                let k = key(k);
                assert_eq!(cache.push(k, v), model.push(k, v), "push({k}, {v})");
            }
            Op::Get(k) => {
                let k = key(k);
                assert_eq!(cache.get(&k).copied(), model.get(k), "get({k})");
            }
            Op::GetMut(k, v) => {
                let k = key(k);
                let expected = model.get(k);
                match cache.get_mut(&k) {
                    Some(slot) => {
                        assert_eq!(Some(*slot), expected, "get_mut({k})");
                        *slot = v;
                        model.entries[0].1 = v;
                    }
                    None => assert_eq!(expected, None, "get_mut({k})"),
                }
            }
            Op::Peek(k) => {
                let k = key(k);
                let expected = model.position(k).map(|i| model.entries[i].1);
                assert_eq!(cache.peek(&k).copied(), expected, "peek({k})");
            }
            Op::Contains(k) => {
                let k = key(k);
                assert_eq!(
                    cache.contains(&k),
                    model.position(k).is_some(),
                    "contains({k})"
                );
            }
            Op::Pop(k) => {
                let k = key(k);
                let expected = model.position(k).map(|i| model.entries.remove(i).1);
                assert_eq!(cache.pop(&k), expected, "pop({k})");
            }
            Op::PopLru => assert_eq!(cache.pop_lru(), model.entries.pop(), "pop_lru"),
            Op::Resize(n) => {
                let n = usize::from(n % 20);
                cache.resize(n);
                model.entries.truncate(n);
                model.cap = n;
            }
            Op::Clear => {
                cache.clear();
                model.entries.clear();
            }
        }
        assert_eq!(cache.len(), model.entries.len());
        assert_eq!(cache.is_empty(), model.entries.is_empty());
        assert_eq!(cache.cap(), model.cap);
        assert!(cache.len() <= cache.cap(), "over capacity");
        let order: Vec<(u8, u16)> = cache.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(order, model.entries, "recency order");
        let backwards: Vec<(u8, u16)> = cache.iter().rev().map(|(k, v)| (*k, *v)).collect();
        let mut reversed = model.entries.clone();
        reversed.reverse();
        assert_eq!(backwards, reversed, "reverse recency order");
        assert_eq!(cache.iter().len(), model.entries.len());
    }
});
