//! Cache key building (docs/contract/cache-design.md section 2).
//!
//! A key is `{name}:{variant}:{params}` (the backend adds `{prefix}:`). `params` holds exactly
//! what the handler reads from the request's query and path, as the `#[cached]` macro declares
//! it in [`KeyParam`]s: parameters the handler ignores (cache-busters, `utm_*`) cannot split
//! the cache, equivalent spellings of one query map to one key, and two requests whose
//! handler inputs differ never share a key.

use sha2::{Digest, Sha256};

/// Longest `variant:params` kept verbatim; anything longer is replaced by its SHA-256 so no
/// client can grow Redis keys without bound.
pub const MAX_VARIANT_QUERY_BYTES: usize = 256;

/// How a handler reads one of its parameters, which decides what of it enters the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamRead {
    /// A single-valued query parameter (`Query<T>`, `Query<Option<T>>`, or any list with
    /// `explode = false`): poem-openapi parses only the first occurrence, so later repeats
    /// cannot change the response and must not change the key.
    QueryFirst,
    /// A multi-valued query parameter (`Query<Vec<T>>` and other sequences): every
    /// occurrence, in request order, because the handler sees them in that order.
    QueryAll,
    /// A query parameter collected into a set (`Query<BTreeSet<T>>`, `Query<HashSet<T>>`):
    /// the distinct values in sorted order, as neither order nor repeats reach the handler.
    QuerySet,
    /// A path parameter (`Path<T>`): the raw segment poem matched. Path parameters are
    /// looked up by their position among the handler's path parameters, which is how
    /// poem-openapi names them for its router (`param0`, `param1`, ...).
    Path,
}

/// One parameter of a cached handler that enters its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParam {
    /// Public name, as poem-openapi matches it (`#[oai(name = ...)]` or the identifier).
    pub name: &'static str,
    /// How the handler reads it.
    pub read: ParamRead,
    /// `#[oai(ignore_case)]`: the query name matches in any ASCII case, as poem-openapi does.
    pub ignore_case: bool,
}

impl KeyParam {
    /// A single-valued query parameter matched case-sensitively.
    pub const fn first(name: &'static str) -> Self {
        Self::new(name, ParamRead::QueryFirst)
    }

    /// A multi-valued query parameter matched case-sensitively.
    pub const fn all(name: &'static str) -> Self {
        Self::new(name, ParamRead::QueryAll)
    }

    /// A path parameter.
    pub const fn path(name: &'static str) -> Self {
        Self::new(name, ParamRead::Path)
    }

    /// A parameter read as `read`, matched case-sensitively.
    pub const fn new(name: &'static str, read: ParamRead) -> Self {
        Self {
            name,
            read,
            ignore_case: false,
        }
    }

    fn matches(&self, raw_name: &str) -> bool {
        if self.ignore_case {
            self.name.eq_ignore_ascii_case(raw_name)
        } else {
            self.name == raw_name
        }
    }
}

/// Canonical form of what a handler reads from a request: for each declared parameter, in
/// declaration order, its `(name, value)` pairs (none when absent), encoded as
/// `application/x-www-form-urlencoded`.
///
/// Query values are percent-decoded first (`+` is a space), as poem-openapi decodes them, so
/// spellings of one value are one key. `path` gives the raw value of the `n`th path
/// parameter (counted from 0 in declaration order).
/// Because names are unique within one handler (the macro checks it) and the encoding escapes
/// `&` and `=`, different inputs of one handler never give the same string.
///
/// ```
/// use hub_core::cache::key::{KeyParam, canonical_params};
/// let params = [KeyParam::path("id"), KeyParam::first("a"), KeyParam::all("b")];
/// let path = |n: usize| ["r1"].get(n).copied();
/// assert_eq!(canonical_params("b=x%20y&a=1&a=2&utm_source=z&b=w", path, &params),
///            "id=r1&a=1&b=x+y&b=w");
/// assert_eq!(canonical_params("", path, &params), "id=r1");
/// ```
pub fn canonical_params<'p>(
    raw_query: &str,
    path: impl Fn(usize) -> Option<&'p str>,
    params: &[KeyParam],
) -> String {
    let query: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| params.iter().any(|p| p.matches(k)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = form_urlencoded::Serializer::new(String::new());
    let mut path_index = 0;
    for param in params {
        let mut values = query
            .iter()
            .filter(|(k, _)| param.matches(k))
            .map(|(_, v)| v.as_str());
        match param.read {
            ParamRead::QueryFirst => {
                if let Some(v) = values.next() {
                    out.append_pair(param.name, v);
                }
            }
            ParamRead::QueryAll => {
                for v in values {
                    out.append_pair(param.name, v);
                }
            }
            ParamRead::QuerySet => {
                let set: std::collections::BTreeSet<&str> = values.collect();
                for v in set {
                    out.append_pair(param.name, v);
                }
            }
            ParamRead::Path => {
                if let Some(v) = path(path_index) {
                    out.append_pair(param.name, v);
                }
                path_index += 1;
            }
        }
    }
    out.finish()
}

/// The backend key (without prefix) for one request: `{name}:{variant}:{params}`, `params`
/// being [`canonical_params`].
///
/// When `variant:params` is longer than [`MAX_VARIANT_QUERY_BYTES`] it is replaced by the
/// lowercase hex SHA-256 of itself, so the key stays bounded and still distinct per request.
///
/// ```
/// use hub_core::cache::key::{KeyParam, build_key};
/// let params = [KeyParam::first("limit"), KeyParam::first("offset")];
/// assert_eq!(build_key("messages", "role=admin", "offset=0&limit=5&x=1", |_| None, &params),
///            "messages:role=admin:limit=5&offset=0");
/// ```
pub fn build_key<'p>(
    name: &str,
    variant: &str,
    raw_query: &str,
    path: impl Fn(usize) -> Option<&'p str>,
    params: &[KeyParam],
) -> String {
    let query = canonical_params(raw_query, path, params);
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

    const D: &[KeyParam] = &[
        KeyParam::first("a"),
        KeyParam::first("b"),
        KeyParam::all("observed_by"),
        KeyParam::first("search"),
    ];

    fn canonical_query(raw: &str, params: &[KeyParam]) -> String {
        canonical_params(raw, |_| None, params)
    }

    fn key(name: &str, variant: &str, raw: &str) -> String {
        build_key(name, variant, raw, |_| None, D)
    }

    #[test]
    fn empty_query_is_empty() {
        assert_eq!(canonical_query("", D), "");
        assert_eq!(key("nodes", "", ""), "nodes::");
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
    fn a_repeated_single_valued_parameter_is_keyed_by_its_first_value() {
        // poem-openapi parses only the first occurrence: the handler of `search=a&search=b`
        // answers for `a`, that of `search=b&search=a` for `b`.
        let ab = canonical_query("search=a&search=b", D);
        let ba = canonical_query("search=b&search=a", D);
        assert_eq!(ab, "search=a");
        assert_eq!(ba, "search=b");
        assert_eq!(ab, canonical_query("search=a", D));
    }

    #[test]
    fn a_multi_valued_parameter_keeps_every_value_in_request_order() {
        let ab = canonical_query("observed_by=A&a=1&observed_by=B", D);
        assert_eq!(ab, "a=1&observed_by=A&observed_by=B");
        assert_ne!(ab, canonical_query("observed_by=B&a=1&observed_by=A", D));
        assert_ne!(ab, canonical_query("observed_by=A&a=1", D));
    }

    #[test]
    fn a_set_parameter_is_keyed_by_its_distinct_values() {
        let params = [KeyParam::new("ids", ParamRead::QuerySet)];
        let set = |q| canonical_query(q, &params);
        assert_eq!(set("ids=b&ids=a&ids=b"), "ids=a&ids=b");
        assert_eq!(set("ids=b&ids=a"), set("ids=a&ids=b"));
        assert_ne!(set("ids=a"), set("ids=a&ids=b"));
    }

    #[test]
    fn path_parameters_enter_the_key() {
        let params = [
            KeyParam::path("id"),
            KeyParam::first("days"),
            KeyParam::path("day"),
        ];
        let key = |id: &'static str, q: &str| {
            build_key("r", "", q, move |n| [id, "mon"].get(n).copied(), &params)
        };
        assert_eq!(key("a", "days=3&id=zzz"), "r::id=a&days=3&day=mon");
        assert_ne!(key("a", ""), key("b", ""));
        assert_eq!(key("a:b&c=d", ""), "r::id=a%3Ab%26c%3Dd&day=mon");
    }

    #[test]
    fn ignore_case_names_match_in_any_case() {
        let params = [KeyParam {
            ignore_case: true,
            ..KeyParam::first("search")
        }];
        assert_eq!(canonical_query("SEARCH=x&search=y", &params), "search=x");
        assert_eq!(canonical_query("SEARCH=x", D), "");
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
            key("dashboard/stats", "role=admin", ""),
            "dashboard/stats:role=admin:"
        );
        assert_eq!(key("nodes", "", "b=1&a=2"), "nodes::a=2&b=1");
    }

    #[test]
    fn long_keys_hashed() {
        let long = format!("search={}", "x".repeat(300));
        let hashed = key("nodes", "role=admin", &long);
        let tail = format!("role=admin:{long}");
        assert_eq!(
            hashed,
            format!("nodes:{}", hex::encode(Sha256::digest(tail.as_bytes())))
        );
        assert_eq!(hashed.len(), "nodes:".len() + 64);
        // Distinct long queries stay distinct.
        let other = key("nodes", "role=admin", &format!("{long}y"));
        assert_ne!(hashed, other);
    }

    #[test]
    fn boundary_is_exactly_256_bytes() {
        // "v:" + "search=" + n bytes == 256 -> kept verbatim.
        let n = MAX_VARIANT_QUERY_BYTES - "v:search=".len();
        let q = format!("search={}", "x".repeat(n));
        assert_eq!(key("n", "v", &q), format!("n:v:{q}"));
        let q = format!("search={}", "x".repeat(n + 1));
        assert_eq!(key("n", "v", &q).len(), "n:".len() + 64);
    }
}
