//! One tracking connection: a RESP3 connection to one node with `CLIENT TRACKING ON
//! BCAST`, whose invalidation pushes go to the sink, pinged every check interval, and
//! connected again (with capped back-off) whenever it is lost, hung or refused.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError, Value};
use tokio::sync::Notify;

#[cfg(feature = "sentinel")]
use super::super::releases::resp3;
use super::readiness::{Loss, Readiness};
use super::Settings;

/// The first wait before connecting again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where a node's tracking connection goes.
pub(super) enum Target {
    /// A fixed server (a RESP3 client).
    Server(redis::Client),
    /// The master the sentinels name, asked before each connection.
    #[cfg(feature = "sentinel")]
    Sentinel(std::sync::Weak<crate::backend::redis::client::Core>),
}

impl Target {
    /// The server to connect to now.
    async fn client(&self) -> Result<redis::Client, Failure> {
        match self {
            Self::Server(client) => Ok(client.clone()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(core) => {
                let unreachable = |what: String| Failure::Io(what);
                let core = core
                    .upgrade()
                    .ok_or_else(|| unreachable("the client was dropped".into()))?;
                let sentinels = core
                    .sentinel
                    .get()
                    .ok_or_else(|| unreachable("no sentinels".into()))?;
                let master = sentinels
                    .master()
                    .await
                    .map_err(|error| unreachable(error.to_string()))?;
                resp3(&master).map_err(|error| unreachable(error.to_string()))
            }
        }
    }
}

/// Tracks `node` (its name in `readiness`) until the task is aborted.
pub(super) async fn track(
    node: Arc<str>,
    target: Target,
    settings: Arc<Settings>,
    readiness: Arc<Readiness>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let session = readiness.session();
        let ended = Session {
            node: &node,
            id: session,
            settings: &settings,
            readiness: &readiness,
        }
        .run(&target, &mut backoff)
        .await;
        let reason = ended.to_string();
        let loss = match ended {
            Failure::Refused(_) => Loss::Refusal(&reason),
            Failure::Io(_) => Loss::Failure(&reason),
        };
        readiness.down(&node, session, loss);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Why a session ended.
#[derive(Debug)]
enum Failure {
    /// The server answered tracking with an error.
    Refused(String),
    /// Connecting failed, the connection was closed, or a `PING` went unanswered.
    Io(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) | Self::Io(why) => f.write_str(why),
        }
    }
}

/// A server error is a refusal (`NOPERM`, no `HELLO` before Redis 6); anything else is
/// a failure to reach the server.
fn failure(what: &str, error: &RedisError) -> Failure {
    let message = format!("{what}: {error}");
    if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
        Failure::Io(message)
    } else {
        Failure::Refused(message)
    }
}

/// One connection attempt, and the connection's life if it succeeds.
struct Session<'a> {
    node: &'a Arc<str>,
    id: u64,
    settings: &'a Settings,
    readiness: &'a Arc<Readiness>,
}

impl Session<'_> {
    /// Connects, turns tracking on and checks the connection until it fails; returns why.
    async fn run(self, target: &Target, backoff: &mut Duration) -> Failure {
        let closed = Arc::new(Notify::new());
        let client = match target.client().await {
            Ok(client) => client,
            Err(failure) => return failure,
        };
        let mut connection = match self.connect(&client, &closed).await {
            Ok(connection) => connection,
            Err(failure) => return failure,
        };
        if !self.readiness.up(self.node, self.id) {
            return Failure::Io("the connection was closed".to_owned());
        }
        *backoff = MIN_BACKOFF;
        loop {
            tokio::select! {
                () = closed.notified() => return Failure::Io("the connection was closed".to_owned()),
                () = tokio::time::sleep(self.settings.check_interval) => {}
            }
            // Bounded by the connection's response timeout.
            let ping: Result<(), RedisError> =
                redis::cmd("PING").query_async(&mut connection).await;
            if let Err(error) = ping {
                return failure("PING failed", &error);
            }
        }
    }

    /// A RESP3 connection to `client`'s server with tracking on.
    async fn connect(
        &self,
        client: &redis::Client,
        closed: &Arc<Notify>,
    ) -> Result<MultiplexedConnection, Failure> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.settings.connect_timeout))
            .set_response_timeout(Some(self.settings.response_timeout))
            .set_push_sender(self.pushes(closed));
        let patience = self
            .settings
            .connect_timeout
            .saturating_add(self.settings.response_timeout);
        let connect = client.get_multiplexed_async_connection_with_config(&config);
        let mut connection = match tokio::time::timeout(patience, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(failure("cannot connect", &error)),
            Err(_) => return Err(Failure::Io(format!("connect timed out after {patience:?}"))),
        };
        let tracking: Result<(), RedisError> = self
            .settings
            .tracking_on()
            .query_async(&mut connection)
            .await;
        tracking.map_err(|error| failure("CLIENT TRACKING failed", &error))?;
        Ok(connection)
    }

    /// What handles the connection's pushes: invalidations go to the sink in the order
    /// the server sent them; a disconnection is reported at once, and wakes the session.
    fn pushes(
        &self,
        closed: &Arc<Notify>,
    ) -> impl Fn(PushInfo) -> Result<(), std::convert::Infallible> + Send + Sync + 'static {
        let readiness = Arc::clone(self.readiness);
        let closed = Arc::clone(closed);
        let (node, session) = (Arc::clone(self.node), self.id);
        move |push: PushInfo| {
            match push.kind {
                PushKind::Invalidate => invalidate(&readiness, &push.data),
                PushKind::Disconnection => {
                    readiness.down(&node, session, Loss::Failure(&"the connection was closed"));
                    closed.notify_one();
                }
                _ => {}
            }
            Ok(())
        }
    }
}

/// An `invalidate` push: `[keys]`, or `[nil]` when the server flushed (`FLUSHALL`,
/// `FLUSHDB`).
fn invalidate(readiness: &Readiness, data: &[Value]) {
    let Some(sink) = readiness.sink() else {
        return;
    };
    match data.first() {
        Some(Value::Array(keys) | Value::Set(keys)) => {
            let keys: Vec<&[u8]> = keys
                .iter()
                .filter_map(|key| match key {
                    Value::BulkString(key) => Some(key.as_slice()),
                    _ => None,
                })
                .collect();
            sink.invalidate(&keys);
        }
        // A flush, or a push this version does not know: forgetting everything is safe.
        _ => sink.invalidate_all(),
    }
}
