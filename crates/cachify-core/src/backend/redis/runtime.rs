//! The private runtime of the Redis backends, and how sync and async callers reach it.
//!
//! Every connection task of redis-rs (the multiplexed connection's driver, the connection
//! manager's reconnects, the cluster connection's router) is spawned on the runtime that
//! polls it. A `Cachify` in a `static` outlives the runtimes of its callers (each
//! `#[tokio::test]` has its own), so a connection whose tasks live on a caller's runtime
//! dies with it. The connections that must never die (the pub/sub connection, the
//! cluster connection, and the shared connection of async callers that have no
//! connection of their own, see [`per_runtime`](super::per_runtime)) live on one process-wide
//! current-thread runtime, on a thread of its own that is never shut down:
//!
//! - [`on_io`] polls a caller's future *inside* that runtime's context. No task is spawned
//!   and no thread hop is added: the future runs on the caller's task, but whatever it
//!   spawns (a reconnect) and every timer it arms belong to the I/O runtime. The caller
//!   may be on any tokio runtime, or none.
//! - [`block_on`] drives such a future from a plain thread (or from a sync function called
//!   inside async code) by parking the thread; it never starts a runtime, so it cannot hit
//!   tokio's "cannot start a runtime from within a runtime" panic.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio::runtime::Handle;

use crate::error::BackendError;

static IO: OnceLock<Result<Handle, String>> = OnceLock::new();

/// The handle of the I/O runtime, started on first use.
pub(crate) fn handle() -> Result<&'static Handle, BackendError> {
    IO.get_or_init(start)
        .as_ref()
        .map_err(|error| BackendError::new(format!("cannot start the redis I/O runtime: {error}")))
}

fn start() -> Result<Handle, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name("cachify-redis-io".into())
        // A current-thread runtime runs its tasks, I/O and timers only inside
        // `block_on`; this thread does nothing else for the life of the process.
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(|error| error.to_string())?;
    Ok(handle)
}

/// Runs `work` with the I/O runtime as its tokio context (see the module docs).
pub(crate) async fn on_io<F: Future>(work: F) -> Result<F::Output, BackendError> {
    Ok(within(handle()?, work).await)
}

/// Runs `work` with `runtime` as its tokio context, polled by the caller.
pub(crate) async fn within<F: Future>(runtime: &Handle, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        let _context = runtime.enter();
        work.as_mut().poll(cx)
    })
    .await
}

/// Runs `work` with the I/O runtime as its context, blocking this thread until it ends.
pub(crate) fn block_on<F: Future>(work: F) -> Result<F::Output, BackendError> {
    let handle = handle()?;
    if Handle::try_current().is_err_and(|error| error.is_thread_local_destroyed()) {
        // Entering a runtime would panic: this thread's locals are being destroyed.
        return Err(BackendError::new(
            "cannot call redis while this thread's locals are destroyed",
        ));
    }
    let mut work = pin!(work);
    // While this thread's locals are destroyed, its waker is gone too: poll on a timer.
    let parker = THREAD_WAKER.try_with(Waker::clone).ok();
    let mut cx = Context::from_waker(parker.as_ref().unwrap_or(Waker::noop()));
    loop {
        let polled = {
            let _context = handle.enter();
            work.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(output) = polled {
            return Ok(output);
        }
        match parker {
            // A spurious wake-up only costs one more poll.
            Some(_) => thread::park(),
            None => thread::sleep(UNPARKED_POLL),
        }
    }
}

/// How often [`block_on`] polls when it has no waker of its own.
const UNPARKED_POLL: std::time::Duration = std::time::Duration::from_millis(1);

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_drives_timers_of_the_io_runtime_from_a_plain_thread() {
        let slept = block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            7
        });
        assert_eq!(slept.unwrap(), 7);
    }

    #[test]
    fn tasks_spawned_inside_on_io_outlive_the_callers_runtime() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        caller
            .block_on(on_io(async move {
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    sender.send(()).unwrap();
                });
            }))
            .unwrap();
        drop(caller);
        receiver
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the task survived its caller's runtime");
    }

    #[test]
    fn block_on_works_inside_async_code() {
        let caller = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let value = caller.block_on(async { block_on(async { 3 }).unwrap() });
        assert_eq!(value, 3);
    }
}
