//! loom models of the pool's hand-off paths, through the public `Pool` API: a returned
//! connection handed to a waiting get, a get whose deadline passes while a connection comes
//! back, `close` racing a waiting get, and two blocked gets served one after the other
//! through their mailboxes. The pools have no background thread (no
//! `min_connections`, idle timeout or lifetime), so every thread here is a loom thread.
#![cfg(loom)]

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use loom::sync::Arc;
use loom::thread;
use patinox_memory::pool::engine::{Acquired, GrantBox, KeeperStep};
use patinox_memory::pool::{ManageConnection, Pool, PoolConfig, PoolError, PoolState};

/// Connections alive, counted outside loom (loom runs one thread at a time).
#[derive(Debug)]
struct Counted(StdArc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct Manager(StdArc<AtomicUsize>);

impl ManageConnection for Manager {
    type Connection = Counted;
    type Error = std::io::Error;
    fn connect(&self) -> Result<Counted, std::io::Error> {
        let alive = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(alive <= 1, "{alive} connections alive in a pool of one");
        Ok(Counted(StdArc::clone(&self.0)))
    }
    fn is_valid(&self, _: &mut Counted) -> Result<(), std::io::Error> {
        Ok(())
    }
}

/// (connections, idle connections, waiting gets) of a pool's state.
fn counts(state: PoolState) -> (usize, usize, usize) {
    (state.connections, state.idle_connections, state.waiting)
}

fn pool_of_one() -> Pool<Manager> {
    Pool::new(
        Manager(StdArc::new(AtomicUsize::new(0))),
        PoolConfig {
            max_connections: 1,
            idle_timeout: None,
            max_lifetime: None,
            ..PoolConfig::default()
        },
    )
    .unwrap()
}

/// Invariant: a connection returned while a get waits is handed to that get (no lost
/// wake-up), and afterwards the pool holds exactly one idle connection and no waiter.
#[test]
fn returned_connection_reaches_the_waiting_get() {
    loom::model(|| {
        let pool = Arc::new(pool_of_one());
        let held = pool.get().unwrap();
        let p = Arc::clone(&pool);
        // Waits (without a deadline under loom) until the connection comes back.
        let waiter = thread::spawn(move || p.get().map(drop));
        drop(held);
        waiter.join().unwrap().unwrap();
        assert_eq!(counts(pool.state()), (1, 1, 0));
    });
}

/// Invariant: a blocked get waits on its own mailbox. The connection, returned while two gets race to
/// join the line and park, must reach each of them exactly once, in turn, and end up idle.
#[test]
fn two_blocked_gets_each_receive_the_connection_once() {
    loom::model(|| {
        let pool = Arc::new(pool_of_one());
        let held = pool.get().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let p = Arc::clone(&pool);
                thread::spawn(move || p.get().map(drop))
            })
            .collect();
        drop(held);
        for w in waiters {
            w.join().unwrap().unwrap();
        }
        assert_eq!(counts(pool.state()), (1, 1, 0));
    });
}

/// Invariant: a get timing out while a connection returns either gets it or times out, and
/// in both cases the connection ends idle: never leaked, never counted twice.
#[test]
fn get_timing_out_while_a_connection_returns_loses_nothing() {
    loom::model(|| {
        let pool = Arc::new(pool_of_one());
        let held = pool.get().unwrap();
        let p = Arc::clone(&pool);
        // A zero timeout: under loom the deadline has passed when the get would wait.
        let waiter = thread::spawn(move || match p.get_timeout(Duration::ZERO) {
            Ok(conn) => {
                drop(conn);
                true
            }
            Err(PoolError::Timeout { .. }) => false,
            Err(other) => panic!("unexpected {other}"),
        });
        drop(held);
        waiter.join().unwrap();
        let state = pool.state();
        assert_eq!((state.in_use, state.waiting), (0, 0));
        assert_eq!(
            state.connections, 1,
            "the connection is kept, not leaked or doubled"
        );
        assert_eq!(state.idle_connections, 1);
    });
}

/// Invariant: close fails the waiting get with `Closed`, and a connection returned after
/// close is dropped (closed), not kept: nothing stays open.
#[test]
fn close_fails_the_waiting_get_and_drops_the_returned_connection() {
    loom::model(|| {
        let pool = Arc::new(pool_of_one());
        let held = pool.get().unwrap();
        let p = Arc::clone(&pool);
        let waiter = thread::spawn(move || p.get().map(drop));
        pool.close();
        let result = waiter.join().unwrap();
        assert!(matches!(result, Err(PoolError::Closed)), "{result:?}");
        drop(held);
        assert_eq!(pool.manager().0.load(Ordering::SeqCst), 0);
        assert_eq!(pool.state().connections, 0);
    });
}

/// The pool engine alone (as the async adapters drive it), for at most one connection and with
/// no idle timeout or lifetime.
fn one_connection_engine() -> StdArc<patinox_memory::pool::engine::Engine<u32, std::io::Error>> {
    let config = PoolConfig {
        max_connections: 1,
        idle_timeout: None,
        max_lifetime: None,
        ..PoolConfig::default()
    };
    patinox_memory::pool::engine::Engine::new(
        config,
        StdArc::new(patinox_memory::monitor::NoopMonitor),
        Box::new(patinox_memory::pool::NoopCustomizer),
    )
}

/// The first async get on an empty engine: it is granted a permit and opens connection 7,
/// which it now holds.
fn first_get_connects(
    engine: &StdArc<patinox_memory::pool::engine::Engine<u32, std::io::Error>>,
) -> patinox_memory::pool::engine::Live<u32> {
    let mailbox = GrantBox::for_task();
    // SAFETY: no waiter comes back (the let-else panics on `Err`, dropping it).
    let Ok(Ok(Acquired::Create(permit))) =
        (unsafe { engine.poll_acquire_first(Waker::noop(), Duration::from_secs(30), &mailbox) })
    else {
        panic!("an empty pool grants a permit");
    };
    engine.connected(permit, 7, Duration::ZERO).unwrap()
}

/// Returns `live` to `engine` from a new thread, racing whatever the model does next.
fn return_on_a_thread(
    engine: &StdArc<patinox_memory::pool::engine::Engine<u32, std::io::Error>>,
    live: patinox_memory::pool::engine::Live<u32>,
) -> thread::JoinHandle<()> {
    let engine = StdArc::clone(engine);
    thread::spawn(move || engine.put_back(live, Instant::now()))
}

/// The async path: a polled acquisition (a future) is dropped while a connection is handed
/// to it; the connection must end up idle, not lost.
#[test]
fn cancelled_async_get_passes_a_handed_connection_back() {
    loom::model(|| {
        let engine = one_connection_engine();
        let (first_box, second_box) = (GrantBox::for_task(), GrantBox::for_task());
        // SAFETY: a local dropped before its mailbox, never leaked.
        let mut first = unsafe { engine.waiter(&first_box) };
        let Poll::Ready(Ok(Acquired::Create(permit))) =
            engine.poll_acquire(&mut first, Waker::noop())
        else {
            panic!("an empty pool grants a permit");
        };
        let live = engine.connected(permit, 7, Duration::ZERO).unwrap();
        // SAFETY: as for `first`.
        let mut second = unsafe { engine.waiter(&second_box) };
        assert!(engine.poll_acquire(&mut second, Waker::noop()).is_pending());
        let giver = return_on_a_thread(&engine, live);
        drop(second);
        giver.join().unwrap();
        assert_eq!(counts(engine.state()), (1, 1, 0));
    });
}

/// The async path's lock-free collection: a waiting get polled again without a wake-up (a
/// future may be), racing a return, either finds its mailbox still empty or takes the
/// connection from it, never a half-delivered grant, and the connection is handed out once.
/// The poll that finds the hand-off takes no lock, so only the mailbox's own ordering makes
/// the delivered connection visible to it.
#[test]
fn a_get_polled_while_its_connection_is_delivered_takes_it_once() {
    loom::model(|| {
        let engine = one_connection_engine();
        let live = first_get_connects(&engine);
        let mailbox = GrantBox::for_task();
        // SAFETY: a local dropped before its mailbox, never leaked.
        let mut waiting = unsafe { engine.waiter(&mailbox) };
        assert!(
            engine
                .poll_acquire(&mut waiting, Waker::noop())
                .is_pending()
        );
        let giver = return_on_a_thread(&engine, live);
        let early = match engine.poll_acquire(&mut waiting, Waker::noop()) {
            Poll::Ready(Ok(Acquired::Idle(live))) => Some(live),
            Poll::Pending => None,
            _ => panic!("the waiting get can only be handed the connection"),
        };
        giver.join().unwrap();
        let live =
            early.unwrap_or_else(|| match engine.poll_acquire(&mut waiting, Waker::noop()) {
                Poll::Ready(Ok(Acquired::Idle(live))) => live,
                _ => panic!("the returned connection went to the waiting get"),
            });
        assert_eq!(*live.conn(), 7);
        drop(waiting);
        engine.put_back(live, Instant::now());
        assert_eq!(counts(engine.state()), (1, 1, 0));
    });
}

/// The async first poll (no place in line yet) racing a return: a newcomer's first poll never
/// takes the connection returned while an older get waits in line (FIFO, no cutting in), the
/// waiting get receives it, and a dropped newcomer leaves nothing behind.
#[test]
fn async_first_poll_never_cuts_in_line() {
    loom::model(|| {
        let engine = one_connection_engine();
        let live = first_get_connects(&engine);
        let (older_box, newcomer_box) = (GrantBox::for_task(), GrantBox::for_task());
        // SAFETY: the waiter is a local dropped before its mailbox, never leaked.
        let Err(mut older) = (unsafe {
            engine.poll_acquire_first(Waker::noop(), Duration::from_secs(30), &older_box)
        }) else {
            panic!("the only connection is out: the second get waits");
        };
        let giver = return_on_a_thread(&engine, live);
        // SAFETY: as for `older`.
        let newcomer = match unsafe {
            engine.poll_acquire_first(Waker::noop(), Duration::from_secs(30), &newcomer_box)
        } {
            Err(waiter) => waiter,
            Ok(got) => panic!("a newcomer cut in line: {got:?}"),
        };
        giver.join().unwrap();
        let Poll::Ready(Ok(Acquired::Idle(conn))) = engine.poll_acquire(&mut older, Waker::noop())
        else {
            panic!("the returned connection goes to the get waiting first");
        };
        assert_eq!(*conn.conn(), 7);
        drop(newcomer);
        assert_eq!(counts(engine.state()), (1, 0, 0));
        engine.put_back(conn, Instant::now());
        assert_eq!(engine.state().idle_connections, 1);
    });
}

/// The deadline keeper's sweep racing a return: a kept waiter whose deadline has passed is
/// either served the returned connection or timed out, never both, and the connection ends
/// up with exactly one owner (the waiter, or the idle set).
#[test]
fn keeper_expiry_racing_a_return_loses_nothing() {
    loom::model(|| {
        let engine = one_connection_engine();
        let keeper = engine.deadline_keeper().expect("no keeper runs yet");
        let live = first_get_connects(&engine);
        // A zero timeout: the deadline is the moment it joins, so any later sweep ends it.
        let mailbox = GrantBox::for_task();
        // SAFETY: the waiter is a local dropped before its mailbox, never leaked.
        let Err(mut waiter) =
            (unsafe { engine.poll_acquire_first(Waker::noop(), Duration::ZERO, &mailbox) })
        else {
            panic!("the only connection is out: the get waits");
        };
        assert!(waiter.is_kept());
        let giver = return_on_a_thread(&engine, live);
        // Whether it ended the wait or found it served, no kept wait is left for later.
        assert_eq!(
            keeper.sweep(Instant::now(), Waker::noop()),
            KeeperStep::Idle
        );
        giver.join().unwrap();
        match engine.poll_acquire(&mut waiter, Waker::noop()) {
            Poll::Ready(Ok(Acquired::Idle(conn))) => {
                assert_eq!(*conn.conn(), 7);
                assert_eq!(engine.state().idle_connections, 0);
                engine.put_back(conn, Instant::now());
            }
            // (The timeout is counted in `stats()`: the adapters' tests check that; its
            // histogram is too many atomics for a loom model.)
            Poll::Ready(Err(PoolError::Timeout { .. })) => {}
            other => panic!("served or timed out, not {other:?}"),
        }
        drop(waiter);
        assert_eq!(counts(engine.state()), (1, 1, 0));
    });
}

/// A keeper dropped (its runtime shut down) while a kept get waits: the get is woken (its
/// waker fires), is no longer kept, and so arms its own timer; it still waits in line.
#[test]
fn dropped_keeper_hands_the_deadline_back() {
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    loom::model(|| {
        let engine = one_connection_engine();
        let keeper = engine.deadline_keeper().expect("no keeper runs yet");
        let live = first_get_connects(&engine);
        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(std::sync::Arc::clone(&flag));
        let mailbox = GrantBox::for_task();
        // SAFETY: the waiter is a local dropped before its mailbox, never leaked.
        let Err(mut waiter) =
            (unsafe { engine.poll_acquire_first(&waker, Duration::from_secs(30), &mailbox) })
        else {
            panic!("the only connection is out: the get waits");
        };
        assert!(waiter.is_kept());
        let dropper = thread::spawn(move || drop(keeper));
        let polled = engine.poll_acquire(&mut waiter, &waker);
        dropper.join().unwrap();
        assert!(polled.is_pending());
        // Whichever came first, the waiter learns it is on its own: from this poll, or from
        // the wake-up the drop sent and the poll after it.
        if waiter.is_kept() {
            assert!(
                flag.0.load(Ordering::SeqCst),
                "the dropped keeper woke its waiter"
            );
            assert!(engine.poll_acquire(&mut waiter, &waker).is_pending());
        }
        assert!(!waiter.is_kept());
        assert!(engine.deadline_keeper().is_some(), "a new keeper may start");
        drop(waiter);
        engine.put_back(live, std::time::Instant::now());
    });
}

/// The last handle of an async pool closing (`close_keeping`) while its last checked-out
/// connection comes back on another thread (`check_in_releasing`): the keep-alive is given up
/// exactly once, by whichever of the two frees the last slot, and the return that finds the
/// pool open and then closed still closes the connection.
#[test]
fn the_keep_alive_is_given_up_once_by_the_last_return_or_the_close() {
    /// Counts its drops in a loom atomic, so a model that drops it twice (or never) fails.
    struct Token(Arc<loom::sync::atomic::AtomicUsize>);
    impl Drop for Token {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    loom::model(|| {
        let engine = one_connection_engine();
        let live = first_get_connects(&engine);
        let drops = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let returner = {
            let engine = StdArc::clone(&engine);
            thread::spawn(move || {
                let released = engine.check_in_releasing(live, |_| false);
                drop(released);
            })
        };
        engine.close_keeping(Box::new(Token(Arc::clone(&drops))));
        returner.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "given up exactly once");
        assert_eq!(counts(engine.state()), (0, 0, 0));
    });
}
