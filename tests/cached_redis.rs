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

/// The memory backend's glob matcher against Redis's own `SCAN ... MATCH`: random keys
/// and patterns over the metacharacters, every pattern deleting on Redis exactly what
/// `cachify::glob::matches` selects.
mod glob_agrees_with_redis {
    use cachify::glob;

    /// xorshift64*: reproducible without a dependency.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn text(&mut self, alphabet: &[u8], longest: usize) -> String {
            let len = self.below(longest + 1);
            (0..len)
                .map(|_| char::from(alphabet[self.below(alphabet.len())]))
                .collect()
        }
    }

    #[tokio::test]
    async fn random_patterns_delete_on_redis_what_the_matcher_selects() {
        const KEY_BYTES: &[u8] = b"ab-^]\\*?[";
        const PATTERN_BYTES: &[u8] = b"ab-^]\\*?[*?[";
        let cachify = super::backend().instance("glob-vs-redis");
        let prefix = cachify.prefix().to_owned();
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for round in 0..150 {
            let mut keys: Vec<String> = (0..24).map(|_| random.text(KEY_BYTES, 5)).collect();
            keys.sort();
            keys.dedup();
            for key in &keys {
                let key = cachify.cache_key(key);
                let stored = cachify.async_client().set(&key, b"v", None, false);
                stored.await.unwrap();
            }
            let pattern = random.text(PATTERN_BYTES, 6);
            let storage_pattern = glob::escape(&prefix) + &pattern;
            let selected: Vec<&String> = keys
                .iter()
                .filter(|key| glob::matches(&storage_pattern, &format!("{prefix}{key}")))
                .collect();
            let deleted = cachify.delete_matching_async(&pattern).await.unwrap();
            assert_eq!(
                deleted,
                selected.len() as u64,
                "round {round}: pattern {pattern:?} over {keys:?} selects {selected:?}"
            );
            // Whatever is left is what the matcher did not select.
            assert_eq!(
                cachify.delete_matching_async("*").await.unwrap(),
                (keys.len() - selected.len()) as u64
            );
        }
    }
}
