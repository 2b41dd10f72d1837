//! Why a cluster call reached no node. redis-rs says only "no connection found"; the
//! usual cause when the nodes are up is refused credentials, so one seed node is asked
//! directly, and the error then names the refusal. During an outage every failing call
//! would otherwise pay for that question: it is asked by one call at a time and its
//! answer kept for a probe interval.

use std::time::{Duration, Instant};

use redis::{AsyncConnectionConfig, ErrorKind, RedisError};

use super::runtime;

/// The longest a cluster call that reached no node spends asking a seed node why.
const EXPLAIN_PATIENCE: Duration = Duration::from_millis(200);

/// The last answer of a seed node, and when it was given.
#[derive(Default)]
pub(crate) struct Explanations {
    /// Held while asking, so that concurrent failures wait for one answer.
    last: tokio::sync::Mutex<Option<Answer>>,
}

#[derive(Clone)]
struct Answer {
    at: Instant,
    /// The node refused the credentials; `None`: it did not (or did not answer).
    refusal: Option<RedisError>,
}

impl Explanations {
    /// `error`, or the credential refusal that explains it when `error` is a cluster
    /// call that reached no node. `node` is asked at most once per `fresh_for`, with at
    /// most `connect_timeout` (capped at [`EXPLAIN_PATIENCE`]) of patience.
    pub(crate) async fn explain(
        &self,
        error: RedisError,
        node: Option<&redis::Client>,
        connect_timeout: Duration,
        fresh_for: Duration,
    ) -> RedisError {
        if error.kind() != ErrorKind::ClusterConnectionNotFound {
            return error;
        }
        let Some(node) = node else {
            return error;
        };
        let mut last = self.last.lock().await;
        let fresh = last
            .as_ref()
            .filter(|answer| answer.at.elapsed() < fresh_for)
            .cloned();
        let answer = match fresh {
            Some(answer) => answer,
            None => {
                let answer = Answer {
                    refusal: ask(node, connect_timeout.min(EXPLAIN_PATIENCE)).await,
                    at: Instant::now(),
                };
                *last = Some(answer.clone());
                answer
            }
        };
        answer.refusal.unwrap_or(error)
    }
}

/// The refusal of `node`, when it refuses the client's credentials.
async fn ask(node: &redis::Client, patience: Duration) -> Option<RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(patience))
        .set_response_timeout(Some(patience));
    let connect = node.get_multiplexed_async_connection_with_config(&config);
    match runtime::on_io(connect).await {
        Ok(Err(refusal)) if refused_credentials(&refusal) => Some(refusal),
        _ => None,
    }
}

/// Whether the server refused the client's credentials (wrong password, unknown or
/// disabled user, or none given where one is required).
pub(crate) fn refused_credentials(error: &RedisError) -> bool {
    error.kind() == ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"))
}
