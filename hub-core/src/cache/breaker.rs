//! Circuit breaker for the cache backend (docs/contract/cache-design.md section 5).
//!
//! A pure state machine: it does no I/O and reads time only through a [`Clock`], so tests can
//! drive it deterministically. Callers ask [`CircuitBreaker::admit`] before each backend call
//! and report the outcome on the returned [`Permit`].
//!
//! - Closed: calls pass; `threshold` consecutive failures open the breaker.
//! - Open: calls are rejected (bypass, no network I/O) until `open_for` has elapsed.
//! - Half-open: exactly one call (the probe) is admitted; its success closes the breaker, its
//!   failure re-opens it. Other calls are rejected while the probe is in flight.
//!
//! ```
//! use std::time::Duration;
//! use hub_core::cache::breaker::{BreakerState, CircuitBreaker};
//! let b = CircuitBreaker::new(3, Duration::from_secs(5));
//! for _ in 0..3 {
//!     b.admit().expect("closed breaker admits").failure();
//! }
//! assert_eq!(b.state(), BreakerState::Open);
//! assert!(b.admit().is_none());
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Consecutive failures that open the breaker (docs/contract/cache-design.md section 5).
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// How long an open breaker bypasses the backend before probing.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(5);

/// Source of "now", injectable for tests.
pub trait Clock: Send + Sync + 'static {
    /// The current monotonic time.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Observable breaker state, e.g. for metrics and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls pass through.
    Closed,
    /// Calls are bypassed without I/O.
    Open,
    /// Waiting for (or running) the single probe call.
    HalfOpen,
}

impl BreakerState {
    /// Lowercase name, stable for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_in_flight: bool },
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Bumped on every transition so a permit granted in an earlier phase cannot flip the
    /// current one (e.g. a slow call admitted while closed succeeding after the breaker opened).
    epoch: u64,
}

/// Thread-safe circuit breaker; cheap to share behind an `Arc`.
pub struct CircuitBreaker {
    inner: Mutex<Inner>,
    threshold: u32,
    open_for: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("threshold", &self.threshold)
            .field("open_for", &self.open_for)
            .finish()
    }
}

impl CircuitBreaker {
    /// A breaker on the system clock.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self::with_clock(threshold, open_for, Arc::new(SystemClock))
    }

    /// A breaker on a custom clock (tests use [`ManualClock`]).
    pub fn with_clock(threshold: u32, open_for: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: State::Closed { failures: 0 },
                epoch: 0,
            }),
            threshold: threshold.max(1),
            open_for,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is a few plain fields; a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current state. An open breaker whose wait has elapsed reports `HalfOpen`.
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if self.clock.now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make one backend call. `None` means bypass: do no I/O.
    pub fn admit(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed { .. } => false,
            State::Open { until } if self.clock.now() >= until => {
                inner.state = State::HalfOpen {
                    probe_in_flight: true,
                };
                inner.epoch += 1;
                true
            }
            State::Open { .. } => return None,
            State::HalfOpen {
                ref mut probe_in_flight,
            } => {
                if *probe_in_flight {
                    return None;
                }
                *probe_in_flight = true;
                true
            }
        };
        Some(Permit {
            breaker: self,
            epoch: inner.epoch,
            probe,
            done: false,
        })
    }

    fn record(&self, epoch: u64, probe: bool, ok: bool) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        let next = match (&mut inner.state, ok) {
            (State::Closed { failures }, true) => {
                *failures = 0;
                None
            }
            (State::Closed { failures }, false) => {
                *failures += 1;
                (*failures >= self.threshold).then_some(State::Open {
                    until: self.clock.now() + self.open_for,
                })
            }
            (State::HalfOpen { .. }, true) if probe => Some(State::Closed { failures: 0 }),
            (State::HalfOpen { .. }, false) if probe => Some(State::Open {
                until: self.clock.now() + self.open_for,
            }),
            _ => None,
        };
        if let Some(next) = next {
            inner.state = next;
            inner.epoch += 1;
        }
    }
}

/// Permission for one backend call. Report the outcome with [`Permit::success`] or
/// [`Permit::failure`]; dropping it unreported (e.g. the request was cancelled) counts as a
/// failure so a half-open breaker can never wait forever for a probe that was abandoned.
#[must_use = "report the call outcome on the permit"]
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    epoch: u64,
    probe: bool,
    done: bool,
}

impl Permit<'_> {
    /// True when this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded.
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(self.epoch, self.probe, true);
    }

    /// The call failed (error or timeout).
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(self.epoch, self.probe, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(self.epoch, self.probe, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::default());
        (
            CircuitBreaker::with_clock(3, Duration::from_secs(5), clock.clone()),
            clock,
        )
    }

    fn fail_n(b: &CircuitBreaker, n: usize) {
        for _ in 0..n {
            b.admit().expect("admitted").failure();
        }
    }

    #[test]
    fn opens_after_three_consecutive_failures() {
        let (b, _) = breaker();
        fail_n(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
        fail_n(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn success_resets_the_count() {
        let (b, _) = breaker();
        fail_n(&b, 2);
        b.admit().unwrap().success();
        fail_n(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
        fail_n(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn open_rejects_until_wait_elapses() {
        let (b, clock) = breaker();
        fail_n(&b, 3);
        for _ in 0..100 {
            assert!(b.admit().is_none(), "open breaker must not admit I/O");
        }
        clock.advance(Duration::from_millis(4_999));
        assert!(b.admit().is_none());
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn half_open_admits_exactly_one_probe() {
        let (b, clock) = breaker();
        fail_n(&b, 3);
        clock.advance(Duration::from_secs(5));
        let probe = b.admit().expect("probe admitted");
        assert!(probe.is_probe());
        for _ in 0..10 {
            assert!(b.admit().is_none(), "only one probe at a time");
        }
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        let p = b.admit().expect("closed again");
        assert!(!p.is_probe());
        p.success();
    }

    #[test]
    fn failed_probe_reopens_for_a_full_period() {
        let (b, clock) = breaker();
        fail_n(&b, 3);
        clock.advance(Duration::from_secs(5));
        b.admit().expect("probe").failure();
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_millis(4_999));
        assert!(b.admit().is_none());
        clock.advance(Duration::from_millis(1));
        b.admit().expect("second probe").success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn abandoned_probe_counts_as_failure() {
        let (b, clock) = breaker();
        fail_n(&b, 3);
        clock.advance(Duration::from_secs(5));
        drop(b.admit().expect("probe"));
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(5));
        assert!(b.admit().is_some());
    }

    #[test]
    fn stale_permits_do_not_flip_state() {
        let (b, clock) = breaker();
        let slow = b.admit().unwrap();
        fail_n(&b, 3);
        // A call admitted while closed succeeds after the breaker opened: still open.
        slow.success();
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(5));
        let probe = b.admit().unwrap();
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn recovery_cycle_repeats() {
        let (b, clock) = breaker();
        for _ in 0..3 {
            fail_n(&b, 3);
            assert_eq!(b.state(), BreakerState::Open);
            clock.advance(Duration::from_secs(5));
            b.admit().unwrap().success();
            assert_eq!(b.state(), BreakerState::Closed);
        }
    }
}
