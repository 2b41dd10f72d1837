//! The value codec: everything serde can describe round-trips; bad bytes are errors.

use std::collections::BTreeMap;
use std::fmt::Debug;

use cachify::codec::{decode, encode, FORMAT_VERSION};
use cachify::CodecError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
    let bytes = encode(&value).unwrap();
    assert_eq!(bytes[0], FORMAT_VERSION);
    assert_eq!(decode::<T>(&bytes).unwrap(), value);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Number(u64),
    Text(String),
    Pair { left: i32, right: i32 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Internal {
    Circle { radius: f64 },
    Square { side: f64 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Inner {
    a: u8,
    b: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    inner: Inner,
    #[serde(flatten)]
    extra: BTreeMap<String, String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Skipping {
    id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[test]
fn empty_and_zero_values_round_trip() {
    round_trip(());
    round_trip(None::<u32>);
    round_trip(Some(0u32));
    round_trip(0u64);
    round_trip(Vec::<u8>::new());
    round_trip(String::new());
    round_trip(false);
}

#[test]
fn untagged_and_internally_tagged_enums_round_trip() {
    round_trip(Untagged::Number(7));
    round_trip(Untagged::Text("seven".into()));
    round_trip(Untagged::Pair { left: -1, right: 1 });
    round_trip(Internal::Circle { radius: 1.5 });
    round_trip(Internal::Square { side: 2.0 });
}

#[test]
fn flatten_and_skipped_fields_round_trip() {
    round_trip(Flattened {
        id: 1,
        inner: Inner {
            a: 2,
            b: "three".into(),
        },
        extra: BTreeMap::from([("four".into(), "4".into())]),
    });
    round_trip(Skipping { id: 1, note: None });
    round_trip(Skipping {
        id: 1,
        note: Some("n".into()),
    });
}

#[test]
fn self_describing_values_round_trip() {
    round_trip(serde_json::json!({
        "null": null, "list": [1, "two", 3.5, false], "nested": {"empty": {}}
    }));
}

#[test]
fn structs_are_stored_as_maps_so_new_optional_fields_still_decode() {
    #[derive(Serialize)]
    struct V1 {
        id: u32,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct V2 {
        id: u32,
        #[serde(default)]
        added: Option<String>,
    }
    let old = encode(&V1 { id: 9 }).unwrap();
    assert_eq!(decode::<V2>(&old).unwrap(), V2 { id: 9, added: None });
}

#[test]
fn garbage_truncated_and_foreign_bytes_are_errors_not_panics() {
    let good = encode(&(1u64, "some text".to_string(), vec![1u8; 64])).unwrap();
    for cut in 0..good.len() {
        let result = decode::<(u64, String, Vec<u8>)>(&good[..cut]);
        assert!(result.is_err(), "truncated at {cut} decoded");
    }
    assert!(matches!(
        decode::<u32>(&[]),
        Err(CodecError::Envelope(None))
    ));
    assert!(matches!(
        decode::<u32>(&[99, 1]),
        Err(CodecError::Envelope(Some(99)))
    ));
    assert!(
        decode::<String>(&encode(&42u32).unwrap()).is_err(),
        "another type"
    );
    let mut state = 0x2545_f491_u32;
    for _ in 0..2_000 {
        let noise: Vec<u8> = (0..(state % 40) as usize)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let mut framed = vec![FORMAT_VERSION];
        framed.extend(noise);
        let _ = decode::<Flattened>(&framed);
        let _ = decode::<serde_json::Value>(&framed);
    }
}

#[test]
fn codec_errors_convert_into_cachify_errors() {
    let err: cachify::Error = decode::<u32>(b"").unwrap_err().into();
    assert!(matches!(err, cachify::Error::Codec(_)));
    assert!(err.to_string().starts_with("codec error"));
}
