//! The draws every stage makes of the one RNG: chances, picks, ages, ids and hashes.

use super::{DAY, Gen, RECENT_SHARE, WINDOW_DAYS};
use rand::Rng;

impl Gen {
    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A number in `0..n`.
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// One of `items`, all equally likely.
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An index drawn with the given weights.
    pub(super) fn weighted(&mut self, weights: impl IntoIterator<Item = u32> + Clone) -> usize {
        let total: u32 = weights.clone().into_iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (i, w) in weights.into_iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!("weights sum to total")
    }

    /// An age in `low..high` (`low` when the range is empty).
    pub(super) fn age_between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            low
        } else {
            self.rng.random_range(low..high)
        }
    }

    /// A version 4 UUID built from RNG bytes (so runs repeat), as lowercase hyphenated text.
    pub(super) fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    /// `n` UUIDs as [`Gen::uuid`] makes them, in ascending order. Handed out in insertion
    /// order they keep the primary-key index append-only: random keys cost a descent into a
    /// different page per row, about a third of the large seed's time.
    pub(super) fn sorted_uuids(&mut self, n: usize) -> std::vec::IntoIter<String> {
        let mut ids: Vec<String> = (0..n).map(|_| self.uuid()).collect();
        ids.sort_unstable();
        ids.into_iter()
    }

    /// `n` random hex strings of `bytes` bytes, ascending (see [`Gen::sorted_uuids`]; event
    /// hashes carry unique indexes).
    pub(super) fn sorted_hex(&mut self, n: usize, bytes: usize) -> std::vec::IntoIter<String> {
        let mut out: Vec<String> = (0..n).map(|_| self.hex(bytes)).collect();
        out.sort_unstable();
        out.into_iter()
    }

    /// `bytes` random bytes as lowercase hex.
    pub(super) fn hex(&mut self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.rng.fill(&mut buf[..]);
        hex::encode(buf)
    }

    /// A signal-to-noise ratio in quarter dB, as radios report it.
    pub(super) fn snr(&mut self) -> f64 {
        (self.rng.random_range(-18.0..14.0_f64) * 4.0).round() / 4.0
    }

    /// Age of an event: uniform over the window, with a share from the last week.
    pub(super) fn event_age(&mut self) -> i64 {
        let days = if self.chance(RECENT_SHARE) {
            7
        } else {
            WINDOW_DAYS
        };
        self.rng.random_range(0..days * DAY)
    }

    /// `n` event ages, oldest first: rows are inserted in arrival order, as a collector
    /// would, which also keeps the time indexes append-only.
    pub(super) fn event_ages(&mut self, n: usize) -> Vec<i64> {
        let mut ages: Vec<i64> = (0..n).map(|_| self.event_age()).collect();
        ages.sort_unstable_by(|a, b| b.cmp(a));
        ages
    }
}
