//! The cache names of the hub API and the generation rule of invalidation (docs/contract/cache-design.md
//! section 7).
//!
//! # Generation rule
//!
//! Every name has a generation counter in Redis (`{prefix}:gen:{name}`). Names are
//! `/`-separated paths, and a name depends on the generation of itself **and of every
//! ancestor**: an entry of `dashboard/stats` is computed under the generations of `dashboard`
//! and `dashboard/stats`. So invalidating `dashboard` invalidates every `dashboard/*` name,
//! invalidating `routes` invalidates `routes`, `routes/detail` and `routes/history`, and
//! invalidating `dashboard/stats` touches nothing else. Names a response also depends on
//! (`#[cached(depends = [...])]`) are expanded the same way.
//!
//! # Known names
//!
//! [`KNOWN`] is the one list of names a write may invalidate: `#[invalidates(...)]` checks each
//! of its names against it at compile time ([`is_known`] in a `const` assertion), so a typo
//! is a build error, not a cache that is never invalidated. Group names (`dashboard`,
//! `routes`) are listed too, since invalidating them is meaningful.

/// Every cache name a write may invalidate (cached operations' names and their groups).
pub const KNOWN: &[&str] = &[
    "nodes",
    "advertisements",
    "messages",
    "channels",
    "profiles",
    "packets",
    "packet_groups",
    "routes",
    "routes/detail",
    "routes/history",
    "dashboard",
    "dashboard/stats",
    "dashboard/recent-activity",
    "dashboard/activity",
    "dashboard/packet-activity",
    "dashboard/message-activity",
    "dashboard/node-count",
    "dashboard/packet-breakdown",
    "dashboard/routes-overview",
    "feeds",
];

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `name` is in [`KNOWN`]; usable in `const` context (the `#[invalidates]` check).
///
/// ```
/// use hub_core::cache::names::is_known;
/// const _: () = assert!(is_known("dashboard"));
/// assert!(is_known("dashboard/stats"));
/// assert!(!is_known("dashbaord"));
/// ```
pub const fn is_known(name: &str) -> bool {
    let mut i = 0;
    while i < KNOWN.len() {
        if str_eq(KNOWN[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// The names whose generations an entry of `name` (with the extra `depends`) is computed
/// under: every ancestor and the name itself, for `name` and each of `depends`, without
/// duplicates, in first-seen order.
///
/// ```
/// use hub_core::cache::names::generation_names;
/// assert_eq!(
///     generation_names("dashboard/stats", &["nodes", "routes/detail"]),
///     ["dashboard", "dashboard/stats", "nodes", "routes", "routes/detail"]
/// );
/// assert_eq!(generation_names("nodes", &["nodes"]), ["nodes"]);
/// ```
pub fn generation_names(name: &'static str, depends: &[&'static str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for n in std::iter::once(name).chain(depends.iter().copied()) {
        let ancestors = n
            .match_indices('/')
            .map(|(i, _)| &n[..i])
            .chain(std::iter::once(n));
        for a in ancestors {
            if !a.is_empty() && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_unique_and_valid() {
        for (i, a) in KNOWN.iter().enumerate() {
            assert!(
                !a.is_empty() && !a.contains([':', '*', '{', '}', ' ']),
                "{a}"
            );
            assert!(!KNOWN[i + 1..].contains(a), "duplicate {a}");
            assert!(is_known(a));
        }
        assert!(!is_known(""));
        assert!(!is_known("dashboard/"));
        assert!(!is_known("node"));
    }

    #[test]
    fn ancestors_are_included() {
        assert_eq!(generation_names("nodes", &[]), ["nodes"]);
        assert_eq!(generation_names("a/b/c", &[]), ["a", "a/b", "a/b/c"]);
        assert_eq!(
            generation_names("routes/detail", &["routes", "dashboard/x"]),
            ["routes", "routes/detail", "dashboard", "dashboard/x"]
        );
    }
}
