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

/// The memory backend keeps each value decoded beside its bytes: hits of a `Clone` type
/// clone it instead of decoding again; other types decode on every hit.
mod decoded_once {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::LazyLock;

    use cachify::{cached, Cachify};

    static C: LazyLock<Cachify> = LazyLock::new(|| super::backend().instance("decoded_once"));
    static CLONEABLE_DECODES: AtomicUsize = AtomicUsize::new(0);
    static OPAQUE_DECODES: AtomicUsize = AtomicUsize::new(0);

    fn decode_counted(stored: String) -> String {
        CLONEABLE_DECODES.fetch_add(1, SeqCst);
        stored
    }

    #[cached(key = "cloneable-{n}", cachify = C, enc_dec = (String::clone, decode_counted))]
    fn cloneable(n: u32) -> String {
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
        assert_eq!(cloneable(1), "value 1", "a miss decodes nothing");
        for _ in 0..5 {
            assert_eq!(cloneable(1), "value 1");
        }
        assert_eq!(CLONEABLE_DECODES.load(SeqCst), 1);

        cloneable::reset(1).unwrap();
        assert_eq!(cloneable(1), "value 1");
        assert_eq!(cloneable(1), "value 1");
        assert_eq!(
            CLONEABLE_DECODES.load(SeqCst),
            2,
            "a new entry is decoded anew"
        );
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
