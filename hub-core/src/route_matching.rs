//! The route matching engine (docs/contract/api-2.md section 5.8): pure functions over packets already
//! fetched from `packet_path_hops`, so that the read endpoints (live recent matches), the
//! writes (synchronous evaluation on create and update) and the preview share one set of
//! rules. Nothing here touches the database; the SQL candidate fetch lives with its callers.
//!
//! A route is an ordered list of expected hop hashes. A packet matches when its recorded
//! path contains those hashes in order (gaps allowed), within the route's span and length
//! limits, optionally in reverse.

use crate::entity::routes;
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// Above this many candidate packets a preview gives up and answers `truncated` (the count
/// itself is made in SQL, before any hop is loaded).
pub const PREVIEW_CANDIDATE_LIMIT: i64 = 5000;

/// How many recent matches a route keeps and shows.
pub const RECENT_MATCH_LIMIT: usize = 3;

/// One hop of a packet's recorded path (a `packet_path_hops` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// 0-based position in the path; contiguous, so it equals the index in the hop list.
    pub position: i32,
    /// Uppercase hex of 2, 4 or 6 characters.
    pub node_hash: String,
    /// The raw packet's hash (the same on every hop of a packet).
    pub packet_hash: Option<String>,
    /// The raw packet's event hash (the same on every hop of a packet).
    pub event_hash: Option<String>,
    /// When the packet was received.
    pub received_at: NaiveDateTime,
    /// The observer that received it.
    pub observer_node_id: Option<String>,
}

/// A received packet that may match a route: its id and all its hops in position order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `raw_packets.id`.
    pub raw_packet_id: String,
    /// Every hop of the packet, ordered by position.
    pub hops: Vec<Hop>,
}

/// The limits a match must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchRules {
    /// Most positions between the first and last matched hop; `None` is unlimited. A negative
    /// value (accepted by the API) means nothing ever matches.
    pub max_hop_span: Option<i32>,
    /// Packets with more hops than this never match; `None` is unlimited.
    pub max_path_length: Option<i32>,
    /// Whether the expected list may also match in reverse.
    pub reversible: bool,
}

/// The thresholds a route is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Distinct matching packets needed to be healthy.
    pub packet_count_threshold: i32,
    /// Distinct matching packets for `clear` quality; `None` or 0 means 3 x the threshold.
    pub clear_threshold: Option<i32>,
}

impl Thresholds {
    /// The effective clear bar: `clear_threshold` when non-null and non-zero, else
    /// 3 x `packet_count_threshold`.
    ///
    /// ```
    /// use hub_core::route_matching::Thresholds;
    /// let t = |clear| Thresholds { packet_count_threshold: 5, clear_threshold: clear };
    /// assert_eq!(t(None).effective_clear(), 15);
    /// assert_eq!(t(Some(0)).effective_clear(), 15);
    /// assert_eq!(t(Some(7)).effective_clear(), 7);
    /// ```
    pub fn effective_clear(&self) -> i64 {
        match self.clear_threshold {
            Some(clear) if clear != 0 => i64::from(clear),
            _ => 3 * i64::from(self.packet_count_threshold),
        }
    }
}

/// What a route is matched and judged by: the settings a stored route, a new one and a
/// preview share, from which the engine's [`MatchRules`] and [`Thresholds`] are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchSettings {
    /// Bytes of each key matched against hop hashes, 1-3.
    pub match_width: i32,
    /// Length of the evaluation window, in hours.
    pub window_hours: i32,
    /// Distinct matching packets needed to be healthy.
    pub packet_count_threshold: i32,
    /// Distinct matching packets for `clear`; `None` or 0 means 3 x the threshold.
    pub clear_threshold: Option<i32>,
    /// Most positions between the first and last matched hop; `None` is unlimited.
    pub max_hop_span: Option<i32>,
    /// Packets with a longer path never match; `None` is unlimited.
    pub max_path_length: Option<i32>,
    /// Whether the path may match in reverse.
    pub reversible: bool,
}

impl MatchSettings {
    /// The limits a match must respect.
    pub fn rules(&self) -> MatchRules {
        MatchRules {
            max_hop_span: self.max_hop_span,
            max_path_length: self.max_path_length,
            reversible: self.reversible,
        }
    }

    /// The thresholds the route is judged by.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            packet_count_threshold: self.packet_count_threshold,
            clear_threshold: self.clear_threshold,
        }
    }
}

impl From<&routes::Model> for MatchSettings {
    fn from(route: &routes::Model) -> Self {
        MatchSettings {
            match_width: route.match_width,
            window_hours: route.window_hours,
            packet_count_threshold: route.packet_count_threshold,
            clear_threshold: route.clear_threshold,
            max_hop_span: route.max_hop_span,
            max_path_length: route.max_path_length,
            reversible: route.reversible,
        }
    }
}

/// Whether a route is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Enough distinct packets matched.
    Healthy,
    /// Too few matched, but observers heard traffic in the window.
    Unhealthy,
    /// Nothing at all was heard in the window (within the observer scope).
    NoCoverage,
}

impl State {
    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::NoCoverage => "no_coverage",
        }
    }
}

/// How well a route is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// At or above the clear bar.
    Clear,
    /// Healthy but below the clear bar.
    Marginal,
    /// Unhealthy.
    Failing,
    /// No coverage.
    Unknown,
}

impl Quality {
    /// The stored and served name.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Clear => "clear",
            Quality::Marginal => "marginal",
            Quality::Failing => "failing",
            Quality::Unknown => "unknown",
        }
    }
}

/// The result of judging a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// Healthy, unhealthy or no coverage.
    pub state: State,
    /// Clear, marginal, failing or unknown.
    pub quality: Quality,
    /// Distinct matching packets counted (capped at the clear bar by [`evaluate`]).
    pub matched_count: i64,
}

impl Evaluation {
    /// The verdict for a route that cannot match at all (fewer than 2 expected hashes).
    pub const NO_COVERAGE: Evaluation = Evaluation {
        state: State::NoCoverage,
        quality: Quality::Unknown,
        matched_count: 0,
    };
}

/// The exclusive upper end of the range of hashes starting with `prefix`: `prefix` with its
/// last character replaced by the next one (`A1` -> `A2`, `9` -> `:`, `F` -> `G`).
///
/// For ASCII prefixes, `prefix <= h < prefix_end(prefix)` holds exactly when `h` starts with
/// `prefix`, which lets SQL use a range on the `node_hash` index. An empty prefix gives an
/// empty end (an empty range).
///
/// ```
/// use hub_core::route_matching::prefix_end;
/// assert_eq!(prefix_end("A1FA"), "A1FB");
/// assert_eq!(prefix_end("A9"), "A:");
/// assert_eq!(prefix_end("AF"), "AG");
/// ```
pub fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    if let Some(last) = chars.last_mut() {
        // The successor of a valid char is valid except past the surrogate gap and at the
        // very top; neither occurs in hex, and both fall back to the largest char.
        *last = char::from_u32(*last as u32 + 1)
            .or_else(|| char::from_u32(*last as u32 + 0x801))
            .unwrap_or(char::MAX);
    }
    chars.into_iter().collect()
}

/// The expected hash of a path node: the first `2 x match_width` characters of its public
/// key, uppercased (`A1FA` at width 2). Shorter keys give what they have.
///
/// ```
/// assert_eq!(hub_core::route_matching::expected_hash("a1fa00ff", 2), "A1FA");
/// ```
pub fn expected_hash(public_key: &str, match_width: i32) -> String {
    let chars = usize::try_from(match_width.max(0)).unwrap_or(0) * 2;
    public_key
        .chars()
        .take(chars)
        .collect::<String>()
        .to_uppercase()
}

/// A saved route's path node as the engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathNode<'a> {
    /// `route_nodes.expected_hash`, when stored.
    pub expected_hash: Option<&'a str>,
    /// The node's public key, when the node still exists.
    pub public_key: Option<&'a str>,
}

/// The expected list of a saved route, from its nodes in position order: each node's stored
/// expected hash, else one derived from its public key at `match_width`. Nodes with neither
/// are skipped. Fewer than 2 entries means the route cannot match (see
/// [`Evaluation::NO_COVERAGE`]).
pub fn expected_hashes(nodes: &[PathNode<'_>], match_width: i32) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|node| match (node.expected_hash, node.public_key) {
            (Some(hash), _) if !hash.is_empty() => Some(hash.to_string()),
            (_, Some(key)) => Some(expected_hash(key, match_width)),
            _ => None,
        })
        .collect()
}

/// Whether a second candidate fetch for the last expected hash is needed: reversible routes
/// whose last hash differs from the first.
pub fn needs_reverse_fetch(expected: &[String], reversible: bool) -> bool {
    reversible && expected.len() > 1 && expected.first() != expected.last()
}

/// Joins the candidates fetched for the first hash with those fetched for the last:
/// the forward ones in their order, then the reverse ones not already present, in theirs.
pub fn merge_candidates(forward: Vec<Candidate>, reverse: Vec<Candidate>) -> Vec<Candidate> {
    let mut seen: std::collections::HashSet<String> =
        forward.iter().map(|c| c.raw_packet_id.clone()).collect();
    let mut all = forward;
    for candidate in reverse {
        if seen.insert(candidate.raw_packet_id.clone()) {
            all.push(candidate);
        }
    }
    all
}

/// Greedy leftmost subsequence match of `expected` in `hops`, forward only: the (first,
/// last) indices of the matched hops, or `None`.
///
/// A single pointer walks the hops; each expected hash takes the next hop whose node hash
/// starts with it. The span check is made on that greedy choice and not retried.
pub fn subsequence_match(
    expected: &[String],
    hops: &[Hop],
    rules: &MatchRules,
) -> Option<(usize, usize)> {
    if let Some(max_len) = rules.max_path_length
        && hops.len() > usize::try_from(max_len.max(0)).unwrap_or(0)
    {
        return None;
    }
    let mut next = 0;
    let mut first = None;
    let mut last = None;
    for hash in expected {
        let found = hops[next..]
            .iter()
            .position(|hop| hop.node_hash.starts_with(hash.as_str()))?;
        let index = next + found;
        first.get_or_insert(index);
        last = Some(index);
        next = index + 1;
    }
    let (first, last) = (first?, last?);
    if let Some(span) = rules.max_hop_span {
        let width = i64::from(hops[last].position) - i64::from(hops[first].position);
        if width > i64::from(span) {
            return None;
        }
    }
    Some((first, last))
}

/// [`subsequence_match`] forward, then (when reversible and there is more than one hash)
/// with `expected` reversed. The indices always read the hop list in packet order.
pub fn match_with_reverse(
    expected: &[String],
    hops: &[Hop],
    rules: &MatchRules,
) -> Option<(usize, usize)> {
    subsequence_match(expected, hops, rules).or_else(|| {
        if rules.reversible && expected.len() > 1 {
            let reversed: Vec<String> = expected.iter().rev().cloned().collect();
            subsequence_match(&reversed, hops, rules)
        } else {
            None
        }
    })
}

/// The identity that de-duplicates receptions of one packet: the hop's event hash, else its
/// packet hash; `None` when it has neither.
pub fn identity(hop: &Hop) -> Option<&str> {
    hop.event_hash.as_deref().or(hop.packet_hash.as_deref())
}

/// State and quality for `matched` distinct packets. `has_coverage` (any hop at all in the
/// window and observer scope) is only consulted below the threshold.
pub fn classify(matched: i64, thresholds: &Thresholds, has_coverage: bool) -> Evaluation {
    let clear = thresholds.effective_clear();
    let (state, quality) = if matched >= i64::from(thresholds.packet_count_threshold) {
        let quality = if matched >= clear {
            Quality::Clear
        } else {
            Quality::Marginal
        };
        (State::Healthy, quality)
    } else if has_coverage {
        (State::Unhealthy, Quality::Failing)
    } else {
        (State::NoCoverage, Quality::Unknown)
    };
    Evaluation {
        state,
        quality,
        matched_count: matched,
    }
}

/// The saved evaluator's count: distinct identities of matching candidates, stopping as soon
/// as the clear bar is reached (so the count is a lower bound capped there). Packets without
/// an identity are not counted. Returns the count and whether it stopped early.
pub fn count_matches(
    expected: &[String],
    candidates: &[Candidate],
    rules: &MatchRules,
    thresholds: &Thresholds,
) -> (i64, bool) {
    let clear = thresholds.effective_clear();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for candidate in candidates {
        if match_with_reverse(expected, &candidate.hops, rules).is_none() {
            continue;
        }
        if let Some(id) = candidate.hops.first().and_then(identity) {
            seen.insert(id);
            // Compared as i64: a negative clear bar (possible through PUT) stops at once.
            if seen.len() as i64 >= clear {
                return (seen.len() as i64, true);
            }
        }
    }
    (seen.len() as i64, false)
}

/// Judges a saved route (`evaluate_route`): [`count_matches`] with its early stop at the
/// clear bar (healthy/clear), else [`classify`]. `has_coverage` is asked only when the count
/// falls below the threshold, so callers may pass a closure that queries the database
/// lazily (or a precomputed value).
pub fn evaluate(
    expected: &[String],
    candidates: &[Candidate],
    rules: &MatchRules,
    thresholds: &Thresholds,
    has_coverage: impl FnOnce() -> bool,
) -> Evaluation {
    if expected.len() < 2 {
        return Evaluation::NO_COVERAGE;
    }
    let (matched, stopped) = count_matches(expected, candidates, rules, thresholds);
    if stopped {
        return Evaluation {
            state: State::Healthy,
            quality: Quality::Clear,
            matched_count: matched,
        };
    }
    let coverage = matched < i64::from(thresholds.packet_count_threshold) && has_coverage();
    classify(matched, thresholds, coverage)
}

/// One of a route's most recent matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentMatch {
    /// The matching packet.
    pub raw_packet_id: String,
    /// From the first matched hop.
    pub packet_hash: Option<String>,
    /// From the first matched hop.
    pub event_hash: Option<String>,
    /// From the first matched hop.
    pub received_at: NaiveDateTime,
    /// From the first matched hop.
    pub observer_node_id: Option<String>,
    /// Index (= position) of the first matched hop.
    pub first_position: i32,
    /// Index (= position) of the last matched hop.
    pub last_position: i32,
    /// The matched hops, `first..=last`, in packet order.
    pub hops: Vec<Hop>,
}

/// Who a match is de-duplicated by: a hash, or (correction 4) the packet itself when it has
/// neither hash, so such packets are always kept alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum MatchKey<'a> {
    Hash(&'a str),
    Alone(usize),
}

/// The newest `limit` matches, one per identity (`recent_matches`).
///
/// An identity's entry is replaced only by a strictly newer reception (on equal times the one
/// met first stays, in its first place); the entries are then sorted newest first with a
/// stable sort, so equal times keep first-appearance order over `candidates`.
pub fn recent_matches(
    expected: &[String],
    candidates: &[Candidate],
    rules: &MatchRules,
    limit: usize,
) -> Vec<RecentMatch> {
    if expected.len() < 2 {
        return Vec::new();
    }
    let mut entries: Vec<RecentMatch> = Vec::new();
    let mut slot: HashMap<MatchKey<'_>, usize> = HashMap::new();
    for (n, candidate) in candidates.iter().enumerate() {
        let Some((first, last)) = match_with_reverse(expected, &candidate.hops, rules) else {
            continue;
        };
        let head = &candidate.hops[first];
        let key = identity(head).map_or(MatchKey::Alone(n), MatchKey::Hash);
        let entry = RecentMatch {
            raw_packet_id: candidate.raw_packet_id.clone(),
            packet_hash: head.packet_hash.clone(),
            event_hash: head.event_hash.clone(),
            received_at: head.received_at,
            observer_node_id: head.observer_node_id.clone(),
            first_position: i32::try_from(first).unwrap_or(i32::MAX),
            last_position: i32::try_from(last).unwrap_or(i32::MAX),
            hops: candidate.hops[first..=last].to_vec(),
        };
        match slot.get(&key) {
            Some(&i) if entry.received_at > entries[i].received_at => entries[i] = entry,
            Some(_) => {}
            None => {
                slot.insert(key, entries.len());
                entries.push(entry);
            }
        }
    }
    // Stable: equal times keep first-appearance order.
    entries.sort_by_key(|m| std::cmp::Reverse(m.received_at));
    entries.truncate(limit);
    entries
}

/// What a preview found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// State, quality and the full distinct count (no early stop).
    pub evaluation: Evaluation,
    /// Matching receptions per observer node id (first matched hop's), in first-appearance
    /// order; not de-duplicated by identity, null observers skipped.
    pub contributing_observers: Vec<(String, i64)>,
}

/// The preview of an unsaved configuration: every candidate is examined (no early stop);
/// state depends only on `matched >= threshold` (and coverage below it).
pub fn preview(
    expected: &[String],
    candidates: &[Candidate],
    rules: &MatchRules,
    thresholds: &Thresholds,
    has_coverage: impl FnOnce() -> bool,
) -> Preview {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut observers: Vec<(String, i64)> = Vec::new();
    for candidate in candidates {
        let Some((first, _)) = match_with_reverse(expected, &candidate.hops, rules) else {
            continue;
        };
        if let Some(id) = candidate.hops.first().and_then(identity) {
            seen.insert(id);
        }
        if let Some(observer) = &candidate.hops[first].observer_node_id {
            match observers.iter_mut().find(|(id, _)| id == observer) {
                Some((_, count)) => *count += 1,
                None => observers.push((observer.clone(), 1)),
            }
        }
    }
    let matched = seen.len() as i64;
    let coverage = matched < i64::from(thresholds.packet_count_threshold) && has_coverage();
    Preview {
        evaluation: classify(matched, thresholds, coverage),
        contributing_observers: observers,
    }
}

/// Whether a preview over `candidate_count` candidates gives up (`truncated`).
pub fn preview_truncated(candidate_count: i64) -> bool {
    candidate_count > PREVIEW_CANDIDATE_LIMIT
}

/// The persisted average quality tier: `None` when today's quality is empty or there is no
/// past day; otherwise the mean score of the past days (oldest first, at most the last 7)
/// and today (clear 2, marginal 1, anything else 0): >= 1.5 `clear`, >= 0.75 `marginal`,
/// else `failing`.
///
/// ```
/// use hub_core::route_matching::quality_avg;
/// assert_eq!(quality_avg(Some("clear"), &[]), None);
/// assert_eq!(quality_avg(Some("clear"), &["marginal"]), Some("clear"));
/// ```
pub fn quality_avg(today: Option<&str>, past_oldest_first: &[&str]) -> Option<&'static str> {
    let today = today.filter(|q| !q.is_empty())?;
    if past_oldest_first.is_empty() {
        return None;
    }
    let past = &past_oldest_first[past_oldest_first.len().saturating_sub(7)..];
    let score = |q: &str| match q {
        "clear" => 2.0,
        "marginal" => 1.0,
        _ => 0.0,
    };
    let total: f64 = past.iter().map(|q| score(q)).sum::<f64>() + score(today);
    let mean = total / (past.len() + 1) as f64;
    Some(if mean >= 1.5 {
        "clear"
    } else if mean >= 0.75 {
        "marginal"
    } else {
        "failing"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(5, minute, 0)
            .unwrap()
    }

    /// A packet `id` with these node hashes, identity `event`, received at minute `minute`.
    fn packet(id: &str, hashes: &[&str], event: Option<&str>, minute: u32) -> Candidate {
        packet_at(id, hashes, event, at(minute), Some("obs-1"))
    }

    fn packet_at(
        id: &str,
        hashes: &[&str],
        event: Option<&str>,
        received_at: NaiveDateTime,
        observer: Option<&str>,
    ) -> Candidate {
        Candidate {
            raw_packet_id: id.to_string(),
            hops: hashes
                .iter()
                .enumerate()
                .map(|(i, h)| Hop {
                    position: i as i32,
                    node_hash: h.to_string(),
                    packet_hash: event.map(|e| format!("p-{e}")),
                    event_hash: event.map(str::to_string),
                    received_at,
                    observer_node_id: observer.map(str::to_string),
                })
                .collect(),
        }
    }

    fn hashes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const OPEN: MatchRules = MatchRules {
        max_hop_span: None,
        max_path_length: None,
        reversible: true,
    };

    #[test]
    fn a_stored_route_gives_its_own_rules_and_thresholds() {
        let at = crate::time::Timestamp(at(0));
        let route = routes::Model {
            id: "r".to_string(),
            from_label: "a".to_string(),
            to_label: "b".to_string(),
            description: None,
            visibility: "community".to_string(),
            match_width: 2,
            window_hours: 24,
            packet_count_threshold: 5,
            clear_threshold: Some(9),
            max_hop_span: Some(4),
            enabled: true,
            reversible: false,
            max_path_length: Some(7),
            created_by: None,
            created_at: at,
            updated_at: at,
        };
        let settings = MatchSettings::from(&route);
        assert_eq!((settings.match_width, settings.window_hours), (2, 24));
        assert_eq!(
            settings.rules(),
            MatchRules {
                max_hop_span: Some(4),
                max_path_length: Some(7),
                reversible: false,
            }
        );
        assert_eq!(
            settings.thresholds(),
            Thresholds {
                packet_count_threshold: 5,
                clear_threshold: Some(9),
            }
        );
    }

    #[test]
    fn prefix_end_bumps_the_last_character() {
        assert_eq!(prefix_end("A1"), "A2");
        assert_eq!(prefix_end("9"), ":");
        assert_eq!(prefix_end("F"), "G");
        assert_eq!(prefix_end(""), "");
        // The range holds exactly the hashes starting with the prefix.
        let p = "A1FA";
        for (hash, inside) in [
            ("A1FA", true),
            ("A1FA00", true),
            ("A1", false),
            ("A1FB", false),
            ("A1F9FF", false),
        ] {
            assert_eq!(p <= hash && hash < prefix_end(p).as_str(), inside, "{hash}");
            assert_eq!(hash.starts_with(p), inside, "{hash}");
        }
    }

    #[test]
    fn expected_hashes_prefer_the_stored_value() {
        let nodes = [
            PathNode {
                expected_hash: Some("A1FA"),
                public_key: Some("ffff00"),
            },
            PathNode {
                expected_hash: None,
                public_key: Some("b2b0c3"),
            },
            PathNode {
                expected_hash: None,
                public_key: None,
            },
        ];
        assert_eq!(expected_hashes(&nodes, 1), hashes(&["A1FA", "B2"]));
        assert_eq!(expected_hash("b2b0c3", 3), "B2B0C3");
    }

    #[test]
    fn greedy_match_allows_gaps_and_prefixes() {
        let p = packet("1", &["00", "A1FA00", "77", "B2B0", "C3"], Some("e"), 0);
        assert_eq!(
            subsequence_match(&hashes(&["A1FA", "B2B0"]), &p.hops, &OPEN),
            Some((1, 3))
        );
        // Wrong order, forward only.
        assert_eq!(
            subsequence_match(&hashes(&["B2B0", "A1FA"]), &p.hops, &OPEN),
            None
        );
        // A shorter hop hash never matches a longer expected one.
        let short = packet("2", &["A1", "B2"], Some("e"), 0);
        assert_eq!(
            subsequence_match(&hashes(&["A1FA", "B2"]), &short.hops, &OPEN),
            None
        );
    }

    #[test]
    fn greedy_choice_is_not_retried_for_the_span() {
        // Greedy takes A at 0 and B at 3 (span 3); A at 2 would give span 1, but is not tried.
        let p = packet("1", &["AA", "00", "AA", "BB"], Some("e"), 0);
        let rules = MatchRules {
            max_hop_span: Some(2),
            ..OPEN
        };
        assert_eq!(
            subsequence_match(&hashes(&["AA", "BB"]), &p.hops, &rules),
            None
        );
        let rules = MatchRules {
            max_hop_span: Some(3),
            ..OPEN
        };
        assert_eq!(
            subsequence_match(&hashes(&["AA", "BB"]), &p.hops, &rules),
            Some((0, 3))
        );
        let negative = MatchRules {
            max_hop_span: Some(-1),
            ..OPEN
        };
        assert_eq!(
            subsequence_match(&hashes(&["AA", "BB"]), &p.hops, &negative),
            None
        );
    }

    #[test]
    fn path_length_limit() {
        let p = packet("1", &["AA", "BB", "CC"], Some("e"), 0);
        let rules = |n| MatchRules {
            max_path_length: Some(n),
            ..OPEN
        };
        assert_eq!(
            subsequence_match(&hashes(&["AA", "BB"]), &p.hops, &rules(2)),
            None
        );
        assert_eq!(
            subsequence_match(&hashes(&["AA", "BB"]), &p.hops, &rules(3)),
            Some((0, 1))
        );
    }

    #[test]
    fn reverse_match_keeps_packet_order() {
        let p = packet("1", &["00", "BB", "11", "AA", "22"], Some("e"), 0);
        let route = hashes(&["AA", "BB"]);
        assert_eq!(match_with_reverse(&route, &p.hops, &OPEN), Some((1, 3)));
        let one_way = MatchRules {
            reversible: false,
            ..OPEN
        };
        assert_eq!(match_with_reverse(&route, &p.hops, &one_way), None);
    }

    #[test]
    fn reverse_fetch_and_merge() {
        assert!(needs_reverse_fetch(&hashes(&["AA", "BB"]), true));
        assert!(!needs_reverse_fetch(&hashes(&["AA", "BB"]), false));
        assert!(!needs_reverse_fetch(&hashes(&["AA", "BB", "AA"]), true));
        let merged = merge_candidates(
            vec![packet("1", &["AA"], None, 0), packet("3", &["AA"], None, 0)],
            vec![packet("2", &["BB"], None, 0), packet("3", &["BB"], None, 0)],
        );
        let ids: Vec<&str> = merged.iter().map(|c| c.raw_packet_id.as_str()).collect();
        assert_eq!(ids, ["1", "3", "2"]);
        // The forward copy of a packet fetched twice is kept.
        assert_eq!(merged[1].hops[0].node_hash, "AA");
    }

    #[test]
    fn evaluate_stops_at_the_clear_bar() {
        let route = hashes(&["AA", "BB"]);
        let candidates: Vec<Candidate> = (0..5)
            .map(|i| packet(&i.to_string(), &["AA", "BB"], Some(&format!("e{i}")), i))
            .collect();
        let t = Thresholds {
            packet_count_threshold: 1,
            clear_threshold: Some(2),
        };
        let result = evaluate(&route, &candidates, &OPEN, &t, || {
            panic!("coverage is not needed")
        });
        assert_eq!(
            result,
            Evaluation {
                state: State::Healthy,
                quality: Quality::Clear,
                matched_count: 2
            }
        );
        // A negative clear bar stops on the first match.
        let t = Thresholds {
            packet_count_threshold: 5,
            clear_threshold: Some(-1),
        };
        assert_eq!(
            evaluate(&route, &candidates, &OPEN, &t, || false).matched_count,
            1
        );
    }

    #[test]
    fn evaluate_counts_identities_once_and_skips_hashless_packets() {
        let route = hashes(&["AA", "BB"]);
        let candidates = vec![
            packet("1", &["AA", "BB"], Some("e1"), 0),
            packet("2", &["BB", "AA"], Some("e1"), 1),
            packet("3", &["AA", "BB"], None, 2),
            packet("4", &["AA", "CC"], Some("e4"), 3),
        ];
        let t = Thresholds {
            packet_count_threshold: 1,
            clear_threshold: None,
        };
        let marginal = evaluate(&route, &candidates, &OPEN, &t, || unreachable!());
        assert_eq!(
            marginal,
            Evaluation {
                state: State::Healthy,
                quality: Quality::Marginal,
                matched_count: 1
            }
        );
        let t = Thresholds {
            packet_count_threshold: 2,
            clear_threshold: None,
        };
        assert_eq!(
            evaluate(&route, &candidates, &OPEN, &t, || true),
            Evaluation {
                state: State::Unhealthy,
                quality: Quality::Failing,
                matched_count: 1
            }
        );
        assert_eq!(
            evaluate(&route, &[], &OPEN, &t, || false),
            Evaluation::NO_COVERAGE
        );
        assert_eq!(
            evaluate(&hashes(&["AA"]), &candidates, &OPEN, &t, || true),
            Evaluation::NO_COVERAGE
        );
    }

    #[test]
    fn recent_matches_keep_the_newest_per_identity() {
        let route = hashes(&["AA", "BB"]);
        let candidates = vec![
            packet("1", &["AA", "BB"], Some("e1"), 10),
            packet("2", &["00", "AA", "11", "BB"], Some("e1"), 20),
            packet("3", &["AA", "BB"], Some("e3"), 15),
            packet("4", &["AA", "CC"], Some("e4"), 30),
        ];
        let found = recent_matches(&route, &candidates, &OPEN, 3);
        let ids: Vec<&str> = found.iter().map(|m| m.raw_packet_id.as_str()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!((found[0].first_position, found[0].last_position), (1, 3));
        let sliced: Vec<&str> = found[0].hops.iter().map(|h| h.node_hash.as_str()).collect();
        assert_eq!(sliced, ["AA", "11", "BB"]);
    }

    #[test]
    fn recent_matches_ties_keep_the_first_met() {
        let route = hashes(&["AA", "BB"]);
        let candidates = vec![
            packet("1", &["AA", "BB"], Some("e1"), 10),
            packet("2", &["AA", "BB"], Some("e2"), 5),
            // Same identity and time as packet 1: the first stays.
            packet("3", &["AA", "BB"], Some("e1"), 10),
            packet("4", &["AA", "BB"], Some("e4"), 10),
            // Newer reception of e2: replaces packet 2 in its first place.
            packet("5", &["BB", "AA"], Some("e2"), 10),
        ];
        let found = recent_matches(&route, &candidates, &OPEN, 3);
        let ids: Vec<&str> = found.iter().map(|m| m.raw_packet_id.as_str()).collect();
        // All at minute 10: first-appearance order of identities e1, e2, e4.
        assert_eq!(ids, ["1", "5", "4"]);
        let two = recent_matches(&route, &candidates, &OPEN, 2);
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].raw_packet_id, "5");
    }

    #[test]
    fn recent_matches_keep_hashless_packets_alone() {
        let route = hashes(&["AA", "BB"]);
        let candidates = vec![
            packet("1", &["AA", "BB"], None, 10),
            packet("2", &["AA", "BB"], None, 11),
        ];
        let found = recent_matches(&route, &candidates, &OPEN, 3);
        let ids: Vec<&str> = found.iter().map(|m| m.raw_packet_id.as_str()).collect();
        assert_eq!(ids, ["2", "1"]);
    }

    #[test]
    fn preview_counts_everything_and_observers_per_reception() {
        let route = hashes(&["AA", "BB"]);
        let candidates: Vec<Candidate> = vec![
            packet_at("1", &["AA", "BB"], Some("e1"), at(1), Some("obs-b")),
            packet_at("2", &["AA", "BB"], Some("e1"), at(2), Some("obs-a")),
            packet_at("3", &["BB", "AA"], Some("e3"), at(3), Some("obs-b")),
            packet_at("4", &["AA", "BB"], None, at(4), None),
            packet_at("5", &["AA", "BB"], Some("e5"), at(5), Some("obs-c")),
        ];
        let t = Thresholds {
            packet_count_threshold: 1,
            clear_threshold: Some(2),
        };
        let result = preview(&route, &candidates, &OPEN, &t, || unreachable!());
        // No early stop at the clear bar of 2.
        assert_eq!(result.evaluation.matched_count, 3);
        assert_eq!(result.evaluation.quality, Quality::Clear);
        assert_eq!(
            result.contributing_observers,
            vec![
                ("obs-b".to_string(), 2),
                ("obs-a".to_string(), 1),
                ("obs-c".to_string(), 1)
            ]
        );
        let high = Thresholds {
            packet_count_threshold: 4,
            clear_threshold: None,
        };
        let result = preview(&route, &candidates, &OPEN, &high, || false);
        assert_eq!(result.evaluation.state, State::NoCoverage);
        assert!(preview_truncated(5001));
        assert!(!preview_truncated(5000));
    }

    #[test]
    fn quality_average_tiers() {
        assert_eq!(quality_avg(None, &["clear"]), None);
        assert_eq!(quality_avg(Some(""), &["clear"]), None);
        assert_eq!(quality_avg(Some("clear"), &[]), None);
        // (2 + 1) / 2 = 1.5
        assert_eq!(quality_avg(Some("marginal"), &["clear"]), Some("clear"));
        // (1 + 0) / 2 = 0.5
        assert_eq!(quality_avg(Some("failing"), &["marginal"]), Some("failing"));
        // (1 + 0 + 2) / 3 = 1
        assert_eq!(
            quality_avg(Some("clear"), &["marginal", "unknown"]),
            Some("marginal")
        );
        // Only the last 7 past days count: the leading failures drop out.
        let past = [
            "failing", "failing", "clear", "clear", "clear", "clear", "clear", "clear", "clear",
        ];
        assert_eq!(quality_avg(Some("clear"), &past), Some("clear"));
    }
}
