//! The token budget of one investigation, shared by every agent of it: each model call is charged to it, and
//! an agent whose investigation has used its budget makes no further model calls.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use super::TokenUsage;

/// A shared count of tokens against an optional limit. Clones share the count. Agents check it before each
/// model call and charge it after, so a budget can be overshot by at most the calls already in flight.
#[derive(Debug, Clone, Default)]
pub struct TokenBudget {
    limit: Option<u64>,
    used: Arc<AtomicU64>,
}

impl TokenBudget {
    /// A budget that never runs out (it still counts).
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// A budget of `limit` tokens (input, output and cache tokens alike).
    pub fn new(limit: u64) -> Self {
        Self {
            limit: Some(limit),
            used: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The limit, if any.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Tokens charged so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Tokens left (`None` when unlimited).
    pub fn remaining(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.used()))
    }

    /// True when the limit is reached.
    pub fn is_exhausted(&self) -> bool {
        self.remaining() == Some(0)
    }

    /// Charges one call's tokens; returns the new total.
    pub fn charge(&self, usage: &TokenUsage) -> u64 {
        let tokens = usage.total();
        self.used.fetch_add(tokens, Ordering::Relaxed) + tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_count_until_the_limit() {
        let budget = TokenBudget::new(100);
        let other = budget.clone();
        let usage = TokenUsage {
            input_tokens: 40,
            output_tokens: 10,
            cache_read_tokens: 5,
            cache_write_tokens: 5,
            ..TokenUsage::default()
        };
        assert_eq!(budget.charge(&usage), 60);
        assert!(!other.is_exhausted());
        assert_eq!(other.remaining(), Some(40));
        other.charge(&usage);
        assert!(budget.is_exhausted());
        assert_eq!(budget.used(), 120);

        let unlimited = TokenBudget::unlimited();
        unlimited.charge(&usage);
        assert!(!unlimited.is_exhausted());
        assert_eq!((unlimited.remaining(), unlimited.used()), (None, 60));
    }
}
