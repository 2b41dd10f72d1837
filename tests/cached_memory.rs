//! `#[cached]` on the in-memory backend.

mod support;

fn backend() -> support::Backend {
    support::Backend::Memory
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

/// The memory backend keeps each value decoded beside its bytes: hits of a `Clone` type
/// clone it instead of decoding again; other types, and `enc_dec` functions, decode on
/// every hit.
mod decoded_once {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::LazyLock;

    use cachify::{cached, Cachify};
    use serde::{Deserialize, Deserializer, Serialize};

    static C: LazyLock<Cachify> = LazyLock::new(|| super::backend().instance("decoded_once"));
    static CLONEABLE_DECODES: AtomicUsize = AtomicUsize::new(0);
    static ENC_DEC_DECODES: AtomicUsize = AtomicUsize::new(0);
    static OPAQUE_DECODES: AtomicUsize = AtomicUsize::new(0);

    /// Counts its own deserializations.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Counted(String);

    impl<'de> Deserialize<'de> for Counted {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            CLONEABLE_DECODES.fetch_add(1, SeqCst);
            String::deserialize(deserializer).map(Counted)
        }
    }

    #[cached(key = "cloneable-{n}", cachify = C)]
    fn cloneable(n: u32) -> Counted {
        Counted(format!("value {n}"))
    }

    fn decode_counted(stored: String) -> String {
        ENC_DEC_DECODES.fetch_add(1, SeqCst);
        stored
    }

    #[cached(key = "enc-dec-{n}", cachify = C, enc_dec = (String::clone, decode_counted))]
    fn with_enc_dec(n: u32) -> String {
        format!("value {n}")
    }

    /// Neither `Clone` nor serializable: kept as bytes only.
    #[derive(Debug, PartialEq)]
    pub struct Opaque(u32);

    fn decode_opaque(stored: u32) -> Opaque {
        OPAQUE_DECODES.fetch_add(1, SeqCst);
        Opaque(stored)
    }

    #[cached(key = "opaque-{n}", cachify = C, enc_dec = (|o| o.0, decode_opaque))]
    fn opaque(n: u32) -> Opaque {
        Opaque(n)
    }

    #[test]
    fn a_cloneable_value_is_decoded_by_its_first_hit_only() {
        let expected = Counted("value 1".into());
        assert_eq!(cloneable(1), expected, "a miss decodes nothing");
        for _ in 0..5 {
            assert_eq!(cloneable(1), expected);
        }
        assert_eq!(CLONEABLE_DECODES.load(SeqCst), 1);

        cloneable::reset(1).unwrap();
        assert_eq!(cloneable(1), expected);
        assert_eq!(cloneable(1), expected);
        assert_eq!(
            CLONEABLE_DECODES.load(SeqCst),
            2,
            "a new entry is decoded anew"
        );
    }

    #[test]
    fn an_enc_dec_decoder_runs_on_every_hit() {
        assert_eq!(with_enc_dec(3), "value 3");
        for _ in 0..3 {
            assert_eq!(with_enc_dec(3), "value 3");
        }
        assert_eq!(ENC_DEC_DECODES.load(SeqCst), 3);
    }

    #[test]
    fn a_value_that_is_not_clone_is_decoded_on_every_hit() {
        assert_eq!(opaque(2), Opaque(2));
        for _ in 0..3 {
            assert_eq!(opaque(2), Opaque(2));
        }
        assert_eq!(OPAQUE_DECODES.load(SeqCst), 3);
    }
}
