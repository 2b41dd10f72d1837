//! Release wake-ups over Redis pub/sub.
//!
//! Every release (compare-and-delete, forced delete, pool slot release) publishes on the
//! key's channel from inside the same script. Each client keeps **one** pub/sub
//! connection (RESP3, so subscriptions and their messages share a multiplexed
//! connection), subscribes to the channels its waiters watch, and turns each message into
//! a [`ReleaseHub`] notification for the key; one channel serves every waiter of the key
//! in this process.
//!
//! Ordering: `watch` registers the waiter in the hub *and then* waits until the server has
//! confirmed the subscription, so a release published after `watch` returns is always
//! delivered. Subscriptions outlive their waiters for a moment (a sweep drops unwatched
//! ones every [`SWEEP_PERIOD`]) so that a waiter looping on a hot key does not pay a
//! `SUBSCRIBE` round trip per attempt. The connection reconnects and resubscribes by
//! itself; a message lost while it is down only delays a waiter to its next poll.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};

use super::io;
use crate::backend::{ReleaseHub, ReleaseWatch};
use crate::error::BackendError;

/// What every release channel starts with; the rest is the storage key.
pub(crate) const CHANNEL_PREFIX: &str = "cachify:release:";
/// How often unwatched channels are unsubscribed and a silent connection is checked.
const SWEEP_PERIOD: Duration = Duration::from_secs(1);

/// The release channel of a storage key.
pub(crate) fn channel(key: &str) -> String {
    let mut channel = String::with_capacity(CHANNEL_PREFIX.len() + key.len());
    channel.push_str(CHANNEL_PREFIX);
    channel.push_str(key);
    channel
}

/// One client's pub/sub connection and the waiters it wakes.
pub(crate) struct Releases {
    state: Arc<State>,
}

struct State {
    hub: Arc<ReleaseHub>,
    connection: ConnectionManager,
    /// Channels the server has confirmed. An async mutex: subscribing and the sweep's
    /// unsubscribing must not interleave, or a fresh watcher could end up unsubscribed.
    subscribed: tokio::sync::Mutex<HashSet<String>>,
}

impl Releases {
    /// Starts (lazily) a pub/sub connection to the server `client` points at.
    pub(crate) fn open(
        client: &redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, BackendError> {
        let info = client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let client =
            redis::Client::open(info.set_redis_settings(settings)).map_err(BackendError::new)?;
        let hub = Arc::new(ReleaseHub::new());
        let notified = Arc::clone(&hub);
        let config = config
            .set_push_sender(move |push: PushInfo| {
                on_push(&notified, push);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();
        let handle = io::handle()?;
        let connection = {
            // The manager spawns its helper task on the current runtime: make that ours.
            let _context = handle.enter();
            ConnectionManager::new_lazy_with_config(client, config).map_err(BackendError::new)?
        };
        let state = Arc::new(State {
            hub,
            connection,
            subscribed: tokio::sync::Mutex::new(HashSet::new()),
        });
        handle.spawn(sweep(Arc::downgrade(&state)));
        Ok(Self { state })
    }

    /// A watch on `key` that sees every release published after this returns.
    pub(crate) async fn watch(&self, key: &str) -> ReleaseWatch {
        let state = &self.state;
        // Hub first: a message that arrives while we subscribe must find the watcher.
        let watch = state.hub.watch(key);
        let channel = channel(key);
        let mut subscribed = state.subscribed.lock().await;
        if !subscribed.contains(&channel) {
            match state.connection.clone().subscribe(&channel).await {
                Ok(()) => {
                    subscribed.insert(channel);
                }
                // The waiter still polls; only the early wake-up is lost.
                Err(error) => {
                    tracing::debug!(target: crate::events::TARGET, %error, storage_key = key, "cannot subscribe to releases")
                }
            }
        }
        watch
    }
}

fn on_push(hub: &ReleaseHub, push: PushInfo) {
    if push.kind != PushKind::Message {
        return;
    }
    let Some(Value::BulkString(channel)) = push.data.first() else {
        return;
    };
    let key = std::str::from_utf8(channel)
        .ok()
        .and_then(|channel| channel.strip_prefix(CHANNEL_PREFIX));
    if let Some(key) = key {
        hub.notify(key);
    }
}

/// Drops subscriptions nobody watches any more, and pings while some remain so that a
/// connection lost in silence is noticed, reconnected and resubscribed.
async fn sweep(state: Weak<State>) {
    let mut ticks = tokio::time::interval(SWEEP_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let mut subscribed = state.subscribed.lock().await;
        let unwatched: Vec<String> = subscribed
            .iter()
            .filter(|channel| {
                channel
                    .strip_prefix(CHANNEL_PREFIX)
                    .is_some_and(|key| !state.hub.is_watched(key))
            })
            .cloned()
            .collect();
        let mut connection = state.connection.clone();
        if !unwatched.is_empty() && connection.unsubscribe(&unwatched).await.is_ok() {
            for channel in &unwatched {
                subscribed.remove(channel);
            }
        }
        if !subscribed.is_empty() {
            let _: Result<(), _> = redis::cmd("PING").query_async(&mut connection).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_on_a_release_channel_wakes_the_watchers_of_its_key() {
        let hub = ReleaseHub::new();
        let mut watch = hub.watch("app:lock:a");
        on_push(
            &hub,
            PushInfo {
                kind: PushKind::Message,
                data: vec![
                    Value::BulkString(channel("app:lock:a").into_bytes()),
                    Value::BulkString(Vec::new()),
                ],
            },
        );
        assert!(watch.wait_blocking(Duration::ZERO));
    }

    #[test]
    fn other_pushes_and_foreign_channels_are_ignored() {
        let hub = ReleaseHub::new();
        let mut watch = hub.watch("k");
        let foreign = PushInfo {
            kind: PushKind::Message,
            data: vec![Value::BulkString(b"news:k".to_vec())],
        };
        let subscribe = PushInfo {
            kind: PushKind::Subscribe,
            data: vec![Value::BulkString(channel("k").into_bytes())],
        };
        on_push(&hub, foreign);
        on_push(&hub, subscribe);
        assert!(!watch.wait_blocking(Duration::ZERO));
    }
}
