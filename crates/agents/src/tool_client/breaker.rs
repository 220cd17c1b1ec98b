//! A circuit breaker per backend: after consecutive failures it opens and fails calls fast; after a
//! cool-down it lets one probe through (half-open); the probe's outcome closes or reopens it.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker.
    pub failure_threshold: u32,
    /// Time open before a probe is allowed.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The breaker's state, as recorded on spans and in the `CircuitBreakerState` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }

    /// Gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// A circuit breaker. The lock is only held for a few instructions and never across an await.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

/// Permission to make one attempt. Dropping it without an outcome (a cancelled call) frees a half-open
/// probe slot so the breaker cannot get stuck.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    settled: bool,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                probe_in_flight: false,
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(at) if at.elapsed() >= self.config.cool_down || inner.probe_in_flight => {
                BreakerState::HalfOpen
            }
            Some(_) => BreakerState::Open,
        }
    }

    /// A permit for one attempt, or how long until the breaker lets a probe through.
    pub fn acquire(&self) -> Result<Permit<'_>, Duration> {
        let mut inner = self.lock();
        match inner.opened_at {
            None => Ok(Permit {
                breaker: self,
                probe: false,
                settled: false,
            }),
            Some(at) => {
                let open_for = at.elapsed();
                if open_for < self.config.cool_down {
                    return Err(self.config.cool_down - open_for);
                }
                if inner.probe_in_flight {
                    return Err(Duration::ZERO);
                }
                inner.probe_in_flight = true;
                Ok(Permit {
                    breaker: self,
                    probe: true,
                    settled: false,
                })
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of three plain fields.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Permit<'_> {
    /// The attempt reached the backend: close the breaker.
    pub fn success(mut self) {
        self.settled = true;
        let mut inner = self.breaker.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.probe_in_flight = false;
    }

    /// The backend failed the attempt: count it, and open (or reopen) the breaker at the threshold.
    pub fn failure(mut self) {
        self.settled = true;
        let mut inner = self.breaker.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if self.probe || inner.consecutive_failures >= self.breaker.config.failure_threshold {
            inner.opened_at = Some(Instant::now());
        }
        inner.probe_in_flight = false;
    }

    /// The attempt says nothing about the backend's health (a bad request): release without counting.
    pub fn neutral(mut self) {
        self.settled = true;
        if self.probe {
            self.breaker.lock().probe_in_flight = false;
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.lock().probe_in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cool_down: Duration) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_and_fails_fast() {
        let b = breaker(Duration::from_secs(60));
        for _ in 0..2 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.acquire().unwrap().success();
        for _ in 0..3 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        let wait = b.acquire().unwrap_err();
        assert!(wait > Duration::from_secs(50));
    }

    #[test]
    fn half_open_lets_one_probe_through_then_closes_or_reopens() {
        let b = breaker(Duration::ZERO);
        for _ in 0..3 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.acquire().unwrap();
        assert!(b.acquire().is_err(), "only one probe at a time");
        probe.failure();
        let probe = b.acquire().unwrap();
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_abandoned_probe_frees_its_slot() {
        let b = breaker(Duration::ZERO);
        for _ in 0..3 {
            b.acquire().unwrap().failure();
        }
        drop(b.acquire().unwrap());
        assert!(b.acquire().is_ok());
    }
}
