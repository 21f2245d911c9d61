//! Integration tests of the sharing types: ShardedMap against HashMap on random operations,
//! concurrent inserts, copy-on-write without needless clones, and the snapshot cell under
//! concurrent stores.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use patinox_memory::mmap::{MapOptions, MappedFile, MappedFileMut, MmapError};
use patinox_memory::share::{
    CowData, ShardedMap, SharedData, SharedMap, SharedMutableData, Snapshot,
};
use proptest::prelude::*;

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SharedData<Vec<u8>>>();
    send_sync::<CowData<Vec<u8>>>();
    send_sync::<SharedMutableData<Vec<u8>>>();
    send_sync::<Snapshot<String>>();
    send_sync::<ShardedMap<String, Vec<u8>>>();
    send_sync::<SharedMap<u64, String>>();
    send_sync::<MappedFile>();
    send_sync::<MappedFileMut>();
    send_sync::<MapOptions>();
    send_sync::<MmapError>();
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u32),
    Remove(u8),
    Get(u8),
    Update(u8, Option<u32>),
    WithMut(u8, u32),
    GetOrInsert(u8, u32),
    RetainEven,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Small key space so operations hit existing keys often.
    let key = 0u8..32;
    prop_oneof![
        6 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => key.clone().prop_map(Op::Remove),
        4 => key.clone().prop_map(Op::Get),
        2 => (key.clone(), proptest::option::of(any::<u32>())).prop_map(|(k, v)| Op::Update(k, v)),
        2 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::WithMut(k, v)),
        2 => (key, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        1 => Just(Op::RetainEven),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sharded_map_behaves_like_hashmap(shards in 0usize..9, ops in proptest::collection::vec(op(), 1..200)) {
        let map = ShardedMap::with_shards(shards);
        let mut model: HashMap<u8, u32> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
                Op::Get(k) => {
                    prop_assert_eq!(map.get_cloned(&k), model.get(&k).copied());
                    prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
                    prop_assert_eq!(map.get(&k).map(|g| *g), model.get(&k).copied());
                }
                Op::Update(k, new) => {
                    let before = map.update(k, |slot| std::mem::replace(slot, new));
                    let expected = match new {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                    prop_assert_eq!(before, expected);
                }
                Op::WithMut(k, add) => {
                    let got = map.with_mut(&k, |v| {
                        *v = v.wrapping_add(add);
                        *v
                    });
                    let expected = model.get_mut(&k).map(|v| {
                        *v = v.wrapping_add(add);
                        *v
                    });
                    prop_assert_eq!(got, expected);
                }
                Op::GetOrInsert(k, v) => {
                    prop_assert_eq!(map.get_or_insert_with(k, || v), *model.entry(k).or_insert(v));
                }
                Op::RetainEven => {
                    map.retain(|_, v| *v % 2 == 0);
                    model.retain(|_, v| *v % 2 == 0);
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(map.len(), model.len());
            prop_assert_eq!(map.is_empty(), model.is_empty());
        }
        let mut ours: Vec<(u8, u32)> = map.iter_cloned().collect();
        ours.sort_unstable();
        let mut theirs: Vec<(u8, u32)> = model.into_iter().collect();
        theirs.sort_unstable();
        prop_assert_eq!(&ours, &theirs);
        let mut visited = Vec::new();
        map.for_each(|k, v| visited.push((*k, *v)));
        visited.sort_unstable();
        prop_assert_eq!(visited, theirs);
    }
}

#[test]
fn concurrent_inserts_from_several_threads_all_land() {
    let map: SharedMap<(usize, usize), usize> = Arc::new(ShardedMap::with_shards(8));
    let threads = 4;
    let per_thread = 5_000;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let map = Arc::clone(&map);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    assert_eq!(map.insert((t, i), i), None);
                    // Shared counter key: every thread bumps it under the shard lock.
                    map.update((usize::MAX, 0), |slot| *slot.get_or_insert(0) += 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(map.len(), threads * per_thread + 1);
    assert_eq!(map.get_cloned(&(usize::MAX, 0)), Some(threads * per_thread));
    for t in 0..threads {
        for i in (0..per_thread).step_by(97) {
            assert_eq!(map.get_cloned(&(t, i)), Some(i));
        }
    }
}

#[test]
fn concurrent_readers_and_writers_keep_the_map_consistent() {
    let map: SharedMap<u32, u32> = Arc::new(ShardedMap::with_shards(4));
    for k in 0..256 {
        map.insert(k, k);
    }
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let map = Arc::clone(&map);
            std::thread::spawn(move || {
                for round in 0..2_000u32 {
                    let k = round % 256;
                    map.with_mut(&k, |v| *v = k); // same value: readers must always see k
                    if round % 7 == 0 {
                        map.remove(&(1_000 + round));
                        map.insert(1_000 + round, 0);
                    }
                }
            })
        })
        .collect();
    let reader = {
        let map = Arc::clone(&map);
        std::thread::spawn(move || {
            for round in 0..4_000u32 {
                let k = round % 256;
                assert_eq!(map.get_cloned(&k), Some(k));
                // Iteration snapshots one shard at a time and may call the map in the loop.
                if round % 500 == 0 {
                    for (k, v) in map.iter_cloned().take(10) {
                        let _ = map.contains_key(&k);
                        assert!(k >= 1_000 || v == k);
                    }
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    for k in 0..256 {
        assert_eq!(map.get_cloned(&k), Some(k));
    }
}

static CLONES: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, PartialEq)]
struct CountsClones(Vec<u32>);

impl Clone for CountsClones {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, Ordering::SeqCst);
        CountsClones(self.0.clone())
    }
}

#[test]
fn cow_data_does_not_clone_an_unshared_value() {
    let mut data = CowData::new(CountsClones(vec![1]));
    for i in 0..100 {
        data.modify(|v| v.0.push(i));
    }
    data.make_mut().0.push(1000);
    assert_eq!(CLONES.load(Ordering::SeqCst), 0);

    let reader = data.clone();
    let handle = std::thread::spawn(move || reader.0.len());
    assert_eq!(handle.join().unwrap(), 102);
    // The clone went away with the thread: still unshared, still no copy.
    data.modify(|v| v.0.clear());
    assert_eq!(CLONES.load(Ordering::SeqCst), 0);

    let keep = data.clone();
    data.modify(|v| v.0.push(1));
    assert_eq!(CLONES.load(Ordering::SeqCst), 1);
    assert_eq!(keep.get(), &CountsClones(vec![]));
    assert_eq!(data.get(), &CountsClones(vec![1]));
}

#[test]
fn snapshot_loads_see_every_store_in_order_across_threads() {
    let cell = Arc::new(Snapshot::new(0u64));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                let mut last = 0;
                while last < 1_000 {
                    let now = *cell.load();
                    assert!(now >= last, "a load went back from {last} to {now}");
                    last = now;
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for i in 1..=1_000 {
        cell.store(i);
    }
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn shared_mutable_data_serializes_writers() {
    let data = SharedMutableData::new(0u64);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let data = data.clone();
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    data.modify(|v| *v += 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*data.read(), 4_000);
}
