//! Connections that live on the async caller's own tokio runtime.
//!
//! A command over a connection whose driver task runs on the private runtime thread
//! ([`runtime`](super::runtime)) crosses threads twice: the caller hands it to that thread and
//! the reply comes back the same way. That is what makes the backend work from any
//! runtime, but it costs about as much again as the round trip itself. So each tokio
//! runtime that calls again and again gets a `ConnectionManager` of its own, created
//! and driven on that runtime, exactly as if the application had made it there:
//!
//! - A runtime is recognised by its [`Id`]; the managers are kept in an `ArcSwap`, so
//!   finding the caller's is one atomic load and a short scan, never a lock.
//! - Each manager comes with a *sentinel*: a task spawned on the same runtime that
//!   waits, holding a guard, until the client is dropped. When the runtime shuts down
//!   its tasks are dropped, the guard clears the manager's `alive` flag, and the manager
//!   is no longer used: the next call from a new runtime gets a fresh one. A caller
//!   never sees a manager whose driver died with its runtime, and a dropped client
//!   leaves no task behind on a runtime that lives on.
//! - A runtime gets its own manager on its second call, not its first: a runtime built
//!   for one call (a release finished from `Drop`, a one-off `block_on`) would otherwise
//!   pay a connect per call. Until then, and for callers outside any runtime, and beyond
//!   [`RedisOptions::max_runtime_connections`] live runtimes, calls go over the I/O
//!   thread's shared manager as before.
//! - A runtime built without timers or the I/O driver is never bound (its connection
//!   would panic inside redis-rs): its calls go over the private runtime thread ([`has_drivers`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use tokio::runtime::{Handle, Id};

use super::idle::LastUse;
use super::options::RedisOptions;

/// Runtimes remembered as having called once, so their next call binds a manager.
const RECENT: usize = 16;

/// The managers bound to the callers' runtimes, for one client.
pub(crate) struct PerRuntime {
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    /// Live runtimes with a manager of their own: bounds the connections of one client.
    max_runtimes: usize,
    bound: ArcSwap<Vec<Binding>>,
    /// Runtimes seen once without a manager; only touched off the hot path.
    recent: Mutex<VecDeque<Id>>,
    /// Runtimes found without timers or an I/O driver: never bound.
    driverless: Mutex<VecDeque<Id>>,
}

#[derive(Clone)]
struct Binding {
    runtime: Id,
    manager: ConnectionManager,
    last_use: Arc<LastUse>,
    alive: Arc<AtomicBool>,
    /// Dropped with the client: ends the sentinel task.
    _client_alive: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl Binding {
    fn connection(&self) -> (ConnectionManager, Arc<LastUse>) {
        (self.manager.clone(), Arc::clone(&self.last_use))
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

/// Clears the flag when dropped: held by the sentinel task, dropped with its runtime.
struct Sentinel(Arc<AtomicBool>);

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl PerRuntime {
    pub(crate) fn new(client: redis::Client, options: &RedisOptions) -> Self {
        Self {
            client,
            config: options.manager_config(),
            max_runtimes: options.max_runtime_connections,
            bound: ArcSwap::from_pointee(Vec::new()),
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            driverless: Mutex::new(VecDeque::with_capacity(RECENT)),
        }
    }

    /// The manager driven by the caller's runtime, or `None` when the call should go
    /// over the private runtime thread (no runtime, its first call, or too many runtimes).
    pub(crate) fn manager(&self) -> Option<(ConnectionManager, Arc<LastUse>)> {
        let runtime = Handle::try_current().ok()?;
        let id = runtime.id();
        let found = self
            .bound
            .load()
            .iter()
            .find(|binding| binding.runtime == id && binding.is_alive())
            .map(Binding::connection);
        found.or_else(|| self.bind(&runtime, id))
    }

    /// The slow path: binds a manager to `runtime` if it has called before.
    fn bind(&self, runtime: &Handle, id: Id) -> Option<(ConnectionManager, Arc<LastUse>)> {
        // The lock also makes concurrent first callers of one runtime build one manager.
        let mut recent = self.recent.lock();
        if !recent.contains(&id) {
            remember(&mut recent, id);
            return None;
        }
        let mut driverless = self.driverless.lock();
        if driverless.contains(&id) {
            return None;
        }
        if !has_drivers() {
            remember(&mut driverless, id);
            return None;
        }
        let current = self.bound.load_full();
        if let Some(binding) = current.iter().find(|b| b.runtime == id && b.is_alive()) {
            return Some(binding.connection());
        }
        let mut live: Vec<Binding> = current.iter().filter(|b| b.is_alive()).cloned().collect();
        if live.len() >= self.max_runtimes {
            return None;
        }
        // We are inside `runtime`'s context: the manager's helper tasks, its connection's
        // driver and its reconnects are spawned there.
        let manager =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
                .ok()?;
        let alive = Arc::new(AtomicBool::new(true));
        let sentinel = Sentinel(Arc::clone(&alive));
        let (client_alive, client_dropped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let _sentinel = sentinel;
            // Ends when the client drops its sender, or with the runtime.
            let _ = client_dropped.await;
        });
        // A runtime that is shutting down drops the task at once: use the I/O thread.
        if !alive.load(Ordering::Acquire) {
            return None;
        }
        let binding = Binding {
            runtime: id,
            manager,
            last_use: Arc::default(),
            alive,
            _client_alive: Arc::new(client_alive),
        };
        let connection = binding.connection();
        live.push(binding);
        self.bound.store(Arc::new(live));
        Some(connection)
    }
}

/// Adds `id` to a bounded list of runtimes, forgetting the oldest.
fn remember(runtimes: &mut VecDeque<Id>, id: Id) {
    if runtimes.len() == RECENT {
        runtimes.pop_front();
    }
    runtimes.push_back(id);
}

/// Whether the current runtime has the timers and the I/O driver a connection needs
/// (a runtime built without `enable_time` / `enable_io` lacks them).
///
/// Tokio has no query for it: creating a timer or a socket without its driver panics.
/// So the check creates one of each inside `catch_unwind`, once per runtime that calls
/// twice; on a runtime without drivers the panic hook still prints its message once.
/// Built with `panic = "abort"` the check would end the process instead: then no
/// runtime is bound, and every async call goes over the I/O thread.
fn has_drivers() -> bool {
    #[cfg(panic = "unwind")]
    {
        std::panic::catch_unwind(|| {
            drop(tokio::time::sleep(std::time::Duration::ZERO));
            opens_a_socket()
        })
        .unwrap_or(false)
    }
    #[cfg(not(panic = "unwind"))]
    {
        false
    }
}

/// Registers a socket that never touches the network with the I/O driver.
#[cfg(all(panic = "unwind", unix))]
fn opens_a_socket() -> bool {
    tokio::net::UnixDatagram::unbound().is_ok()
}

#[cfg(all(panic = "unwind", not(unix)))]
fn opens_a_socket() -> bool {
    std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|socket| {
            socket.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(socket)
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> PerRuntime {
        PerRuntime::new(
            redis::Client::open("redis://127.0.0.1:1").unwrap(),
            &RedisOptions::new(),
        )
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn outside_any_runtime_there_is_no_local_manager() {
        assert!(local().manager().is_none());
    }

    #[test]
    fn a_runtime_gets_its_own_manager_on_its_second_call_and_keeps_it() {
        let local = local();
        current_thread().block_on(async {
            assert!(
                local.manager().is_none(),
                "the first call shares the I/O thread's"
            );
            assert!(local.manager().is_some());
            assert!(local.manager().is_some());
            assert_eq!(local.bound.load().len(), 1);
        });
    }

    #[test]
    fn a_manager_dies_with_its_runtime_and_the_next_runtime_gets_a_fresh_one() {
        let local = local();
        let first = current_thread();
        first.block_on(async {
            local.manager();
            local.manager();
        });
        let alive = Arc::clone(&local.bound.load()[0].alive);
        assert!(alive.load(Ordering::Acquire));
        drop(first);
        assert!(!alive.load(Ordering::Acquire), "the sentinel was dropped");

        current_thread().block_on(async {
            local.manager();
            assert!(local.manager().is_some());
            let bound = local.bound.load();
            assert_eq!(bound.len(), 1, "the dead binding was pruned");
            assert!(bound[0].is_alive());
        });
    }

    #[test]
    fn a_dropped_client_ends_its_sentinel_tasks_on_a_runtime_that_lives_on() {
        let runtime = current_thread();
        let local = local();
        runtime.block_on(async {
            local.manager();
            local.manager();
        });
        let alive = Arc::clone(&local.bound.load()[0].alive);
        drop(local);
        runtime.block_on(async {
            for _ in 0..100 {
                if !alive.load(Ordering::Acquire) {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
        assert!(!alive.load(Ordering::Acquire), "the sentinel task ended");
    }

    #[test]
    fn a_runtime_without_timers_or_io_never_binds() {
        let local = local();
        let without_timers = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let without_io = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        for runtime in [without_timers, without_io] {
            runtime.block_on(async {
                for _ in 0..3 {
                    assert!(local.manager().is_none());
                }
            });
        }
        assert!(local.bound.load().is_empty());
    }

    #[test]
    fn a_runtime_per_call_never_binds() {
        let local = local();
        for _ in 0..3 {
            current_thread().block_on(async { assert!(local.manager().is_none()) });
        }
        assert!(local.bound.load().is_empty());
    }
}
