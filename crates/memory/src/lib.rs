//! Memory for sre-agent: the three strategies (user preferences, infrastructure knowledge, investigation
//! history), their namespaces, and the validated ids that keep one user's records out of another's; the stores
//! (SQLite by default, AgentCore Memory on AWS) behind [`MemoryStore`]; the [`Memory`] facade the investigation
//! flow and the CLI use; and the escalation decision taken from a user's preferences.
//!
//! ```no_run
//! # async fn demo(data_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use sre_memory::{Memory, MemoryConfig, SessionId, UserId};
//!
//! let memory = Memory::open(&MemoryConfig::sqlite_in(data_dir), None).await?;
//! let user = UserId::parse("Alice")?;
//! let session = SessionId::parse("session-1")?;
//! let context = memory
//!     .retrieve_context(&user, &session, "Why are the database pods crash looping?")
//!     .await;
//! let decision = sre_memory::decide_escalation(
//!     sre_memory::Severity::Critical,
//!     &context.preferences,
//!     chrono::Utc::now(),
//! );
//! # let _ = decision;
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod config;
pub mod error;
pub mod escalation;
pub mod memory;
pub mod namespace;
pub mod preferences;
pub mod record;
pub mod severity;
pub mod span;
pub mod store;

pub use cache::CacheStats;
pub use config::{MemoryConfig, MemorySettings, RetrievalLimits, StoreConfig};
pub use error::{
    AgentCoreError, IdError, ManageError, OpenError, PreferencesFileError, RecordError,
    RetrieveError, SaveError, StoreError,
};
pub use escalation::{EscalationDecision, EscalationType, decide_escalation};
pub use memory::{
    BUNDLED_USERS, Memory, MemoryContext, Operation, OperationObserver, OperationTiming,
    PreferencesSource, ResolvedPreferences, SaveReceipt, StrategyFailure,
};
pub use namespace::{Namespace, SessionId, Strategy, UserId};
pub use preferences::{
    CommunicationStyle, EscalationPolicy, EscalationTrigger, QuietHours, ReportFormat,
    UserPreferences, UsersFile,
};
pub use record::{
    InvestigationSummary, KnowledgeKind, KnowledgeRecord, ListedBody, MemoryRecord, RecordBody,
    RecordId, ResolutionStatus,
};
pub use severity::Severity;
pub use store::{
    DeleteSelector, MemoryStore,
    agentcore::{AgentCoreSettings, AgentCoreStore},
    sqlite::SqliteStore,
};
