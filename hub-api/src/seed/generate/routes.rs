//! `routes` with their path nodes, observers, results and daily history, planned so that
//! the raw packets can be generated to match them; and `route_recent_matches`, from the
//! packets that did.

use super::words::PLACES;
use super::{DAY, Gen, HOUR, MINUTE, Stopped, WINDOW_DAYS};
use crate::seed::tables::Table;
use chrono::Duration;
use hub_core::route_matching::MatchRules;
use rand::Rng;
use sea_orm::Value;

/// How a seeded route is meant to look when evaluated: its packets are generated to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// healthy / clear: at least the clear bar of matching packets.
    Clear,
    /// healthy / marginal (the Routes page's "degraded"): above the threshold, below clear.
    Marginal,
    /// unhealthy / failing: fewer matches than the threshold, plus partial matches.
    Failing,
    /// no_coverage / unknown ("down"): its observers heard nothing in the window.
    NoCoverage,
}

impl Target {
    const ALL: [Target; 4] = [
        Target::Clear,
        Target::Marginal,
        Target::Failing,
        Target::NoCoverage,
    ];

    fn state(self) -> &'static str {
        match self {
            Target::Clear | Target::Marginal => "healthy",
            Target::Failing => "unhealthy",
            Target::NoCoverage => "no_coverage",
        }
    }

    fn quality(self) -> &'static str {
        match self {
            Target::Clear => "clear",
            Target::Marginal => "marginal",
            Target::Failing => "failing",
            Target::NoCoverage => "unknown",
        }
    }
}

/// A generated route, kept so that the raw packets can carry its hops.
pub(super) struct RoutePlan {
    id: String,
    /// Expected hashes of the path nodes in order (uppercase, `2 * match_width` characters).
    pub(super) expected: Vec<String>,
    /// Indices into `nodes` of the path nodes.
    pub(super) path: Vec<usize>,
    /// Hours back its evaluation looks.
    pub(super) window_hours: i64,
    /// How its packets must match, as its row says.
    pub(super) rules: MatchRules,
    /// Indices into `nodes` of the route's observers (empty: all observers).
    pub(super) observers: Vec<usize>,
    /// Packets in the window whose hops contain the whole path in order.
    pub(super) full_matches: usize,
    /// Packets in the window whose hops contain only the first path node.
    pub(super) partial_matches: usize,
    /// Whether a route_results row (and so persisted recent matches) exists.
    has_result: bool,
    /// Age of its result's evaluation: the recent matches were persisted then.
    evaluated_age: i64,
    /// (age, raw packet id, first position, last position) of the full matches generated.
    pub(super) matches: Vec<(i64, String, i32, i32)>,
}

impl Gen {
    /// Routes with path nodes, observers, today's result and a daily history. Each route gets
    /// a [`Target`]; [`Gen::raw_packets`] then generates packets whose hops match it that
    /// well, so a live evaluation agrees with the stored result.
    pub(super) fn routes(&mut self) -> Result<(), Stopped> {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let anchor_date = self.anchor.date();
        for r in 0..self.plan.routes {
            let (from, to) = loop {
                let from = self.below(PLACES.len());
                let to = self.below(PLACES.len());
                if from != to && !pairs.contains(&(from, to)) {
                    break (from, to);
                }
            };
            pairs.push((from, to));
            // The first routes pin down each case the routes pages distinguish.
            let (visibility, enabled, has_result, target) = match r {
                0 => ("community", true, true, Target::Clear),
                1 => ("community", false, true, Target::Clear),
                2 => ("community", true, false, Target::NoCoverage),
                3 => ("operator", true, true, Target::Failing),
                4 => ("member", true, true, Target::Clear),
                5 => ("admin", true, true, Target::Marginal),
                6 => ("community", true, true, Target::Failing),
                7 => ("community", true, true, Target::Marginal),
                8 => ("community", true, true, Target::NoCoverage),
                _ => {
                    let visibility = ["community", "member", "operator", "admin"]
                        [self.weighted([60, 15, 15, 10])];
                    let target = Target::ALL[self.weighted([45, 20, 20, 15])];
                    (visibility, self.chance(0.85), self.chance(0.9), target)
                }
            };
            let id = self.uuid();
            let match_width = self.rng.random_range(1..4usize);
            let window_hours = self.pick(&[24i64, 48, 72]);
            let threshold = self.rng.random_range(2..7);
            let clear = if self.chance(0.7) {
                Some(threshold * 2)
            } else {
                None
            };
            let effective_clear = clear.unwrap_or(3 * threshold);
            let max_hop_span = if self.chance(0.6) { Some(8) } else { None };
            let max_path_length = if self.chance(0.3) { Some(10) } else { None };
            let reversible = self.chance(0.7);
            let created_age = self.age_between(WINDOW_DAYS * DAY + DAY, 150 * DAY);
            let description = if self.chance(0.6) {
                Some(format!("Link between {} and {}", PLACES[from], PLACES[to]))
            } else {
                None
            };
            let created_by = if self.chance(0.7) {
                let p = self.below(self.profiles.len().max(1));
                self.profiles.get(p).map(|p| p.user_id.clone())
            } else {
                None
            };
            let row = [
                id.clone().into(),
                format!("{} Site", PLACES[from]).into(),
                format!("{} Site", PLACES[to]).into(),
                Value::String(description),
                visibility.into(),
                Value::Int(Some(match_width as i32)),
                Value::Int(Some(window_hours as i32)),
                Value::Int(Some(threshold)),
                Value::Int(clear),
                Value::Int(max_hop_span),
                Value::Bool(Some(enabled)),
                Value::Bool(Some(reversible)),
                Value::Int(max_path_length),
                Value::String(created_by),
                self.ts(created_age),
                self.ts(created_age / 2),
            ];
            self.out.push(Table::Routes, row)?;
            self.out.flush(Table::Routes)?;

            let reserve = matches!(target, Target::Marginal | Target::Failing);
            let path = self.route_path(match_width, reserve);
            let expected: Vec<String> = path
                .iter()
                .map(|&n| self.nodes[n].hop_hash(match_width).to_string())
                .collect();
            for (position, (&n, hash)) in path.iter().zip(&expected).enumerate() {
                let row = [
                    self.uuid().into(),
                    self.ts(created_age),
                    self.ts(created_age),
                    id.clone().into(),
                    self.nodes[n].id.clone().into(),
                    Value::Int(Some(position as i32)),
                    hash.clone().into(),
                ];
                self.out.push(Table::RouteNodes, row)?;
            }
            // A route without coverage is watched only by the observer that heard nothing
            // lately; a third of the others by one or two of the rest.
            let observers = match self.silent_observer {
                Some(silent) if target == Target::NoCoverage => vec![silent],
                silent if self.rng.random_bool(0.35) => {
                    let mut chosen = Vec::new();
                    for _ in 0..self.rng.random_range(1..3) {
                        let o = self.observer();
                        if Some(o) != silent && !chosen.contains(&o) {
                            chosen.push(o);
                        }
                    }
                    chosen
                }
                _ => Vec::new(),
            };
            for &o in &observers {
                let row = [
                    self.uuid().into(),
                    self.ts(created_age),
                    self.ts(created_age),
                    id.clone().into(),
                    self.nodes[o].id.clone().into(),
                ];
                self.out.push(Table::RouteObservers, row)?;
            }

            // Daily history for the whole window and today, a few days missing.
            let today_matched = self.matched_count(target, threshold, effective_clear);
            let mut evaluated_today = 0;
            for d in (0..=WINDOW_DAYS).rev() {
                if d > 0 && self.chance(0.08) {
                    continue;
                }
                let (day_target, matched) = if d == 0 {
                    (target, today_matched)
                } else {
                    let day_target = if self.chance(0.75) {
                        target
                    } else {
                        self.pick(&Target::ALL)
                    };
                    let matched = self.matched_count(day_target, threshold, effective_clear);
                    (day_target, matched)
                };
                let date = anchor_date - Duration::days(d);
                // evaluated late on past days, a few minutes ago today
                let evaluated_age = if d == 0 {
                    self.age_between(0, 10 * MINUTE)
                } else {
                    let midnight_age = (self.anchor - date.and_hms_opt(0, 0, 0).expect("time"))
                        .num_microseconds()
                        .expect("µs");
                    midnight_age - (23 * HOUR + self.age_between(0, 59 * MINUTE))
                };
                if d == 0 {
                    evaluated_today = evaluated_age;
                }
                let row = [
                    self.uuid().into(),
                    id.clone().into(),
                    self.date(date),
                    day_target.quality().into(),
                    day_target.state().into(),
                    Value::Int(Some(matched as i32)),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                ];
                self.out.push(Table::RouteResultHistory, row)?;
            }
            if has_result {
                let quality = target.quality();
                let quality_avg = if self.chance(0.7) {
                    Some(quality.to_string())
                } else {
                    None
                };
                let row = [
                    self.uuid().into(),
                    id.clone().into(),
                    target.state().into(),
                    quality.into(),
                    Value::Int(Some(today_matched as i32)),
                    Value::Int(Some(threshold)),
                    Value::Int(Some(effective_clear)),
                    self.ts(evaluated_today),
                    Value::String(quality_avg),
                    self.ts(created_age),
                    self.ts(evaluated_today),
                ];
                self.out.push(Table::RouteResults, row)?;
            }
            let (full_matches, partial_matches) = match target {
                // a few beyond the bar: the evaluator stops counting there
                Target::Clear => (effective_clear as usize + 2, 0),
                Target::Marginal => (today_matched, 1),
                Target::Failing => (today_matched, 3),
                Target::NoCoverage => (0, 0),
            };
            self.routes.push(RoutePlan {
                id,
                expected,
                path,
                window_hours,
                rules: MatchRules {
                    max_hop_span,
                    max_path_length,
                    reversible,
                },
                observers,
                full_matches,
                partial_matches,
                has_result,
                evaluated_age: evaluated_today,
                matches: Vec::new(),
            });
        }
        self.out.flush_all()
    }

    /// Whether a hop naming node `n` could stand for a reserved expected hash.
    pub(super) fn is_reserved(&self, n: usize) -> bool {
        self.reserved
            .iter()
            .any(|e| self.nodes[n].hash.starts_with(e.as_str()))
    }

    /// 2 to 4 distinct path nodes, mostly repeaters, with distinct expected hashes at `width`.
    ///
    /// With `reserve`, the second node's expected hash is kept out of every other path and
    /// of random hops (see `Gen::reserved`), so only the packets generated for this route
    /// match it and its evaluation comes out as planned.
    fn route_path(&mut self, width: usize, reserve: bool) -> Vec<usize> {
        let len = [2, 3, 4][self.weighted([50, 35, 15])];
        let mut path: Vec<usize> = Vec::with_capacity(len);
        let mut attempts = 0;
        while path.len() < len && attempts < 10_000 {
            attempts += 1;
            let n = self.relay_or_any();
            if self.is_reserved(n) {
                continue;
            }
            let hash = self.nodes[n].hop_hash(width);
            if path.iter().any(|&p| self.nodes[p].hop_hash(width) == hash) {
                continue;
            }
            let used_elsewhere = || {
                self.routes
                    .iter()
                    .flat_map(|r| &r.path)
                    .any(|&m| self.nodes[m].hash.starts_with(hash))
            };
            if reserve && path.len() == 1 && used_elsewhere() {
                continue;
            }
            path.push(n);
        }
        if reserve && let Some(&second) = path.get(1) {
            let hash = self.nodes[second].hop_hash(width).to_string();
            self.reserved.push(hash);
        }
        path
    }

    /// The matched packet count a result of `target` reports.
    fn matched_count(&mut self, target: Target, threshold: i32, effective_clear: i32) -> usize {
        let n = match target {
            Target::Clear => effective_clear,
            Target::Marginal => self.rng.random_range(threshold..effective_clear),
            Target::Failing => self.rng.random_range(0..threshold),
            Target::NoCoverage => 0,
        };
        n as usize
    }

    /// Up to three matches per route with a result, newest first, as the evaluator persists
    /// them.
    pub(super) fn recent_matches(&mut self) -> Result<(), Stopped> {
        for r in 0..self.routes.len() {
            if !self.routes[r].has_result {
                continue;
            }
            let mut matches = std::mem::take(&mut self.routes[r].matches);
            matches.sort_by_key(|m| m.0);
            let evaluated_age = self.routes[r].evaluated_age;
            for (_, raw_packet_id, first, last) in matches.into_iter().take(3) {
                let row = [
                    self.uuid().into(),
                    self.ts(evaluated_age),
                    self.ts(evaluated_age),
                    self.routes[r].id.clone().into(),
                    raw_packet_id.into(),
                    Value::Int(Some(first)),
                    Value::Int(Some(last)),
                ];
                self.out.push(Table::RouteRecentMatches, row)?;
            }
        }
        self.out.flush_all()
    }
}
