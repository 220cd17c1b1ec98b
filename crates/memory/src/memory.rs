//! The facade the investigation flow and the CLI use: [`Memory`] retrieves a user's context for a question (the
//! three strategies concurrently, each under a `memory.retrieve` span), saves what an investigation learned,
//! seeds preferences from YAML, lists and deletes records, and reports the timing of every operation.

use std::{
    collections::HashSet,
    fmt,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sre_telemetry::{convention::attr, span::record_error};
use tracing::{Instrument, Span};

use crate::{
    InvestigationSummary, KnowledgeRecord, ListedBody, ManageError, MemoryRecord, Namespace,
    OpenError, PreferencesFileError, RecordBody, RecordId, RetrieveError, SaveError, SessionId,
    StoreError, Strategy, UserId, UserPreferences, UsersFile,
    cache::{CacheStats, CachedPreferences, PreferenceCache},
    config::{MemoryConfig, MemorySettings, StoreConfig},
    span,
    store::{
        DeleteSelector, ListFilter, MemoryStore, NewRecord, Scope, SearchQuery, StoredRecord,
        agentcore::{AgentCoreSettings, AgentCoreStore},
        sqlite::SqliteStore,
    },
};

/// Kinds of memory operations (the `Operation` dimension of the `MemoryOperation` metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A strategy read by `retrieve_context` or `preferences`.
    Retrieve,
    /// A write of one or more records.
    Save,
    /// An administrative listing.
    List,
    /// A deletion.
    Delete,
}

impl Operation {
    /// `retrieve`, `save`, `list` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Retrieve => "retrieve",
            Operation::Save => "save",
            Operation::List => "list",
            Operation::Delete => "delete",
        }
    }
}

/// How one memory operation went.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationTiming {
    pub operation: Operation,
    /// The strategy, or `None` for listings and deletions across strategies.
    pub strategy: Option<Strategy>,
    pub duration: Duration,
    /// Records returned, written or deleted.
    pub results: usize,
    /// For preference retrievals: whether the cache answered.
    pub cache_hit: Option<bool>,
    /// Low-cardinality error type when the operation failed.
    pub error_type: Option<&'static str>,
}

impl OperationTiming {
    /// The `Strategy` dimension: the strategy name, or `all`.
    pub fn strategy_dimension(&self) -> &'static str {
        self.strategy.map_or("all", Strategy::as_str)
    }
}

/// Called after every operation, e.g. to record the `MemoryOperation` metric. Must not block.
pub type OperationObserver = Arc<dyn Fn(&OperationTiming) + Send + Sync>;

/// Where a user's effective preferences came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferencesSource {
    /// The newest stored preferences record.
    Stored {
        record_id: RecordId,
        saved_at: DateTime<Utc>,
    },
    /// No usable stored preferences: neutral defaults.
    Defaults,
}

/// A user's effective preferences.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPreferences {
    pub preferences: UserPreferences,
    pub source: PreferencesSource,
    /// Why defaults are in use, for the report; `None` when stored preferences were found.
    pub note: Option<String>,
}

/// A strategy that could not be read; the investigation goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyFailure {
    pub strategy: Strategy,
    pub error_type: &'static str,
    pub message: String,
}

/// What memory contributes to an investigation.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryContext {
    pub user: UserId,
    pub session: SessionId,
    /// Effective preferences (neutral defaults for an unknown user).
    pub preferences: UserPreferences,
    pub preferences_source: PreferencesSource,
    /// Set when defaults are in use: says why and what to do.
    pub preferences_note: Option<String>,
    /// Infrastructure knowledge relevant to the question, from all of the user's sessions, best first.
    pub knowledge: Vec<MemoryRecord<KnowledgeRecord>>,
    /// Past investigations relevant to the question, from all of the user's sessions, best first.
    pub investigations: Vec<MemoryRecord<InvestigationSummary>>,
    /// Free text a managed store (AgentCore) extracted for the knowledge and history strategies.
    pub notes: Vec<MemoryRecord<String>>,
    /// One timing per strategy, in the order preferences, knowledge, history.
    pub timings: Vec<OperationTiming>,
    /// Strategies that could not be read.
    pub failures: Vec<StrategyFailure>,
}

impl MemoryContext {
    /// Lines for the supervisor's context (model prompts): preferences, known infrastructure, past
    /// investigations and notes.
    pub fn prompt_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.preferences_note {
            Some(note) => lines.push(format!("User {}: {note}", self.user)),
            None => lines.push(format!(
                "User {} prefers: {}",
                self.user,
                self.preferences.describe()
            )),
        }
        for k in &self.knowledge {
            lines.push(format!("Known infrastructure: {}", k.body.describe()));
        }
        for i in &self.investigations {
            let when = if i.namespace.session() == Some(&self.session) {
                "Earlier investigation in this session"
            } else {
                "Past investigation"
            };
            lines.push(format!("{when}: {}", i.body.describe()));
        }
        for n in &self.notes {
            lines.push(format!(
                "Memory note ({}): {}",
                n.namespace.strategy(),
                n.body
            ));
        }
        lines
    }
}

/// The result of a save.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveReceipt {
    /// Ids of the written records (AgentCore: event ids).
    pub ids: Vec<RecordId>,
    pub namespace: Namespace,
    pub timing: OperationTiming,
}

/// The user preferences shipped with sre-agent (`config/users.yaml`): Alice and Carol.
pub const BUNDLED_USERS: &str = include_str!("../../../config/users.yaml");
const BUNDLED_USERS_ORIGIN: &str = "config/users.yaml (bundled)";

/// Memory for the investigation flow and the CLI, over any [`MemoryStore`].
pub struct Memory {
    store: Arc<dyn MemoryStore>,
    settings: MemorySettings,
    cache: PreferenceCache,
    observer: Option<OperationObserver>,
}

/// What one strategy's retrieval produced.
struct Retrieved<T> {
    records: Vec<MemoryRecord<T>>,
    notes: Vec<MemoryRecord<String>>,
}

/// A stored record's content, decoded.
enum Decoded {
    Typed(RecordBody),
    Text,
    Rejected(String),
}

impl Memory {
    /// Memory over `store`.
    pub fn new(store: Arc<dyn MemoryStore>, settings: MemorySettings) -> Self {
        Self {
            store,
            cache: PreferenceCache::new(settings.preference_cache_ttl),
            settings,
            observer: None,
        }
    }

    /// Opens the configured store: SQLite, or AgentCore with `aws` (region, credentials, retry policy).
    pub async fn open(
        config: &MemoryConfig,
        aws: Option<&aws_config::SdkConfig>,
    ) -> Result<Self, OpenError> {
        let store: Arc<dyn MemoryStore> = match &config.store {
            StoreConfig::Sqlite { path } => {
                Arc::new(SqliteStore::open(path.clone(), config.retention).await?)
            }
            StoreConfig::AgentCore { memory_id } => {
                let sdk = aws.ok_or_else(|| {
                    OpenError::Config(
                        "AgentCore memory needs an AWS configuration (region and credentials)"
                            .into(),
                    )
                })?;
                Arc::new(AgentCoreStore::from_sdk_config(
                    sdk,
                    AgentCoreSettings {
                        memory_id: memory_id.clone(),
                        retention: config.retention,
                    },
                )?)
            }
        };
        Ok(Self::new(store, config.settings.clone()))
    }

    /// Calls `observer` after every operation with its timing.
    pub fn with_observer(
        mut self,
        observer: impl Fn(&OperationTiming) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MemoryStore> {
        &self.store
    }

    /// Hits and misses of the preference cache so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Retrieves, concurrently, `user`'s preferences, the infrastructure knowledge relevant to `question` and
    /// the past investigations relevant to it (both across all of the user's sessions). A strategy that fails
    /// is reported in [`MemoryContext::failures`]; the others are still returned.
    pub async fn retrieve_context(
        &self,
        user: &UserId,
        session: &SessionId,
        question: &str,
    ) -> MemoryContext {
        let limits = self.settings.limits;
        let ((preferences, p_timing), (knowledge, k_timing), (history, h_timing)) = tokio::join!(
            self.retrieve_preferences(user),
            self.retrieve_ranked(
                Strategy::InfrastructureKnowledge,
                user,
                question,
                limits.knowledge,
                |body| match body {
                    RecordBody::Knowledge(k) => Some(k),
                    _ => None,
                },
                KnowledgeRecord::dedup_key,
            ),
            self.retrieve_ranked(
                Strategy::InvestigationHistory,
                user,
                question,
                limits.investigations,
                |body| match body {
                    RecordBody::Investigation(i) => Some(i),
                    _ => None,
                },
                |i: &InvestigationSummary| i.investigation_id.clone(),
            ),
        );
        let mut failures = Vec::new();
        let mut failed = |strategy: Strategy, e: &StoreError| {
            failures.push(StrategyFailure {
                strategy,
                error_type: e.error_type(),
                message: e.to_string(),
            });
        };
        let resolved = match &preferences {
            Ok(stored) => resolve(user, stored.clone()),
            Err(e) => {
                failed(Strategy::UserPreferences, e);
                ResolvedPreferences {
                    preferences: UserPreferences::default(),
                    source: PreferencesSource::Defaults,
                    note: Some(format!(
                        "preferences could not be read ({e}); using neutral defaults"
                    )),
                }
            }
        };
        let mut notes = Vec::new();
        let knowledge = match knowledge {
            Ok(r) => {
                notes.extend(r.notes);
                r.records
            }
            Err(e) => {
                failed(Strategy::InfrastructureKnowledge, &e);
                Vec::new()
            }
        };
        let investigations = match history {
            Ok(r) => {
                notes.extend(r.notes);
                r.records
            }
            Err(e) => {
                failed(Strategy::InvestigationHistory, &e);
                Vec::new()
            }
        };
        MemoryContext {
            user: user.clone(),
            session: session.clone(),
            preferences: resolved.preferences,
            preferences_source: resolved.source,
            preferences_note: resolved.note,
            knowledge,
            investigations,
            notes,
            timings: vec![p_timing, k_timing, h_timing],
            failures,
        }
    }

    /// `user`'s effective preferences (through the cache), defaults with a note when none are stored.
    pub async fn preferences(&self, user: &UserId) -> Result<ResolvedPreferences, RetrieveError> {
        let (result, _) = self.retrieve_preferences(user).await;
        result
            .map(|stored| resolve(user, stored))
            .map_err(|source| RetrieveError {
                strategy: Strategy::UserPreferences,
                source,
            })
    }

    /// Stores `preferences` as `user`'s newest preferences and invalidates the cached ones.
    pub async fn save_preferences(
        &self,
        user: &UserId,
        preferences: &UserPreferences,
    ) -> Result<SaveReceipt, SaveError> {
        let result = self
            .save(
                Namespace::preferences(user.clone()),
                vec![RecordBody::Preferences(preferences.clone())],
            )
            .await;
        // Also after a failure: a partial write elsewhere must not be hidden by a stale entry.
        self.cache.invalidate(Some(user));
        result
    }

    /// Stores infrastructure knowledge learned in `session` (one transaction in SQLite).
    pub async fn save_knowledge(
        &self,
        user: &UserId,
        session: &SessionId,
        records: &[KnowledgeRecord],
    ) -> Result<SaveReceipt, SaveError> {
        self.save(
            Namespace::knowledge(user.clone(), session.clone()),
            records.iter().cloned().map(RecordBody::Knowledge).collect(),
        )
        .await
    }

    /// Stores the summary of an investigation run in `session`.
    pub async fn save_investigation(
        &self,
        user: &UserId,
        session: &SessionId,
        summary: &InvestigationSummary,
    ) -> Result<SaveReceipt, SaveError> {
        self.save(
            Namespace::investigations(user.clone(), session.clone()),
            vec![RecordBody::Investigation(summary.clone())],
        )
        .await
    }

    /// Loads a preferences YAML file (see `config/users.yaml`) and stores every user's preferences. Returns the
    /// users loaded. Nothing is stored unless the whole file is valid.
    pub async fn load_preferences(&self, path: &Path) -> Result<Vec<UserId>, PreferencesFileError> {
        let file = UsersFile::load(path).await?;
        self.store_users(file, path).await
    }

    /// Stores (again) the personas shipped with sre-agent ([`BUNDLED_USERS`]), replacing their current
    /// preferences; returns who was stored.
    pub async fn load_bundled_users(&self) -> Result<Vec<UserId>, PreferencesFileError> {
        let origin = Path::new(BUNDLED_USERS_ORIGIN);
        let file = UsersFile::parse(BUNDLED_USERS, origin)?;
        self.store_users(file, origin).await
    }

    /// Stores the personas shipped with sre-agent ([`BUNDLED_USERS`]) when no user has preferences yet, so a
    /// fresh installation personalises reports for them out of the box; returns who was stored (nobody when
    /// preferences already exist).
    pub async fn seed_bundled_users(&self) -> Result<Vec<UserId>, PreferencesFileError> {
        let existing = self
            .list(Some(Strategy::UserPreferences), None, 1)
            .await
            .map_err(|e| PreferencesFileError::Seed {
                message: e.to_string(),
            })?;
        if !existing.is_empty() {
            return Ok(Vec::new());
        }
        self.load_bundled_users().await
    }

    async fn store_users(
        &self,
        file: UsersFile,
        path: &Path,
    ) -> Result<Vec<UserId>, PreferencesFileError> {
        let span = crate::span::load_preferences(&path.display().to_string(), file.users.len());
        let result: Result<Vec<UserId>, PreferencesFileError> = async {
            let mut loaded = Vec::with_capacity(file.users.len());
            for (user, preferences) in file.users {
                self.save_preferences(&user, &preferences)
                    .await
                    .map_err(|source| PreferencesFileError::Save {
                        path: path.to_owned(),
                        user: user.to_string(),
                        source: Box::new(source),
                    })?;
                loaded.push(user);
            }
            Ok(loaded)
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = &result {
            record_error(&span, "save_failed", &e.to_string());
        }
        result
    }

    /// Records of `strategy` (or all) of `user` (or everyone), newest first, at most `limit`.
    pub async fn list(
        &self,
        strategy: Option<Strategy>,
        user: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<MemoryRecord<ListedBody>>, ManageError> {
        let started = Instant::now();
        let result = self
            .store
            .list(ListFilter {
                strategy,
                user: user.cloned(),
                limit,
            })
            .await;
        let listed: Result<Vec<_>, _> = result.map(|records| {
            records
                .into_iter()
                .map(|record| {
                    let body = match decode(&record) {
                        Decoded::Typed(body) => ListedBody::Typed(body),
                        Decoded::Text | Decoded::Rejected(_) => {
                            ListedBody::Text(record.content.clone())
                        }
                    };
                    to_memory_record(record, body)
                })
                .collect()
        });
        self.observe(OperationTiming {
            operation: Operation::List,
            strategy,
            duration: started.elapsed(),
            results: listed.as_ref().map_or(0, Vec::len),
            cache_hit: None,
            error_type: listed.as_ref().err().map(StoreError::error_type),
        });
        listed.map_err(|source| ManageError::Store {
            operation: "listing",
            source,
        })
    }

    /// Deletes what `selector` names; returns how many records went. Invalidates cached preferences it may
    /// have touched.
    pub async fn delete(&self, selector: DeleteSelector) -> Result<usize, ManageError> {
        let started = Instant::now();
        let (strategy, touched_user) = match &selector {
            DeleteSelector::Record { .. } => (None, None),
            DeleteSelector::User { user, strategy } => (*strategy, Some(user.clone())),
        };
        let result = self.store.delete(selector).await;
        match (&touched_user, strategy) {
            (Some(user), None | Some(Strategy::UserPreferences)) => {
                self.cache.invalidate(Some(user))
            }
            (Some(_), Some(_)) => {}
            (None, _) => self.cache.invalidate(None),
        }
        self.observe(OperationTiming {
            operation: Operation::Delete,
            strategy,
            duration: started.elapsed(),
            results: *result.as_ref().unwrap_or(&0),
            cache_hit: None,
            error_type: result.as_ref().err().map(StoreError::error_type),
        });
        result.map_err(|source| ManageError::Store {
            operation: "deletion",
            source,
        })
    }

    async fn retrieve_preferences(
        &self,
        user: &UserId,
    ) -> (Result<CachedPreferences, StoreError>, OperationTiming) {
        let strategy = Strategy::UserPreferences;
        let scope = Scope::user(strategy, user.clone());
        let retrieve = span::retrieve(&scope.path(), strategy);
        let started = Instant::now();
        let limit = self.settings.limits.preferences;
        let (result, hit) = async {
            match self.cache.get(user) {
                Ok(cached) => (Ok(cached), true),
                Err(generation) => {
                    let result = match self.search(scope, None, limit).await {
                        Ok(raw) => Ok(span::post_process().in_scope(|| newest_preferences(raw))),
                        Err(e) => Err(e),
                    };
                    if let Ok(value) = &result {
                        self.cache.insert(user.clone(), value.clone(), generation);
                    }
                    (result, false)
                }
            }
        }
        .instrument(retrieve.clone())
        .await;
        let count = result.as_ref().map_or(0, |p| usize::from(p.is_some()));
        let timing = self.finish_retrieve(&retrieve, strategy, started, &result, count, hit);
        (result, timing)
    }

    async fn retrieve_ranked<T>(
        &self,
        strategy: Strategy,
        user: &UserId,
        question: &str,
        top_k: usize,
        select: impl Fn(RecordBody) -> Option<T>,
        dedup_key: impl Fn(&T) -> String,
    ) -> (Result<Retrieved<T>, StoreError>, OperationTiming) {
        let scope = Scope::user(strategy, user.clone());
        let retrieve = span::retrieve(&scope.path(), strategy);
        let started = Instant::now();
        let result = async {
            let raw = self.search(scope, Some(question), top_k).await?;
            Ok(span::post_process().in_scope(|| post_process(raw, top_k, select, dedup_key)))
        }
        .instrument(retrieve.clone())
        .await;
        let count = result
            .as_ref()
            .map_or(0, |r: &Retrieved<T>| r.records.len() + r.notes.len());
        let timing = self.finish_retrieve(&retrieve, strategy, started, &result, count, false);
        (result, timing)
    }

    /// The store query, under a `memory.vector_search` span.
    async fn search(
        &self,
        scope: Scope,
        text: Option<&str>,
        top_k: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let search = span::vector_search(self.store.backend());
        let result = self
            .store
            .search(SearchQuery {
                scope,
                text: text.map(str::to_owned),
                top_k,
            })
            .instrument(search.clone())
            .await;
        match &result {
            Ok(records) => {
                search.record(attr::MEMORY_RESULTS_COUNT, records.len() as i64);
            }
            Err(e) => record_error(&search, e.error_type(), &e.to_string()),
        }
        result
    }

    fn finish_retrieve<T>(
        &self,
        retrieve: &Span,
        strategy: Strategy,
        started: Instant,
        result: &Result<T, StoreError>,
        count: usize,
        cache_hit: bool,
    ) -> OperationTiming {
        retrieve.record(attr::MEMORY_CACHE_HIT, cache_hit);
        retrieve.record(attr::MEMORY_RESULTS_COUNT, count as i64);
        if let Err(e) = result {
            record_error(retrieve, e.error_type(), &e.to_string());
        }
        let timing = OperationTiming {
            operation: Operation::Retrieve,
            strategy: Some(strategy),
            duration: started.elapsed(),
            results: count,
            cache_hit: (strategy == Strategy::UserPreferences).then_some(cache_hit),
            error_type: result.as_ref().err().map(StoreError::error_type),
        };
        self.observe(timing.clone());
        timing
    }

    async fn save(
        &self,
        namespace: Namespace,
        bodies: Vec<RecordBody>,
    ) -> Result<SaveReceipt, SaveError> {
        let strategy = namespace.strategy();
        let path = namespace.to_string();
        let save = span::save(&path, strategy, bodies.len(), self.store.backend());
        let started = Instant::now();
        let result = async {
            if bodies.is_empty() {
                return Ok(Vec::new());
            }
            let now = Utc::now();
            let mut records = Vec::with_capacity(bodies.len());
            for body in &bodies {
                let invalid = |source| SaveError::Invalid { strategy, source };
                body.validate().map_err(invalid)?;
                records.push(NewRecord {
                    namespace: namespace.clone(),
                    created_at: now,
                    content: body.to_json().map_err(invalid)?,
                    search_text: body.search_text(),
                    // Knowledge learned again replaces what was learned before; each investigation and
                    // each preferences change stays a record of its own.
                    supersedes_same_text: matches!(body, RecordBody::Knowledge(_)),
                });
            }
            self.store
                .put(records)
                .await
                .map_err(|source| SaveError::Store { strategy, source })
        }
        .instrument(save.clone())
        .await;
        let error_type = match &result {
            Ok(_) => None,
            Err(SaveError::Invalid { .. }) => Some("invalid_record"),
            Err(SaveError::Store { source, .. }) => Some(source.error_type()),
        };
        if let (Some(error_type), Err(e)) = (error_type, &result) {
            record_error(&save, error_type, &e.to_string());
        }
        let timing = OperationTiming {
            operation: Operation::Save,
            strategy: Some(strategy),
            duration: started.elapsed(),
            results: result.as_ref().map_or(0, Vec::len),
            cache_hit: None,
            error_type,
        };
        self.observe(timing.clone());
        result.map(|ids| SaveReceipt {
            ids,
            namespace,
            timing,
        })
    }

    fn observe(&self, timing: OperationTiming) {
        if let Some(observer) = &self.observer {
            observer(&timing);
        }
    }
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memory")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .field("cache", &self.cache.stats())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

fn resolve(user: &UserId, stored: CachedPreferences) -> ResolvedPreferences {
    match stored {
        Some(record) => ResolvedPreferences {
            preferences: record.body,
            source: PreferencesSource::Stored {
                record_id: record.id,
                saved_at: record.created_at,
            },
            note: None,
        },
        None => {
            let preferences = UserPreferences::default();
            let note = format!(
                "no stored preferences for user {user}; using neutral defaults ({}). Add the user to a \
                 preferences file such as config/users.yaml and load it to personalise reports and escalation",
                preferences.describe()
            );
            ResolvedPreferences {
                preferences,
                source: PreferencesSource::Defaults,
                note: Some(note),
            }
        }
    }
}

/// The newest record that decodes as preferences (records arrive newest first).
fn newest_preferences(raw: Vec<StoredRecord>) -> CachedPreferences {
    let found = raw.into_iter().find_map(|record| match decode(&record) {
        Decoded::Typed(RecordBody::Preferences(p)) => Some(to_memory_record(record, p)),
        Decoded::Rejected(reason) => {
            tracing::warn!(record = %record.id, %reason, "skipped an unreadable preferences record");
            None
        }
        _ => None,
    });
    Span::current().record(attr::MEMORY_RESULTS_COUNT, i64::from(found.is_some()));
    found
}

/// Decodes, drops unreadable records, de-duplicates (first = best wins) and trims to `top_k`.
fn post_process<T>(
    raw: Vec<StoredRecord>,
    top_k: usize,
    select: impl Fn(RecordBody) -> Option<T>,
    dedup_key: impl Fn(&T) -> String,
) -> Retrieved<T> {
    let mut seen = HashSet::new();
    let mut out = Retrieved {
        records: Vec::new(),
        notes: Vec::new(),
    };
    for record in raw {
        match decode(&record) {
            Decoded::Typed(body) => {
                if let Some(item) = select(body)
                    && seen.insert(dedup_key(&item))
                    && out.records.len() < top_k
                {
                    out.records.push(to_memory_record(record, item));
                }
            }
            Decoded::Text => {
                let text = record.content.clone();
                out.notes.push(to_memory_record(record, text));
            }
            Decoded::Rejected(reason) => {
                tracing::warn!(record = %record.id, namespace = %record.namespace, %reason, "skipped an unreadable memory record");
            }
        }
    }
    Span::current().record(
        attr::MEMORY_RESULTS_COUNT,
        (out.records.len() + out.notes.len()) as i64,
    );
    out
}

fn decode(record: &StoredRecord) -> Decoded {
    match RecordBody::from_json(&record.content) {
        Ok(body) if body.strategy() == record.namespace.strategy() => Decoded::Typed(body),
        Ok(body) => Decoded::Rejected(format!(
            "a {} record in a {} namespace",
            body.strategy(),
            record.namespace.strategy()
        )),
        // Our own JSON that no longer parses is damage; anything else is text a managed store wrote.
        Err(e) if looks_like_record_json(&record.content) => Decoded::Rejected(e.to_string()),
        Err(_) => Decoded::Text,
    }
}

fn looks_like_record_json(content: &str) -> bool {
    content.trim_start().starts_with('{') && content.contains("\"strategy\"")
}

fn to_memory_record<T>(record: StoredRecord, body: T) -> MemoryRecord<T> {
    MemoryRecord {
        id: record.id,
        namespace: record.namespace,
        created_at: record.created_at,
        score: record.score,
        body,
    }
}
