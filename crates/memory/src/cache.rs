//! A TTL cache in front of preference reads. Preferences are read at the start of every investigation and change
//! rarely; the cache is invalidated whenever preferences are written or deleted through the same
//! [`crate::Memory`], and a generation counter keeps a read that raced a write from caching the old value.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{MemoryRecord, UserId, UserPreferences};

/// Most users cached at once; the oldest entries go first beyond it.
const MAX_ENTRIES: usize = 1024;

/// Hit and miss counts of the preference cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to the store.
    pub misses: u64,
}

/// The stored preferences of a user, or `None` when the user has none.
pub(crate) type CachedPreferences = Option<MemoryRecord<UserPreferences>>;

#[derive(Debug)]
pub(crate) struct PreferenceCache {
    ttl: Duration,
    state: Mutex<State>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<UserId, (Instant, CachedPreferences)>,
    generation: u64,
}

impl PreferenceCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Mutex::new(State::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached value, counting a hit; or, counting a miss, the generation to pass to [`Self::insert`].
    pub(crate) fn get(&self, user: &UserId) -> Result<CachedPreferences, u64> {
        let state = self.lock();
        match state.entries.get(user) {
            Some((at, value)) if at.elapsed() < self.ttl => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(value.clone())
            }
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(state.generation)
            }
        }
    }

    /// Caches `value` unless an invalidation happened since `generation` was handed out.
    pub(crate) fn insert(&self, user: UserId, value: CachedPreferences, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES && !state.entries.contains_key(&user) {
            let ttl = self.ttl;
            state.entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if state.entries.len() >= MAX_ENTRIES
                && let Some(oldest) = state
                    .entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
            {
                state.entries.remove(&oldest);
            }
        }
        state.entries.insert(user, (Instant::now(), value));
    }

    /// Drops `user`'s entry, or every entry when `user` is `None`.
    pub(crate) fn invalidate(&self, user: Option<&UserId>) {
        let mut state = self.lock();
        state.generation += 1;
        match user {
            Some(user) => {
                state.entries.remove(user);
            }
            None => state.entries.clear(),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_racing_reads_do_not_cache_stale_values() {
        let alice = UserId::parse("alice").unwrap();
        let cache = PreferenceCache::new(Duration::from_secs(60));
        let generation = cache.get(&alice).unwrap_err();
        cache.insert(alice.clone(), None, generation);
        assert_eq!(cache.get(&alice), Ok(None));
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1 });

        // A read starts, a write invalidates, the read finishes: its value must not be cached.
        cache.invalidate(Some(&alice));
        let generation = cache.get(&alice).unwrap_err();
        cache.invalidate(Some(&alice));
        cache.insert(alice.clone(), None, generation);
        assert!(cache.get(&alice).is_err());

        let expired = PreferenceCache::new(Duration::ZERO);
        let generation = expired.get(&alice).unwrap_err();
        expired.insert(alice.clone(), None, generation);
        assert!(expired.get(&alice).is_err());
    }
}
