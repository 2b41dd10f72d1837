//! An acquire that failed before its request ran on the server (a refused connection,
//! refused credentials) leaves no release pending: a flush right after it returns at once.
//! Each case runs in a child process of its own, so that no other test's releases are
//! pending in the flush it checks.

use std::time::Duration;

use cachify::Cachify;

use super::{spawn_child_with_url, wait_all};

/// A port nothing listens on: every connection is refused.
const REFUSING_URL: &str = "redis://127.0.0.1:1/0";

/// Longer than a failed give-back would be retried over: a flush that waits for one
/// returns `false`.
const FLUSH_PATIENCE: Duration = Duration::from_secs(3);

const ROLES: [&str; 4] = [
    "failed-acquire-refused-sync",
    "failed-acquire-refused-async",
    "failed-acquire-wrong-password-sync",
    "failed-acquire-wrong-password-async",
];

pub(super) fn is_role(role: &str) -> bool {
    ROLES.contains(&role)
}

/// Acquires a lock and a pool slot, each failing, then checks that nothing is pending.
/// Each has an instance of its own, whose circuit breaker has not opened yet.
pub(super) fn child(role: &str) {
    let url = std::env::var(super::URL).unwrap();
    let instance = || Cachify::builder().redis(&url).unwrap().build();
    if role.ends_with("-sync") {
        assert!(instance().lock("k").acquire().is_err());
        assert!(instance().pool("p", 1).acquire().is_err());
        assert!(
            cachify::flush_releases(FLUSH_PATIENCE),
            "{role}: a release was left pending"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(instance().lock("k").acquire_async().await.is_err());
        assert!(instance().pool("p", 1).acquire_async().await.is_err());
        assert!(
            cachify::flush_releases_async(FLUSH_PATIENCE).await,
            "{role}: a release was left pending"
        );
    });
}

#[test]
fn an_acquire_refused_a_connection_leaves_no_release_to_flush() {
    let children = [
        "failed-acquire-refused-sync",
        "failed-acquire-refused-async",
    ]
    .map(|role| spawn_child_with_url(role, "refused", REFUSING_URL));
    wait_all(children.into());
}

#[test]
fn an_acquire_refused_its_credentials_leaves_no_release_to_flush() {
    let port = super::support::redis::server().port();
    let url = format!("redis://nobody:wrong@127.0.0.1:{port}/0");
    let children = [
        "failed-acquire-wrong-password-sync",
        "failed-acquire-wrong-password-async",
    ]
    .map(|role| spawn_child_with_url(role, "wrong-password", &url));
    wait_all(children.into());
}
