//! Retry policy for tool calls: exponential backoff with jitter, for failures that another attempt can fix.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently a failed call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles for each further attempt.
    pub base_delay: Duration,
    /// Upper bound of any single backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt number `attempt` (2, 3, ...): half the exponential step plus a random share
    /// of the other half, so concurrent callers do not retry in lockstep.
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(2).min(16);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let second = policy.delay_before(2);
            assert!(
                second >= Duration::from_millis(50) && second <= Duration::from_millis(100),
                "{second:?}"
            );
            let third = policy.delay_before(3);
            assert!(
                third >= Duration::from_millis(100) && third <= Duration::from_millis(200),
                "{third:?}"
            );
            let capped = policy.delay_before(9);
            assert!(
                capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300),
                "{capped:?}"
            );
        }
    }
}
