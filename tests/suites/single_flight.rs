// The single-flight part of the `#[cached]` suite: concurrent misses on one key, what
// followers do when the leader stores nothing, fails or is cancelled, and re-entrant
// calls on the key being computed. Included after `suites/cached.rs` (it uses its
// `instance!` macro and imports) by one binary per backend.

mod single_flight {
    use super::*;
    use std::sync::mpsc;
    use std::sync::{Barrier, Mutex};
    use tokio::sync::Notify;
    instance!(C);

    /// Gives a broken (not single-flight) implementation time to show itself; the tests
    /// are correct whatever this delay is.
    const GRACE: Duration = Duration::from_millis(50);

    static SYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
    static SYNC_GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);

    #[cached(key = "sync", cachify = C)]
    fn slow_sync() -> u32 {
        SYNC_CALLS.fetch_add(1, SeqCst);
        if let Some(gate) = SYNC_GATE.lock().unwrap().take() {
            gate.recv_timeout(Duration::from_secs(30)).ok();
        }
        42
    }

    #[test]
    fn concurrent_sync_misses_run_the_body_once() {
        let (open, gate) = mpsc::channel();
        *SYNC_GATE.lock().unwrap() = Some(gate);
        let barrier = std::sync::Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    slow_sync()
                })
            })
            .collect();
        std::thread::sleep(GRACE);
        open.send(()).unwrap();
        for thread in threads {
            assert_eq!(thread.join().unwrap(), 42);
        }
        assert_eq!(SYNC_CALLS.load(SeqCst), 1);
    }

    static PANIC_CALLS: AtomicUsize = AtomicUsize::new(0);
    static PANIC_GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
    static PANIC_ENTERED: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

    #[cached(key = "panics-first", cachify = C)]
    fn panics_first() -> u32 {
        if PANIC_CALLS.fetch_add(1, SeqCst) == 0 {
            PANIC_ENTERED.lock().unwrap().take().unwrap().send(()).unwrap();
            let gate = PANIC_GATE.lock().unwrap().take().unwrap();
            gate.recv_timeout(Duration::from_secs(30)).ok();
            panic!("the leader fails");
        }
        7
    }

    #[test]
    fn a_panicking_leader_hands_over_to_a_waiter() {
        let (open, gate) = mpsc::channel();
        let (entered_tx, entered) = mpsc::channel();
        *PANIC_GATE.lock().unwrap() = Some(gate);
        *PANIC_ENTERED.lock().unwrap() = Some(entered_tx);
        let leader = std::thread::spawn(panics_first);
        entered.recv().unwrap();
        let followers: Vec<_> = (0..4).map(|_| std::thread::spawn(panics_first)).collect();
        std::thread::sleep(GRACE);
        open.send(()).unwrap();
        assert!(leader.join().is_err(), "the leader panicked");
        for follower in followers {
            assert_eq!(follower.join().unwrap(), 7);
        }
        assert_eq!(PANIC_CALLS.load(SeqCst), 2, "one waiter took over, once");
    }

    static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);
    static ASYNC_GATE: Notify = Notify::const_new();

    #[cached(key = "async", cachify = C)]
    async fn slow_async() -> u32 {
        ASYNC_CALLS.fetch_add(1, SeqCst);
        ASYNC_GATE.notified().await;
        9
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_async_misses_run_the_body_once() {
        let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(slow_async())).collect();
        while ASYNC_CALLS.load(SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(GRACE).await;
        ASYNC_GATE.notify_waiters();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 9);
        }
        assert_eq!(ASYNC_CALLS.load(SeqCst), 1);
    }

    static CANCEL_CALLS: AtomicUsize = AtomicUsize::new(0);
    static CANCEL_ENTERED: Notify = Notify::const_new();

    #[cached(key = "cancelled-first", cachify = C)]
    async fn hangs_first() -> u32 {
        if CANCEL_CALLS.fetch_add(1, SeqCst) == 0 {
            CANCEL_ENTERED.notify_one();
            std::future::pending::<()>().await;
        }
        5
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let leader = tokio::spawn(hangs_first());
        CANCEL_ENTERED.notified().await;
        let follower = tokio::spawn(hangs_first());
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        leader.abort();
        let value = tokio::time::timeout(Duration::from_secs(30), follower).await;
        assert_eq!(value.expect("the waiter did not hang").unwrap(), 5);
        assert_eq!(CANCEL_CALLS.load(SeqCst), 2);
    }
}


mod outcomes_not_stored {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::time::Instant;
    instance!(C);

    /// How long the failing body takes; a chain of 8 would take 8 times as long.
    const BODY: Duration = Duration::from_millis(200);
    const CALLERS: u32 = 8;
    /// Far above what concurrent runs take (2 × BODY), far below a chain (8 × BODY).
    const BOUND: Duration = Duration::from_millis(1_200);

    static SYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "failing-sync", cachify = C)]
    fn failing_sync() -> Result<u32, String> {
        SYNC_CALLS.fetch_add(1, SeqCst);
        std::thread::sleep(BODY);
        Err("downstream is down".into())
    }

    #[test]
    fn followers_of_a_failed_leader_run_at_once_not_in_a_chain() {
        let barrier = Arc::new(Barrier::new(CALLERS as usize));
        let started = Instant::now();
        let threads: Vec<_> = (0..CALLERS)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    failing_sync()
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap().is_err());
        }
        let wall = started.elapsed();
        eprintln!("{CALLERS} concurrent sync Err callers of a {BODY:?} body: {wall:?}");
        assert!(wall < BOUND, "the callers formed a chain: {wall:?}");
        assert!(SYNC_CALLS.load(SeqCst) <= CALLERS as usize);
    }

    static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(key = "failing-async", cachify = C)]
    async fn failing_async() -> Result<u32, String> {
        ASYNC_CALLS.fetch_add(1, SeqCst);
        tokio::time::sleep(BODY).await;
        Err("downstream is down".into())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_followers_of_a_failed_leader_run_at_once_not_in_a_chain() {
        let started = Instant::now();
        let tasks: Vec<_> = (0..CALLERS).map(|_| tokio::spawn(failing_async())).collect();
        for task in tasks {
            assert!(task.await.unwrap().is_err());
        }
        let wall = started.elapsed();
        eprintln!("{CALLERS} concurrent async Err callers of a {BODY:?} body: {wall:?}");
        assert!(wall < BOUND, "the callers formed a chain: {wall:?}");
        assert!(ASYNC_CALLS.load(SeqCst) <= CALLERS as usize);
    }
}

mod reentry {
    use super::*;
    use std::sync::mpsc;
    instance!(C);

    /// A deadlock shows as no answer within this; a working call takes microseconds.
    const PATIENCE: Duration = Duration::from_secs(10);

    #[cached(key = "shared", cachify = C)]
    fn outer() -> u32 {
        inner() + 1
    }

    #[cached(key = "shared", cachify = C)]
    fn inner() -> u32 {
        1
    }

    #[cached(key = "countdown", cachify = C)]
    fn countdown(n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            countdown(n - 1) + 1
        }
    }

    /// Runs `call` on a thread of its own; `None` when it does not return in time.
    fn within_patience(call: fn() -> u32) -> Option<u32> {
        let (done, answer) = mpsc::channel();
        std::thread::spawn(move || done.send(call()));
        answer.recv_timeout(PATIENCE).ok()
    }

    #[test]
    fn a_sync_call_on_the_key_it_is_computing_runs_the_body() {
        assert_eq!(within_patience(outer), Some(2), "outer → inner on one key");
        assert_eq!(outer(), 2, "the outer value is what stays cached");
    }

    #[test]
    fn sync_recursion_on_one_key_runs_the_body() {
        assert_eq!(within_patience(|| countdown(3)), Some(3));
    }

    #[cached(key = "shared-async", cachify = C)]
    async fn outer_async() -> u32 {
        inner_async().await + 1
    }

    #[cached(key = "shared-async", cachify = C)]
    async fn inner_async() -> u32 {
        1
    }

    #[cached(key = "mixed", cachify = C)]
    async fn async_over_sync() -> u32 {
        sync_under_async() + 1
    }

    #[cached(key = "mixed", cachify = C)]
    fn sync_under_async() -> u32 {
        1
    }

    #[tokio::test]
    async fn an_async_call_on_the_key_it_is_computing_runs_the_body() {
        let value = tokio::time::timeout(PATIENCE, outer_async()).await;
        assert_eq!(value.expect("the nested call deadlocked"), 2);
    }

    #[test]
    fn a_sync_call_inside_an_async_leader_on_its_key_runs_the_body() {
        let answer = within_patience(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async_over_sync())
        });
        assert_eq!(answer, Some(2));
    }

    #[cached(key = "led-by-async", cachify = C)]
    async fn slow_async_leader() -> u32 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        1
    }

    #[cached(key = "led-by-async", cachify = C)]
    fn sync_follower() -> u32 {
        1
    }

    /// Two functions sharing a key, one async and one sync: the sync call finds the
    /// async one leading, on the only thread that leader can run on.
    #[test]
    fn a_sync_call_following_an_async_leader_on_its_runtime_thread_does_not_deadlock() {
        let answer = within_patience(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let leader = tokio::spawn(slow_async_leader());
                    tokio::task::yield_now().await; // the leader is in its body, asleep
                    let followed = sync_follower();
                    leader.await.unwrap() + followed
                })
        });
        assert_eq!(answer, Some(2));
    }
}
