//! One tracking connection: a RESP3 connection to one node with `CLIENT TRACKING ON
//! BCAST`, whose invalidation pushes go to the sink, pinged every check interval, and
//! connected again (with capped back-off) whenever it is lost, hung or refused.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError, Value};
use tokio::sync::Notify;

#[cfg(feature = "sentinel")]
use super::super::{releases::resp3, sentinel::address_of};
use super::readiness::{Loss, Readiness};
use super::Settings;

/// The first wait before connecting again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How many check intervals a session waits for the client's data connections to
/// follow the master it tracks (Sentinel) before it asks the sentinels again.
const MAX_WAITS: u32 = 3;

/// Where a node's tracking connection goes.
pub(super) enum Target {
    /// A fixed server (a RESP3 client).
    Server(Box<redis::Client>),
    /// The master the sentinels name, asked before each connection.
    #[cfg(feature = "sentinel")]
    Sentinel(Arc<crate::backend::redis::client::Core>),
}

impl Target {
    /// The server to connect to now.
    async fn client(&self) -> Result<redis::Client, Failure> {
        match self {
            Self::Server(client) => Ok((**client).clone()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(core) => {
                let unreachable = |why: String| Failure::Io(why);
                let sentinels = core.sentinel.get();
                let sentinels = sentinels.ok_or_else(|| unreachable("no sentinels".into()))?;
                let master = sentinels.master().await;
                let master = master.map_err(|error| unreachable(error.to_string()))?;
                resp3(&master).map_err(|error| unreachable(error.to_string()))
            }
        }
    }

    /// Whether the connection still answers (bounded by its response timeout), and for
    /// a Sentinel-managed master, whether its server still is the master: a demoted one
    /// may keep the connection open. An error *reply* (`NOPERM`: an ACL user without
    /// `+ping`) proves the connection alive: [`Checked::Refused`].
    async fn check(&self, connection: &mut MultiplexedConnection) -> Result<Checked, Failure> {
        match self {
            Self::Server(_) => {
                let ping: Result<(), RedisError> = redis::cmd("PING").query_async(connection).await;
                checked("PING", ping)
            }
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => {
                let role: Result<Value, RedisError> =
                    redis::cmd("ROLE").query_async(connection).await;
                match role {
                    Ok(Value::Array(fields))
                        if fields.first() == Some(&Value::BulkString(b"master".to_vec())) =>
                    {
                        Ok(Checked::Alive)
                    }
                    Ok(_) => Err(Failure::Io("the master is no longer the master".to_owned())),
                    Err(error) => checked::<Value>("ROLE", Err(error)),
                }
            }
        }
    }

    /// For a Sentinel-managed master: `Ok` once the client's data connections go to
    /// `tracked`'s server (the one this session tracks), so that a read-through never
    /// fills from a server whose writes this session does not see (a demoted master
    /// keeps answering reads as a lagging replica). Until then, asks the client to
    /// follow the sentinels. `Err` when its data connections go to another master.
    #[cfg_attr(
        not(feature = "sentinel"),
        allow(unused_variables, reason = "only a Sentinel target compares")
    )]
    fn serves_reads(&self, tracked: &redis::Client) -> Result<(), Failure> {
        match self {
            Self::Server(_) => Ok(()),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(core) => match (core.sentinel_master(), address_of(tracked)) {
                (Some(data), master) if data == master => Ok(()),
                (data, master) => {
                    core.follow_master();
                    Err(Failure::Io(format!(
                        "the data connections go to {}, tracking to {master}",
                        data.as_deref().unwrap_or("no master")
                    )))
                }
            },
        }
    }

    /// Resolves when the client's data connections move to another master: at once
    /// compared again, rather than at the next check. Never for a fixed server.
    async fn data_moved(&self) {
        match self {
            Self::Server(_) => std::future::pending().await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(core) => core.sentinel_moved().await,
        }
    }
}

/// What a check proved.
enum Checked {
    /// It was answered.
    Alive,
    /// It was refused, which proves the connection alive too.
    Refused(String),
}

/// A check's reply: any reply, an error reply included, proves the connection alive;
/// only a lost, closed or silent connection fails it.
fn checked<T>(what: &str, reply: Result<T, RedisError>) -> Result<Checked, Failure> {
    match reply {
        Ok(_) => Ok(Checked::Alive),
        Err(error) if is_unreachable(&error) => Err(Failure::Io(format!("{what} failed: {error}"))),
        Err(error) => Ok(Checked::Refused(format!("{what} refused: {error}"))),
    }
}

fn is_unreachable(error: &RedisError) -> bool {
    error.is_io_error() || error.is_timeout() || error.is_connection_dropped()
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
    /// Connecting failed, the connection was closed, or a check went unanswered.
    Io(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(why) | Self::Io(why) => f.write_str(why),
        }
    }
}

/// A server error is a refusal (`NOPERM`, refused credentials, no `HELLO` before
/// Redis 6), except those of a server that is only busy for now (loading its data, a
/// cluster or a master not ready); anything else is a failure to reach the server.
fn failure(what: &str, error: &RedisError) -> Failure {
    const TRANSIENT: [&str; 5] = ["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"];
    let message = format!("{what}: {error}");
    if is_unreachable(error) || error.code().is_some_and(|code| TRANSIENT.contains(&code)) {
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
        // Up only once reads go where the pushes come from; checked every interval.
        let mut up = false;
        let mut waits = 0;
        loop {
            match (up, target.serves_reads(&client)) {
                (false, Ok(())) => {
                    if !self.readiness.up(self.node, self.id) {
                        return Failure::Io("the connection was closed".to_owned());
                    }
                    up = true;
                    *backoff = MIN_BACKOFF;
                }
                (true, Err(failure)) => return failure,
                // The sentinels may have answered the client otherwise: ask them again.
                (false, Err(failure)) if waits == MAX_WAITS => return failure,
                (false, Err(_)) => waits += 1,
                (true, Ok(())) => {}
            }
            // ordering: `move_to` moves the data connections and wakes `data_moved`
            // without an await, on this (current-thread) runtime, so no move falls
            // between the comparison above and the wait below.
            tokio::select! {
                () = closed.notified() => return Failure::Io("the connection was closed".to_owned()),
                () = target.data_moved() => continue,
                () = tokio::time::sleep(self.settings.check_interval) => {}
            }
            match target.check(&mut connection).await {
                Ok(Checked::Alive) => {}
                Ok(Checked::Refused(why)) => self.readiness.check_refused(self.node, &why),
                Err(failure) => return failure,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: &str) -> RedisError {
        redis::parse_redis_value(format!("-{code} reason\r\n").as_bytes())
            .and_then(Value::extract_error)
            .expect_err("an error reply")
    }

    #[test]
    fn a_denial_is_a_refusal_and_a_busy_server_a_failure() {
        assert!(matches!(
            failure("t", &server_error("NOPERM")),
            Failure::Refused(_)
        ));
        assert!(matches!(
            failure("t", &server_error("ERR")),
            Failure::Refused(_)
        ));
        assert!(matches!(
            failure("t", &server_error("LOADING")),
            Failure::Io(_)
        ));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(failure("t", &io), Failure::Io(_)));
    }

    #[test]
    fn any_reply_to_a_check_proves_the_connection_alive() {
        let refused = checked::<()>("PING", Err(server_error("NOPERM")));
        assert!(matches!(refused, Ok(Checked::Refused(_))));
        assert!(matches!(checked("PING", Ok(())), Ok(Checked::Alive)));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(matches!(
            checked::<()>("PING", Err(io)),
            Err(Failure::Io(_))
        ));
    }
}
