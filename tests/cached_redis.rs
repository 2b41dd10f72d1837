//! The cached suite on Redis (a server this test binary starts itself).

mod support;

fn backend() -> support::Backend {
    support::Backend::Redis
}

include!("suites/cached.rs");

include!("suites/single_flight.rs");
include!("suites/shapes.rs");

include!("suites/invalidation.rs");
include!("suites/fleet_flight.rs");
include!("suites/refresh.rs");
include!("suites/stats.rs");
include!("suites/near_cache.rs");
include!("suites/near_cache_coherence.rs");
include!("suites/near_cache_faults.rs");

/// The memory backend's glob matcher against Redis's own `SCAN ... MATCH`: random keys
/// and patterns over the metacharacters and bytes of 0x80 and above (UTF-8 of `é`, `ß`,
/// U+0080), every pattern deleting on Redis exactly the keys `cachify::glob::matches`
/// selects, malformed patterns included; `Cachify::delete_matching` refuses those.
mod glob_agrees_with_redis {
    use cachify::glob::{self, KeySelection};
    use cachify::{AsyncClient, Error};

    /// xorshift64*: reproducible without a dependency.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn text(&mut self, alphabet: &[char], longest: usize) -> String {
            let len = self.below(longest + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
    }

    #[tokio::test]
    async fn random_patterns_delete_on_redis_what_the_matcher_selects() {
        const KEY_CHARS: &[char] = &[
            'a', 'b', '-', '^', ']', '\\', '*', '?', '[', '\u{e9}', '\u{df}', '\u{80}',
        ];
        const PATTERN_CHARS: &[char] = &[
            'a', 'b', '-', '^', ']', '\\', '*', '?', '[', '*', '?', '[', '\u{e9}', '\u{df}',
            '\u{80}',
        ];
        let cachify = super::backend().instance("glob-vs-redis");
        let prefix = cachify.prefix().to_owned();
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for round in 0..150 {
            let mut keys: Vec<String> = (0..24).map(|_| random.text(KEY_CHARS, 5)).collect();
            keys.sort();
            keys.dedup();
            for key in &keys {
                let key = cachify.cache_key(key);
                let stored = cachify.async_client().set(&key, b"v", None, false);
                stored.await.unwrap();
            }
            let pattern = random.text(PATTERN_CHARS, 6);
            let storage_pattern = glob::escape(&prefix) + &pattern;
            let selected: Vec<&String> = keys
                .iter()
                .filter(|key| glob::matches(&storage_pattern, &format!("{prefix}{key}")))
                .collect();
            if glob::check(&pattern).is_err() {
                let refused = cachify.delete_matching_async(&pattern).await;
                assert!(
                    matches!(
                        refused,
                        Err(Error::InvalidOption {
                            option: "pattern",
                            ..
                        })
                    ),
                    "round {round}: {pattern:?} is malformed: {refused:?}"
                );
            }
            let selection = KeySelection::new(&storage_pattern);
            let deleted = AsyncClient::delete_matching(cachify.async_client(), &selection);
            assert_eq!(
                deleted.await.unwrap(),
                selected.len() as u64,
                "round {round}: pattern {pattern:?} over {keys:?} selects {selected:?}"
            );
            for key in &keys {
                let stored = cachify.async_client().get(&cachify.cache_key(key)).await;
                assert_eq!(
                    stored.unwrap().is_none(),
                    selected.contains(&key),
                    "round {round}: pattern {pattern:?}, key {key:?}"
                );
            }
            // Whatever is left is what the matcher did not select.
            assert_eq!(
                cachify.delete_matching_async("*").await.unwrap(),
                (keys.len() - selected.len()) as u64
            );
        }
    }
}
