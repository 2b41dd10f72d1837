//! Release wake-ups over Redis pub/sub.
//!
//! Every release (compare-and-delete, forced delete, pool slot release) publishes on the
//! key's channel from inside the same script. A key's channel is the storage key and a
//! suffix ([`channel`]), so it lies under the instance's prefix like every key: an ACL
//! user limited to its prefix's keys and channels (`~APP-*`, `&APP-*`) gets wake-ups.
//! Each client keeps **one** pub/sub connection (RESP3, so subscriptions and their
//! messages share a multiplexed connection), subscribes to the channels its waiters
//! watch, and turns each message into a [`ReleaseHub`] notification for the key; one
//! channel serves every waiter of the key in this process.
//!
//! Guarantees:
//! - Ordering: `watch` registers the waiter in the hub *and then* waits until the server
//!   has confirmed the subscription, so a release published after `watch` returns is
//!   delivered while the connection lives.
//! - No lock is held across a round trip: each watcher awaits its own `SUBSCRIBE`
//!   (pipelined on the one connection), so a slow one holds up nobody else's.
//! - Subscriptions outlive their waiters for a moment (a sweep drops unwatched ones every
//!   [`SWEEP_PERIOD`]) so that a waiter looping on a hot key does not pay a `SUBSCRIBE`
//!   round trip per attempt. A watcher that subscribes while the sweep's `UNSUBSCRIBE` of
//!   the same channel is on its way is subscribed again by the sweep.
//! - When the connection is lost (the node closed it, or the sweep's `PING` got no
//!   answer), every watched key is notified at once, so waiters poll instead of
//!   sleeping through releases that can no longer reach them. On a cluster, the
//!   subscriptions then move to the next node (classic pub/sub reaches every node of a
//!   cluster, so any live node will do); a standalone server's connection reconnects and
//!   resubscribes by itself.
//! - A `SUBSCRIBE` the server's ACL denies is logged once (a warning) and not sent again
//!   by this client for a minute ([`DENIAL_RETRY`]), nor until a Sentinel failover moves
//!   it: its waiters poll, every call works, and a later grant resumes wake-ups.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, PushInfo, PushKind, RedisError, ServerErrorKind, Value};
use tokio::runtime::Handle;

use super::runtime;
use crate::backend::{ReleaseHub, ReleaseWatch};
use crate::error::BackendError;

/// What every release channel ends with; before it is the storage key.
const CHANNEL_SUFFIX: &str = ":released";
/// How often unwatched channels are unsubscribed and a silent connection is checked.
const SWEEP_PERIOD: Duration = Duration::from_secs(1);
/// How long a node that failed to take the subscriptions over is given before the next
/// node is tried: with every node down, moving on at once would spin.
const FAILOVER_BACKOFF: Duration = Duration::from_millis(200);

/// The release channel of a storage key: the key and a suffix, so that it starts with
/// the instance's prefix (an ACL user's `&PREFIX*` covers it). Everything that
/// publishes or subscribes names a channel through this function.
pub(crate) fn channel(key: &str) -> String {
    let mut channel = String::with_capacity(key.len() + CHANNEL_SUFFIX.len());
    channel.push_str(key);
    channel.push_str(CHANNEL_SUFFIX);
    channel
}

/// The storage key of a release channel.
fn key_of(channel: &str) -> Option<&str> {
    channel.strip_suffix(CHANNEL_SUFFIX)
}

/// One client's pub/sub connection and the waiters it wakes.
pub(crate) struct Releases {
    state: Arc<State>,
}

struct State {
    hub: ReleaseHub,
    /// The nodes the connection may go to, in order of preference (RESP3 clients).
    nodes: Vec<redis::Client>,
    config: ConnectionManagerConfig,
    runtime: &'static Handle,
    link: Mutex<Link>,
    /// Channels the server has confirmed on the current link.
    subscribed: Mutex<HashSet<String>>,
    /// The server's ACL denied a `SUBSCRIBE`: waiters poll, and nothing subscribes
    /// until it is time to ask again.
    denial: Denial,
}

/// A `SUBSCRIBE` the ACL denied, remembered for [`DENIAL_RETRY`] so that waiters do not
/// each pay a refused round trip, then forgotten: a grant of the channels made later
/// (`ACL SETUSER .. &PREFIX*`) resumes wake-ups without a restart.
#[derive(Default)]
struct Denial {
    until: Mutex<Option<Instant>>,
    /// The warning was logged: it is logged once per client.
    warned: AtomicBool,
}

/// How long a denied `SUBSCRIBE` keeps waiters from subscribing.
const DENIAL_RETRY: Duration = Duration::from_secs(60);

impl Denial {
    /// Whether subscribing is known to be denied at `now`.
    fn holds(&self, now: Instant) -> bool {
        self.until.lock().is_some_and(|until| now < until)
    }

    /// Remembers a denial seen at `now`; returns whether it is the client's first.
    fn deny(&self, now: Instant) -> bool {
        *self.until.lock() = now.checked_add(DENIAL_RETRY);
        !self.warned.swap(true, Ordering::Relaxed)
    }

    /// Forgets the denial: the connection went to another server (a Sentinel failover).
    #[cfg(any(feature = "sentinel", test))]
    fn clear(&self) {
        *self.until.lock() = None;
    }
}

/// The current pub/sub connection; `generation` tells a stale failure report from a
/// fresh one.
#[derive(Clone)]
struct Link {
    node: usize,
    generation: u64,
    connection: ConnectionManager,
}

impl Releases {
    /// Starts (lazily) a pub/sub connection to the first of `nodes`; it moves to the next
    /// one when a node is lost.
    pub(crate) fn open(
        nodes: &[redis::Client],
        config: ConnectionManagerConfig,
    ) -> Result<Self, BackendError> {
        let nodes = nodes.iter().map(resp3).collect::<Result<Vec<_>, _>>()?;
        if nodes.is_empty() {
            return Err(BackendError::new(
                "release wake-ups need a node to subscribe on",
            ));
        }
        let runtime = runtime::handle()?;
        // The push handler finds the state once it exists.
        let owner = Arc::new(OnceLock::new());
        let connection = connect(&owner, runtime, &nodes[0], config.clone(), 0)?;
        let state = Arc::new(State {
            hub: ReleaseHub::new(),
            nodes,
            config,
            runtime,
            link: Mutex::new(Link {
                node: 0,
                generation: 0,
                connection,
            }),
            subscribed: Mutex::new(HashSet::new()),
            denial: Denial::default(),
        });
        let _ = owner.set(Arc::downgrade(&state));
        runtime.spawn(sweep(Arc::downgrade(&state)));
        Ok(Self { state })
    }

    /// The node the pub/sub connection tries first (a seed node on a cluster).
    pub(crate) fn first_node(&self) -> Option<&redis::Client> {
        self.state.nodes.first()
    }

    /// The nodes it was opened with (RESP3 clients): the server of a standalone client,
    /// the seed nodes of a cluster.
    pub(crate) fn nodes(&self) -> &[redis::Client] {
        &self.state.nodes
    }

    /// A watch on `key` that sees every release published after this returns; with
    /// `subscribe` false (the server is known not to answer) it only polls.
    pub(crate) async fn watch(&self, key: &str, subscribe: bool) -> ReleaseWatch {
        let state = &self.state;
        // Hub first: a message that arrives while we subscribe must find the watcher.
        let watch = state.hub.watch(key);
        // The denial only saves a round trip that the server would refuse.
        if !subscribe || state.denial.holds(Instant::now()) {
            return watch;
        }
        let channel = channel(key);
        // At most twice: once more if the link changed while we subscribed.
        for _ in 0..2 {
            if state.subscribed.lock().contains(&channel) {
                break;
            }
            let link = state.link.lock().clone();
            match link.connection.clone().subscribe(&channel).await {
                Ok(()) => {
                    if state.link.lock().generation == link.generation {
                        state.subscribed.lock().insert(channel);
                        break;
                    }
                }
                // The waiter still polls; only the early wake-up is lost.
                Err(error) if is_denied(&error) => {
                    state.deny(&error);
                    break;
                }
                Err(error) => {
                    tracing::debug!(target: crate::events::TARGET, %error, storage_key = key, "cannot subscribe to releases");
                    state.failed(link.generation, &error);
                    // This failure moved the link to another node: subscribe there, or
                    // nobody carries this channel over.
                    if state.link.lock().generation == link.generation {
                        break;
                    }
                }
            }
        }
        watch
    }

    /// Moves the pub/sub connection to `node` (a standalone client's server moved: a
    /// Sentinel failover): waiters poll at once, and the channels still watched are
    /// subscribed there.
    #[cfg(feature = "sentinel")]
    pub(crate) fn retarget(&self, node: &redis::Client) -> Result<(), BackendError> {
        let state = &self.state;
        let node = resp3(node)?;
        let channels: Vec<String> = {
            let mut link = state.link.lock();
            let owner = Arc::new(OnceLock::from(Arc::downgrade(state)));
            let next = link.generation + 1;
            let connection = connect(&owner, state.runtime, &node, state.config.clone(), next)?;
            *link = Link {
                node: link.node,
                generation: next,
                connection,
            };
            state.subscribed.lock().drain().collect()
        };
        // Another server: its ACL may differ.
        state.denial.clear();
        state.notify(&channels);
        if !channels.is_empty() {
            state
                .runtime
                .spawn(resubscribe(Arc::downgrade(state), channels));
        }
        Ok(())
    }
}

/// Whether the server refused a command for the user's permissions (ACL).
fn is_denied(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoPerm)
}

/// `client` with RESP3: subscriptions and their messages share one connection.
pub(super) fn resp3(client: &redis::Client) -> Result<redis::Client, BackendError> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings)).map_err(BackendError::new)
}

/// A lazy pub/sub connection to `node` whose pushes reach `state`.
fn connect(
    owner: &Arc<OnceLock<Weak<State>>>,
    runtime: &'static Handle,
    node: &redis::Client,
    config: ConnectionManagerConfig,
    generation: u64,
) -> Result<ConnectionManager, BackendError> {
    let owner = Arc::clone(owner);
    let config = config
        .set_push_sender(move |push: PushInfo| {
            if let Some(state) = owner.get().and_then(Weak::upgrade) {
                state.on_push(generation, push);
            }
            Ok::<(), std::convert::Infallible>(())
        })
        .set_automatic_resubscription();
    // The manager spawns its helper task on the current runtime: make that ours.
    let _context = runtime.enter();
    ConnectionManager::new_lazy_with_config(node.clone(), config).map_err(BackendError::new)
}

impl State {
    /// The ACL denied a `SUBSCRIBE`: stop subscribing for a while, and say so once.
    fn deny(&self, error: &RedisError) {
        if self.denial.deny(Instant::now()) {
            tracing::warn!(target: crate::events::TARGET, %error,
                "the redis user may not subscribe to release channels: waiters poll instead \
                 of being woken; grant it the prefix's channels (`&PREFIX*`)"
            );
        }
    }

    fn on_push(self: &Arc<Self>, generation: u64, push: PushInfo) {
        match push.kind {
            PushKind::Message => {
                let Some(Value::BulkString(channel)) = push.data.first() else {
                    return;
                };
                if let Some(key) = std::str::from_utf8(channel).ok().and_then(key_of) {
                    self.hub.notify(key);
                }
            }
            PushKind::Disconnection => self.lost(generation),
            _ => {}
        }
    }

    /// A command on link `generation` failed: a lost connection is handled like a
    /// disconnection, anything else (a server error) only logged by the caller.
    fn failed(self: &Arc<Self>, generation: u64, error: &RedisError) {
        if error.is_timeout() || error.is_io_error() || error.is_connection_dropped() {
            self.lost(generation);
        }
    }

    /// Link `generation` can no longer deliver releases: wake every waiter so it polls,
    /// and on a cluster move the subscriptions to the next node.
    fn lost(self: &Arc<Self>, generation: u64) {
        let channels: Vec<String> = if self.nodes.len() > 1 {
            let mut link = self.link.lock();
            if link.generation != generation {
                return; // already moved on
            }
            let node = (link.node + 1) % self.nodes.len();
            let owner = Arc::new(OnceLock::from(Arc::downgrade(self)));
            let next = generation + 1;
            let Ok(connection) = connect(
                &owner,
                self.runtime,
                &self.nodes[node],
                self.config.clone(),
                next,
            ) else {
                return;
            };
            *link = Link {
                node,
                generation: next,
                connection,
            };
            tracing::info!(target: crate::events::TARGET, node = %self.nodes[node].get_connection_info().addr(), "release wake-ups move to another node");
            self.subscribed.lock().drain().collect()
        } else {
            self.subscribed.lock().iter().cloned().collect()
        };
        self.notify(&channels);
        if self.nodes.len() > 1 && !channels.is_empty() {
            self.runtime
                .spawn(resubscribe(Arc::downgrade(self), channels));
        }
    }

    /// Wakes the waiters of `channels`' keys: they poll at once.
    fn notify(&self, channels: &[String]) {
        for key in channels.iter().filter_map(|channel| key_of(channel)) {
            self.hub.notify(key);
        }
    }
}

/// Subscribes the new link to the channels still watched, then wakes their waiters
/// again: a release published while no link listened is caught by that poll.
async fn resubscribe(weak: Weak<State>, channels: Vec<String>) {
    let Some(state) = weak.upgrade() else {
        return;
    };
    let watched: Vec<String> = channels
        .into_iter()
        .filter(|channel| key_of(channel).is_some_and(|key| state.hub.is_watched(key)))
        .collect();
    if watched.is_empty() {
        return;
    }
    let link = state.link.lock().clone();
    match link.connection.clone().subscribe(&watched).await {
        Ok(()) if state.link.lock().generation == link.generation => {
            state.subscribed.lock().extend(watched.iter().cloned());
        }
        Ok(()) => {}
        Err(error) => {
            state.notify(&watched);
            drop(state);
            tokio::time::sleep(FAILOVER_BACKOFF).await;
            if let Some(state) = weak.upgrade() {
                // Carried to the next node by `lost`, which takes the subscribed set.
                state.subscribed.lock().extend(watched);
                state.failed(link.generation, &error);
            }
            return;
        }
    }
    state.notify(&watched);
}

/// Drops subscriptions nobody watches any more, and pings while some remain so that a
/// connection lost in silence (a hung node) is noticed.
async fn sweep(state: Weak<State>) {
    let mut ticks = tokio::time::interval(SWEEP_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let link = state.link.lock().clone();
        let unwatched: Vec<String> = {
            let mut subscribed = state.subscribed.lock();
            let unwatched: Vec<String> = subscribed
                .iter()
                .filter(|channel| key_of(channel).is_some_and(|key| !state.hub.is_watched(key)))
                .cloned()
                .collect();
            for channel in &unwatched {
                subscribed.remove(channel);
            }
            unwatched
        };
        let mut connection = link.connection.clone();
        if !unwatched.is_empty() {
            let _ = connection.unsubscribe(&unwatched).await;
            // A watcher may have subscribed again while the UNSUBSCRIBE was on its way.
            let rewatched: Vec<String> = unwatched
                .into_iter()
                .filter(|channel| key_of(channel).is_some_and(|key| state.hub.is_watched(key)))
                .collect();
            if !rewatched.is_empty() && connection.subscribe(&rewatched).await.is_ok() {
                state.subscribed.lock().extend(rewatched);
            }
        }
        if !state.subscribed.lock().is_empty() {
            let pinged: Result<(), RedisError> =
                redis::cmd("PING").query_async(&mut connection).await;
            if let Err(error) = pinged {
                state.failed(link.generation, &error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_subscribe_is_asked_again_after_a_while_or_another_server() {
        let denial = Denial::default();
        let now = Instant::now();
        assert!(!denial.holds(now));
        assert!(denial.deny(now), "the first denial warns");
        assert!(denial.holds(now + DENIAL_RETRY / 2));
        assert!(
            !denial.holds(now + DENIAL_RETRY),
            "asked again after a while"
        );
        assert!(!denial.deny(now), "warned once");
        denial.clear();
        assert!(!denial.holds(now), "a failover forgets it");
    }

    fn releases() -> Releases {
        let node = redis::Client::open("redis://127.0.0.1:1").unwrap();
        Releases::open(
            &[node],
            super::super::options::RedisOptions::new().manager_config(),
        )
        .unwrap()
    }

    fn message(channel: &str) -> PushInfo {
        PushInfo {
            kind: PushKind::Message,
            data: vec![
                Value::BulkString(channel.as_bytes().to_vec()),
                Value::BulkString(Vec::new()),
            ],
        }
    }

    #[test]
    fn a_message_on_a_release_channel_wakes_the_watchers_of_its_key() {
        let releases = releases();
        let mut watch = releases.state.hub.watch("app:lock:a");
        releases.state.on_push(0, message(&channel("app:lock:a")));
        assert!(watch.wait_blocking(Duration::ZERO));
    }

    #[test]
    fn a_channel_starts_with_its_storage_key_and_leads_back_to_it() {
        let channel = channel("APP-lock:job");
        assert!(channel.starts_with("APP-lock:job"), "{channel}");
        assert_eq!(key_of(&channel), Some("APP-lock:job"));
    }

    #[test]
    fn other_pushes_and_foreign_channels_are_ignored() {
        let releases = releases();
        let mut watch = releases.state.hub.watch("k");
        releases.state.on_push(0, message("news:k"));
        let subscribe = PushInfo {
            kind: PushKind::Subscribe,
            data: vec![Value::BulkString(channel("k").into_bytes())],
        };
        releases.state.on_push(0, subscribe);
        assert!(!watch.wait_blocking(Duration::ZERO));
    }

    #[test]
    fn a_lost_connection_wakes_every_subscribed_waiter_at_once() {
        let releases = releases();
        let mut watch = releases.state.hub.watch("k");
        releases.state.subscribed.lock().insert(channel("k"));
        releases.state.on_push(
            0,
            PushInfo {
                kind: PushKind::Disconnection,
                data: Vec::new(),
            },
        );
        assert!(watch.wait_blocking(Duration::ZERO), "woken to poll");
    }
}
