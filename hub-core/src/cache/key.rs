//! Cache key building (docs/contract/cache-design.md section 2).
//!
//! A key is `{name}:{variant}:{query}` (the backend adds `{prefix}:`). Only the query
//! parameters a handler declares take part, so parameters it ignores (cache-busters, `utm_*`)
//! cannot split the cache, and equivalent spellings of one query map to one key.

use sha2::{Digest, Sha256};

/// Longest `variant:query` kept verbatim; anything longer is replaced by its SHA-256 so no
/// client can grow Redis keys without bound.
pub const MAX_VARIANT_QUERY_BYTES: usize = 256;

/// Canonical form of a raw query string, restricted to the `declared` parameter names.
///
/// Values are percent-decoded (`+` is a space), repeated keys are kept, pairs are sorted by
/// `(key, value)` and re-encoded as `application/x-www-form-urlencoded`.
///
/// ```
/// use hub_core::cache::key::canonical_query;
/// assert_eq!(canonical_query("b=x%20y&a=1&utm_source=z", &["a", "b"]), "a=1&b=x+y");
/// assert_eq!(canonical_query("", &["a"]), "");
/// ```
pub fn canonical_query(raw_query: &str, declared: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| declared.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The backend key (without prefix) for one request: `{name}:{variant}:{query}`.
///
/// When `variant:query` is longer than [`MAX_VARIANT_QUERY_BYTES`] it is replaced by the
/// lowercase hex SHA-256 of itself, so the key stays bounded and still distinct per request.
///
/// ```
/// use hub_core::cache::key::build_key;
/// assert_eq!(build_key("messages", "role=admin", "limit=5&offset=0&x=1", &["limit", "offset"]),
///            "messages:role=admin:limit=5&offset=0");
/// ```
pub fn build_key(name: &str, variant: &str, raw_query: &str, declared: &[&str]) -> String {
    let query = canonical_query(raw_query, declared);
    let tail = format!("{variant}:{query}");
    if tail.len() > MAX_VARIANT_QUERY_BYTES {
        format!("{name}:{}", hex::encode(Sha256::digest(tail.as_bytes())))
    } else {
        format!("{name}:{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &[&str] = &["a", "b", "observed_by", "search"];

    #[test]
    fn empty_query_is_empty() {
        assert_eq!(canonical_query("", D), "");
        assert_eq!(build_key("nodes", "", "", D), "nodes::");
    }

    #[test]
    fn one_pair() {
        assert_eq!(canonical_query("a=1", D), "a=1");
    }

    #[test]
    fn unsorted_pairs_are_one_key() {
        assert_eq!(canonical_query("b=2&a=1", D), "a=1&b=2");
        assert_eq!(canonical_query("b=2&a=1", D), canonical_query("a=1&b=2", D));
    }

    #[test]
    fn repeated_keys_kept_in_both_orders() {
        let ab = canonical_query("observed_by=A&observed_by=B", D);
        let ba = canonical_query("observed_by=B&observed_by=A", D);
        assert_eq!(ab, "observed_by=A&observed_by=B");
        assert_eq!(ab, ba);
        assert_ne!(ab, canonical_query("observed_by=B", D));
    }

    #[test]
    fn percent_encoded_and_plus_values_are_one_key() {
        let plus = canonical_query("search=x+y", D);
        let pct = canonical_query("search=x%20y", D);
        assert_eq!(plus, "search=x+y");
        assert_eq!(plus, pct);
        assert_eq!(canonical_query("search=%41%26b", D), "search=A%26b");
        // Percent-encoded names are decoded before the declared-name check.
        assert_eq!(canonical_query("%61=1", D), "a=1");
    }

    #[test]
    fn undeclared_params_ignored() {
        assert_eq!(canonical_query("a=1&utm_source=x&_=123&limit=9", D), "a=1");
        assert_eq!(canonical_query("zzz=1", D), "");
    }

    #[test]
    fn empty_values_and_bare_keys_are_kept() {
        assert_eq!(canonical_query("a&b=", D), "a=&b=");
    }

    #[test]
    fn key_layout() {
        assert_eq!(
            build_key("dashboard/stats", "role=admin", "", D),
            "dashboard/stats:role=admin:"
        );
        assert_eq!(build_key("nodes", "", "b=1&a=2", D), "nodes::a=2&b=1");
    }

    #[test]
    fn long_keys_hashed() {
        let long = format!("search={}", "x".repeat(300));
        let key = build_key("nodes", "role=admin", &long, D);
        let tail = format!("role=admin:{long}");
        assert_eq!(
            key,
            format!("nodes:{}", hex::encode(Sha256::digest(tail.as_bytes())))
        );
        assert_eq!(key.len(), "nodes:".len() + 64);
        // Distinct long queries stay distinct.
        let other = build_key("nodes", "role=admin", &format!("{long}y"), D);
        assert_ne!(key, other);
    }

    #[test]
    fn boundary_is_exactly_256_bytes() {
        // "v:" + "search=" + n bytes == 256 -> kept verbatim.
        let n = MAX_VARIANT_QUERY_BYTES - "v:search=".len();
        let q = format!("search={}", "x".repeat(n));
        assert_eq!(build_key("n", "v", &q, D), format!("n:v:{q}"));
        let q = format!("search={}", "x".repeat(n + 1));
        assert_eq!(build_key("n", "v", &q, D).len(), "n:".len() + 64);
    }
}
