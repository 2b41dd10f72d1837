//! Lock figures on the memory backend: an uncontended acquire + release cycle (sync and
//! async), and hand-off latency: the time from a holder's release to a waiting acquirer
//! holding the lock (woken by the release; the poll interval is set to 10 s so a poll
//! would show up as seconds).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cachify::backend::ReleaseWatch;
use cachify::{AsyncClient, BackendError, Cachify, MemoryClient, SyncClient};
use criterion::{criterion_group, criterion_main, Criterion};

fn uncontended(c: &mut Criterion) {
    let cachify = Cachify::builder().build();
    let lock = cachify.lock("bench-uncontended");
    let mut group = c.benchmark_group("lock/uncontended");
    group.bench_function("acquire_release_sync", |b| {
        b.iter(|| lock.acquire().unwrap().release().unwrap());
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("acquire_release_async", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let guard = lock.acquire_async().await.unwrap();
                    guard.release_async().await.unwrap();
                }
                started.elapsed()
            })
        });
    });
    group.finish();
}

/// A memory client that reports refused `set(nx)` calls: the moment a waiter starts
/// waiting, so a hand-off is only timed once the waiter really waits.
#[derive(Clone)]
struct Probe {
    inner: MemoryClient,
    refused: mpsc::SyncSender<()>,
}

impl Probe {
    fn saw(&self, nx: bool, stored: &Result<bool, BackendError>) {
        if nx && matches!(stored, Ok(false)) {
            let _ = self.refused.try_send(());
        }
    }
}

impl SyncClient for Probe {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        SyncClient::get(&self.inner, key)
    }
    fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let stored = SyncClient::set(&self.inner, key, value, ttl, nx);
        self.saw(nx, &stored);
        stored
    }
    fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        SyncClient::delete(&self.inner, keys)
    }
    fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        SyncClient::delete_if_equals(&self.inner, key, expected)
    }
    fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        SyncClient::remaining_ttl(&self.inner, key)
    }
    fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        SyncClient::watch(&self.inner, key)
    }
}

#[async_trait]
impl AsyncClient for Probe {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        AsyncClient::get(&self.inner, key).await
    }
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        nx: bool,
    ) -> Result<bool, BackendError> {
        let stored = AsyncClient::set(&self.inner, key, value, ttl, nx).await;
        self.saw(nx, &stored);
        stored
    }
    async fn delete(&self, keys: &[&str]) -> Result<u64, BackendError> {
        AsyncClient::delete(&self.inner, keys).await
    }
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        AsyncClient::delete_if_equals(&self.inner, key, expected).await
    }
    async fn remaining_ttl(&self, key: &str) -> Result<Option<Duration>, BackendError> {
        AsyncClient::remaining_ttl(&self.inner, key).await
    }
    async fn watch(&self, key: &str) -> Option<ReleaseWatch> {
        AsyncClient::watch(&self.inner, key).await
    }
}

fn probed() -> (Cachify, mpsc::Receiver<()>) {
    let (refused_tx, refused) = mpsc::sync_channel(16);
    let probe = Probe {
        inner: MemoryClient::new(),
        refused: refused_tx,
    };
    let cachify = Cachify::builder()
        .lock_poll_interval(Duration::from_secs(10))
        .sync_client(probe.clone())
        .async_client(probe)
        .build();
    (cachify, refused)
}

fn hand_off(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock/hand-off");
    group.bench_function("release_to_waiting_thread", |b| {
        let (cachify, refused) = probed();
        let lock = cachify.lock("bench-hand-off").exp(Duration::from_secs(60));
        let (go_tx, go) = mpsc::channel::<()>();
        let (held_tx, held) = mpsc::channel::<Instant>();
        let waiter = {
            let lock = lock.clone().nowait(false);
            std::thread::spawn(move || {
                while go.recv().is_ok() {
                    let guard = lock.acquire().unwrap();
                    let at = Instant::now();
                    drop(guard);
                    held_tx.send(at).unwrap();
                }
            })
        };
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let guard = lock.acquire().unwrap();
                while refused.try_recv().is_ok() {}
                go_tx.send(()).unwrap();
                refused.recv().unwrap();
                let released = Instant::now();
                drop(guard);
                total += held.recv().unwrap() - released;
            }
            total
        });
        drop(go_tx);
        waiter.join().unwrap();
    });
    group.bench_function("release_to_waiting_task", |b| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (cachify, refused) = probed();
        let lock = cachify
            .lock("bench-hand-off-async")
            .exp(Duration::from_secs(60));
        let (go_tx, mut go) = tokio::sync::mpsc::unbounded_channel::<()>();
        let (held_tx, held) = mpsc::channel::<Instant>();
        let waiter = {
            let lock = lock.clone().nowait(false);
            runtime.spawn(async move {
                while go.recv().await.is_some() {
                    let guard = lock.acquire_async().await.unwrap();
                    let at = Instant::now();
                    guard.release_async().await.unwrap();
                    held_tx.send(at).unwrap();
                }
            })
        };
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let guard = lock.acquire().unwrap();
                while refused.try_recv().is_ok() {}
                go_tx.send(()).unwrap();
                refused.recv().unwrap();
                let released = Instant::now();
                drop(guard);
                total += held.recv().unwrap() - released;
            }
            total
        });
        drop(go_tx);
        runtime.block_on(waiter).unwrap();
    });
    group.finish();
}

criterion_group!(benches, uncontended, hand_off);
criterion_main!(benches);
