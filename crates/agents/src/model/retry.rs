//! Retries of model calls: a per-attempt timeout, and throttling, 5xx and connection failures retried with
//! exponential backoff and jitter, waiting what the provider's `Retry-After` (or `retry-after-ms`) asks.

use std::{future::Future, time::Duration};

use rand::Rng;

use super::ModelError;

/// How model calls are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles with every further retry.
    pub base_delay: Duration,
    /// Longest computed backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` that is waited for; a provider asking for more fails the call at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1 for the first retry). A `Retry-After` from the provider is
    /// honoured as given (plus up to 10% jitter); otherwise exponential backoff with jitter between half and
    /// all of the computed delay, so concurrent agents do not retry in lockstep.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        if let Some(wait) = retry_after {
            let jitter_ms = (wait.as_millis() as u64 / 10).max(1);
            return wait + Duration::from_millis(rng.random_range(0..=jitter_ms));
        }
        let exponent = retry.saturating_sub(1).min(16);
        let full = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let full_ms = full.as_millis() as u64;
        Duration::from_millis(rng.random_range(full_ms / 2..=full_ms))
    }
}

/// How one attempt failed.
#[derive(Debug, Clone)]
pub(crate) enum AttemptError {
    /// Throttling, a 5xx, a dropped connection: another attempt may succeed.
    Retryable {
        error: ModelError,
        retry_after: Option<Duration>,
    },
    /// Another attempt would fail the same way.
    Fatal(ModelError),
}

/// Runs `attempt` (given the attempt number, from 1) until it succeeds, fails for good, or `policy` runs out;
/// each attempt may take at most `timeout`.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    provider: &str,
    mut attempt: F,
) -> Result<T, ModelError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let attempts = policy.max_attempts.max(1);
    let mut number = 1;
    loop {
        let outcome = match tokio::time::timeout(timeout, attempt(number)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(AttemptError::Retryable {
                error: ModelError::Timeout(timeout),
                retry_after: None,
            }),
        };
        let (error, retry_after) = match outcome {
            Ok(value) => return Ok(value),
            Err(AttemptError::Fatal(error)) => return Err(error),
            Err(AttemptError::Retryable { error, retry_after }) => (error, retry_after),
        };
        if let Some(wait) = retry_after.filter(|w| *w > policy.max_retry_after) {
            return Err(ModelError::Throttled {
                provider: provider.to_owned(),
                message: format!(
                    "{error}; the provider asks to retry after {}s, longer than the {}s we wait",
                    wait.as_secs(),
                    policy.max_retry_after.as_secs()
                ),
            });
        }
        if number >= attempts {
            return Err(gave_up(error, attempts));
        }
        let wait = policy.delay(number, retry_after);
        tracing::info!(
            provider,
            attempt = number,
            wait_ms = wait.as_millis() as u64,
            "model call failed, retrying: {error}"
        );
        tokio::time::sleep(wait).await;
        number += 1;
    }
}

/// Parses `retry-after-ms` (milliseconds, Anthropic and OpenAI) or `Retry-After` (seconds or an HTTP date).
pub(crate) fn parse_retry_after(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = retry_after?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn gave_up(error: ModelError, attempts: u32) -> ModelError {
    let suffix = format!(" (after {attempts} attempts)");
    match error {
        ModelError::Throttled { provider, message } => ModelError::Throttled {
            provider,
            message: message + &suffix,
        },
        ModelError::Unavailable { provider, message } => ModelError::Unavailable {
            provider,
            message: message + &suffix,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.delay(2, None);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = policy.delay(10, None);
            assert!(capped <= Duration::from_millis(350));
        }
        let honoured = policy.delay(1, Some(Duration::from_secs(2)));
        assert!(honoured >= Duration::from_secs(2) && honoured <= Duration::from_millis(2200));
    }

    #[test]
    fn retry_after_reads_milliseconds_seconds_and_dates() {
        assert_eq!(
            parse_retry_after(Some("1500"), Some("9")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(None, Some("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(None, Some("soon")), None);
        assert_eq!(parse_retry_after(None, None), None);
    }

    fn unavailable() -> AttemptError {
        AttemptError::Retryable {
            error: ModelError::Unavailable {
                provider: "p".into(),
                message: "503".into(),
            },
            retry_after: Some(Duration::from_millis(1)),
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_gives_up_after_the_last_attempt() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let ok = with_retry(&policy, Duration::from_secs(1), "p", |n| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err(unavailable()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(ok.ok(), Some(3));

        let failed: Result<(), _> = with_retry(&policy, Duration::from_secs(1), "p", |_| async {
            Err(unavailable())
        })
        .await;
        let message = failed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("after 3 attempts"), "{message}");
    }

    #[tokio::test]
    async fn fatal_errors_and_long_retry_after_are_not_retried() {
        let policy = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let fatal: Result<(), _> = with_retry(&policy, Duration::from_secs(1), "p", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(AttemptError::Fatal(ModelError::Rejected {
                    provider: "p".into(),
                    message: "bad key".into(),
                }))
            }
        })
        .await;
        assert!(matches!(fatal, Err(ModelError::Rejected { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let long: Result<(), _> = with_retry(&policy, Duration::from_secs(1), "p", |_| async {
            Err(AttemptError::Retryable {
                error: ModelError::Throttled {
                    provider: "p".into(),
                    message: "429".into(),
                },
                retry_after: Some(Duration::from_secs(3600)),
            })
        })
        .await;
        assert!(matches!(long, Err(ModelError::Throttled { .. })));
    }

    #[tokio::test]
    async fn a_slow_attempt_times_out_and_counts_as_retryable() {
        let policy = RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let result = with_retry(&policy, Duration::from_millis(20), "p", |n| async move {
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok::<_, AttemptError>(n)
        })
        .await;
        assert_eq!(result.ok(), Some(2));
    }
}
