//! The reader-writer lock under [`SharedMutableData`](super::SharedMutableData): one state
//! word for the uncontended paths, and the core's waiter queue ([`WaitList`]) for everyone who
//! has to wait, blocked threads and async tasks alike, in one FIFO line.
//!
//! # The state word
//!
//! `WRITER` (a writer holds the lock), `QUEUED` (someone waits in line), `WRITER_QUEUED` (a
//! writer waits in line) and the number of readers holding it, in units of `READER`. Taking
//! and releasing the lock uncontended is one atomic read-modify-write each.
//!
//! # Waiting, and how fair it is
//!
//! A caller that cannot take the lock takes the queue's mutex and, in one compare-and-swap,
//! either takes the lock after all or sets `QUEUED` (and `WRITER_QUEUED` for a writer); then
//! it joins the back of the line. Every release sees `QUEUED` in its own read-modify-write
//! (the last reader's `fetch_sub`, the writer's failed compare-and-swap), so a waiter is never
//! forgotten. That release takes the queue's mutex and serves the front of the line, in one of
//! two ways:
//!
//! - **Wake** (usually): the front waiter (a writer, or every reader up to the first writer)
//!   leaves the line and is woken to try again. Meanwhile a newcomer may take the lock first
//!   (it barges); a waiter that loses goes back in line. Under contention this keeps the lock
//!   busy instead of idle while a parked thread is scheduled: strict hand-off made two threads
//!   writing a counter 27 times slower than `parking_lot` (every write became a park and a
//!   wake-up, a lock convoy).
//! - **Hand-off** (once `FAIR_AFTER` has passed since the last hand-off, or since the lock was
//!   made): the lock is taken *for* the front waiters (their bits are set before they are
//!   woken), so nobody can barge; this bounds how long anyone waits behind bargers, as
//!   `parking_lot`'s eventual fairness does.
//!
//! A new reader never barges past a waiting writer (`WRITER_QUEUED`), so writers are not
//! starved by a stream of readers. A waiter that leaves (a timed-out thread, a dropped future)
//! leaves the line under the mutex; if it had been woken or handed the lock meanwhile it
//! passes that on. `QUEUED` and `WRITER_QUEUED` change only under the mutex, and say whether
//! the line holds anyone, and any writer.

use std::fmt;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::wait::{Mailbox, Task, WaitList, WaitSlot, Wakeups, Woken};

const WRITER: usize = 1;
const QUEUED: usize = 2;
const WRITER_QUEUED: usize = 4;
const READER: usize = 8;
/// How long a line may be served by wake-ups (which let newcomers barge) before a release
/// hands the lock to its front instead.
const FAIR_AFTER: Duration = Duration::from_micros(500);
/// The most readers the word counts; more wait in line (only reachable by leaking guards).
const MAX_READERS_STATE: usize = usize::MAX & !(READER - 1);

/// Shared (read) or exclusive (write) access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Shared,
    Exclusive,
}

impl Access {
    const fn kind(self) -> u8 {
        match self {
            Access::Shared => 0,
            Access::Exclusive => 1,
        }
    }

    const fn from_kind(kind: u8) -> Self {
        if kind == 1 {
            Access::Exclusive
        } else {
            Access::Shared
        }
    }

    /// The state with this access taken, if a newcomer can take it in `state`: as
    /// [`Access::take_at_front`], and a reader does not pass a waiting writer.
    #[inline]
    fn take(self, state: usize) -> Option<usize> {
        if self == Access::Shared && state & WRITER_QUEUED != 0 {
            return None;
        }
        self.take_at_front(state)
    }

    /// Whether a waiter served from the front of the line can take the lock in `state` now
    /// (for a reader, a writer waiting behind it does not count).
    #[inline]
    fn fits(self, state: usize) -> bool {
        match self {
            Access::Shared => state & WRITER == 0 && state < MAX_READERS_STATE,
            Access::Exclusive => state & (WRITER | !(READER - 1)) == 0,
        }
    }

    /// The state with this access taken, if a waiter served from the front of the line can
    /// take it in `state` ([`Access::fits`]).
    #[inline]
    fn take_at_front(self, state: usize) -> Option<usize> {
        match self {
            _ if !self.fits(state) => None,
            Access::Shared => Some(state + READER),
            Access::Exclusive => Some(state | WRITER),
        }
    }
}

/// A waiting acquisition's place in line (inside a future).
#[derive(Debug, Default)]
pub(crate) struct LockWait {
    slot: WaitSlot,
    mailbox: Option<Arc<Mailbox<()>>>,
}

impl LockWait {
    pub(crate) const fn new() -> Self {
        Self {
            slot: WaitSlot::new(),
            mailbox: None,
        }
    }
}

/// The line, under the queue's mutex.
#[derive(Debug)]
struct Line {
    list: WaitList<()>,
    /// Writers in `list`.
    writers: usize,
    /// When the next release hands the lock over instead of waking: `FAIR_AFTER` after the
    /// last hand-off (not after a line forms: a waiter that loses to a barger joins again,
    /// and must not push its own fairness back).
    fair_at: Instant,
    /// Releases that served the line; under loom every other one hands over (loom replays
    /// must not depend on the real clock).
    #[cfg(loom)]
    serves: usize,
}

impl Line {
    /// Whether this release hands the lock over rather than waking.
    #[cfg(not(loom))]
    fn due_for_fairness(&mut self) -> bool {
        Instant::now() >= self.fair_at
    }

    #[cfg(loom)]
    fn due_for_fairness(&mut self) -> bool {
        self.serves += 1;
        self.serves % 2 == 0
    }
}

/// The raw lock: no data, just who holds it and who waits.
pub(crate) struct RawRwLock {
    state: AtomicUsize,
    line: Mutex<Line>,
}

impl fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("RawRwLock")
            .field("writer", &(state & WRITER != 0))
            .field("readers", &(state / READER))
            .field("queued", &(state & QUEUED != 0))
            .finish()
    }
}

impl RawRwLock {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            line: Mutex::new(Line {
                list: WaitList::new(),
                writers: 0,
                fair_at: Instant::now() + FAIR_AFTER,
                #[cfg(loom)]
                serves: 0,
            }),
        }
    }

    /// Takes the lock if it is free for `access` now: a reader while no writer holds it or
    /// waits, a writer while nobody holds it.
    #[inline]
    pub(crate) fn try_lock(&self, access: Access) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let Some(next) = access.take(state) else {
                return false;
            };
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// Releases `access`, which the caller holds.
    #[inline]
    pub(crate) fn unlock(&self, access: Access) {
        match access {
            Access::Shared => {
                // The last reader out with someone in line serves the line.
                let before = self.state.fetch_sub(READER, Ordering::Release);
                if before & QUEUED != 0 && before & !(READER - 1) == READER {
                    self.serve_line(None);
                }
            }
            Access::Exclusive => {
                if self
                    .state
                    .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
                    .is_err()
                {
                    // `QUEUED` is set: release and serve under the queue's mutex.
                    self.serve_line(Some(Access::Exclusive));
                }
            }
        }
    }

    /// Blocks the calling thread until it holds `access` or `deadline` passes (`false`).
    pub(crate) fn lock(&self, access: Access, deadline: Option<Instant>) -> bool {
        self.try_lock(access) || self.lock_slow(access, deadline)
    }

    #[cold]
    fn lock_slow(&self, access: Access, deadline: Option<Instant>) -> bool {
        let mut woken = false;
        loop {
            let mut slot = WaitSlot::new();
            let mailbox = {
                let mut line = self.line.lock();
                if self.take_or_queue(access, woken) {
                    return true;
                }
                let mailbox = Arc::new(Mailbox::for_current_thread());
                // SAFETY: `mailbox` is dropped only after `wait` took a delivery, or after
                // `leave` (nothing between them panics).
                unsafe { self.join(&mut line, &mut slot, &mailbox, None, access) };
                mailbox
            };
            match mailbox.wait(&mut slot, deadline) {
                Some(Woken::Value(())) => return true,
                // Woken from the front to try again (see the module docs): it may pass a
                // writer waiting behind it.
                Some(_) => woken = true,
                None => {
                    // The deadline passed: leave, unless handed the lock at the last moment.
                    let mut line = self.line.lock();
                    let left = self.leave(&mut line, &mut slot, &mailbox, access);
                    self.serve_and_wake(line);
                    return left == Some(Woken::Value(()));
                }
            }
        }
    }

    /// One poll of an async acquisition: `Ready` once the caller holds `access`, else
    /// `Pending` with `waker` registered in line (in `wait`).
    pub(crate) fn poll_lock(&self, access: Access, wait: &mut LockWait, waker: &Waker) -> Poll<()> {
        // Woken from the front of the line to try again (see the module docs).
        let mut woken = false;
        if let Some(mailbox) = &wait.mailbox {
            // Handed the lock (taken from the mailbox with no mutex), told to try again, or
            // still in line.
            let got = match mailbox.try_take(&mut wait.slot) {
                Some(got) => got,
                None => match self.line.lock().list.poll_task(
                    &mut wait.slot,
                    mailbox,
                    Task::Waker(waker),
                ) {
                    Poll::Ready(got) => got,
                    Poll::Pending => return Poll::Pending,
                },
            };
            wait.mailbox = None;
            if got == Woken::Value(()) {
                return Poll::Ready(());
            }
            woken = true;
        }
        if !woken && self.try_lock(access) {
            return Poll::Ready(());
        }
        let mut line = self.line.lock();
        if self.take_or_queue(access, woken) {
            return Poll::Ready(());
        }
        let mailbox = Arc::new(Mailbox::for_task());
        // SAFETY: `wait` keeps the mailbox until a poll takes a delivery from it or `cancel`
        // leaves the line; the futures holding a `LockWait` call `cancel` on drop, and one
        // that is leaked never drops the mailbox.
        unsafe { self.join(&mut line, &mut wait.slot, &mailbox, Some(waker), access) };
        wait.mailbox = Some(mailbox);
        Poll::Pending
    }

    /// An async acquisition is abandoned (its future dropped): leaves the line, passing on
    /// the lock or the wake-up it was given meanwhile. Nothing to do for one that is not in
    /// line.
    pub(crate) fn cancel(&self, access: Access, wait: &mut LockWait) {
        let Some(mailbox) = wait.mailbox.take() else {
            return;
        };
        let mut line = self.line.lock();
        if self.leave(&mut line, &mut wait.slot, &mailbox, access) == Some(Woken::Value(())) {
            // Handed the lock before it left: it is this waiter's to give back.
            self.release_bits(access);
        }
        self.serve_and_wake(line);
    }

    /// Under the queue's mutex: takes `access` if the lock allows it, else marks the line
    /// (`QUEUED`, and `WRITER_QUEUED` for a writer) in the same compare-and-swap loop, so a
    /// release cannot slip between the check and the mark, and returns `false` for the
    /// caller to join the line.
    ///
    /// A waiter `woken` from the front of the line takes the lock by [`Access::fits`].
    fn take_or_queue(&self, access: Access, woken: bool) -> bool {
        let mark = match access {
            Access::Shared => QUEUED,
            Access::Exclusive => QUEUED | WRITER_QUEUED,
        };
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let taken = if woken {
                access.take_at_front(state)
            } else {
                access.take(state)
            };
            let (next, took) = match taken {
                Some(next) => (next, true),
                None => (state | mark, false),
            };
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return took,
                Err(now) => state = now,
            }
        }
    }

    /// Under the queue's mutex, after [`RawRwLock::take_or_queue`] marked the line: appends
    /// the waiter (a thread when `waker` is `None`).
    ///
    /// # Safety
    ///
    /// The caller keeps `mailbox` (its `Arc`) until the registration ends: a delivery taken
    /// from it, or [`RawRwLock::leave`]. The line points to it meanwhile.
    unsafe fn join(
        &self,
        line: &mut Line,
        slot: &mut WaitSlot,
        mailbox: &Arc<Mailbox<()>>,
        waker: Option<&Waker>,
        access: Access,
    ) {
        // SAFETY: the caller keeps the mailbox until the registration ends.
        let registered = unsafe {
            match waker {
                Some(waker) => line
                    .list
                    .register_task(slot, Task::Waker(waker), mailbox, None),
                None => line.list.register_thread(slot, mailbox),
            }
        }
        .is_ok();
        debug_assert!(registered, "the lock's line is never closed");
        line.list.set_kind(slot, access.kind());
        if access == Access::Exclusive {
            line.writers += 1;
        }
    }

    /// Under the queue's mutex: takes a waiter out of the line; returns what it had been
    /// woken with, if anything (the caller serves the line next, which passes a wake-up on).
    fn leave(
        &self,
        line: &mut Line,
        slot: &mut WaitSlot,
        mailbox: &Mailbox<()>,
        access: Access,
    ) -> Option<Woken<()>> {
        match line.list.cancel_with_mailbox(slot, mailbox) {
            Err(woken) => Some(woken),
            Ok(_) => {
                // Still in line: it leaves it now.
                if access == Access::Exclusive {
                    line.writers -= 1;
                }
                None
            }
        }
    }

    /// Gives back `access` (held by the caller) with the queue's mutex held.
    fn release_bits(&self, access: Access) {
        match access {
            Access::Shared => self.state.fetch_sub(READER, Ordering::Release),
            Access::Exclusive => self.state.fetch_and(!WRITER, Ordering::Release),
        };
    }

    /// The slow release: `released` (if any) is given back under the queue's mutex, then the
    /// line is served.
    #[cold]
    fn serve_line(&self, released: Option<Access>) {
        let line = self.line.lock();
        if let Some(access) = released {
            self.release_bits(access);
        }
        self.serve_and_wake(line);
    }

    /// Serves the line ([`RawRwLock::serve_locked`]), releases the queue's mutex, then wakes
    /// whoever was served.
    fn serve_and_wake(&self, mut line: MutexGuard<'_, Line>) {
        let wakeups = self.serve_locked(&mut line);
        drop(line);
        wakeups.wake_all();
    }

    /// Under the queue's mutex: serves the front of the line while it fits the lock's
    /// holders (a writer, or readers up to the first writer), by waking it to try again or,
    /// once the line is due for fairness, by taking the lock for it first (see the module
    /// docs). Then brings `QUEUED` and `WRITER_QUEUED` up to date. Returns the wake-ups to
    /// fire after the mutex is released.
    fn serve_locked(&self, line: &mut Line) -> Wakeups {
        let mut wakeups = Wakeups::default();
        let mut hand_off = None;
        'serve: while let Some(kind) = line.list.front_kind() {
            let access = Access::from_kind(kind);
            if access == Access::Exclusive && !wakeups.is_empty() {
                // Readers went first; the writer is served when they are done.
                break;
            }
            // Only releases change the word while the mutex is held and the line is marked
            // (newcomers that do not fit queue), hence the loops.
            let mut state = self.state.load(Ordering::Relaxed);
            if !access.fits(state) {
                break;
            }
            let hand_off = *hand_off.get_or_insert_with(|| line.due_for_fairness());
            if hand_off {
                loop {
                    let Some(next) = access.take_at_front(state) else {
                        break 'serve;
                    };
                    // AcqRel: the waiter, woken through its mailbox, must see what the
                    // holders released before it.
                    match self.state.compare_exchange_weak(
                        state,
                        next,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => state = now,
                    }
                }
                line.fair_at = Instant::now() + FAIR_AFTER;
                match line.list.handoff(()) {
                    Ok(wake) => wakeups.push(wake),
                    // `front_kind` found a waiter, so this does not happen; give the lock
                    // back rather than keep it for nobody (the loop then ends).
                    Err(()) => self.release_bits(access),
                }
            } else if let Some(wake) = line.list.notify_one() {
                wakeups.push(wake);
            }
            if access == Access::Exclusive {
                line.writers -= 1;
                // One writer at a time.
                break;
            }
        }
        // `QUEUED` and `WRITER_QUEUED` to what the line holds now.
        if line.list.is_empty() {
            self.state
                .fetch_and(!(QUEUED | WRITER_QUEUED), Ordering::Relaxed);
        } else if line.writers == 0 {
            self.state.fetch_and(!WRITER_QUEUED, Ordering::Relaxed);
        }
        wakeups
    }

    /// Waiters in line (for tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.line.lock().list.len()
    }
}
