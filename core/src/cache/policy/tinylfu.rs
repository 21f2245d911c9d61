//! W-TinyLFU: a small LRU window in front of a segmented LRU main space, with a frequency
//! sketch deciding which of two entries the main space keeps, and hill climbing of the window
//! size.
//!
//! New entries enter the window. When the window is over its share, its least recent entries
//! move to the probation segment as *candidates*. When the cache is over capacity, the oldest
//! candidate is compared with the *victim* (the least recent probation entry): the one the
//! sketch says was requested more often stays. An entry hit in probation moves to the
//! protected segment (75 % of the main space); protected overflow is demoted back to probation.
//!
//! Deferred promotion: a hit only sets the entry's `referenced` flag (and counts the key in the
//! sketch on the first hit since the flag was last cleared). Lists are reordered when a
//! referenced entry reaches the tail of its list: the window and protected tails get a second
//! chance at the front of their list, a probation tail is promoted to protected. The hit path
//! therefore writes nothing but the entry it already read; relinking touched two random
//! neighbours' cache lines, which the shard's unlock then had to wait for. The order within a
//! segment becomes CLOCK-like instead of exact LRU, which on the shared traces raised the
//! average hit ratio. Repeats of a key between two visits are not counted in the sketch, so a
//! burst of recent requests does not inflate its frequency.
//!
//! Estimates without reading counters: each entry keeps a *stamp*, its key's estimate when it
//! was stored (taken from the miss that usually precedes the insert) or last counted on a hit.
//! A duel's candidate is a window entry stored or counted a short while ago, so its stamp is
//! what the sketch would say unless another key's increments met all of its counters in the
//! meantime; the duel uses it and reads no counters for the candidate. A stamp taken before
//! the sketch's last aging is not used. The victim's estimate is read from the sketch, once
//! per victim: the victim usually faces many candidates in a row (most lose), and only a hit
//! changes its own count (which then forgets the remembered estimate, and promotes it at the
//! next round anyway). On the Zipf benchmark this took 258 instructions per operation to 240,
//! with fewer cache misses; of the hit-ratio test's replays of the shared traces, two moved
//! (arc-P3 with one shard: -0.12 points at 7625 entries, +0.02 at 38127).
//!
//! The window makes the policy behave like LRU on recency-heavy workloads (new entries get a
//! chance to be hit again), the sketch makes it resist scans on frequency-heavy ones. Which of
//! the two matters more depends on the workload, so the window's share is tuned online: every
//! `max(1.5 × capacity, 2000)` requests the hit rate of the last sample is compared with the
//! previous one, and the window keeps growing or shrinking in the direction that improved it,
//! with a step that decays (and restarts when the hit rate jumps by half).
//!
//! Hit-rate differences between consecutive samples mostly reflect the workload's own phases
//! on real traces, not the window's effect; the sample length, decay and restart threshold are
//! chosen so the climber settles instead of chasing them (see the constants).

use super::{Entry, PROBATION, PROTECTED, WINDOW};
use crate::cache::sketch::{FrequencySketch, STALE_AGE};
use crate::cache::slab::{List, NIL, Slab};

/// Initial share of the window, in percent of the capacity.
const WINDOW_PERCENT: u64 = 1;
/// Share of the main space that is protected, in percent. 75 rather than Caffeine's 80: with
/// the climber below, a slightly larger probation segment gives new admissions longer to prove
/// themselves (arc-P3 at 152 508: +0.5 point), and the shared traces' average rose.
const PROTECTED_PERCENT: u64 = 75;
/// Hill climbing: initial and restart step, in percent of the capacity. 4 rather than 6.25:
/// tuned on the shared traces and the built-in Zipf-with-scans workload together (with the
/// sketch's shorter aging period); larger steps overshoot on the small LIRS caches.
const STEP_PERCENT: f64 = 4.0;
/// Hill climbing: each step is this fraction of the previous one. 0.96 (was 0.98) settles
/// the window sooner, so phase changes late in a trace move it less.
const STEP_DECAY: f64 = 0.96;
/// Hill climbing: a hit-rate change at least this large restarts with a full step. Real
/// traces change phase often, and a low threshold makes the climber chase phases instead of
/// its own effect. 0.5 (was 0.25): on arc-P3 the hit rate of one sample to the next often
/// swings by 0.25 or more with the trace's phases (0.05 to 0.54 at one step), and each such
/// restart threw the window far from where it had settled.
const RESTART_THRESHOLD: f64 = 0.5;
/// Hill climbing: requests per sample are
/// `max(capacity × CLIMB_SAMPLE_NUM / CLIMB_SAMPLE_DEN, CLIMB_SAMPLE_FLOOR)`.
/// Samples of 1.5 × capacity (was 1 ×) average out more of the workload's own noise.
const CLIMB_SAMPLE_NUM: u64 = 3;
/// See [`CLIMB_SAMPLE_NUM`].
const CLIMB_SAMPLE_DEN: u64 = 2;
/// Hill climbing: the least number of requests per sample.
const CLIMB_SAMPLE_FLOOR: u64 = 2000;

/// The policy's state, laid out by how often it is touched (`repr(C)`, aligned to a cache
/// line). With a shard per few thousand entries, a cache has dozens of these, and with one
/// thread each is visited only every few dozen operations, long enough for its lines to have
/// left the L1 cache: every line an operation touches here is a likely cache miss. So:
/// - the first line holds all a hit reads (the sketch, for its prefetch and the first hit's
///   count, and when the climber's sample ends) and the eviction round's candidate;
/// - the second the three lists and the two segment weights, which inserts update;
/// - the third what inserts read besides (the segments' bounds, the remembered miss and
///   victim estimates);
/// - the rest is read only when a sample ends.
///
/// On the Zipf benchmark (1 thread, 32 shards), callgrind's simulated 32 KiB L1 misses
/// went from 5.02 to 4.86 per operation with this layout (the fields were in rustc's order,
/// over four lines, before); the time gain is below what this 2-core VM can resolve.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct TinyLfu {
    sketch: FrequencySketch,
    /// The store's request count (hits + misses) at which the climber's current sample is
    /// complete (read on every request, so kept here rather than in [`Climber`]).
    sample_end: u64,
    /// Oldest candidate of the current eviction round (NIL: none).
    candidate: u32,
    pub(super) window: List,
    pub(super) probation: List,
    pub(super) protected: List,
    window_weight: u64,
    protected_weight: u64,
    /// The last key a miss counted, with its estimate then and the sketch's age: the insert
    /// that usually follows stamps its entry with it instead of reading the sketch again.
    last_miss: Option<(u64, u8, u8)>,
    /// The last victim whose estimate a duel read: (index, estimate, sketch age). A victim
    /// usually faces many candidates in a row (most lose), so its estimate is read once;
    /// forgotten when the entry is counted or removed.
    last_victim: (u32, u8, u8),
    capacity: u64,
    window_max: u64,
    protected_max: u64,
    climber: Climber,
}

#[derive(Debug)]
struct Climber {
    /// The store's hit count when the current sample began. The store counts hits and
    /// misses anyway, so the climber only reads them: a hit writes nothing here.
    hits_at_start: u64,
    sample_size: u64,
    previous_rate: f64,
    step: f64,
}

impl TinyLfu {
    /// A policy for `capacity` units (entries, or weight when weighted) and a sketch sized for
    /// `entries` entries.
    pub(crate) fn new(capacity: u64, entries: usize) -> Self {
        let mut p = Self {
            window: List::new(),
            probation: List::new(),
            protected: List::new(),
            window_weight: 0,
            protected_weight: 0,
            capacity: 0,
            window_max: 0,
            protected_max: 0,
            sketch: FrequencySketch::new(entries),
            candidate: NIL,
            last_miss: None,
            last_victim: (NIL, 0, 0),
            sample_end: 0,
            climber: Climber {
                hits_at_start: 0,
                sample_size: 0,
                previous_rate: 0.0,
                step: 0.0,
            },
        };
        p.set_capacity(capacity, entries, 0, 0);
        p
    }

    /// Resizes the segments and restarts the climber and the sketch; `hits` and `requests`
    /// are the store's counts so far.
    pub(crate) fn set_capacity(&mut self, capacity: u64, entries: usize, hits: u64, requests: u64) {
        self.capacity = capacity;
        self.window_max = percent(capacity, WINDOW_PERCENT).max(1).min(capacity);
        let main = capacity - self.window_max;
        self.protected_max = percent(main, PROTECTED_PERCENT);
        self.climber.sample_size = ((entries as u64).saturating_mul(CLIMB_SAMPLE_NUM)
            / CLIMB_SAMPLE_DEN)
            .max(CLIMB_SAMPLE_FLOOR);
        // Start by shrinking: the window begins small and most workloads favour frequency.
        self.climber.step = -(capacity as f64) * STEP_PERCENT / 100.0;
        self.climber.hits_at_start = hits;
        self.sample_end = requests + self.climber.sample_size;
        self.sketch.renew(entries);
        self.last_miss = None;
        self.last_victim.0 = NIL;
    }

    /// Starts loading the sketch counters of `hash`, which a miss or a first hit will count.
    #[inline(always)]
    pub(crate) fn prefetch_counters(&self, hash: u64) {
        self.sketch.prefetch(hash);
    }

    /// Counts a miss of `hash` in the sketch.
    #[inline]
    pub(crate) fn count_miss<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, hash: u64) {
        let estimate = self.sketch.increment(hash);
        self.forget_estimates_if_wrapped(slab);
        self.last_miss = Some((hash, estimate, self.sketch.ages()));
    }

    /// After the sketch's age count came round again (every 255 agings), forgets every
    /// estimate kept with an age, so none taken a full cycle ago is taken as current.
    #[inline(always)]
    pub(crate) fn forget_estimates_if_wrapped<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>) {
        if self.sketch.take_wrapped() {
            self.forget_estimates(slab);
        }
    }

    #[cold]
    #[inline(never)]
    fn forget_estimates<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>) {
        slab.for_each_mut(|e| e.stamp_age = STALE_AGE);
        self.last_miss = None;
        self.last_victim.0 = NIL;
    }

    /// Counts the first hit of the entry at `idx` (key hash `hash`) since it was last moved,
    /// and stamps the entry with its new estimate.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot of `slab`.
    #[inline]
    pub(crate) unsafe fn count_hit<K, V>(
        &mut self,
        slab: &mut Slab<Entry<K, V>, u64>,
        idx: u32,
        hash: u64,
    ) {
        let estimate = self.sketch.increment(hash);
        self.forget_estimates_if_wrapped(slab);
        if self.last_victim.0 == idx {
            self.last_victim.0 = NIL;
        }
        // SAFETY: occupied (the contract).
        self.stamp(unsafe { slab.get_unchecked_mut(idx) }, estimate);
    }

    /// Stamps `e` with `estimate`, its key's estimate now.
    #[inline(always)]
    fn stamp<K, V>(&self, e: &mut Entry<K, V>, estimate: u8) {
        e.stamp = estimate;
        e.stamp_age = self.sketch.ages();
    }

    /// `e`'s stamp, unless the sketch aged since it was taken (then it is not used).
    #[inline(always)]
    fn current_stamp<K, V>(&self, e: &Entry<K, V>) -> Option<u8> {
        (e.stamp_age == self.sketch.ages()).then_some(e.stamp)
    }

    /// The remembered victim (index, estimate), unless the sketch aged since it was read.
    #[inline(always)]
    fn remembered_victim(&self) -> Option<(u32, u8)> {
        let (idx, estimate, age) = self.last_victim;
        (idx != NIL && age == self.sketch.ages()).then_some((idx, estimate))
    }

    /// The estimate of a duel's candidate: its entry's stamp unless the sketch aged since.
    /// A candidate is a window entry, stored or counted only a short while ago, so its
    /// stamp is what the sketch would say (short of another key's increment meeting all four
    /// of its counters in the meantime), and the duel reads no counters for it.
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot of `slab`.
    #[inline]
    unsafe fn candidate_frequency<K, V>(&self, slab: &Slab<Entry<K, V>, u64>, idx: u32) -> u32 {
        // SAFETY: occupied (the contract).
        match self.current_stamp(unsafe { slab.get_unchecked(idx) }) {
            Some(stamp) => u32::from(stamp),
            // SAFETY: as above.
            None => self.frequency(unsafe { slab.meta_unchecked(idx) }),
        }
    }

    /// The estimate of a duel's victim, read from the sketch once per victim (see
    /// `last_victim`).
    ///
    /// # Safety
    ///
    /// `idx` is an occupied slot of `slab`.
    #[inline]
    unsafe fn victim_frequency<K, V>(&mut self, slab: &Slab<Entry<K, V>, u64>, idx: u32) -> u32 {
        if let Some((last, estimate)) = self.remembered_victim()
            && last == idx
        {
            return u32::from(estimate);
        }
        // SAFETY: occupied (the contract).
        let f = self.frequency(unsafe { slab.meta_unchecked(idx) });
        self.last_victim = (idx, f as u8, self.sketch.ages());
        f
    }

    /// Climbs once the current sample is complete (the check inline, the climb out of line);
    /// `hits` and `requests` are the store's counts, this request included.
    #[inline]
    pub(crate) fn climb_if_sampled(&mut self, hits: u64, requests: u64) {
        if requests >= self.sample_end {
            self.climb(hits, requests);
        }
    }

    /// Called once a sample is complete.
    #[cold]
    #[inline(never)]
    fn climb(&mut self, hits: u64, requests: u64) {
        let c = &mut self.climber;
        let rate = (hits - c.hits_at_start) as f64 / c.sample_size as f64;
        let change = rate - c.previous_rate;
        let amount = if change >= 0.0 { c.step } else { -c.step };
        let full = self.capacity as f64 * STEP_PERCENT / 100.0;
        c.step = if change.abs() >= RESTART_THRESHOLD {
            full.copysign(amount)
        } else {
            STEP_DECAY * amount
        };
        c.previous_rate = rate;
        c.hits_at_start = hits;
        self.sample_end = requests + c.sample_size;
        self.adjust_window(amount);
    }

    /// Moves `amount` units of capacity between the window and the protected segment. Entries
    /// are not moved here; the next eviction round restores the shares.
    fn adjust_window(&mut self, amount: f64) {
        let amount = amount.round() as i64;
        if amount > 0 {
            let grow = (amount as u64).min(self.protected_max);
            self.window_max += grow;
            self.protected_max -= grow;
        } else if amount < 0 {
            let shrink = (amount.unsigned_abs()).min(self.window_max.saturating_sub(1));
            self.window_max -= shrink;
            self.protected_max += shrink;
        }
    }

    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u32 {
        self.sketch.frequency(hash)
    }

    /// Links a new entry at the front of the window.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    pub(crate) unsafe fn on_insert<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            let hash = slab.meta_unchecked(idx);
            let ages = self.sketch.ages();
            let estimate = match self.last_miss.take() {
                Some((h, estimate, age)) if h == hash && age == ages => estimate,
                _ => self.sketch.frequency(hash) as u8,
            };
            let e = slab.get_unchecked_mut(idx);
            e.segment = WINDOW;
            e.referenced = false;
            self.stamp(e, estimate);
            self.window_weight += u64::from(e.weight);
            slab.push_front_unchecked(&mut self.window, idx);
        }
    }

    /// Marks an entry that was just read (or overwritten) as referenced. Nothing is relinked
    /// here: the hit path only writes the entry it already read, and the reordering an LRU
    /// would do now happens when the entry reaches the tail of its list (second chance): a
    /// referenced window tail goes back to the window's front, a referenced probation tail is
    /// promoted to protected, a referenced protected tail goes back to protected's front.
    /// Returns true on the first hit since the entry was last visited so, which is when the
    /// sketch counts it (repeats in between do not inflate its frequency).
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    #[inline]
    pub(crate) unsafe fn on_hit<K, V>(
        &mut self,
        slab: &mut Slab<Entry<K, V>, u64>,
        idx: u32,
    ) -> bool {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            let e = slab.get_unchecked_mut(idx);
            if e.referenced {
                return false;
            }
            e.referenced = true;
            true
        }
    }

    /// Moves protected's overflow to the front of probation, giving referenced tails a
    /// second chance first.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant).
    unsafe fn demote_protected<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>) {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            while self.protected_weight > self.protected_max {
                let Some(tail) = self.protected.tail() else {
                    break;
                };
                let e = slab.get_unchecked_mut(tail);
                if e.referenced {
                    // Second chance: each pass clears one flag, so the loop ends.
                    e.referenced = false;
                    slab.move_to_front_unchecked(&mut self.protected, tail);
                    continue;
                }
                slab.unlink_unchecked(&mut self.protected, tail);
                let e = slab.get_unchecked_mut(tail);
                e.segment = PROBATION;
                self.protected_weight -= u64::from(e.weight);
                slab.push_front_unchecked(&mut self.probation, tail);
            }
        }
    }

    /// An entry's weight changed from `old` to its current weight (value replaced).
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    pub(crate) unsafe fn on_reweigh<K, V>(
        &mut self,
        slab: &mut Slab<Entry<K, V>, u64>,
        idx: u32,
        old: u32,
    ) {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            let e = slab.get_unchecked(idx);
            let new = u64::from(e.weight);
            match e.segment {
                WINDOW => self.window_weight = self.window_weight - u64::from(old) + new,
                PROTECTED => self.protected_weight = self.protected_weight - u64::from(old) + new,
                _ => {}
            }
        }
    }

    /// Unlinks an entry that is about to be removed.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    pub(crate) unsafe fn on_remove<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>, idx: u32) {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            if self.candidate == idx {
                self.candidate = slab.prev_unchecked(idx).unwrap_or(NIL);
            }
            if self.last_victim.0 == idx {
                self.last_victim.0 = NIL;
            }
            let e = slab.get_unchecked(idx);
            let weight = u64::from(e.weight);
            match e.segment {
                WINDOW => {
                    self.window_weight -= weight;
                    slab.unlink_unchecked(&mut self.window, idx);
                }
                PROBATION => slab.unlink_unchecked(&mut self.probation, idx),
                _ => {
                    self.protected_weight -= weight;
                    slab.unlink_unchecked(&mut self.protected, idx);
                }
            }
        }
    }

    /// Starts an eviction round: moves the window's overflow to probation as candidates.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    pub(crate) unsafe fn begin_evict<K, V>(&mut self, slab: &mut Slab<Entry<K, V>, u64>) {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            self.candidate = NIL;
            // Protected may be over its share after the window shrank; demote first so demoted
            // entries are not mistaken for candidates.
            self.demote_protected(slab);
            while self.window_weight > self.window_max {
                let Some(tail) = self.window.tail() else {
                    break;
                };
                let e = slab.get_unchecked_mut(tail);
                if e.referenced {
                    e.referenced = false;
                    slab.move_to_front_unchecked(&mut self.window, tail);
                    continue;
                }
                slab.unlink_unchecked(&mut self.window, tail);
                let e = slab.get_unchecked_mut(tail);
                e.segment = PROBATION;
                self.window_weight -= u64::from(e.weight);
                slab.push_front_unchecked(&mut self.probation, tail);
                if self.candidate == NIL {
                    self.candidate = tail;
                }
            }
        }
    }

    /// One whole eviction round for the common case, or `None` (nothing changed) if it does
    /// not apply: every entry weighs 1, the store is over its bound by exactly one entry, the
    /// window by exactly one and protected not at all, so the round has one candidate (the
    /// window's tail after second chances) and evicts one entry. Decides exactly as
    /// [`begin_evict`](Self::begin_evict) then [`select_victim`](Self::select_victim) do and
    /// leaves the lists in the same order, but does not move the candidate to probation
    /// before the duel: it usually loses, and is then evicted straight from the window. The
    /// returned victim is still linked; the store removes it.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant).
    pub(crate) unsafe fn evict_one_unit<K, V>(
        &mut self,
        slab: &mut Slab<Entry<K, V>, u64>,
    ) -> Option<u32> {
        if self.protected_weight > self.protected_max || self.window_weight != self.window_max + 1 {
            return None;
        }
        self.candidate = NIL;
        // SAFETY: every index used here comes from this policy's lists over `slab`, which hold
        // only occupied slots (the contract).
        unsafe {
            // The candidate: the window's tail, after second chances (as `begin_evict`).
            let candidate = loop {
                let tail = self.window.tail()?;
                let e = slab.get_unchecked_mut(tail);
                if !e.referenced {
                    break tail;
                }
                e.referenced = false;
                slab.move_to_front_unchecked(&mut self.window, tail);
            };
            // `begin_evict` would have put the candidate at probation's front, in front of
            // the `older` entries there now; `select_victim` promotes referenced tails among
            // those only, and demotions go in front of the candidate.
            let first_older = self.probation.head().unwrap_or(NIL);
            let mut older = self.probation.len();
            while older > 0 {
                let Some(tail) = self.probation.tail() else {
                    break;
                };
                let e = slab.get_unchecked_mut(tail);
                if !e.referenced {
                    break;
                }
                e.referenced = false;
                e.segment = PROTECTED;
                self.protected_weight += u64::from(e.weight);
                slab.unlink_unchecked(&mut self.probation, tail);
                slab.push_front_unchecked(&mut self.protected, tail);
                self.demote_protected(slab);
                older -= 1;
            }
            let victim = if older > 0 {
                self.probation.tail()
            } else {
                self.protected.tail()
            };
            let Some(victim) = victim else {
                return Some(candidate);
            };
            let cf = self.candidate_frequency(slab, candidate);
            let vf = self.victim_frequency(slab, victim);
            if cf <= vf {
                return Some(candidate);
            }
            // The candidate is admitted: into probation where `begin_evict` put it, behind
            // the entries demoted in this round and in front of the older ones.
            slab.unlink_unchecked(&mut self.window, candidate);
            let e = slab.get_unchecked_mut(candidate);
            e.segment = PROBATION;
            self.window_weight -= u64::from(e.weight);
            let at = if older > 0 { first_older } else { NIL };
            slab.insert_before_unchecked(&mut self.probation, at, candidate);
            Some(victim)
        }
    }

    /// The next entry to evict in this round: the loser of candidate against victim.
    ///
    /// # Safety
    ///
    /// `slab` is the slab this policy's lists are threaded through (the store's invariant),
    /// and `idx`, where given, is an occupied slot of it.
    pub(crate) unsafe fn select_victim<K, V>(
        &mut self,
        slab: &mut Slab<Entry<K, V>, u64>,
    ) -> Option<u32> {
        // SAFETY: every index used here is `idx` (occupied, by the contract) or comes from
        // this policy's lists over `slab`, which hold only occupied slots (the contract).
        unsafe {
            // Referenced probation entries at the tail were hit since they got there: promote
            // them now (what an eager policy does on the hit itself).
            while let Some(tail) = self.probation.tail().filter(|&t| t != self.candidate) {
                let e = slab.get_unchecked_mut(tail);
                if !e.referenced {
                    break;
                }
                e.referenced = false;
                e.segment = PROTECTED;
                self.protected_weight += u64::from(e.weight);
                slab.unlink_unchecked(&mut self.probation, tail);
                slab.push_front_unchecked(&mut self.protected, tail);
                self.demote_protected(slab);
            }
            let victim = self
                .probation
                .tail()
                .filter(|&v| v != self.candidate)
                .or_else(|| self.protected.tail());
            let candidate = (self.candidate != NIL).then_some(self.candidate);
            match (candidate, victim) {
                (None, Some(v)) => Some(v),
                (None, None) => self.probation.tail().or_else(|| self.window.tail()),
                (Some(c), None) => {
                    self.candidate = slab.prev_unchecked(c).unwrap_or(NIL);
                    Some(c)
                }
                (Some(c), Some(v)) => {
                    let cf = self.candidate_frequency(slab, c);
                    let vf = self.victim_frequency(slab, v);
                    if cf > vf {
                        Some(v)
                    } else {
                        self.candidate = slab.prev_unchecked(c).unwrap_or(NIL);
                        Some(c)
                    }
                }
            }
        }
    }

    /// For tests: the stamp of the entry at `idx` beside the sketch's estimate of its key now,
    /// or `None` if the stamp predates the sketch's last aging (then it is not used).
    #[cfg(test)]
    pub(crate) fn stamp_and_estimate<K, V>(
        &self,
        slab: &Slab<Entry<K, V>, u64>,
        idx: u32,
    ) -> Option<(u8, u32)> {
        let stamp = self.current_stamp(slab.get(idx))?;
        Some((stamp, self.frequency(slab.meta(idx))))
    }

    /// For tests: the remembered victim estimate, if it is still usable, beside the sketch's
    /// estimate of the key now at that index.
    #[cfg(test)]
    pub(crate) fn victim_and_estimate<K, V>(
        &self,
        slab: &Slab<Entry<K, V>, u64>,
    ) -> Option<(u8, u32)> {
        let (idx, estimate) = self.remembered_victim()?;
        Some((estimate, self.frequency(slab.meta(idx))))
    }

    pub(crate) fn clear(&mut self) {
        self.window = List::new();
        self.probation = List::new();
        self.protected = List::new();
        self.window_weight = 0;
        self.protected_weight = 0;
        self.candidate = NIL;
        self.last_miss = None;
        self.last_victim.0 = NIL;
        self.sketch.clear();
        // No entries are left to carry an estimate.
        let _ = self.sketch.take_wrapped();
    }
}

/// `pct` percent of `of`, rounded down, without overflow for any weight bound (a `max_weight`
/// near `u64::MAX` used to overflow the multiplication).
fn percent(of: u64, pct: u64) -> u64 {
    (u128::from(of) * u128::from(pct) / 100) as u64
}

#[cfg(test)]
mod tests {
    use crate::cache::{EvictionPolicy, ShardedCache};

    /// The layout [`TinyLfu`]'s docs describe: what a hit reads in the first cache line,
    /// the lists and segment weights in the second, the rest of what inserts read in the
    /// third.
    #[test]
    fn hot_fields_lead_the_policy() {
        use super::{FrequencySketch, TinyLfu};
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<TinyLfu>(), 64);
        let first = [
            offset_of!(TinyLfu, sketch) + size_of::<FrequencySketch>(),
            offset_of!(TinyLfu, sample_end) + 8,
            offset_of!(TinyLfu, candidate) + 4,
        ];
        assert!(first.iter().all(|&end| end <= 64), "{first:?}");
        for start in [
            offset_of!(TinyLfu, window),
            offset_of!(TinyLfu, probation),
            offset_of!(TinyLfu, protected),
            offset_of!(TinyLfu, window_weight),
        ] {
            assert!(start >= 64);
        }
        assert!(offset_of!(TinyLfu, protected_weight) + 8 <= 128);
        assert!(offset_of!(TinyLfu, protected_max) + 8 <= 192);
    }

    /// Regression (found by the `config_builders` fuzz target): a weight bound near
    /// `u64::MAX` overflowed while sizing the window and the protected segment.
    #[test]
    fn weight_bound_near_u64_max_sizes_the_segments() {
        let cache: ShardedCache<u32, u32> = ShardedCache::builder()
            .max_size(1000)
            .max_weight(u64::MAX)
            .eviction_policy(EvictionPolicy::TinyLfu)
            .build()
            .unwrap();
        for k in 0..100 {
            cache.insert(k, k);
        }
        assert_eq!(cache.get(&7), Some(7));
        assert_eq!(cache.len(), 100);
    }
}
