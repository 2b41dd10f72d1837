//! The lock suite on Redis Cluster (servers this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::RedisCluster
}

include!("suites/lock.rs");
include!("suites/lifecycle.rs");

/// redis-rs sends a command again by itself after a lost reply: a `SET NX` that had
/// applied then finds the lock taken by its own first attempt. The acquire is ours, with
/// its fencing token, not a lock left to expire while its owner believes it lost.
#[test]
fn an_acquire_that_finds_its_own_token_holds_the_lock() {
    let cachify = backend().instance("own-token");
    let client = cachify.sync_client();
    let key = cachify.lock_key("job");
    let ttl = Some(Duration::from_secs(30));
    assert!(
        client.set(&key, b"token-1", ttl, true).unwrap(),
        "the first attempt applied"
    );
    let token = client.lock_acquire(&key, b"token-1", ttl).unwrap();
    assert!(token.is_some_and(|token| token >= 1), "{token:?}");
    assert_eq!(
        client.lock_acquire(&key, b"token-2", ttl).unwrap(),
        None,
        "held"
    );
}
