//! Property tests of the two parsers the cache trusts with client bytes: the key
//! canonicaliser (hub_core::cache::key) and the envelope decoder (hub_core::cache::envelope).
//!
//! The key is checked against a model of what a handler reads from a request: two requests
//! get the same key exactly when their handler would read the same inputs, whatever the
//! order, spelling or repetition of their query pairs, and every key stays within its bound.

use std::collections::BTreeSet;

use hub_core::cache::envelope::Envelope;
use hub_core::cache::key::{KeyParam, MAX_VARIANT_QUERY_BYTES, ParamRead, build_key};
use proptest::prelude::*;

/// The declared parameters of the handler under test: one of each way of reading, and a
/// name that itself needs encoding.
const PARAMS: &[KeyParam] = &[
    KeyParam::first("a"),
    KeyParam::all("b"),
    KeyParam::new("c", ParamRead::QuerySet),
    KeyParam::path("p"),
    KeyParam::first("k=&y"),
    KeyParam {
        ignore_case: true,
        ..KeyParam::first("Ci")
    },
];

/// Query names a request may send: the declared ones (in other cases too) and undeclared ones.
const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "k=&y",
    "Ci",
    "cI",
    "A",
    "z",
    "utm_source",
    "p",
];

/// Values from a small alphabet, so that equal inputs are frequent, with every character the
/// key format gives a meaning to (`&`, `=`, `:`, `%`, `+`), spaces, unicode and empties.
fn value() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "x", "y", "&", "=", ":", "%", "+", " ", "é", "日", "%41", "",
    ]);
    prop_oneof![
        8 => prop::collection::vec(pieces, 0..4).prop_map(|p| p.concat()),
        1 => "[a-z]{200,400}",
    ]
}

/// A decoded query: `(name, value)` pairs in request order.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (prop::sample::select(NAMES).prop_map(str::to_owned), value()),
        0..8,
    )
}

/// One encoding of `s` as `application/x-www-form-urlencoded`, choosing per byte among the
/// spellings that decode to it (`+` or `%20` for a space, a literal or an escaped letter,
/// upper- or lowercase hex): every choice is the same request to poem-openapi.
fn spell(s: &str, choices: &mut impl Iterator<Item = u8>) -> String {
    let mut out = String::new();
    for &byte in s.as_bytes() {
        let choice = choices.next().unwrap_or(0);
        let escaped = if choice.is_multiple_of(2) {
            format!("%{byte:02X}")
        } else {
            format!("%{byte:02x}")
        };
        match byte {
            b' ' if choice.is_multiple_of(3) => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.'
                if !choice.is_multiple_of(4) =>
            {
                out.push(char::from(byte))
            }
            _ => out.push_str(&escaped),
        }
    }
    out
}

fn raw_query(pairs: &[(String, String)], choices: &[u8]) -> String {
    let mut choices = choices.iter().copied().cycle();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", spell(k, &mut choices), spell(v, &mut choices)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What the handler reads: per declared parameter, the values it sees.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    One(Option<String>),
    Sequence(Vec<String>),
    Set(BTreeSet<String>),
}

fn model(pairs: &[(String, String)], path: &Option<String>) -> Vec<Read> {
    PARAMS
        .iter()
        .map(|p| {
            let mut values = pairs
                .iter()
                .filter(|(k, _)| {
                    if p.ignore_case {
                        k.eq_ignore_ascii_case(p.name)
                    } else {
                        k == p.name
                    }
                })
                .map(|(_, v)| v.clone());
            match p.read {
                ParamRead::QueryFirst => Read::One(values.next()),
                ParamRead::QueryAll => Read::Sequence(values.collect()),
                ParamRead::QuerySet => Read::Set(values.collect()),
                ParamRead::Path => Read::One(path.clone()),
            }
        })
        .collect()
}

/// A request: query pairs, how they are spelled, the path parameter and the key variant
/// (variants never contain `:`, as the key functions escape it).
type Request = (Vec<(String, String)>, Vec<u8>, Option<String>, &'static str);

fn request() -> impl Strategy<Value = Request> {
    (
        pairs(),
        prop::collection::vec(any::<u8>(), 1..16),
        prop::option::of(value()),
        prop::sample::select(vec!["", "role=admin", "role=anonymous"]),
    )
}

fn key_of((pairs, spelling, path, variant): &Request) -> String {
    build_key(
        "items",
        variant,
        &raw_query(pairs, spelling),
        |_| path.as_deref(),
        PARAMS,
    )
}

proptest! {
    #[test]
    fn same_reads_same_key_and_different_reads_different_keys(r1 in request(), r2 in request()) {
        let same_reads = model(&r1.0, &r1.2) == model(&r2.0, &r2.2) && r1.3 == r2.3;
        prop_assert_eq!(key_of(&r1) == key_of(&r2), same_reads, "{} vs {}", key_of(&r1), key_of(&r2));
    }

    #[test]
    fn reordering_spelling_and_repeats_the_handler_ignores_keep_the_key(
        r in request(),
        shuffle in any::<prop::sample::Index>(),
        respelling in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        // Move one pair to another place: the reads change only if it moved past another
        // occurrence of a parameter whose order or first value the handler sees.
        let (pairs, _, path, variant) = r.clone();
        let mut moved = pairs.clone();
        if !moved.is_empty() {
            let from = shuffle.index(moved.len());
            let pair = moved.remove(from);
            moved.insert((from * 7 + 3) % (moved.len() + 1), pair);
        }
        let other = (moved, respelling, path, variant);
        let same_reads = model(&r.0, &r.2) == model(&other.0, &other.2);
        prop_assert_eq!(key_of(&r) == key_of(&other), same_reads);
        // An undeclared pair never matters.
        let mut noisy = r.clone();
        noisy.0.insert(0, ("utm_source".into(), "x".into()));
        prop_assert_eq!(key_of(&noisy), key_of(&r));
    }

    #[test]
    fn keys_are_deterministic_and_bounded(r in request()) {
        let key = key_of(&r);
        prop_assert_eq!(&key, &key_of(&r));
        prop_assert!(key.len() <= "items:".len() + MAX_VARIANT_QUERY_BYTES.max(64), "{}", key.len());
    }

    #[test]
    fn the_decoder_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::decode(&bytes);
    }

    #[test]
    fn decode_inverts_encode_and_survives_corruption(
        status in 100u16..=999,
        content_type in "[ -~]{0,80}",
        etag in "[ -~]{0,80}",
        stored_at in any::<u64>(),
        generations in prop::collection::vec(any::<u64>(), 0..12),
        body in prop::collection::vec(any::<u8>(), 0..2048),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        mask in 1u8..,
    ) {
        let body = body.into();
        let env = Envelope { status, content_type, etag, stored_at, generations, body };
        let bytes = env.encode().expect("within every length prefix");
        // The HIT path's decoder (the body a view of the stored bytes) reads the same.
        let shared = bytes::Bytes::from(bytes.clone());
        prop_assert_eq!(Envelope::decode_shared(&shared), Some(env.clone()));
        prop_assert_eq!(Envelope::decode(&bytes), Some(env));
        // A truncated or bit-flipped entry decodes to something or nothing, never a panic;
        // a truncated one is never mistaken for an entry.
        prop_assert_eq!(Envelope::decode(&bytes[..cut.index(bytes.len())]), None);
        let mut flipped = bytes.clone();
        let at = flip.index(flipped.len());
        flipped[at] ^= mask;
        let _ = Envelope::decode(&flipped);
    }
}
