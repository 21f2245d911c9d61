//! A fair FIFO waiter queue whose waiters are blocked threads or async tasks.
//!
//! This is the raw primitive everything that waits is built on: the pool's acquire, the
//! cache's single-flight loads, the async adapters. It has two layers, in the manner of
//! `lock_api`'s raw and safe layers:
//!
//! - [`WaitList`] is the bare data structure, with no lock of its own. An owner that already
//!   guards its state with a mutex (the shared-data lock) embeds the list in that state, so
//!   "check the state, else register" is one critical section. Its methods never wake anyone:
//!   they return a [`Wake`] (or [`Wakeups`]) that the caller fires after releasing the lock.
//! - [`NodeList`] is the same line for owners whose every waiter has a mailbox (the pool): the
//!   list keeps no entries of its own, only pointers to nodes its waiters own (`node.rs`), so
//!   joining and serving the line touch fewer cache lines under the owner's lock.
//! - [`WaitQueue`] is a `Mutex<WaitList<T>>` with the wait loop written once, for owners with
//!   no lock of their own (single-flight loads).
//!
//! A waiter is an entry in FIFO order. Its [`Task`] says how to wake it: a blocked thread
//! waits on its own `Condvar` (paired with the owner's mutex) with an optional deadline; an
//! async task leaves its `Waker`. A blocked thread may instead wait on a [`Mailbox`] of its
//! own ([`WaitList::register_thread`], used by the shared-data lock): what it is woken with is delivered
//! there and the thread unparked, so it does not take the owner's lock again to collect it.
//! Waking a waiter means one of:
//!
//! - a **hand-off** ([`WaitList::handoff`]): a value goes straight to the oldest waiter, so a
//!   newcomer can never take it first; with nobody waiting the value comes back to the caller;
//! - a **notification** ([`WaitList::notify_one`], [`WaitList::notify_all`]): no value, the
//!   waiter re-checks the owner's state (single-flight loads use this);
//! - **close** ([`WaitList::close`]): every waiter gets [`Woken::Closed`] and later
//!   registrations are refused.
//!
//! A waiter that leaves early (timed out, future dropped) calls [`WaitList::cancel`]: if it had
//! been handed a value (or a notification) in the meantime, that is passed on to the next
//! waiter, or returned to the owner when nobody else waits. So nothing is lost and nothing is
//! handed out twice.
//!
//! The wait loop, "check, register, re-check, wait", is [`WaitQueue::poll_step`]; blocking
//! waits ([`WaitQueue::wait_for`]) and polled futures ([`WaitQueue::poll_wait_for`]) both run
//! it, so threads and tasks share one fair order and the same rules.

#![cfg_attr(not(loom), allow(unreachable_pub))]
#![allow(
    dead_code,
    reason = "a shared primitive; each user (pool, single-flight loads, adapters) uses a part"
)]

use std::collections::VecDeque;
use std::fmt;
use std::ptr::NonNull;
use std::task::{Poll, Waker};
use std::time::Instant;

use crate::sync::{
    Arc, AtomicBool, Condvar, Mutex, MutexGuard, Ordering, UnsafeCell, park_until, thread,
};

mod node;
pub use node::{Node, NodeList};

/// How to wake a waiter: the thread's own condition variable, or a task's waker.
#[derive(Clone, Copy)]
pub(crate) enum Task<'a> {
    /// A blocked thread waiting on this condition variable with the owner's mutex.
    Thread(&'a Arc<Condvar>),
    /// An async task.
    Waker(&'a Waker),
}

impl fmt::Debug for Task<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Thread(_) => f.write_str("Task::Thread"),
            Task::Waker(_) => f.write_str("Task::Waker"),
        }
    }
}

/// A pending wake-up, taken under the lock and fired with [`Wake::wake`] after releasing it.
#[must_use = "a Wake must be fired after the lock is released, or the waiter sleeps on"]
pub(crate) enum Wake {
    /// Notify a blocked thread's condition variable.
    Thread(Arc<Condvar>),
    /// Wake an async task.
    Waker(Waker),
    /// Unpark a thread waiting on its [`Mailbox`] (no syscall if it has not parked yet).
    Unpark(thread::Thread),
}

impl Wake {
    /// Makes `wake` wake `task`, keeping it if it already does (no waker clone).
    fn refresh(wake: &mut Option<Wake>, task: Task<'_>) {
        let same = match (&*wake, task) {
            (Some(Wake::Waker(old)), Task::Waker(new)) => old.will_wake(new),
            (Some(Wake::Thread(old)), Task::Thread(new)) => Arc::ptr_eq(old, new),
            _ => false,
        };
        if !same {
            *wake = Some(Wake::from_task(task));
        }
    }

    fn from_task(task: Task<'_>) -> Self {
        match task {
            Task::Thread(cv) => Wake::Thread(Arc::clone(cv)),
            Task::Waker(w) => Wake::Waker(w.clone()),
        }
    }

    /// Wakes the waiter. Call with no lock held.
    pub(crate) fn wake(self) {
        match self {
            Wake::Thread(cv) => {
                cv.notify_one();
            }
            Wake::Waker(w) => w.wake(),
            Wake::Unpark(t) => t.unpark(),
        }
    }
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wake::Thread(_) => f.write_str("Wake::Thread"),
            Wake::Waker(_) => f.write_str("Wake::Waker"),
            Wake::Unpark(_) => f.write_str("Wake::Unpark"),
        }
    }
}

/// Several pending wake-ups (from [`WaitList::notify_all`] or [`WaitList::close`]).
#[derive(Debug, Default)]
#[must_use = "wake-ups must be fired after the lock is released"]
pub(crate) struct Wakeups(Vec<Wake>);

impl Wakeups {
    /// How many waiters will be woken.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when nobody is to be woken.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one wake-up.
    pub(crate) fn push(&mut self, wake: Wake) {
        self.0.push(wake);
    }

    /// Wakes every waiter collected. Call with no lock held.
    pub(crate) fn wake_all(self) {
        for w in self.0 {
            w.wake();
        }
    }
}

/// What a waiter was woken with.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken<T> {
    /// A value handed off to this waiter; it now owns it.
    Value(T),
    /// A notification without a value: re-check the owner's state.
    Notified,
    /// The queue was closed.
    Closed,
}

/// What became of a waiter that left with [`WaitList::cancel`].
#[derive(Debug)]
#[must_use = "a returned value belongs to the owner, and a Wake must be fired"]
pub(crate) enum Cancelled<T> {
    /// It was still waiting (or was never registered) and is gone; nothing to do.
    Left,
    /// It had been woken (with a value or a notification) and passed that on: fire this
    /// wake-up after releasing the lock.
    PassedOn(Wake),
    /// It had been handed a value and nobody else waits: the value is the owner's again.
    Returned(T),
}

/// The queue was closed; registration refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// A waiter's place in a [`WaitList`]: empty until registered, empty again once the waiter has
/// been resolved by [`WaitList::poll`] or has left with [`WaitList::cancel`].
///
/// The owner keeps it (on the stack of a blocking call, or inside a future) and must cancel a
/// registered slot before dropping it; in debug builds dropping a registered slot panics.
#[derive(Debug, Default)]
pub struct WaitSlot(Option<usize>);

impl WaitSlot {
    /// An unregistered slot.
    pub const fn new() -> Self {
        WaitSlot(None)
    }

    /// `true` while the slot holds a place in a list.
    pub fn is_registered(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        debug_assert!(
            self.0.is_none() || std::thread::panicking(),
            "a registered WaitSlot was dropped without WaitList::cancel"
        );
    }
}

enum State<T> {
    Free,
    Waiting,
    Handed(T),
    Notified,
    Closed,
}

struct Entry<T> {
    state: State<T>,
    wake: Option<Wake>,
    /// When the owner's deadline keeper is to expire this waiter ([`WaitList::expire`]);
    /// `None` when the waiter keeps its own deadline. Read only while the entry waits (a new
    /// registration writes the whole entry).
    deadline: Option<Instant>,
    /// Set for a waiter registered with [`WaitList::register_thread`] or
    /// [`WaitList::register_task`]: its wake-up is delivered here, and the entry is freed at
    /// once. The waiter owns the mailbox; see [`MailboxPtr`].
    mailbox: Option<MailboxPtr<T>>,
    /// The number of the registration that last used this entry (see [`WaitList`]'s
    /// `order`).
    registration: u64,
    /// The owner's label for what this waiter asks for ([`WaitList::set_kind`]); 0 unless
    /// set. The list only keeps it: a reader-writer lock reads its oldest waiter's kind
    /// ([`WaitList::front_kind`]) to decide whether it can be served yet.
    kind: u8,
}

/// A waiter's [`Mailbox`], as its list entry points to it: the waiter owns the mailbox (in its
/// future, on its stack, or in an `Arc` it keeps), so joining the line allocates nothing and
/// writes no reference count.
///
/// Valid while the entry holds it: the `register_*` methods are `unsafe`, their callers
/// promising that the mailbox stays where it is, alive, until the registration ends (a
/// delivery taken with [`Mailbox::try_take`], or [`WaitList::cancel_with_mailbox`] under the
/// owner's lock). The list gives the pointer up when it delivers (under the owner's lock) and
/// touches the mailbox no more once it set `full`.
struct MailboxPtr<T>(NonNull<Mailbox<T>>);

// SAFETY: the pointer stands for a `&Mailbox<T>` lent by the waiter (see the type's docs),
// and `Mailbox<T>` is `Send + Sync` when `T: Send`; moving or sharing the entry across threads
// moves or shares only that borrow.
unsafe impl<T: Send> Send for MailboxPtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for MailboxPtr<T> {}

/// Where a waiter receives its wake-up without taking the owner's lock.
///
/// A thread registered with [`WaitList::register_thread`] waits on its own mailbox
/// ([`Mailbox::wait`]): the hand-off (under the owner's lock) stores what it was woken with
/// and releases the list entry; the [`Wake`] fired after unlocking unparks the thread, which
/// then takes its value without any lock. So a hand-off
/// costs the woken thread no second trip through the owner's (contended) mutex.
///
/// A task registered with [`WaitList::register_task`] works the same way, woken through its
/// waker instead of an unpark: its next poll looks at the mailbox first
/// ([`Mailbox::try_take`]) and needs the owner's lock only if nothing was delivered.
///
/// Memory ordering and exclusion, with no lock of the mailbox's own: a delivery (always under
/// the owner's lock, at most one per registration, and only while the entry is in line, so
/// while `full` is clear) writes the value and then sets `full` with `Release`. Only the
/// waiter reads the value, with [`Mailbox::try_take`] (which needs the waiter's `&mut
/// WaitSlot`, so one caller at a time), and only after it read `full` set with `Acquire`;
/// it clears `full` after taking the value, and can register again only through the owner's
/// lock, so the next delivery comes after that clear. A waiter that sees `full` also sees
/// everything the owner did before the hand-off.
pub(crate) struct Mailbox<T> {
    full: AtomicBool,
    woken: UnsafeCell<Option<Woken<T>>>,
    /// The thread to unpark on delivery; `None` for a task (its waker is in the list entry).
    thread: Option<thread::Thread>,
}

// SAFETY: the cell is accessed by one side at a time, with `full` (`Release`/`Acquire`)
// ordering the hand-over (see the type's docs); what it holds moves from the delivering
// thread to the waiter's, so it must be `Send`.
unsafe impl<T: Send> Send for Mailbox<T> {}
// SAFETY: as for `Send`: shared references only deliver (under the owner's lock) and take (by
// the one waiter, after `full`), never at the same time.
unsafe impl<T: Send> Sync for Mailbox<T> {}

impl<T> fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("full", &self.full.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox for the calling thread.
    pub(crate) fn for_current_thread() -> Self {
        Self {
            full: AtomicBool::new(false),
            woken: UnsafeCell::new(None),
            thread: Some(thread::current()),
        }
    }

    /// An empty mailbox for an async task, woken by the waker it registers with
    /// [`WaitList::register_task`].
    pub(crate) fn for_task() -> Self {
        Self {
            full: AtomicBool::new(false),
            woken: UnsafeCell::new(None),
            thread: None,
        }
    }

    /// Stores `woken` in the mailbox `this` points to (call under the owner's lock, for an
    /// entry still in line) and returns the unpark to fire after it (`None` for a task: the
    /// caller fires its waker).
    ///
    /// # Safety
    ///
    /// `this` is valid: it came from the entry being resolved (see [`MailboxPtr`]). It is
    /// not used after the `Release` store of `full`: from then on the waiter may take the
    /// value and free the mailbox.
    unsafe fn deliver(this: MailboxPtr<T>, woken: Woken<T>) -> Option<Wake> {
        // SAFETY: valid until `full` is set (the caller's contract); only shared access, as
        // the waiter may be reading `full` meanwhile.
        let mailbox = unsafe { this.0.as_ref() };
        debug_assert!(
            !mailbox.full.load(Ordering::Relaxed),
            "a second delivery before the waiter took the first"
        );
        // Cloned before the store below, after which the mailbox may be gone.
        let unpark = mailbox.thread.clone().map(Wake::Unpark);
        // SAFETY: `full` is clear and the entry was in line, so the waiter does not read the
        // cell now (it reads only after seeing `full` set) and no other delivery writes it
        // (deliveries happen under the owner's lock, which the caller holds).
        mailbox
            .woken
            .with_mut(|cell| unsafe { *cell = Some(woken) });
        mailbox.full.store(true, Ordering::Release);
        unpark
    }

    /// Takes what the waiter was woken with, if it was; `slot` is then released. Needs no
    /// lock of the owner's: once delivered, the entry is no longer in the list.
    pub(crate) fn try_take(&self, slot: &mut WaitSlot) -> Option<Woken<T>> {
        // The waiter's `&mut WaitSlot` makes this the only reader.
        let woken = self.take()?;
        slot.0 = None;
        Some(woken)
    }

    /// Takes a delivery, if one was made. Only the mailbox's waiter calls it, one call at a
    /// time (its callers take the waiter's own token, a `&mut WaitSlot` or `&mut bool`).
    fn take(&self) -> Option<Woken<T>> {
        if !self.full.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `full` was set (`Acquire`) after the delivery's write, and nothing writes
        // the cell again until this waiter registers anew; the callers' token makes this the
        // only reader.
        let woken = self.woken.with_mut(|cell| unsafe { (*cell).take() });
        self.full.store(false, Ordering::Relaxed);
        woken
    }

    /// Blocks the calling thread (the mailbox's own) until something is delivered or
    /// `deadline` passes (`None` when it passed first; the caller then leaves the line under
    /// the owner's lock, taking a value delivered at the last moment with
    /// [`Mailbox::try_take`]).
    ///
    /// It parks at once, with no spinning first: a brief spin of the head of the line made
    /// no measurable difference in the contended benchmarks (see the README's Pool section),
    /// and on an oversubscribed machine a spinning waiter takes the core its server needs.
    pub(crate) fn wait(&self, slot: &mut WaitSlot, deadline: Option<Instant>) -> Option<Woken<T>> {
        park_for(deadline, || self.try_take(slot))
    }
}

/// Parks the calling thread until `take` gives something or `deadline` passes (`None`); the
/// blocking half of [`Mailbox::wait`] and [`Node::wait`].
fn park_for<W>(deadline: Option<Instant>, mut take: impl FnMut() -> Option<W>) -> Option<W> {
    loop {
        if let Some(woken) = take() {
            return Some(woken);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        // Returns on unpark, at the deadline, or spuriously (a stale unpark token from an
        // earlier wait): the loop re-checks.
        park_until(deadline);
    }
}

/// The bare FIFO list of waiters. Guard it with a mutex; wake what its methods return after
/// releasing that mutex.
pub(crate) struct WaitList<T> {
    /// Entries by index; an index is owned by one [`WaitSlot`] from registration to release.
    entries: Vec<Entry<T>>,
    /// Indices of `entries` that are `Free`.
    free: Vec<usize>,
    /// Places in line, oldest first: an entry's index and its registration number. A waiter
    /// that leaves the line ([`WaitList::cancel`]) leaves its place here, to be skipped when
    /// it comes up and dropped when places left behind outnumber waiters: leaving is O(1)
    /// (amortised) instead of a search of the line. A place is current while its entry is
    /// `Waiting` with the same registration number; an entry reused since has a higher one.
    order: VecDeque<(usize, u64)>,
    /// Waiters in line: the current places in `order`.
    waiting: usize,
    /// Registrations so far (the last one's number).
    registrations: u64,
    closed: bool,
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for WaitList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("waiting", &self.waiting)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<T> WaitList<T> {
    /// An empty, open list.
    pub(crate) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            waiting: 0,
            registrations: 0,
            closed: false,
        }
    }

    /// Number of waiters still waiting (not yet woken).
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// `true` when nobody is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Whether the place `(index, registration)` in `order` is still someone's.
    fn is_current(entries: &[Entry<T>], (index, registration): (usize, u64)) -> bool {
        let entry = &entries[index];
        entry.registration == registration && matches!(entry.state, State::Waiting)
    }

    /// `true` once [`WaitList::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends a waiter at the back of the line.
    ///
    /// # Errors
    ///
    /// [`Closed`] after [`WaitList::close`].
    ///
    /// # Panics
    ///
    /// In debug builds, if `slot` is already registered.
    pub(crate) fn register(&mut self, slot: &mut WaitSlot, task: Task<'_>) -> Result<(), Closed> {
        self.enter(slot, Some(Wake::from_task(task)), None, None)
    }

    /// Appends a waiting entry unless the list is closed (every `register_*` ends here).
    fn enter(
        &mut self,
        slot: &mut WaitSlot,
        wake: Option<Wake>,
        deadline: Option<Instant>,
        mailbox: Option<MailboxPtr<T>>,
    ) -> Result<(), Closed> {
        debug_assert!(!slot.is_registered(), "WaitSlot registered twice");
        if self.closed {
            return Err(Closed);
        }
        self.push(
            slot,
            Entry {
                state: State::Waiting,
                wake,
                deadline,
                mailbox,
                registration: 0,
                kind: 0,
            },
        );
        Ok(())
    }

    /// Appends a blocked thread at the back of the line; it waits with [`Mailbox::wait`] on
    /// `mailbox` and leaves early (timeout) with [`WaitList::cancel_with_mailbox`]. Never call
    /// [`WaitList::poll`] or [`WaitList::cancel`] with this slot: once woken, its entry is
    /// gone and only the mailbox knows.
    ///
    /// # Errors
    ///
    /// [`Closed`] after [`WaitList::close`].
    ///
    /// # Safety
    ///
    /// `mailbox` stays where it is, alive, until this registration ends: until
    /// [`Mailbox::try_take`] (or [`Mailbox::wait`]) returns a delivery for `slot`, or
    /// [`WaitList::cancel_with_mailbox`] ran for it (or the list is dropped). The list keeps a
    /// pointer to it meanwhile, and delivers through that pointer.
    pub(crate) unsafe fn register_thread(
        &mut self,
        slot: &mut WaitSlot,
        mailbox: &Mailbox<T>,
    ) -> Result<(), Closed> {
        debug_assert!(
            mailbox.thread.is_some(),
            "a task's mailbox registered as a thread"
        );
        self.enter(slot, None, None, Some(MailboxPtr(NonNull::from(mailbox))))
    }

    /// Appends an async task at the back of the line, woken through `task` with what it is
    /// woken with delivered to `mailbox`. Its polls take a delivery with [`Mailbox::try_take`]
    /// (no lock needed), else, under the owner's lock, [`WaitList::poll_task`]; it leaves
    /// early with [`WaitList::cancel_with_mailbox`]. Never call [`WaitList::poll`] or
    /// [`WaitList::cancel`] with this slot: once woken, its entry is gone.
    ///
    /// With a `deadline`, the owner's deadline keeper expires it ([`WaitList::expire`]);
    /// without, the task keeps its own.
    ///
    /// # Errors
    ///
    /// [`Closed`] after [`WaitList::close`].
    ///
    /// # Safety
    ///
    /// As for [`WaitList::register_thread`]: `mailbox` stays where it is, alive, until the
    /// registration ends.
    pub(crate) unsafe fn register_task(
        &mut self,
        slot: &mut WaitSlot,
        task: Task<'_>,
        mailbox: &Mailbox<T>,
        deadline: Option<Instant>,
    ) -> Result<(), Closed> {
        debug_assert!(
            mailbox.thread.is_none(),
            "a thread's mailbox registered as a task"
        );
        self.enter(
            slot,
            Some(Wake::from_task(task)),
            deadline,
            Some(MailboxPtr(NonNull::from(mailbox))),
        )
    }

    /// Checks a task registered with [`WaitList::register_task`], under the owner's lock:
    /// `Ready` with what was delivered to `mailbox` (the slot is then released), else
    /// `Pending` after refreshing its waker with `task`. An unregistered slot is
    /// `Ready(Woken::Closed)` if the list is closed, else `Pending` (the caller registers it).
    pub(crate) fn poll_task(
        &mut self,
        slot: &mut WaitSlot,
        mailbox: &Mailbox<T>,
        task: Task<'_>,
    ) -> Poll<Woken<T>> {
        // Deliveries happen under the lock the caller holds, so an empty mailbox here means
        // the entry is still in line and still this slot's.
        if let Some(woken) = mailbox.try_take(slot) {
            return Poll::Ready(woken);
        }
        self.poll(slot, Some(task))
    }

    /// A waiter registered with a mailbox ([`WaitList::register_thread`],
    /// [`WaitList::register_task`]) leaves the line (its deadline passed, its future was
    /// dropped): `Err` with what it was woken with if a wake-up was delivered first (a value is
    /// then the waiter's: it is never lost), else `Ok` with what became of its entry.
    pub(crate) fn cancel_with_mailbox(
        &mut self,
        slot: &mut WaitSlot,
        mailbox: &Mailbox<T>,
    ) -> Result<Cancelled<T>, Woken<T>> {
        // Deliveries happen under the lock the caller holds, so an empty mailbox here means
        // the entry is still in line and still this slot's.
        match mailbox.try_take(slot) {
            Some(woken) => Err(woken),
            None => Ok(self.cancel(slot)),
        }
    }

    /// Labels the waiter in `slot` (registered, still in line) with the owner's `kind`.
    pub(crate) fn set_kind(&mut self, slot: &WaitSlot, kind: u8) {
        if let Some(i) = slot.0 {
            self.entries[i].kind = kind;
        }
    }

    /// The kind ([`WaitList::set_kind`]) of the oldest waiter, the one the next
    /// [`WaitList::handoff`] serves; `None` when nobody waits.
    pub(crate) fn front_kind(&mut self) -> Option<u8> {
        while let Some(&place) = self.order.front() {
            if Self::is_current(&self.entries, place) {
                return Some(self.entries[place.0].kind);
            }
            self.order.pop_front();
        }
        None
    }

    /// `true` while `slot` is in line with a deadline the owner's keeper enforces.
    pub(crate) fn is_kept(&self, slot: &WaitSlot) -> bool {
        slot.0.is_some_and(|i| {
            matches!(self.entries[i].state, State::Waiting) && self.entries[i].deadline.is_some()
        })
    }

    /// The deadline keeper's sweep: every waiter whose deadline is at or before `now` leaves
    /// the line, handed `expired()` (so a waiter with a mailbox finds it there). Returns their
    /// wake-ups and the earliest deadline still ahead.
    ///
    /// It looks at every waiter, O(n) in the line's length; the keeper runs only at
    /// deadlines and when the first kept waiter joins an empty line.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        mut expired: impl FnMut() -> T,
    ) -> (Wakeups, Option<Instant>) {
        let mut wakeups = Wakeups::default();
        let mut next: Option<Instant> = None;
        // One pass that keeps the line's order and drops the places left behind too.
        let mut order = std::mem::take(&mut self.order);
        order.retain(|&place| {
            if !Self::is_current(&self.entries, place) {
                return false;
            }
            match self.entries[place.0].deadline {
                Some(d) if d <= now => {
                    self.waiting -= 1;
                    wakeups.push(self.resolve(place.0, State::Handed(expired())));
                    false
                }
                Some(d) => {
                    next = Some(next.map_or(d, |n| n.min(d)));
                    true
                }
                None => true,
            }
        });
        self.order = order;
        (wakeups, next)
    }

    /// The deadline keeper stops: every waiter it kept keeps its own deadline from now on.
    /// Returns wake-ups for those waiters (each still in line) so that they arm their own.
    pub(crate) fn release_kept(&mut self) -> Wakeups {
        let mut wakeups = Wakeups::default();
        for &place in &self.order {
            if !Self::is_current(&self.entries, place) {
                continue;
            }
            let entry = &mut self.entries[place.0];
            if entry.deadline.take().is_some()
                && let Some(Wake::Waker(w)) = &entry.wake
            {
                wakeups.push(Wake::Waker(w.clone()));
            }
        }
        wakeups
    }

    fn push(&mut self, slot: &mut WaitSlot, mut entry: Entry<T>) {
        self.registrations += 1;
        entry.registration = self.registrations;
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i] = entry;
                i
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        };
        self.order.push_back((index, self.registrations));
        self.waiting += 1;
        slot.0 = Some(index);
    }

    /// Hands `value` to the oldest waiter; returns the wake-up to fire after unlocking.
    ///
    /// # Errors
    ///
    /// Gives `value` back when nobody waits (or the list is closed).
    pub(crate) fn handoff(&mut self, value: T) -> Result<Wake, T> {
        match self.pop_oldest() {
            Some(i) => Ok(self.resolve(i, State::Handed(value))),
            None => Err(value),
        }
    }

    /// Notifies the oldest waiter to re-check, if any.
    pub(crate) fn notify_one(&mut self) -> Option<Wake> {
        self.pop_oldest().map(|i| self.resolve(i, State::Notified))
    }

    /// Notifies every waiter to re-check.
    pub(crate) fn notify_all(&mut self) -> Wakeups {
        self.resolve_all(|| State::Notified)
    }

    /// Closes the list: every waiter is woken with [`Woken::Closed`], later registrations
    /// fail. Waiters already handed a value keep it.
    pub(crate) fn close(&mut self) -> Wakeups {
        self.closed = true;
        self.resolve_all(|| State::Closed)
    }

    /// Checks a registered waiter: `Ready` once it was woken (its slot is then released),
    /// else `Pending` after refreshing how to wake it with `task`.
    ///
    /// An unregistered slot is `Ready(Woken::Closed)` if the list is closed, else `Pending`
    /// (the caller registers it).
    pub(crate) fn poll(&mut self, slot: &mut WaitSlot, task: Option<Task<'_>>) -> Poll<Woken<T>> {
        let Some(i) = slot.0 else {
            return if self.closed {
                Poll::Ready(Woken::Closed)
            } else {
                Poll::Pending
            };
        };
        let entry = &mut self.entries[i];
        if matches!(entry.state, State::Waiting) {
            if let Some(task) = task {
                Wake::refresh(&mut entry.wake, task);
            }
            return Poll::Pending;
        }
        let woken = match std::mem::replace(&mut entry.state, State::Free) {
            State::Handed(v) => Woken::Value(v),
            State::Notified => Woken::Notified,
            _ => Woken::Closed,
        };
        entry.wake = None;
        self.free.push(i);
        slot.0 = None;
        Poll::Ready(woken)
    }

    /// Takes a waiter out of the line (timeout, dropped future). A value or notification it
    /// had already received goes to the next waiter, or, for a value with nobody waiting,
    /// back to the owner. Unregistered slots are [`Cancelled::Left`].
    pub(crate) fn cancel(&mut self, slot: &mut WaitSlot) -> Cancelled<T> {
        let Some(i) = slot.0.take() else {
            return Cancelled::Left;
        };
        let entry = &mut self.entries[i];
        let state = std::mem::replace(&mut entry.state, State::Free);
        entry.wake = None;
        entry.mailbox = None;
        self.free.push(i);
        match state {
            State::Waiting => {
                // Its place in `order` is left behind (no longer current); drop such places
                // once they outnumber the waiters, so `order` stays O(waiters) long.
                self.waiting -= 1;
                if self.order.len() > 2 * self.waiting + 16 {
                    let entries = &self.entries;
                    self.order.retain(|&place| Self::is_current(entries, place));
                }
                Cancelled::Left
            }
            State::Handed(v) => match self.handoff(v) {
                Ok(wake) => Cancelled::PassedOn(wake),
                Err(v) => Cancelled::Returned(v),
            },
            State::Notified => match self.notify_one() {
                Some(wake) => Cancelled::PassedOn(wake),
                None => Cancelled::Left,
            },
            State::Closed | State::Free => Cancelled::Left,
        }
    }

    fn pop_oldest(&mut self) -> Option<usize> {
        while let Some(place) = self.order.pop_front() {
            if Self::is_current(&self.entries, place) {
                self.waiting -= 1;
                return Some(place.0);
            }
        }
        None
    }

    fn resolve(&mut self, i: usize, state: State<T>) -> Wake {
        let entry = &mut self.entries[i];
        if let Some(mailbox) = entry.mailbox.take() {
            // A waiter with a mailbox: it takes what it was woken with from there, so its
            // entry is released now.
            entry.state = State::Free;
            let task = entry.wake.take();
            self.free.push(i);
            let woken = match state {
                State::Handed(v) => Woken::Value(v),
                State::Notified => Woken::Notified,
                _ => Woken::Closed,
            };
            // SAFETY: the pointer was in a waiting entry, so its registration has not ended
            // and the waiter keeps the mailbox alive (the `register_*` contracts); it is not
            // used again after this delivery.
            let unpark = unsafe { Mailbox::deliver(mailbox, woken) };
            return match unpark.or(task) {
                Some(w) => w,
                None => unreachable!("a waiting entry always has a wake handle"),
            };
        }
        entry.state = state;
        match entry.wake.take() {
            Some(w) => w,
            None => unreachable!("a waiting entry always has a wake handle"),
        }
    }

    fn resolve_all(&mut self, mut state: impl FnMut() -> State<T>) -> Wakeups {
        let mut wakeups = Wakeups(Vec::with_capacity(self.waiting));
        while let Some(i) = self.pop_oldest() {
            wakeups.push(self.resolve(i, state()));
        }
        wakeups
    }
}

/// How a wait through [`WaitQueue`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitResult<R, T> {
    /// The caller's check succeeded.
    Ready(R),
    /// A value was handed to this waiter.
    Value(T),
    /// Notified, for waits that return on notification ([`WaitQueue::wait`]).
    Notified,
    /// The queue was closed.
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// A [`WaitList`] behind its own mutex, with the wait loop written once for threads and
/// tasks.
///
/// It is crate-internal (exposed only to the loom models); the unit tests below and
/// `loom-tests/tests/wait.rs` show its use.
pub struct WaitQueue<T> {
    list: Mutex<WaitList<T>>,
}

impl<T> Default for WaitQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for WaitQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WaitQueue")
            .field(&*self.list.lock())
            .finish()
    }
}

impl<T> WaitQueue<T> {
    /// An empty, open queue.
    pub fn new() -> Self {
        Self {
            list: Mutex::new(WaitList::new()),
        }
    }

    /// Number of waiters still waiting.
    pub fn len(&self) -> usize {
        self.list.lock().len()
    }

    /// `true` when nobody is waiting.
    pub fn is_empty(&self) -> bool {
        self.list.lock().is_empty()
    }

    /// `true` once closed.
    pub fn is_closed(&self) -> bool {
        self.list.lock().is_closed()
    }

    /// Hands `value` to the oldest waiter and wakes it.
    ///
    /// # Errors
    ///
    /// Gives `value` back when nobody waits or the queue is closed.
    pub fn handoff(&self, value: T) -> Result<(), T> {
        let wake = self.list.lock().handoff(value)?;
        wake.wake();
        Ok(())
    }

    /// Wakes the oldest waiter to re-check; `false` if nobody waits.
    pub fn notify_one(&self) -> bool {
        let wake = self.list.lock().notify_one();
        wake.map(Wake::wake).is_some()
    }

    /// Wakes every waiter to re-check; returns how many.
    pub fn notify_all(&self) -> usize {
        let wakeups = self.list.lock().notify_all();
        let n = wakeups.len();
        wakeups.wake_all();
        n
    }

    /// Closes the queue: every waiter gets [`WaitResult::Closed`], as do later waits.
    pub fn close(&self) {
        let wakeups = self.list.lock().close();
        wakeups.wake_all();
    }

    /// Leaves the line (a dropped future). A value already handed to this waiter is passed on
    /// to the next waiter, or returned when nobody else waits.
    pub fn cancel(&self, slot: &mut WaitSlot) -> Option<T> {
        if !slot.is_registered() {
            return None;
        }
        let cancelled = self.list.lock().cancel(slot);
        match cancelled {
            Cancelled::Left => None,
            Cancelled::PassedOn(wake) => {
                wake.wake();
                None
            }
            Cancelled::Returned(v) => Some(v),
        }
    }

    /// One pass of the wait loop, shared by blocking and async waiters: check, register (or
    /// refresh the wake handle, or collect what this waiter was woken with), re-check.
    ///
    /// `check` inspects the owner's state without holding this queue's lock; `Some` ends the
    /// wait (leaving the line, passing on anything received meanwhile). A notification ends
    /// the pass with `Ready(Notified)`: callers that re-check loop again.
    pub(crate) fn poll_step<R>(
        &self,
        slot: &mut WaitSlot,
        task: Task<'_>,
        check: &mut impl FnMut() -> Option<R>,
    ) -> Poll<WaitResult<R, T>> {
        if let Some(r) = check() {
            return Poll::Ready(self.leave_with(slot, r));
        }
        {
            let mut list = self.list.lock();
            if slot.is_registered() {
                if let Poll::Ready(woken) = list.poll(slot, Some(task)) {
                    return Poll::Ready(match woken {
                        Woken::Value(v) => WaitResult::Value(v),
                        Woken::Notified => WaitResult::Notified,
                        Woken::Closed => WaitResult::Closed,
                    });
                }
            } else if list.register(slot, task).is_err() {
                return Poll::Ready(WaitResult::Closed);
            }
        }
        if let Some(r) = check() {
            return Poll::Ready(self.leave_with(slot, r));
        }
        Poll::Pending
    }

    /// The caller's check succeeded while registered: leave the line. A value received in the
    /// meantime wins over the check (it cannot be given back once taken out of the line
    /// without breaking FIFO order for others), so return it instead.
    fn leave_with<R>(&self, slot: &mut WaitSlot, r: R) -> WaitResult<R, T> {
        if !slot.is_registered() {
            return WaitResult::Ready(r);
        }
        let mut list = self.list.lock();
        if let Poll::Ready(Woken::Value(v)) = list.poll(slot, None) {
            drop(list);
            drop(r);
            return WaitResult::Value(v);
        }
        let cancelled = list.cancel(slot);
        drop(list);
        if let Cancelled::PassedOn(wake) = cancelled {
            wake.wake();
        }
        WaitResult::Ready(r)
    }

    /// Polls a wait from a future: runs [`WaitQueue::poll_step`] with the task's waker,
    /// looping on notifications so `check` runs again. The future must call
    /// [`WaitQueue::cancel`] on its slot when dropped.
    pub fn poll_wait_for<R>(
        &self,
        slot: &mut WaitSlot,
        waker: &Waker,
        mut check: impl FnMut() -> Option<R>,
    ) -> Poll<WaitResult<R, T>> {
        loop {
            match self.poll_step(slot, Task::Waker(waker), &mut check) {
                Poll::Ready(WaitResult::Notified) => continue,
                other => return other,
            }
        }
    }

    /// Blocks until `check` returns `Some`, a value is handed to this thread, the queue is
    /// closed, or `deadline` passes (`None`: no deadline; the caller documents why that is
    /// bounded). Notifications make `check` run again.
    pub fn wait_for<R>(
        &self,
        deadline: Option<Instant>,
        check: impl FnMut() -> Option<R>,
    ) -> WaitResult<R, T> {
        self.block(deadline, check, false)
    }

    /// Blocks until a value is handed to this thread, a notification arrives, the queue is
    /// closed, or `deadline` passes.
    pub fn wait(&self, deadline: Option<Instant>) -> WaitResult<(), T> {
        self.block(deadline, || None, true)
    }

    fn block<R>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut() -> Option<R>,
        return_on_notify: bool,
    ) -> WaitResult<R, T> {
        let cv = Arc::new(Condvar::new());
        let mut slot = WaitSlot::new();
        loop {
            match self.poll_step(&mut slot, Task::Thread(&cv), &mut check) {
                Poll::Ready(WaitResult::Notified) if !return_on_notify => continue,
                Poll::Ready(result) => return result,
                Poll::Pending => {}
            }
            let mut list = self.list.lock();
            if let Some(result) = park(&mut list, &mut slot, &cv, deadline) {
                drop(list);
                match result {
                    Parked::Woken(Woken::Notified) if !return_on_notify => continue,
                    Parked::Woken(Woken::Notified) => return WaitResult::Notified,
                    Parked::Woken(Woken::Value(v)) => return WaitResult::Value(v),
                    Parked::Woken(Woken::Closed) => return WaitResult::Closed,
                    Parked::TimedOut(cancelled) => {
                        match cancelled {
                            Cancelled::PassedOn(wake) => wake.wake(),
                            Cancelled::Returned(v) => return WaitResult::Value(v),
                            Cancelled::Left => {}
                        }
                        // A last look: the state may have changed just before the deadline.
                        return match check() {
                            Some(r) => WaitResult::Ready(r),
                            None => WaitResult::TimedOut,
                        };
                    }
                }
            }
        }
    }
}

/// How a [`park`] ended.
#[derive(Debug)]
pub(crate) enum Parked<T> {
    /// Woken with this (the slot is released).
    Woken(Woken<T>),
    /// The deadline passed while still waiting; the waiter has left the line. A notification
    /// received at the last moment was passed on: fire the wake-up after unlocking.
    TimedOut(Cancelled<T>),
}

/// Blocks the current thread on `cv` (which must be the condition variable registered for
/// `slot`) until the waiter is woken or `deadline` passes, releasing `guard`'s mutex while
/// asleep. The owner's state `S` holds the list; `list` projects to it.
///
/// Returns `None` after a spurious or early wake-up, so the caller's loop re-checks; `Some`
/// when the wait is over. A value handed at the deadline is still taken (it is never lost);
/// a value cannot be [`Cancelled::Returned`] here because a waiter that was handed one returns
/// it as [`Woken::Value`].
pub(crate) fn park_in<S, T>(
    guard: &mut MutexGuard<'_, S>,
    list: impl Fn(&mut S) -> &mut WaitList<T>,
    slot: &mut WaitSlot,
    cv: &Condvar,
    deadline: Option<Instant>,
) -> Option<Parked<T>> {
    if let Poll::Ready(w) = list(&mut **guard).poll(slot, None) {
        return Some(Parked::Woken(w));
    }
    let timed_out = match deadline {
        Some(d) => cv.wait_until(guard, d).timed_out(),
        None => {
            cv.wait(guard);
            false
        }
    };
    if let Poll::Ready(w) = list(&mut **guard).poll(slot, None) {
        return Some(Parked::Woken(w));
    }
    if timed_out || deadline.is_some_and(|d| Instant::now() >= d) {
        return Some(Parked::TimedOut(list(&mut **guard).cancel(slot)));
    }
    None
}

/// [`park_in`] for a guard of the list itself.
pub(crate) fn park<T>(
    guard: &mut MutexGuard<'_, WaitList<T>>,
    slot: &mut WaitSlot,
    cv: &Condvar,
    deadline: Option<Instant>,
) -> Option<Parked<T>> {
    park_in(guard, |l| l, slot, cv, deadline)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake as StdWake;
    use std::thread;
    use std::time::Duration;

    fn soon(ms: u64) -> Option<Instant> {
        Some(Instant::now() + Duration::from_millis(ms))
    }

    /// Blocks until `queue` has `n` waiters (bounded: 5 s).
    fn until_waiting<T>(queue: &WaitQueue<T>, n: usize) {
        let end = Instant::now() + Duration::from_secs(5);
        while queue.len() < n {
            assert!(Instant::now() < end, "waiters never registered");
            thread::sleep(Duration::from_millis(1));
        }
    }

    struct CountingWaker(AtomicUsize);
    impl StdWake for CountingWaker {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn handoff_with_nobody_waiting_returns_the_value() {
        let q = WaitQueue::<u32>::new();
        assert_eq!(q.handoff(7), Err(7));
        assert!(!q.notify_one());
        assert_eq!(q.notify_all(), 0);
    }

    #[test]
    fn waiter_served_in_arrival_order() {
        let q = StdArc::new(WaitQueue::<usize>::new());
        let mut handles = Vec::new();
        for i in 0..4 {
            let q2 = StdArc::clone(&q);
            handles.push(thread::spawn(move || (i, q2.wait(soon(5_000)))));
            until_waiting(&q, i + 1);
        }
        for v in 0..4 {
            assert_eq!(q.handoff(v), Ok(()));
        }
        for h in handles {
            let (i, r) = h.join().unwrap();
            assert_eq!(r, WaitResult::Value(i), "waiter {i} got another's value");
        }
    }

    #[test]
    fn blocking_wait_times_out_and_leaves_the_line() {
        let q = WaitQueue::<u32>::new();
        let start = Instant::now();
        assert_eq!(q.wait(soon(20)), WaitResult::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(q.len(), 0);
        assert_eq!(q.handoff(1), Err(1));
    }

    #[test]
    fn close_wakes_every_waiter_and_refuses_later_ones() {
        let q = StdArc::new(WaitQueue::<u32>::new());
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let q = StdArc::clone(&q);
                thread::spawn(move || q.wait(soon(5_000)))
            })
            .collect();
        until_waiting(&q, 3);
        q.close();
        for h in handles {
            assert_eq!(h.join().unwrap(), WaitResult::Closed);
        }
        assert_eq!(q.wait(None), WaitResult::Closed);
        assert_eq!(q.handoff(3), Err(3));
    }

    #[test]
    fn notify_all_makes_waiters_recheck() {
        let q = StdArc::new(WaitQueue::<()>::new());
        let ready = StdArc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (q, ready) = (StdArc::clone(&q), StdArc::clone(&ready));
                thread::spawn(move || {
                    q.wait_for(soon(5_000), || {
                        (ready.load(Ordering::SeqCst) == 1).then_some("loaded")
                    })
                })
            })
            .collect();
        until_waiting(&q, 3);
        // A notification without the state change: they re-check and wait again.
        assert_eq!(q.notify_all(), 3);
        until_waiting(&q, 3);
        ready.store(1, Ordering::SeqCst);
        q.notify_all();
        for h in handles {
            assert_eq!(h.join().unwrap(), WaitResult::Ready("loaded"));
        }
    }

    #[test]
    fn polled_waiter_gets_handoff_and_is_woken_once() {
        let q = WaitQueue::<u32>::new();
        let counter = StdArc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(StdArc::clone(&counter));
        let mut slot = WaitSlot::new();
        assert!(
            q.poll_wait_for(&mut slot, &waker, || None::<()>)
                .is_pending()
        );
        assert!(
            q.poll_wait_for(&mut slot, &waker, || None::<()>)
                .is_pending()
        );
        assert_eq!(q.handoff(9), Ok(()));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            q.poll_wait_for(&mut slot, &waker, || None::<()>),
            Poll::Ready(WaitResult::Value(9))
        );
        assert!(!slot.is_registered());
    }

    #[test]
    fn cancelled_waiter_passes_its_value_to_the_next() {
        let q = WaitQueue::<u32>::new();
        let waker = Waker::noop();
        let (mut first, mut second) = (WaitSlot::new(), WaitSlot::new());
        assert!(
            q.poll_wait_for(&mut first, waker, || None::<()>)
                .is_pending()
        );
        assert!(
            q.poll_wait_for(&mut second, waker, || None::<()>)
                .is_pending()
        );
        assert_eq!(q.handoff(5), Ok(()));
        // The first future is dropped before it saw its value.
        assert_eq!(q.cancel(&mut first), None);
        assert_eq!(
            q.poll_wait_for(&mut second, waker, || None::<()>),
            Poll::Ready(WaitResult::Value(5))
        );
    }

    #[test]
    fn cancelled_waiter_returns_its_value_when_nobody_else_waits() {
        let q = WaitQueue::<u32>::new();
        let mut slot = WaitSlot::new();
        assert!(
            q.poll_wait_for(&mut slot, Waker::noop(), || None::<()>)
                .is_pending()
        );
        assert_eq!(q.handoff(5), Ok(()));
        assert_eq!(q.cancel(&mut slot), Some(5));
        assert_eq!(q.handoff(6), Err(6));
    }

    #[test]
    fn cancelled_waiter_before_handoff_is_skipped() {
        let q = WaitQueue::<u32>::new();
        let waker = Waker::noop();
        let (mut first, mut second) = (WaitSlot::new(), WaitSlot::new());
        assert!(
            q.poll_wait_for(&mut first, waker, || None::<()>)
                .is_pending()
        );
        assert!(
            q.poll_wait_for(&mut second, waker, || None::<()>)
                .is_pending()
        );
        assert_eq!(q.cancel(&mut first), None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.handoff(5), Ok(()));
        assert_eq!(
            q.poll_wait_for(&mut second, waker, || None::<()>),
            Poll::Ready(WaitResult::Value(5))
        );
    }

    #[test]
    fn threads_and_tasks_share_one_order() {
        let q = StdArc::new(WaitQueue::<u32>::new());
        let mut task = WaitSlot::new();
        assert!(
            q.poll_wait_for(&mut task, Waker::noop(), || None::<()>)
                .is_pending()
        );
        let q2 = StdArc::clone(&q);
        let thread = thread::spawn(move || q2.wait(soon(5_000)));
        until_waiting(&q, 2);
        q.handoff(1).unwrap();
        q.handoff(2).unwrap();
        assert_eq!(
            q.poll_wait_for(&mut task, Waker::noop(), || None::<()>),
            Poll::Ready(WaitResult::Value(1))
        );
        assert_eq!(thread.join().unwrap(), WaitResult::Value(2));
    }

    /// A waker that takes the queue's lock would deadlock if it were woken under it.
    #[test]
    fn wakers_run_after_the_lock_is_released() {
        struct Relocking(StdArc<WaitQueue<u32>>, AtomicUsize);
        impl StdWake for Relocking {
            fn wake(self: StdArc<Self>) {
                let _ = self.0.len();
                self.1.fetch_add(1, Ordering::SeqCst);
            }
        }
        let q = StdArc::new(WaitQueue::<u32>::new());
        let w = StdArc::new(Relocking(StdArc::clone(&q), AtomicUsize::new(0)));
        let waker = Waker::from(StdArc::clone(&w));
        let (mut a, mut b, mut c) = (WaitSlot::new(), WaitSlot::new(), WaitSlot::new());
        for s in [&mut a, &mut b, &mut c] {
            assert!(q.poll_wait_for(s, &waker, || None::<()>).is_pending());
        }
        q.handoff(1).unwrap();
        q.notify_one();
        q.close();
        assert_eq!(w.1.load(Ordering::SeqCst), 3);
        assert_eq!(
            q.poll_wait_for(&mut a, &waker, || None::<()>),
            Poll::Ready(WaitResult::Value(1))
        );
        for s in [&mut b, &mut c] {
            assert!(q.poll_wait_for(s, &waker, || None::<()>).is_ready());
        }
    }

    #[test]
    fn check_success_while_registered_leaves_the_line() {
        let q = WaitQueue::<u32>::new();
        let mut slot = WaitSlot::new();
        let mut done = false;
        assert!(
            q.poll_wait_for(&mut slot, Waker::noop(), || done.then_some(()))
                .is_pending()
        );
        done = true;
        assert_eq!(
            q.poll_wait_for(&mut slot, Waker::noop(), || done.then_some(())),
            Poll::Ready(WaitResult::Ready(()))
        );
        assert!(!slot.is_registered());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn mailbox_waiter_receives_its_value_without_the_list_lock() {
        let list = StdArc::new(Mutex::new(WaitList::<u32>::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = StdArc::clone(&list);
        let waiter = thread::spawn(move || {
            let mailbox = Arc::new(Mailbox::for_current_thread());
            let mut slot = WaitSlot::new();
            // SAFETY: the mailbox, held here, outlives the registration (ended by `wait`).
            unsafe { l.lock().register_thread(&mut slot, &mailbox) }.unwrap();
            tx.send(()).unwrap();
            let woken = mailbox.wait(&mut slot, soon(5_000));
            assert!(!slot.is_registered());
            woken
        });
        rx.recv().unwrap();
        let wake = list.lock().handoff(4).unwrap();
        // The entry is released at the hand-off: nobody is in line any more.
        assert!(list.lock().is_empty());
        // The waiter collects it while the list stays locked here.
        let guard = list.lock();
        wake.wake();
        assert_eq!(waiter.join().unwrap(), Some(Woken::Value(4)));
        drop(guard);
    }

    #[test]
    fn mailbox_waiter_leaving_takes_a_value_delivered_first_or_just_leaves() {
        let mut list = WaitList::<u32>::new();
        let mailbox = Arc::new(Mailbox::for_current_thread());
        let (mut first, mut second) = (WaitSlot::new(), WaitSlot::new());
        // SAFETY: the mailbox, held here, outlives the registration.
        unsafe { list.register_thread(&mut first, &mailbox) }.unwrap();
        let other = Arc::new(Mailbox::for_current_thread());
        // SAFETY: as above.
        unsafe { list.register_thread(&mut second, &other) }.unwrap();
        // The deadline passed with nothing delivered: it leaves the line.
        assert_eq!(mailbox.wait(&mut first, Some(Instant::now())), None);
        assert!(matches!(
            list.cancel_with_mailbox(&mut first, &mailbox),
            Ok(Cancelled::Left)
        ));
        assert_eq!(list.len(), 1);
        // A value delivered just before the other's deadline is its own.
        let _wake = list.handoff(8).unwrap();
        assert!(matches!(
            list.cancel_with_mailbox(&mut second, &other),
            Err(Woken::Value(8))
        ));
        assert!(!second.is_registered());
        assert_eq!(list.handoff(9).err(), Some(9));
    }

    #[test]
    fn close_reaches_mailbox_waiters() {
        let mut list = WaitList::<u32>::new();
        let mailbox = Arc::new(Mailbox::for_current_thread());
        let mut slot = WaitSlot::new();
        // SAFETY: the mailbox, held here, outlives the registration.
        unsafe { list.register_thread(&mut slot, &mailbox) }.unwrap();
        assert_eq!(list.close().len(), 1);
        assert_eq!(mailbox.try_take(&mut slot), Some(Woken::Closed));
        // SAFETY: refused, so nothing points to the mailbox afterwards.
        let refused = unsafe { list.register_thread(&mut WaitSlot::new(), &mailbox) };
        assert!(refused.is_err());
    }

    /// Registers a task waiter in `list` (woken through a no-op waker).
    fn join(list: &mut WaitList<u32>) -> WaitSlot {
        let mut slot = WaitSlot::new();
        list.register(&mut slot, Task::Waker(Waker::noop()))
            .unwrap();
        slot
    }

    /// What a registered task waiter was handed, if anything yet.
    fn handed(list: &mut WaitList<u32>, slot: &mut WaitSlot) -> Option<u32> {
        match list.poll(slot, None) {
            Poll::Ready(Woken::Value(v)) => Some(v),
            Poll::Ready(other) => panic!("woken with {other:?}"),
            Poll::Pending => None,
        }
    }

    #[test]
    fn leaving_the_line_keeps_the_others_order_and_the_line_short() {
        let mut list = WaitList::<u32>::new();
        let mut slots: Vec<WaitSlot> = (0..1000).map(|_| join(&mut list)).collect();
        // Every odd waiter leaves, from the back of the line to the front and from the
        // middle out, so places are left behind everywhere.
        let mut leaving: Vec<usize> = (1..1000).step_by(2).collect();
        leaving.sort_by_key(|&i| (i as i64 - 500).abs());
        for &i in &leaving {
            assert!(matches!(list.cancel(&mut slots[i]), Cancelled::Left));
            assert!(
                list.order.len() <= 2 * list.len() + 16,
                "{} places kept for {} waiters",
                list.order.len(),
                list.len()
            );
        }
        assert_eq!(list.len(), 500);
        // Their entries are reused by newcomers, who join at the back.
        let mut newcomers: Vec<WaitSlot> = (0..10).map(|_| join(&mut list)).collect();
        assert_eq!(list.len(), 510);
        for v in 0..510 {
            assert!(list.handoff(v).is_ok(), "value {v} found nobody");
        }
        assert!(list.is_empty());
        assert!(matches!(list.handoff(99), Err(99)));
        for (n, i) in (0..1000).step_by(2).enumerate() {
            assert_eq!(
                handed(&mut list, &mut slots[i]),
                Some(n as u32),
                "waiter {i}"
            );
        }
        for (n, slot) in newcomers.iter_mut().enumerate() {
            assert_eq!(
                handed(&mut list, slot),
                Some(500 + n as u32),
                "newcomer {n}"
            );
        }
        for slot in &mut slots {
            assert!(!slot.is_registered());
        }
    }

    #[test]
    fn a_reused_entry_is_served_at_its_new_place_not_its_old_one() {
        let mut list = WaitList::<u32>::new();
        let mut first = join(&mut list);
        let mut second = join(&mut list);
        assert!(matches!(list.cancel(&mut first), Cancelled::Left));
        // The newcomer takes the entry `first` left (its old place is still in `order`).
        let mut third = join(&mut list);
        assert_eq!(third.0, Some(0));
        assert_eq!(list.order.len(), 3);
        assert!(list.handoff(1).is_ok());
        assert!(list.handoff(2).is_ok());
        assert_eq!(handed(&mut list, &mut second), Some(1));
        assert_eq!(handed(&mut list, &mut third), Some(2));
    }

    #[test]
    fn expire_takes_every_due_waiter_in_one_pass_and_keeps_the_rest_in_order() {
        let mut list = WaitList::<u32>::new();
        let now = Instant::now();
        let at = |ms: u64| Some(now + Duration::from_millis(ms));
        // Deadlines in the line's order: due, later, due, none, due, latest, earliest later.
        let deadlines = [at(0), at(50), at(0), None, at(0), at(90), at(20)];
        let mut slots: Vec<(WaitSlot, Arc<Mailbox<u32>>)> = deadlines
            .iter()
            .map(|&d| {
                let mailbox = Arc::new(Mailbox::for_task());
                let mut slot = WaitSlot::new();
                // SAFETY: the mailbox's `Arc` stays in `slots` until the test ends, after
                // every registration ended.
                unsafe { list.register_task(&mut slot, Task::Waker(Waker::noop()), &mailbox, d) }
                    .unwrap();
                (slot, mailbox)
            })
            .collect();
        // One that left keeps its place in `order` until the sweep drops it.
        let mut gone = WaitSlot::new();
        let gone_box = Arc::new(Mailbox::for_task());
        // SAFETY: the mailbox, held here, outlives the registration (cancelled below).
        unsafe { list.register_task(&mut gone, Task::Waker(Waker::noop()), &gone_box, at(0)) }
            .unwrap();
        assert!(matches!(
            list.cancel_with_mailbox(&mut gone, &gone_box),
            Ok(Cancelled::Left)
        ));
        let (wakeups, next) = list.expire(now, || 0);
        assert_eq!(wakeups.len(), 3);
        assert_eq!(next, at(20));
        assert_eq!(list.len(), 4);
        assert_eq!(list.order.len(), 4, "the sweep drops places left behind");
        for i in [0, 2, 4] {
            let (slot, mailbox) = &mut slots[i];
            assert_eq!(mailbox.try_take(slot), Some(Woken::Value(0)), "waiter {i}");
        }
        for v in 1..=4 {
            assert!(list.handoff(v).is_ok());
        }
        for (v, i) in [1, 3, 5, 6].into_iter().enumerate() {
            let (slot, mailbox) = &mut slots[i];
            assert_eq!(
                mailbox.try_take(slot),
                Some(Woken::Value(v as u32 + 1)),
                "waiter {i}"
            );
        }
    }

    #[test]
    fn many_threads_each_value_handed_out_exactly_once() {
        let q = StdArc::new(WaitQueue::<usize>::new());
        let got = StdArc::new(crate::sync::Mutex::new(Vec::new()));
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (q, got) = (StdArc::clone(&q), StdArc::clone(&got));
                thread::spawn(move || {
                    for _ in 0..50 {
                        if let WaitResult::Value(v) = q.wait(soon(2)) {
                            got.lock().push(v);
                        }
                    }
                })
            })
            .collect();
        let mut kept = Vec::new();
        for v in 0..2_000 {
            if let Err(v) = q.handoff(v) {
                kept.push(v);
            }
        }
        for w in waiters {
            w.join().unwrap();
        }
        let mut all = got.lock().clone();
        all.extend(kept);
        all.sort_unstable();
        assert_eq!(all, (0..2_000).collect::<Vec<_>>());
    }
}
