//! A FIFO line threaded through nodes its waiters own: [`NodeList`] and [`Node`].
//!
//! [`WaitList`](super::WaitList) keeps each waiter's entry in a vector of its own, with a free
//! list and a separate order of places; joining and serving the line touch those three arrays
//! and an entry of up to three cache lines, under the owner's lock, on every wait. Where every
//! waiter has a mailbox anyway (the pool), the entry can live in the mailbox's node, which the
//! waiter owns (in its future, or on its blocked thread's stack): the line is then only a
//! queue of pointers to nodes. Measured on the 64-task async pool benchmark (2-core Intel VM,
//! `async_pool_speed 7 shared`, ten alternated runs each): 1.00x deadpool with `WaitList`
//! against 0.78x with a queue of node pointers.
//!
//! The rules are `WaitList`'s mailbox rules: a node is pushed (`unsafe`: its owner keeps it in
//! place until it leaves the line), served by a delivery into its mailbox under the owner's
//! lock (the node leaves the line then), taken by its owner without the lock
//! ([`Node::try_take`]), or withdrawn by its owner under the lock ([`NodeList::cancel`]), which
//! returns a delivery that came first. Wake-ups are returned, to fire after unlocking.
//!
//! A node's place is its position number: the queue pops only at the front and pushes only at
//! the back, so a position stays valid while the node is in line, and a node that leaves from
//! the middle leaves a `None` behind. Those are dropped as they reach the front, or all at once
//! when they outnumber the waiters two to one (the nodes in line are then renumbered), so the
//! queue stays O(waiters) long.

use std::collections::VecDeque;
use std::fmt;
use std::ptr::NonNull;
use std::task::Poll;
use std::time::Instant;

use super::{Closed, Mailbox, Task, Wake, Wakeups, Woken};
use crate::sync::UnsafeCell;

/// A waiter's node: its mailbox and, while it is in line, its place (read and written only
/// under the owner's lock).
pub struct Node<T> {
    mailbox: Mailbox<T>,
    place: UnsafeCell<Place>,
}

/// What the line knows of a node in it.
#[derive(Default)]
struct Place {
    /// In line (pushed, not yet served or withdrawn).
    linked: bool,
    /// Position number in the line's queue (see the module docs).
    position: u64,
    /// How to wake a task; `None` for a thread (its mailbox unparks it).
    wake: Option<Wake>,
    /// When the owner's deadline keeper is to expire this waiter ([`NodeList::expire`]).
    deadline: Option<Instant>,
}

// SAFETY: the mailbox is `Send + Sync` for `T: Send` (see `Mailbox`); `place` is read and
// written only under the owner's lock (every `NodeList` method takes `&mut self` of the list
// the owner's lock guards), so sharing the node shares no unsynchronised access; its `Wake` is
// `Send`.
unsafe impl<T: Send> Send for Node<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Node<T> {}

impl<T> fmt::Debug for Node<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

impl<T> Node<T> {
    /// A node for an async task, woken through the waker it is pushed with.
    pub(crate) fn for_task() -> Self {
        Self {
            mailbox: Mailbox::for_task(),
            place: UnsafeCell::new(Place::default()),
        }
    }

    /// A node for the calling thread, unparked on delivery.
    pub(crate) fn for_current_thread() -> Self {
        Self {
            mailbox: Mailbox::for_current_thread(),
            place: UnsafeCell::new(Place::default()),
        }
    }

    /// Takes what the node was served with, if it was, with no lock. `in_line` is the
    /// owner's own record that the node is in line (so only the owner calls this, one call
    /// at a time); it is cleared when something is taken.
    pub(crate) fn try_take(&self, in_line: &mut bool) -> Option<Woken<T>> {
        let woken = self.mailbox.take()?;
        *in_line = false;
        Some(woken)
    }

    /// Blocks the calling thread (the node's own) until it is served or `deadline` passes
    /// (`None`: the caller then withdraws it with [`NodeList::cancel`], which returns a
    /// delivery made at the last moment).
    pub(crate) fn wait(&self, in_line: &mut bool, deadline: Option<Instant>) -> Option<Woken<T>> {
        super::park_for(deadline, || self.try_take(in_line))
    }

    /// The place, under the owner's lock.
    ///
    /// # Safety
    ///
    /// The caller holds the lock guarding the line this node is (or is about to be) in, or
    /// owns the node while it is in no line.
    #[allow(
        clippy::mut_from_ref,
        reason = "exclusive by the owner's lock, see the contract"
    )]
    unsafe fn place(&self) -> &mut Place {
        // SAFETY: the caller's contract: no other access to `place` meanwhile.
        self.place.with_mut(|p| unsafe { &mut *p })
    }
}

/// A node in the queue, as a pointer. Valid while the node is in line: the owner keeps it in
/// place until then (the contract of [`NodeList::push`]).
struct NodePtr<T>(NonNull<Node<T>>);

// SAFETY: stands for a `&Node<T>` lent by its owner; `Node<T>` is `Send + Sync` for `T: Send`.
unsafe impl<T: Send> Send for NodePtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for NodePtr<T> {}

/// The FIFO line of [`Node`]s. Guard it with a mutex; fire what its methods return after
/// releasing that mutex.
pub struct NodeList<T> {
    /// Nodes in line, oldest first, by position number from `front`; `None` where a node
    /// left from the middle.
    queue: VecDeque<Option<NodePtr<T>>>,
    /// Position number of `queue[0]`.
    front: u64,
    /// Nodes in line.
    waiting: usize,
    closed: bool,
}

impl<T> Default for NodeList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for NodeList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeList")
            .field("waiting", &self.waiting)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<T> NodeList<T> {
    /// An empty, open line.
    pub(crate) const fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            front: 0,
            waiting: 0,
            closed: false,
        }
    }

    /// Nodes in line.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// `true` when nobody is in line.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// `true` once [`NodeList::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends `node` at the back of the line, woken through `task` (a task) or its mailbox
    /// (a thread: `task` is `None`), with a deadline for the owner's keeper if given.
    ///
    /// # Errors
    ///
    /// [`Closed`] after [`NodeList::close`].
    ///
    /// # Safety
    ///
    /// `node` is in no line, and stays where it is, alive, until it leaves this one: until
    /// [`Node::try_take`] (or [`Node::wait`]) returns what it was served with, or
    /// [`NodeList::cancel`] ran for it (or the list is dropped). The list keeps a pointer to
    /// it meanwhile.
    pub(crate) unsafe fn push(
        &mut self,
        node: &Node<T>,
        task: Option<Task<'_>>,
        deadline: Option<Instant>,
    ) -> Result<(), Closed> {
        if self.closed {
            return Err(Closed);
        }
        // SAFETY: the caller holds the owner's lock (it has `&mut self`), and the node is in
        // no line, so nobody else reaches its place.
        let place = unsafe { node.place() };
        debug_assert!(!place.linked, "a node pushed twice");
        *place = Place {
            linked: true,
            position: self.front + self.queue.len() as u64,
            wake: task.map(Wake::from_task),
            deadline,
        };
        self.queue.push_back(Some(NodePtr(NonNull::from(node))));
        self.waiting += 1;
        Ok(())
    }

    /// Under the owner's lock, for a node its owner believes in line: `Ready` with what it
    /// was served with (it has then left the line), else `Pending` after refreshing its waker
    /// with `task`.
    pub(crate) fn poll(
        &mut self,
        node: &Node<T>,
        in_line: &mut bool,
        task: Task<'_>,
    ) -> Poll<Woken<T>> {
        // Deliveries happen under the lock the caller holds, so an empty mailbox here means
        // the node is still in line.
        if let Some(woken) = node.try_take(in_line) {
            return Poll::Ready(woken);
        }
        // SAFETY: under the owner's lock (`&mut self`); the node is in this line.
        let place = unsafe { node.place() };
        Wake::refresh(&mut place.wake, task);
        Poll::Pending
    }

    /// The owner withdraws `node` (its deadline passed, its future was dropped): `Err` with
    /// what it was served with if a delivery came first (a value is then the owner's: it is
    /// never lost), else `Ok` once it has left the line (or was never in it).
    pub(crate) fn cancel(&mut self, node: &Node<T>, in_line: &mut bool) -> Result<(), Woken<T>> {
        if let Some(woken) = node.try_take(in_line) {
            return Err(woken);
        }
        *in_line = false;
        // SAFETY: under the owner's lock (`&mut self`).
        let place = unsafe { node.place() };
        if !place.linked {
            return Ok(());
        }
        place.linked = false;
        place.wake = None;
        let index = (place.position - self.front) as usize;
        self.queue[index] = None;
        self.waiting -= 1;
        self.trim();
        if self.queue.len() > 2 * self.waiting + 16 {
            self.compact();
        }
        Ok(())
    }

    /// `true` while `node` is in line with a deadline the owner's keeper enforces.
    pub(crate) fn is_kept(&self, node: &Node<T>) -> bool {
        // SAFETY: the caller holds the owner's lock (`&self` of the guarded list).
        let place = unsafe { node.place() };
        place.linked && place.deadline.is_some()
    }

    /// Hands `value` to the oldest node in line; returns the wake-up to fire after unlocking.
    ///
    /// # Errors
    ///
    /// Gives `value` back when nobody waits.
    pub(crate) fn handoff(&mut self, value: T) -> Result<Wake, T> {
        match self.pop_oldest() {
            Some(node) => Ok(Self::serve(node, Woken::Value(value))),
            None => Err(value),
        }
    }

    /// Closes the line: every node in it is served [`Woken::Closed`], later pushes fail.
    pub(crate) fn close(&mut self) -> Wakeups {
        self.closed = true;
        let mut wakeups = Wakeups(Vec::with_capacity(self.waiting));
        while let Some(node) = self.pop_oldest() {
            wakeups.push(Self::serve(node, Woken::Closed));
        }
        wakeups
    }

    /// The deadline keeper's sweep: every node whose deadline is at or before `now` is served
    /// `expired()` and leaves the line. Returns their wake-ups and the earliest deadline still
    /// ahead. O(n) in the line's length; the keeper runs only at deadlines and when the first
    /// kept waiter joins an empty line.
    pub(crate) fn expire(
        &mut self,
        now: Instant,
        mut expired: impl FnMut() -> T,
    ) -> (Wakeups, Option<Instant>) {
        let mut wakeups = Wakeups::default();
        let mut next: Option<Instant> = None;
        for slot in &mut self.queue {
            let Some(ptr) = slot else { continue };
            // SAFETY: a pointer in the queue is a node in line (the `push` contract), and
            // the caller holds the owner's lock.
            let place = unsafe { ptr.0.as_ref().place() };
            match place.deadline {
                Some(d) if d <= now => {
                    let Some(ptr) = slot.take() else { continue };
                    self.waiting -= 1;
                    wakeups.push(Self::serve(ptr, Woken::Value(expired())));
                }
                Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                None => {}
            }
        }
        self.trim();
        if self.queue.len() > 2 * self.waiting + 16 {
            self.compact();
        }
        (wakeups, next)
    }

    /// The deadline keeper stops: every node it kept keeps its own deadline from now on.
    /// Returns wake-ups for those tasks (each still in line) so that they arm their own.
    pub(crate) fn release_kept(&mut self) -> Wakeups {
        let mut wakeups = Wakeups::default();
        for ptr in self.queue.iter().flatten() {
            // SAFETY: as in `expire`.
            let place = unsafe { ptr.0.as_ref().place() };
            if place.deadline.take().is_some()
                && let Some(Wake::Waker(w)) = &place.wake
            {
                wakeups.push(Wake::Waker(w.clone()));
            }
        }
        wakeups
    }

    /// Takes the oldest node out of the line.
    fn pop_oldest(&mut self) -> Option<NodePtr<T>> {
        while let Some(slot) = self.queue.pop_front() {
            self.front += 1;
            if let Some(ptr) = slot {
                self.waiting -= 1;
                // Places left behind it go now, so an empty line holds nothing.
                self.trim();
                return Some(ptr);
            }
        }
        None
    }

    /// Delivers `woken` to a node just taken out of the line; returns how to wake it.
    fn serve(ptr: NodePtr<T>, woken: Woken<T>) -> Wake {
        // SAFETY: the node was in line until now, so its owner keeps it alive (the `push`
        // contract) until it takes this delivery; the lock is held (the callers have `&mut
        // self`). Nothing of the node is used after `deliver`.
        unsafe {
            let node = ptr.0.as_ref();
            let place = node.place();
            place.linked = false;
            place.deadline = None;
            let task = place.wake.take();
            let unpark = Mailbox::deliver(super::MailboxPtr(NonNull::from(&node.mailbox)), woken);
            match unpark.or(task) {
                Some(w) => w,
                None => unreachable!("a node in line always has a wake handle"),
            }
        }
    }

    /// Drops the `None`s at the front.
    fn trim(&mut self) {
        while let Some(None) = self.queue.front() {
            self.queue.pop_front();
            self.front += 1;
        }
    }

    /// Drops every `None` and renumbers the nodes in line.
    #[cold]
    fn compact(&mut self) {
        self.queue.retain(Option::is_some);
        for (i, ptr) in self.queue.iter().flatten().enumerate() {
            // SAFETY: as in `expire`.
            unsafe { ptr.0.as_ref().place() }.position = self.front + i as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use super::*;

    /// `n` task nodes, boxed so that they stay where they are while in line.
    fn nodes(n: usize) -> Vec<(Box<Node<u32>>, bool)> {
        (0..n)
            .map(|_| (Box::new(Node::for_task()), false))
            .collect()
    }

    /// Pushes node `i` (no deadline unless given).
    fn push(
        list: &mut NodeList<u32>,
        all: &mut [(Box<Node<u32>>, bool)],
        i: usize,
        deadline: Option<Instant>,
    ) {
        let (node, in_line) = &mut all[i];
        // SAFETY: the boxed node stays put, and the tests end every registration (take or
        // cancel) before dropping `all`.
        unsafe { list.push(node, Some(Task::Waker(Waker::noop())), deadline) }.unwrap();
        *in_line = true;
    }

    fn taken(all: &mut [(Box<Node<u32>>, bool)], i: usize) -> Option<Woken<u32>> {
        let (node, in_line) = &mut all[i];
        node.try_take(in_line)
    }

    #[test]
    fn nodes_are_served_in_order_and_one_that_left_is_skipped() {
        let mut list = NodeList::new();
        let mut all = nodes(3);
        for i in 0..3 {
            push(&mut list, &mut all, i, None);
        }
        let (node, in_line) = &mut all[1];
        assert_eq!(list.cancel(node, in_line), Ok(()));
        assert!(!*in_line);
        assert_eq!(list.len(), 2);
        assert!(list.handoff(10).is_ok());
        assert!(list.handoff(11).is_ok());
        assert_eq!(list.handoff(12).err(), Some(12), "nobody left in line");
        assert_eq!(taken(&mut all, 0), Some(Woken::Value(10)));
        assert_eq!(taken(&mut all, 1), None);
        assert_eq!(taken(&mut all, 2), Some(Woken::Value(11)));
        assert!(all.iter().all(|(_, in_line)| !in_line));
    }

    #[test]
    fn a_withdrawn_node_served_first_gets_its_value_and_leaves() {
        let mut list = NodeList::new();
        let mut all = nodes(1);
        push(&mut list, &mut all, 0, None);
        let _wake = list.handoff(5).unwrap();
        let (node, in_line) = &mut all[0];
        assert_eq!(list.cancel(node, in_line), Err(Woken::Value(5)));
        assert!(!*in_line);
        assert!(list.is_empty());
    }

    #[test]
    fn many_leaving_from_the_middle_keep_the_queue_short_and_the_order() {
        let mut list = NodeList::new();
        let mut all = nodes(1000);
        for i in 0..1000 {
            push(&mut list, &mut all, i, None);
        }
        // Everyone but every tenth leaves, in a scattered order; the queue is compacted
        // (renumbered) on the way, and later withdrawals find their renumbered places.
        for step in [3, 7, 1, 9, 5, 2, 8, 4, 6] {
            for i in (step..1000).step_by(10) {
                let (node, in_line) = &mut all[i];
                assert_eq!(list.cancel(node, in_line), Ok(()));
            }
            assert!(list.queue.len() <= 2 * list.len() + 16 + 1);
        }
        assert_eq!(list.len(), 100);
        for v in 0..100 {
            assert!(list.handoff(v).is_ok());
        }
        for (v, i) in (0..1000).step_by(10).enumerate() {
            assert_eq!(taken(&mut all, i), Some(Woken::Value(v as u32)), "node {i}");
        }
        assert!(list.queue.is_empty());
    }

    #[test]
    fn expire_serves_due_nodes_and_keeps_the_rest_in_order() {
        let mut list = NodeList::new();
        let now = Instant::now();
        let at = |ms: u64| Some(now + Duration::from_millis(ms));
        let deadlines = [at(0), at(50), at(0), None, at(20)];
        let mut all = nodes(deadlines.len());
        for (i, d) in deadlines.into_iter().enumerate() {
            push(&mut list, &mut all, i, d);
        }
        assert!(list.is_kept(&all[1].0));
        assert!(!list.is_kept(&all[3].0));
        let (wakeups, next) = list.expire(now, || 0);
        assert_eq!(wakeups.len(), 2);
        assert_eq!(next, at(20));
        assert_eq!(list.len(), 3);
        assert_eq!(taken(&mut all, 0), Some(Woken::Value(0)));
        assert_eq!(taken(&mut all, 2), Some(Woken::Value(0)));
        assert_eq!(
            list.release_kept().len(),
            2,
            "the two kept tasks still in line"
        );
        assert!(!list.is_kept(&all[1].0));
        for v in 1..=3 {
            assert!(list.handoff(v).is_ok());
        }
        assert_eq!(taken(&mut all, 1), Some(Woken::Value(1)));
        assert_eq!(taken(&mut all, 3), Some(Woken::Value(2)));
        assert_eq!(taken(&mut all, 4), Some(Woken::Value(3)));
    }

    #[test]
    fn close_serves_everyone_closed_and_refuses_later_nodes() {
        let mut list = NodeList::new();
        let mut all = nodes(3);
        push(&mut list, &mut all, 0, None);
        push(&mut list, &mut all, 1, None);
        assert_eq!(list.close().len(), 2);
        assert_eq!(taken(&mut all, 0), Some(Woken::Closed));
        assert_eq!(taken(&mut all, 1), Some(Woken::Closed));
        // SAFETY: refused: nothing points to the node afterwards.
        let refused = unsafe { list.push(&all[2].0, None, None) };
        assert_eq!(refused, Err(Closed));
    }

    #[test]
    fn a_thread_waiting_on_its_node_receives_a_value_handed_under_the_lock() {
        let list = std::sync::Arc::new(crate::sync::Mutex::new(NodeList::<u32>::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = std::sync::Arc::clone(&list);
        let waiter = std::thread::spawn(move || {
            let node = Node::for_current_thread();
            let mut in_line = true;
            // SAFETY: the node, on this stack, outlives its registration (ended by `wait`).
            unsafe { l.lock().push(&node, None, None) }.unwrap();
            tx.send(()).unwrap();
            node.wait(&mut in_line, Some(Instant::now() + Duration::from_secs(5)))
        });
        rx.recv().unwrap();
        let wake = list.lock().handoff(4).unwrap();
        wake.wake();
        assert_eq!(waiter.join().unwrap(), Some(Woken::Value(4)));
        assert!(list.lock().is_empty());
    }
}
