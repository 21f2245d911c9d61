//! Integration tests of `patinox_memory::resource`: guards, offload, the registry, shutdown.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use patinox_memory::Error;
use patinox_memory::monitor::{Event, Metrics, Monitor, ResourceEvent};
use patinox_memory::resource::{
    BackgroundOffload, CleanupMode, Job, ManagedComponent, Offload, RegistryError, ResourceGuard,
    ResourceId, ResourceRegistry, ResourceState, TrackedResource,
};

/// A counter and a cleanup that bumps it.
fn counter<T>() -> (Arc<AtomicUsize>, impl FnOnce(T) + Send + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    (n, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    })
}

fn hook(n: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let n = n.clone();
    move || {
        n.fetch_add(1, Ordering::SeqCst);
    }
}

fn get(n: &AtomicUsize) -> usize {
    n.load(Ordering::SeqCst)
}

/// Silences the default panic message of the panics these tests provoke on purpose.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.to_string();
            if !msg.contains("on purpose") {
                default(info);
            }
        }));
    });
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ResourceGuard<Vec<u8>>>();
    send_sync::<TrackedResource<Vec<u8>>>();
    send_sync::<ResourceRegistry>();
    send_sync::<BackgroundOffload>();
    send_sync::<patinox_memory::resource::CleanupReport>();
    send_sync::<patinox_memory::resource::ResourceInfo>();
    send_sync::<patinox_memory::resource::Refused<Vec<u8>>>();
    send_sync::<patinox_memory::resource::WorkerExit>();
    fn object_safe(_: &dyn Offload, _: &dyn ManagedComponent) {}
    let _ = object_safe;
}

// ---------------------------------------------------------------- guards

#[test]
fn guard_runs_cleanup_exactly_once_with_the_final_value() {
    let (tx, rx) = mpsc::channel();
    let mut g = ResourceGuard::new(vec![1], move |v: Vec<i32>| tx.send(v).unwrap());
    g.push(2);
    assert_eq!(*g, vec![1, 2]);
    assert!(rx.try_recv().is_err(), "cleanup ran before drop");
    drop(g);
    assert_eq!(rx.recv().unwrap(), vec![1, 2]);
    assert!(rx.try_recv().is_err(), "cleanup ran twice");
}

#[test]
fn guard_into_inner_returns_value_without_cleanup() {
    let (n, f) = counter();
    let g = ResourceGuard::new(41u32, f);
    assert_eq!(ResourceGuard::into_inner(g) + 1, 42);
    assert_eq!(get(&n), 0);
}

#[test]
fn on_unwind_guard_runs_only_when_panicking() {
    quiet_panics();
    let (n, f) = counter();
    drop(ResourceGuard::on_unwind(1u8, f));
    assert_eq!(get(&n), 0, "ran on a normal drop");

    let (n, f) = counter();
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _g = ResourceGuard::on_unwind(1u8, f);
        panic!("on purpose");
    }));
    assert!(r.is_err());
    assert_eq!(get(&n), 1);
}

#[test]
fn on_success_guard_runs_only_without_panic() {
    quiet_panics();
    let (n, f) = counter();
    drop(ResourceGuard::on_success(1u8, f));
    assert_eq!(get(&n), 1);

    let (n, f) = counter();
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _g = ResourceGuard::on_success(1u8, f);
        panic!("on purpose");
    }));
    assert!(r.is_err());
    assert_eq!(get(&n), 0, "ran while unwinding");
}

#[test]
fn panicking_guard_cleanup_is_caught_reported_and_counted() {
    quiet_panics();
    let metrics = Arc::new(Metrics::new());
    let g = ResourceGuard::new(1u8, |_| panic!("on purpose: close failed"))
        .with_monitor(metrics.clone());
    drop(g); // must not propagate
    let s = metrics.snapshot().resource;
    assert_eq!((s.cleaned, s.failed), (0, 1));
}

#[test]
fn panicking_cleanup_during_unwinding_does_not_abort() {
    quiet_panics();
    let metrics = Arc::new(Metrics::new());
    let m = metrics.clone();
    // Without the catch, a panic in a destructor during unwinding aborts the whole process
    // (and this test binary with it).
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _g = ResourceGuard::new(1u8, |_| panic!("on purpose: cleanup")).with_monitor(m.clone());
        let _h = ResourceGuard::on_unwind(2u8, |_| panic!("on purpose: rollback")).with_monitor(m);
        panic!("on purpose: original");
    }));
    let payload = r.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("on purpose: original"),
        "the original panic must be the one that propagates"
    );
    assert_eq!(metrics.snapshot().resource.failed, 2);
}

/// Records every event's kind, to check what a guard or registry reports.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Monitor for Recorder {
    fn on_event(&self, event: &Event<'_>) {
        if let Event::Resource(e) = event {
            let line = match e {
                ResourceEvent::Registered { type_name } => format!("registered {type_name}"),
                ResourceEvent::Cleaned {
                    type_name, forced, ..
                } => format!("cleaned {type_name} forced={forced}"),
                ResourceEvent::CleanupFailed { type_name, message } => {
                    format!("failed {type_name}: {message}")
                }
                _ => "other".into(),
            };
            self.0.lock().unwrap().push(line);
        }
    }
}

#[test]
fn guard_reports_cleaned_with_type_name() {
    let rec = Arc::new(Recorder::default());
    drop(ResourceGuard::new(String::new(), |_| {}).with_monitor(rec.clone()));
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec!["cleaned alloc::string::String forced=false".to_owned()]
    );
}

#[test]
fn background_guard_cleans_on_the_worker_and_the_worker_exits_with_its_last_user() {
    let offload = BackgroundOffload::new().unwrap();
    let exit = offload.exit_watch();
    let (tx, rx) = mpsc::channel();
    let g = ResourceGuard::new(5u8, move |v| {
        tx.send((v, thread::current().id())).unwrap();
    })
    .background(Arc::new(offload.clone()));
    assert_eq!(g.mode(), CleanupMode::Background);
    drop(offload);
    // The guard still holds the offload: the worker must be alive.
    assert!(!exit.wait(Duration::from_millis(50)));
    drop(g);
    let (v, id) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(v, 5);
    assert_ne!(id, thread::current().id());
    assert!(
        exit.wait(Duration::from_secs(10)),
        "worker still running after its last user was dropped"
    );
    assert!(exit.has_exited());
}

#[test]
fn background_worker_survives_a_panicking_job() {
    quiet_panics();
    let offload = BackgroundOffload::new().unwrap();
    assert!(offload.offload(Box::new(|| panic!("on purpose"))).is_ok());
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    assert!(
        offload
            .offload(Box::new(move || tx.send(1).unwrap()))
            .is_ok()
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    // Jobs run in order, so once the third one runs the first two are counted.
    assert!(
        offload
            .offload(Box::new(move || tx2.send(2).unwrap()))
            .is_ok()
    );
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 2);
    assert_eq!(offload.panicked_jobs(), 1);
    assert!(offload.completed_jobs() >= 2);
}

#[test]
fn shared_offload_handles_feed_one_thread() {
    let a = BackgroundOffload::shared().unwrap();
    let b = BackgroundOffload::shared().unwrap();
    assert!(a.same_thread(&b));
    assert!(!a.same_thread(&BackgroundOffload::new().unwrap()));
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    assert!(
        a.offload(Box::new(move || tx.send(thread::current().id()).unwrap()))
            .is_ok()
    );
    assert!(
        b.offload(Box::new(move || tx2.send(thread::current().id()).unwrap()))
            .is_ok()
    );
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, second);
    assert_ne!(first, thread::current().id());
}

/// An offload whose runtime is gone: it refuses every job.
struct Refusing;

impl Offload for Refusing {
    fn offload(&self, job: Job) -> Result<(), Job> {
        Err(job)
    }
}

#[test]
fn refused_offload_job_runs_inline_so_no_cleanup_is_lost() {
    let (tx, rx) = mpsc::channel();
    let g = ResourceGuard::new((), move |()| tx.send(thread::current().id()).unwrap())
        .background(Arc::new(Refusing));
    drop(g);
    assert_eq!(rx.try_recv().unwrap(), thread::current().id());
}

// ---------------------------------------------------------------- registry basics

#[test]
fn active_lists_type_label_size_and_age_and_drop_deregisters() {
    let registry = ResourceRegistry::new();
    let (n, f) = counter();
    let a = registry
        .resource(vec![0u8; 32])
        .label("buffer")
        .size_bytes(32)
        .cleanup(f)
        .register();
    let b = registry.register(7u64);
    assert_ne!(a.id(), b.id());
    assert_eq!(registry.active_count(), 2);
    let active = registry.active();
    assert_eq!(active[0].id, a.id());
    assert_eq!(active[0].type_name, "alloc::vec::Vec<u8>");
    assert_eq!(active[0].label.as_deref(), Some("buffer"));
    assert_eq!(active[0].size_bytes, Some(32));
    assert_eq!(active[0].state, ResourceState::Live);
    assert_eq!(active[0].mode, CleanupMode::Immediate);
    assert!(!active[0].forcible);
    assert_eq!(active[1].type_name, "u64");
    assert_eq!(active[1].label, None);
    assert!(active[0].age >= active[1].age);

    drop(a);
    assert_eq!(get(&n), 1);
    assert_eq!(registry.active_count(), 1);
    drop(b);
    let s = registry.stats();
    assert_eq!(
        (s.created, s.cleaned, s.forced, s.failed, s.live),
        (2, 2, 0, 0, 0)
    );
}

#[test]
fn ids_are_unique_and_increasing() {
    let registry = ResourceRegistry::new();
    let handles: Vec<_> = (0..50).map(|i| registry.register(i)).collect();
    let ids: Vec<ResourceId> = handles.iter().map(|h| h.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn counts_by_type_groups_live_resources() {
    let registry = ResourceRegistry::new();
    let _a = registry.register(1u8);
    let _b = registry.register(2u8);
    let c = registry.register(String::new());
    assert_eq!(
        registry.counts_by_type(),
        vec![("u8", 2), ("alloc::string::String", 1)]
    );
    drop(c);
    assert_eq!(registry.counts_by_type(), vec![("u8", 2)]);
}

#[test]
fn leak_report_lists_resources_older_than_the_threshold() {
    let registry = ResourceRegistry::new();
    let _old = registry
        .resource(1u8)
        .label("old")
        .size_bytes(10)
        .register();
    thread::sleep(Duration::from_millis(30));
    let _new = registry.resource(2u8).label("new").size_bytes(5).register();
    let leaks = registry.leaks(Duration::from_millis(20));
    let labels: Vec<_> = leaks.resources.iter().map(|r| r.label.clone()).collect();
    assert_eq!(labels, vec![Some("old".to_owned())]);
    assert_eq!(leaks.total_bytes(), 10);
    assert!(leaks.to_string().contains("\"old\""));
    assert!(registry.leaks(Duration::from_secs(3600)).is_empty());
}

#[test]
fn tracked_into_inner_deregisters_without_cleanup() {
    let registry = ResourceRegistry::new();
    let (n, f) = counter();
    let h = registry.register_with_cleanup(9u32, f);
    assert_eq!(TrackedResource::into_inner(h), 9);
    assert_eq!(get(&n), 0);
    assert_eq!(registry.active_count(), 0);
}

#[test]
fn registry_dropped_before_its_handles_is_safe_and_cleanups_still_run() {
    let metrics = Arc::new(Metrics::new());
    let registry = ResourceRegistry::with_monitor(metrics.clone());
    let (n, f) = counter();
    let mut h = registry.register_with_cleanup(vec![1u8], f);
    let other = registry.clone();
    drop(registry);
    drop(other);
    h.push(2);
    assert_eq!(*h, vec![1, 2]);
    drop(h);
    assert_eq!(get(&n), 1);
    let s = metrics.snapshot().resource;
    assert_eq!((s.registered, s.cleaned), (1, 1));
}

#[test]
fn panicking_registry_cleanup_is_counted_and_reported() {
    quiet_panics();
    let rec = Arc::new(Recorder::default());
    let registry = ResourceRegistry::with_monitor(rec.clone());
    drop(registry.register_with_cleanup(1u8, |_| panic!("on purpose: bad close")));
    assert_eq!(registry.stats().failed, 1);
    assert_eq!(registry.active_count(), 0);
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec![
            "registered u8".to_owned(),
            "failed u8: on purpose: bad close".to_owned()
        ]
    );
    // Nothing is poisoned: the registry keeps working.
    let (n, f) = counter();
    drop(registry.register_with_cleanup(2u8, f));
    assert_eq!(get(&n), 1);
}

#[test]
fn background_registry_cleanup_runs_off_thread_and_shutdown_waits_for_it() {
    let offload = BackgroundOffload::new().unwrap();
    let exit = offload.exit_watch();
    let registry = ResourceRegistry::builder()
        .offload(Arc::new(offload.clone()))
        .build();
    drop(offload);
    let (tx, rx) = mpsc::channel();
    let h = registry
        .resource(1u8)
        .cleanup(move |_| {
            thread::sleep(Duration::from_millis(50));
            tx.send(thread::current().id()).unwrap();
        })
        .background()
        .register();
    assert_eq!(registry.active()[0].mode, CleanupMode::Background);
    drop(h);
    // The cleanup is still running (or queued) on the worker: shutdown waits for it.
    let report = registry.cleanup_all(Duration::from_secs(10));
    assert_eq!(report.graceful, 1, "{report}");
    assert!(report.is_clean(), "{report}");
    assert_ne!(rx.try_recv().unwrap(), thread::current().id());
    drop(registry);
    assert!(
        exit.wait(Duration::from_secs(10)),
        "cleanup thread did not exit"
    );
}

#[test]
fn default_background_offload_is_a_named_cleanup_thread() {
    let registry = ResourceRegistry::new();
    let (tx, rx) = mpsc::channel();
    let h = registry
        .resource(())
        .cleanup(move |()| {
            tx.send(thread::current().name().map(str::to_owned))
                .unwrap()
        })
        .background()
        .register();
    drop(h);
    let name = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(name.as_deref(), Some("patinox-cleanup"));
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_waits_for_holders_that_let_go_before_the_deadline() {
    let registry = ResourceRegistry::new();
    let (n, f) = counter();
    let h = registry.register_with_cleanup(1u8, f);
    let holder = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        drop(h);
    });
    let report = registry.cleanup_all(Duration::from_secs(30));
    holder.join().unwrap();
    assert_eq!(get(&n), 1);
    assert_eq!((report.graceful, report.forced, report.failed), (1, 0, 0));
    assert!(report.still_held.is_empty());
    // It returned because the holder let go, not because the deadline passed.
    assert!(report.elapsed < Duration::from_secs(30));
}

#[test]
fn holder_that_never_lets_go_is_forced_on_time_and_its_later_drop_does_nothing() {
    let registry = ResourceRegistry::new();
    let (cleaned, f) = counter();
    let forced = Arc::new(AtomicUsize::new(0));
    let h = registry
        .resource(String::from("conn"))
        .label("stuck")
        .cleanup(f)
        .on_force(hook(&forced))
        .register();
    assert!(registry.active()[0].forcible);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel();
    let holder = thread::spawn(move || {
        release_rx.recv().unwrap();
        // The value is still valid after the force hook ran.
        seen_tx.send((h.is_forced(), h.len())).unwrap();
        drop(h);
    });

    let timeout = Duration::from_millis(200);
    let start = Instant::now();
    let report = registry.cleanup_all(timeout);
    let took = start.elapsed();
    assert!(took >= timeout, "returned before the deadline: {took:?}");
    assert!(
        took < timeout + Duration::from_secs(2),
        "deadline not respected: {took:?}"
    );
    assert_eq!(report.forced, 1, "{report}");
    assert_eq!(report.graceful, 0);
    assert!(report.still_held.is_empty());
    assert!(!report.is_clean());
    assert_eq!(get(&forced), 1);
    assert_eq!(registry.active_count(), 0);
    assert_eq!(registry.stats().forced, 1);

    release_tx.send(()).unwrap();
    assert_eq!(seen_rx.recv().unwrap(), (true, 4));
    holder.join().unwrap();
    assert_eq!(get(&cleaned), 0, "cleanup ran after a forced cleanup");
    assert_eq!(get(&forced), 1);
}

#[test]
fn held_resource_without_force_hook_is_reported_and_cleaned_when_dropped() {
    let registry = ResourceRegistry::new();
    let (n, f) = counter();
    let h = registry
        .resource(3u8)
        .label("no hook")
        .cleanup(f)
        .register();
    let report = registry.cleanup_all(Duration::from_millis(20));
    assert_eq!(report.still_held.len(), 1);
    assert_eq!(report.still_held[0].label.as_deref(), Some("no hook"));
    assert!(report.to_string().contains("still held"));
    assert_eq!(registry.active_count(), 1);
    drop(h);
    assert_eq!(get(&n), 1);
    assert_eq!(registry.active_count(), 0);
}

#[test]
fn panicking_force_hook_is_caught_and_reported() {
    quiet_panics();
    let registry = ResourceRegistry::new();
    let h = registry
        .resource(1u8)
        .label("fragile")
        .on_force(|| panic!("on purpose: force"))
        .register();
    let report = registry.cleanup_all(Duration::ZERO);
    assert_eq!((report.forced, report.failed), (0, 1));
    assert!(report.failures[0].forced);
    assert_eq!(report.failures[0].message, "on purpose: force");
    assert_eq!(report.failures[0].label.as_deref(), Some("fragile"));
    assert_eq!(registry.stats().failed, 1);
    drop(h);
}

#[test]
fn panicking_holder_cleanup_during_shutdown_is_in_the_report() {
    quiet_panics();
    let registry = ResourceRegistry::new();
    let h = registry.register_with_cleanup(1u8, |_| panic!("on purpose: holder"));
    let holder = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        drop(h);
    });
    let report = registry.cleanup_all(Duration::from_secs(30));
    holder.join().unwrap();
    assert_eq!((report.graceful, report.failed), (0, 1));
    assert!(!report.failures[0].forced);
}

#[test]
fn registrations_are_refused_once_shutdown_begins() {
    let registry = ResourceRegistry::new();
    let held = registry.register(0u8);
    let closer = {
        let registry = registry.clone();
        thread::spawn(move || registry.cleanup_all(Duration::from_millis(300)))
    };
    while !registry.is_closed() {
        thread::yield_now();
    }
    // During the wait:
    let refused = registry.try_register(String::from("late")).unwrap_err();
    assert_eq!(refused.error(), RegistryError::Closed);
    assert_eq!(refused.to_string(), "resource registry is closed");
    assert_eq!(refused.into_value(), "late");
    let (n, f) = counter();
    let refused = registry.try_register_with_cleanup(1u8, f).unwrap_err();
    let err: Error = refused.into();
    assert!(matches!(
        err,
        Error::Closed {
            what: "resource registry"
        }
    ));
    assert_eq!(
        get(&n),
        1,
        "a dropped refusal runs its cleanup, nothing leaks"
    );
    let report = closer.join().unwrap();
    assert_eq!(report.still_held.len(), 1);
    drop(held);

    // After it:
    assert!(registry.try_register(1u8).is_err());
    let (n, f) = counter();
    let detached = registry.register_with_cleanup(5u8, f);
    assert_eq!(*detached, 5);
    assert_eq!(
        registry.active_count(),
        0,
        "a detached handle is not tracked"
    );
    drop(detached);
    assert_eq!(get(&n), 1);
    assert_eq!(registry.stats().refused, 4);
    struct Nop;
    impl ManagedComponent for Nop {
        fn name(&self) -> &str {
            "nop"
        }
        fn shutdown(&self, _: Instant) -> Result<(), Error> {
            Ok(())
        }
    }
    assert_eq!(
        registry.register_component(Nop).unwrap_err(),
        RegistryError::Closed
    );
}

/// A test component: finishes, fails, panics, or ignores the deadline.
struct TestComponent {
    name: &'static str,
    behaviour: Behaviour,
    calls: AtomicUsize,
    saw_deadline: Mutex<Option<Instant>>,
}

enum Behaviour {
    Finish,
    Fail,
    Panic,
    Sleep(Duration),
}

impl TestComponent {
    fn new(name: &'static str, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            name,
            behaviour,
            calls: AtomicUsize::new(0),
            saw_deadline: Mutex::new(None),
        })
    }
}

impl ManagedComponent for TestComponent {
    fn name(&self) -> &str {
        self.name
    }
    fn shutdown(&self, deadline: Instant) -> Result<(), Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.saw_deadline.lock().unwrap() = Some(deadline);
        match self.behaviour {
            Behaviour::Finish => Ok(()),
            Behaviour::Fail => Err(Error::Closed { what: "test pool" }),
            Behaviour::Panic => panic!("on purpose: component"),
            Behaviour::Sleep(d) => {
                thread::sleep(d);
                Ok(())
            }
        }
    }
}

#[test]
fn components_are_shut_down_within_the_deadline_and_reported() {
    quiet_panics();
    let registry = ResourceRegistry::new();
    let done = TestComponent::new("cache", Behaviour::Finish);
    let failing = TestComponent::new("pool", Behaviour::Fail);
    let panicking = TestComponent::new("mmap", Behaviour::Panic);
    let slow = TestComponent::new("slow", Behaviour::Sleep(Duration::from_secs(3)));
    for c in [&done, &failing, &panicking, &slow] {
        registry.register_component(c.clone()).unwrap();
    }
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let report = registry.cleanup_all(timeout);
    let took = start.elapsed();
    assert!(
        took < timeout + Duration::from_secs(2),
        "a slow component held up shutdown: {took:?}"
    );
    let names: Vec<_> = report.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cache", "pool", "mmap", "slow"]);
    assert!(report.components[0].result.is_ok());
    assert!(matches!(
        report.components[1].result,
        Err(Error::Closed { what: "test pool" })
    ));
    assert!(matches!(
        &report.components[2].result,
        Err(Error::Panicked { message, .. }) if message == "on purpose: component"
    ));
    assert!(matches!(
        report.components[3].result,
        Err(Error::Timeout {
            operation: "component shutdown",
            ..
        })
    ));
    assert!(!report.is_clean());
    for c in [&done, &failing, &panicking, &slow] {
        assert_eq!(c.calls.load(Ordering::SeqCst), 1, "{}", c.name);
        let deadline = c.saw_deadline.lock().unwrap().unwrap();
        // Everyone got the call's deadline: its start plus the timeout.
        assert!(deadline >= start + timeout && deadline <= start + took + timeout);
    }
    // A second call does not shut the components down again.
    let again = registry.cleanup_all(Duration::ZERO);
    assert!(again.components.is_empty());
    assert_eq!(done.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_report_and_metrics_agree() {
    let metrics = Arc::new(Metrics::new());
    let registry = ResourceRegistry::with_monitor(metrics.clone());
    let forced = Arc::new(AtomicUsize::new(0));
    let a = registry.resource(1u8).on_force(hook(&forced)).register();
    drop(registry.register(2u8));
    let report = registry.cleanup_all(Duration::ZERO);
    assert_eq!(report.forced, 1);
    let s = metrics.snapshot().resource;
    assert_eq!((s.registered, s.cleaned, s.forced, s.failed), (2, 2, 1, 0));
    assert_eq!(s.live(), 0);
    drop(a);
    assert_eq!(
        metrics.snapshot().resource.cleaned,
        2,
        "forced drop reported twice"
    );
}

// ---------------------------------------------------------------- stress

/// Many threads register and drop resources (some cleaned in the background) while
/// `cleanup_all` runs: every resource's cleanup or force hook runs exactly once, never both.
#[test]
fn exactly_once_under_concurrent_drops_and_shutdown() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 150;
    for round in 0..8u64 {
        let registry = ResourceRegistry::new();
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let stop_holding = Arc::new(AtomicBool::new(false));
        let mut counters: Vec<Arc<AtomicUsize>> = Vec::new();
        let mut workers = Vec::new();
        for t in 0..THREADS {
            let mine: Vec<Arc<AtomicUsize>> = (0..PER_THREAD)
                .map(|_| Arc::new(AtomicUsize::new(0)))
                .collect();
            counters.extend(mine.iter().cloned());
            let registry = registry.clone();
            let barrier = barrier.clone();
            let stop_holding = stop_holding.clone();
            workers.push(thread::spawn(move || {
                barrier.wait();
                let mut held = Vec::new();
                for (i, n) in mine.into_iter().enumerate() {
                    let c = n.clone();
                    let mut reg = registry.resource(i).cleanup(move |_| {
                        c.fetch_add(1, Ordering::SeqCst);
                    });
                    if (i + t).is_multiple_of(2) {
                        reg = reg.on_force(hook(&n));
                    }
                    if i.is_multiple_of(5) {
                        reg = reg.background();
                    }
                    let h = reg.register();
                    // Drop some at once, hold the others for a while.
                    if (i as u64 + round).is_multiple_of(3) {
                        drop(h);
                    } else {
                        held.push(h);
                    }
                    if i.is_multiple_of(16) {
                        thread::yield_now();
                    }
                }
                while !stop_holding.load(Ordering::SeqCst) {
                    if let Some(h) = held.pop() {
                        drop(h);
                    }
                    thread::yield_now();
                }
                drop(held);
            }));
        }
        barrier.wait();
        thread::sleep(Duration::from_micros(200 * round));
        let report = registry.cleanup_all(Duration::from_millis(5));
        stop_holding.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        // Background cleanups may still be queued on the cleanup thread: give them time
        // (bounded) to run and deregister.
        let limit = Instant::now() + Duration::from_secs(20);
        while (registry.active_count() > 0 || counters.iter().any(|n| get(n) == 0))
            && Instant::now() < limit
        {
            thread::sleep(Duration::from_millis(1));
        }
        for (i, n) in counters.iter().enumerate() {
            assert_eq!(
                get(n),
                1,
                "round {round}, resource {i} cleaned {} times",
                get(n)
            );
        }
        let s = registry.stats();
        assert_eq!(s.live, 0);
        assert_eq!(registry.active_count(), 0);
        assert_eq!(
            s.created + s.refused,
            (THREADS * PER_THREAD) as u64,
            "round {round}"
        );
        assert_eq!(s.cleaned + s.forced, s.created, "round {round}");
        assert_eq!(s.forced as usize, report.forced);
    }
}
