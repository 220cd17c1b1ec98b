//! Configuration of memory: which store, how long records count, how many records each strategy contributes
//! to an investigation, and how long preferences stay cached.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Default retention of records: 90 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// Default lifetime of a cached preferences read.
pub const DEFAULT_PREFERENCE_CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// The SQLite file, relative to the data dir.
pub const SQLITE_FILE: &str = "memory/memory.db";

/// How many records each strategy contributes to [`crate::Memory::retrieve_context`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrievalLimits {
    /// Preference records read (the newest valid one is used).
    pub preferences: usize,
    /// Infrastructure knowledge records relevant to the question, across the user's sessions.
    pub knowledge: usize,
    /// Past investigations relevant to the question, across the user's sessions.
    pub investigations: usize,
}

impl Default for RetrievalLimits {
    fn default() -> Self {
        Self {
            preferences: 10,
            knowledge: 50,
            investigations: 5,
        }
    }
}

/// Behaviour of [`crate::Memory`] independent of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySettings {
    pub limits: RetrievalLimits,
    /// How long a preferences read is served from the cache; zero disables the cache.
    pub preference_cache_ttl: Duration,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            limits: RetrievalLimits::default(),
            preference_cache_ttl: DEFAULT_PREFERENCE_CACHE_TTL,
        }
    }
}

/// Where records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A SQLite file (the default: `<data dir>/memory/memory.db`).
    Sqlite { path: PathBuf },
    /// An AgentCore Memory resource.
    AgentCore { memory_id: String },
}

/// Everything [`crate::Memory::open`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryConfig {
    pub store: StoreConfig,
    /// Records older than this are ignored and (in SQLite) deleted.
    pub retention: Duration,
    pub settings: MemorySettings,
}

impl MemoryConfig {
    /// SQLite in `data_dir` ([`SQLITE_FILE`]) with default retention and settings.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        Self {
            store: StoreConfig::Sqlite {
                path: data_dir.join(SQLITE_FILE),
            },
            retention: DEFAULT_RETENTION,
            settings: MemorySettings::default(),
        }
    }

    /// AgentCore Memory `memory_id` with default retention and settings.
    pub fn agentcore(memory_id: impl Into<String>) -> Self {
        Self {
            store: StoreConfig::AgentCore {
                memory_id: memory_id.into(),
            },
            retention: DEFAULT_RETENTION,
            settings: MemorySettings::default(),
        }
    }
}
