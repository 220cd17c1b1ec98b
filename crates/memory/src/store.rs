//! The [`MemoryStore`] trait every backend implements, and the queries it answers.
//!
//! The trait is object-safe (`async_trait`): the backend is chosen at run time from configuration (SQLite by
//! default, AgentCore Memory on AWS), and [`crate::Memory`] holds an `Arc<dyn MemoryStore>`. One boxed future
//! per call is noise next to a disk or network round trip.
//!
//! Stores keep records as opaque JSON text plus a namespace; [`crate::Memory`] turns them into typed records.
//! Every store enforces user isolation in its own queries (exact user match in SQL, namespace checks on what
//! AgentCore returns), independently of id validation.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Namespace, RecordId, SessionId, StoreError, Strategy, UserId};

pub mod agentcore;
pub mod sqlite;

/// Largest `top_k` of a search (AgentCore's page limit).
pub const MAX_TOP_K: usize = 100;
/// Largest `limit` of a listing.
pub const MAX_LIST_LIMIT: usize = 10_000;

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// [`sqlite::SqliteStore`]
    Sqlite,
    /// [`agentcore::AgentCoreStore`]
    AgentCore,
}

impl Backend {
    /// `sqlite` or `agentcore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::AgentCore => "agentcore",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub namespace: Namespace,
    pub created_at: DateTime<Utc>,
    /// The record as JSON ([`crate::RecordBody::to_json`]).
    pub content: String,
    /// Text a keyword index ranks the record by (ignored by stores that embed `content` themselves).
    pub search_text: String,
    /// The record states a fact that replaces the user's earlier records of its strategy with the same
    /// `search_text`: a fact every investigation confirms again is kept once, with its latest session,
    /// time and provenance, instead of once per investigation. Stores that keep the records themselves
    /// (SQLite) replace them; managed stores that consolidate what they extract (AgentCore) ignore it.
    pub supersedes_same_text: bool,
}

/// A record as a store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub id: RecordId,
    pub namespace: Namespace,
    pub created_at: DateTime<Utc>,
    /// Relevance to the search (higher is better); `None` for listings and unranked searches.
    pub score: Option<f64>,
    /// JSON written by this crate, or free text a managed store extracted on its own.
    pub content: String,
}

/// Whose records of which strategy a search covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub strategy: Strategy,
    pub user: UserId,
    /// One session, or `None` for all of the user's sessions. Ignored for preferences.
    pub session: Option<SessionId>,
}

impl Scope {
    /// Every session of `user` for `strategy`.
    pub fn user(strategy: Strategy, user: UserId) -> Self {
        Self {
            strategy,
            user,
            session: None,
        }
    }

    /// The session of the scope, when it is a session-scoped strategy limited to one session.
    pub fn session(&self) -> Option<&SessionId> {
        self.session
            .as_ref()
            .filter(|_| self.strategy.is_session_scoped())
    }

    /// The namespace (`/sre/infrastructure/alice/s-1`) or namespace prefix (`/sre/infrastructure/alice/`) the
    /// scope covers.
    pub fn path(&self) -> String {
        match self.session() {
            Some(session) => self.strategy.namespace(&self.user, session),
            None => self.strategy.user_prefix(&self.user),
        }
    }

    /// True when `namespace` lies inside the scope.
    pub fn contains(&self, namespace: &Namespace) -> bool {
        namespace.strategy() == self.strategy
            && namespace.user() == &self.user
            && self
                .session()
                .is_none_or(|s| namespace.session() == Some(s))
    }
}

/// A ranked search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub scope: Scope,
    /// Free text to rank by; `None` returns the newest records first.
    pub text: Option<String>,
    /// At most this many records (clamped to 1..=[`MAX_TOP_K`]).
    pub top_k: usize,
}

/// A listing for administration (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    pub strategy: Option<Strategy>,
    pub user: Option<UserId>,
    /// At most this many records (clamped to 1..=[`MAX_LIST_LIMIT`]).
    pub limit: usize,
}

/// What to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteSelector {
    /// One record; when `user` is given, only if the record belongs to that user.
    Record { id: RecordId, user: Option<UserId> },
    /// Every record of a user, of one strategy or of all.
    User {
        user: UserId,
        strategy: Option<Strategy>,
    },
}

/// A place that keeps memory records.
#[async_trait]
pub trait MemoryStore: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Writes `records` (atomically where the backend can) and returns their ids in order.
    async fn put(&self, records: Vec<NewRecord>) -> Result<Vec<RecordId>, StoreError>;

    /// Records inside `query.scope`, younger than the retention period: the most relevant first when
    /// `query.text` is given, else the newest first.
    async fn search(&self, query: SearchQuery) -> Result<Vec<StoredRecord>, StoreError>;

    /// Records matching `filter`, younger than the retention period, newest first.
    async fn list(&self, filter: ListFilter) -> Result<Vec<StoredRecord>, StoreError>;

    /// Deletes what `selector` names and returns how many records went.
    async fn delete(&self, selector: DeleteSelector) -> Result<usize, StoreError>;
}

pub(crate) fn clamp_top_k(top_k: usize) -> usize {
    top_k.clamp(1, MAX_TOP_K)
}

pub(crate) fn clamp_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_LIST_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_contains_only_its_users_namespaces() {
        let alice = UserId::parse("alice").unwrap();
        let s1 = SessionId::parse("s1").unwrap();
        let scope = Scope::user(Strategy::InfrastructureKnowledge, alice.clone());
        assert_eq!(scope.path(), "/sre/infrastructure/alice/");
        assert!(scope.contains(&Namespace::knowledge(alice.clone(), s1.clone())));
        assert!(!scope.contains(&Namespace::knowledge(
            UserId::parse("alice2").unwrap(),
            s1.clone()
        )));
        assert!(!scope.contains(&Namespace::investigations(alice.clone(), s1.clone())));
        let one = Scope {
            session: Some(s1.clone()),
            ..scope
        };
        assert_eq!(one.path(), "/sre/infrastructure/alice/s1");
        assert!(!one.contains(&Namespace::knowledge(
            alice.clone(),
            SessionId::parse("s2").unwrap()
        )));
        let prefs = Scope {
            strategy: Strategy::UserPreferences,
            user: alice.clone(),
            session: Some(s1),
        };
        assert_eq!(prefs.path(), "/sre/users/alice/preferences");
        assert!(prefs.contains(&Namespace::preferences(alice)));
    }
}
