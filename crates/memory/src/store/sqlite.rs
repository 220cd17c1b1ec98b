//! The default store: one SQLite file in the data dir. WAL journal with `synchronous = FULL` (a killed process or
//! a power cut loses no committed record), every write in one `BEGIN IMMEDIATE` transaction, one keyword index
//! per strategy (FTS5, BM25 ranking) for relevance search, versioned migrations, and a small pool of connections
//! used only on tokio's blocking threads, each with a busy timeout so parallel investigations can write at once.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, Row, TransactionBehavior, params};

use crate::{
    Namespace, OpenError, RecordId, SessionId, StoreError, Strategy, UserId,
    store::{
        Backend, DeleteSelector, ListFilter, MemoryStore, NewRecord, SearchQuery, StoredRecord,
        clamp_limit, clamp_top_k,
    },
};

mod fts;
mod migration;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = migration::LATEST_VERSION;

/// How long a connection waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 8;

/// The SQLite memory store. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    retention: chrono::Duration,
    idle: Mutex<Vec<Connection>>,
}

/// What can go wrong inside a blocking job.
enum Fault {
    Sql(&'static str, rusqlite::Error),
    Corrupt { id: String, message: String },
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the database at `path`, migrates it, and deletes records
    /// older than `retention`.
    pub async fn open(path: impl Into<PathBuf>, retention: Duration) -> Result<Self, OpenError> {
        let path = path.into();
        let retention = chrono::Duration::from_std(retention)
            .map_err(|_| OpenError::Config(format!("retention {retention:?} is too long")))?;
        let worker_path = path.clone();
        tokio::task::spawn_blocking(move || open_blocking(worker_path, retention))
            .await
            .map_err(|e| OpenError::Worker {
                path,
                message: e.to_string(),
            })?
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Deletes records older than the retention period and returns how many went. [`SqliteStore::open`] does
    /// this too; searches never return expired records either way.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        let cutoff = self.inner.cutoff();
        self.run(move |conn| {
            conn.execute(PURGE_EXPIRED, [cutoff])
                .map_err(|e| Fault::Sql("purging expired records", e))
        })
        .await
    }

    /// Runs `job` with a pooled connection on a blocking thread.
    async fn run<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fault> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .checkout()
                .map_err(|e| Fault::Sql("opening a connection", e))?;
            let result = job(&mut conn);
            inner.checkin(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Worker {
            path: self.inner.path.clone(),
            message: e.to_string(),
        })?;
        result.map_err(|fault| match fault {
            Fault::Sql(operation, source) => StoreError::Sqlite {
                path: self.inner.path.clone(),
                operation,
                source,
            },
            Fault::Corrupt { id, message } => StoreError::Corrupt { id, message },
        })
    }
}

#[async_trait]
impl MemoryStore for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn put(&self, records: Vec<NewRecord>) -> Result<Vec<RecordId>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |conn| {
            let sql = |e| Fault::Sql("writing records", e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            let mut ids = Vec::with_capacity(records.len());
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO records
                             (id, strategy, user_id, session_id, namespace, created_at, content, search_text)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(sql)?;
                // The delete trigger takes the replaced records out of the search index too.
                let mut supersede = tx
                    .prepare_cached(
                        "DELETE FROM records WHERE user_id = ?1 AND strategy = ?2 AND search_text = ?3",
                    )
                    .map_err(sql)?;
                for record in &records {
                    let id = RecordId::generate();
                    let ns = &record.namespace;
                    if record.supersedes_same_text {
                        supersede
                            .execute(params![
                                ns.user().as_str(),
                                ns.strategy().as_str(),
                                record.search_text,
                            ])
                            .map_err(sql)?;
                    }
                    insert
                        .execute(params![
                            id.as_str(),
                            ns.strategy().as_str(),
                            ns.user().as_str(),
                            ns.session().map(SessionId::as_str),
                            ns.to_string(),
                            record.created_at.timestamp_millis(),
                            record.content,
                            record.search_text,
                        ])
                        .map_err(sql)?;
                    ids.push(id);
                }
            }
            tx.commit().map_err(sql)?;
            Ok(ids)
        })
        .await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<StoredRecord>, StoreError> {
        let cutoff = self.inner.cutoff_for(query.scope.strategy);
        let top_k = i64::try_from(clamp_top_k(query.top_k)).unwrap_or(1);
        let expression = query.text.as_deref().and_then(fts::match_expression);
        self.run(move |conn| {
            let sql = |e| Fault::Sql("searching records", e);
            let scope = &query.scope;
            let session = scope.session().map(SessionId::as_str);
            let rows = match &expression {
                Some(expression) => {
                    let mut stmt = conn
                        .prepare_cached(ranked_search_sql(scope.strategy))
                        .map_err(sql)?;
                    let rows = stmt
                        .query_map(
                            params![
                                expression,
                                scope.user.as_str(),
                                scope.strategy.as_str(),
                                session,
                                cutoff,
                                top_k
                            ],
                            RawRow::read,
                        )
                        .map_err(sql)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?
                }
                None => {
                    let mut stmt = conn
                        .prepare_cached(
                            "SELECT id, strategy, user_id, session_id, namespace, created_at, content, NULL
                             FROM records
                             WHERE user_id = ?1 AND strategy = ?2
                               AND (?3 IS NULL OR session_id = ?3)
                               AND created_at >= ?4
                             ORDER BY created_at DESC, seq DESC
                             LIMIT ?5",
                        )
                        .map_err(sql)?;
                    let rows = stmt
                        .query_map(
                            params![
                                scope.user.as_str(),
                                scope.strategy.as_str(),
                                session,
                                cutoff,
                                top_k
                            ],
                            RawRow::read,
                        )
                        .map_err(sql)?;
                    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?
                }
            };
            rows.into_iter()
                .map(|row| {
                    let record = row.into_record()?;
                    // The SQL already filters by user; a row outside the scope means a tampered file.
                    if !scope.contains(&record.namespace) {
                        return Err(Fault::Corrupt {
                            id: record.id.to_string(),
                            message: format!(
                                "a search in {} returned a record of {}",
                                scope.path(),
                                record.namespace
                            ),
                        });
                    }
                    Ok(record)
                })
                .collect()
        })
        .await
    }

    async fn list(&self, filter: ListFilter) -> Result<Vec<StoredRecord>, StoreError> {
        let cutoff = self.inner.cutoff();
        let limit = i64::try_from(clamp_limit(filter.limit)).unwrap_or(1);
        self.run(move |conn| {
            let sql = |e| Fault::Sql("listing records", e);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, strategy, user_id, session_id, namespace, created_at, content, NULL
                     FROM records
                     WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR strategy = ?2)
                       AND (created_at >= ?3 OR strategy = 'user_preferences')
                     ORDER BY created_at DESC, seq DESC
                     LIMIT ?4",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(
                    params![
                        filter.user.as_ref().map(UserId::as_str),
                        filter.strategy.map(Strategy::as_str),
                        cutoff,
                        limit
                    ],
                    RawRow::read,
                )
                .map_err(sql)?;
            let rows = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql)?;
            rows.into_iter().map(RawRow::into_record).collect()
        })
        .await
    }

    async fn delete(&self, selector: DeleteSelector) -> Result<usize, StoreError> {
        self.run(move |conn| {
            let sql = |e| Fault::Sql("deleting records", e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            let deleted = match &selector {
                DeleteSelector::Record { id, user } => tx.execute(
                    "DELETE FROM records WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)",
                    params![id.as_str(), user.as_ref().map(UserId::as_str)],
                ),
                DeleteSelector::User { user, strategy } => tx.execute(
                    "DELETE FROM records WHERE user_id = ?1 AND (?2 IS NULL OR strategy = ?2)",
                    params![user.as_str(), strategy.map(Strategy::as_str)],
                ),
            }
            .map_err(sql)?;
            tx.commit().map_err(sql)?;
            Ok(deleted)
        })
        .await
    }
}

/// The ranked search of one strategy's keyword index (see migration 2): the scope's matches are ranked
/// (BM25) and cut to the `top_k` best on their sequence numbers alone, and only those rows' contents are
/// read, so the sort never carries the text of every match.
macro_rules! ranked_search {
    ($fts:literal) => {
        concat!(
            "SELECT r.id, r.strategy, r.user_id, r.session_id, r.namespace, r.created_at, r.content, top.rank
             FROM (SELECT ", $fts, ".rowid AS seq, bm25(", $fts, ") AS rank, r.created_at AS created_at
                   FROM ", $fts, " JOIN records r ON r.seq = ", $fts, ".rowid
                   WHERE ", $fts, " MATCH ?1
                     AND r.user_id = ?2 AND r.strategy = ?3
                     AND (?4 IS NULL OR r.session_id = ?4)
                     AND r.created_at >= ?5
                   ORDER BY rank ASC, created_at DESC, seq DESC
                   LIMIT ?6) top
             JOIN records r ON r.seq = top.seq
             ORDER BY top.rank ASC, top.created_at DESC, top.seq DESC"
        )
    };
}

fn ranked_search_sql(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::UserPreferences => ranked_search!("records_fts_user_preferences"),
        Strategy::InfrastructureKnowledge => ranked_search!("records_fts_infrastructure_knowledge"),
        Strategy::InvestigationHistory => ranked_search!("records_fts_investigation_history"),
    }
}

/// Deletes the records older than the retention cutoff (`?1`), except preferences: a user's settings are
/// configuration, not history, and do not expire.
const PURGE_EXPIRED: &str =
    "DELETE FROM records WHERE created_at < ?1 AND strategy <> 'user_preferences'";

impl Inner {
    fn cutoff(&self) -> i64 {
        (Utc::now() - self.retention).timestamp_millis()
    }

    /// The oldest `created_at` still within retention for `strategy`: preferences never expire.
    fn cutoff_for(&self, strategy: Strategy) -> i64 {
        if strategy == Strategy::UserPreferences {
            i64::MIN
        } else {
            self.cutoff()
        }
    }

    fn checkout(&self) -> rusqlite::Result<Connection> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => connect(&self.path),
        }
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Never reuse a connection that is somehow still inside a transaction.
        if idle.len() < MAX_IDLE_CONNECTIONS && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}

/// One row of the `records` table before validation.
struct RawRow {
    id: String,
    strategy: String,
    user_id: String,
    session_id: Option<String>,
    namespace: String,
    created_at: i64,
    content: String,
    rank: Option<f64>,
}

impl RawRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            strategy: row.get(1)?,
            user_id: row.get(2)?,
            session_id: row.get(3)?,
            namespace: row.get(4)?,
            created_at: row.get(5)?,
            content: row.get(6)?,
            rank: row.get(7)?,
        })
    }

    fn into_record(self) -> Result<StoredRecord, Fault> {
        let corrupt = |message: String| Fault::Corrupt {
            id: self.id.clone(),
            message,
        };
        let id = RecordId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?;
        let strategy: Strategy = self.strategy.parse().map_err(corrupt)?;
        let user = UserId::parse(&self.user_id).map_err(|e| corrupt(e.to_string()))?;
        let session = self
            .session_id
            .as_deref()
            .map(SessionId::parse)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?;
        let namespace = Namespace::new(strategy, user, session)
            .ok_or_else(|| corrupt(format!("{strategy} record without a session")))?;
        if namespace.to_string() != self.namespace {
            return Err(corrupt(format!(
                "namespace {:?} does not match its columns ({namespace})",
                self.namespace
            )));
        }
        let created_at = DateTime::from_timestamp_millis(self.created_at)
            .ok_or_else(|| corrupt(format!("timestamp {} is out of range", self.created_at)))?;
        Ok(StoredRecord {
            id,
            namespace,
            created_at,
            // BM25 scores are negative, lower is better; flip so higher is better.
            score: self.rank.map(|r| -r),
            content: self.content,
        })
    }
}

fn open_blocking(path: PathBuf, retention: chrono::Duration) -> Result<SqliteStore, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            path: dir.to_owned(),
            source,
        })?;
    }
    let sqlite = |operation: &'static str| {
        let path = path.clone();
        move |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => OpenError::NotADatabase { path },
            _ => OpenError::Sqlite {
                path,
                operation,
                source,
            },
        }
    };
    let mut conn = connect(&path).map_err(sqlite("opening the database"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sqlite("switching to WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            path = %path.display(),
            journal_mode = %mode,
            "the memory database could not switch to WAL; writers will block readers"
        );
    }
    match migration::migrate(&mut conn).map_err(sqlite("migrating the schema"))? {
        migration::Migration::Newer { found } => {
            return Err(OpenError::NewerSchema {
                path,
                found,
                supported: migration::LATEST_VERSION,
            });
        }
        migration::Migration::Done { from } if from < migration::LATEST_VERSION => {
            tracing::info!(
                path = %path.display(),
                from,
                to = migration::LATEST_VERSION,
                "migrated the memory database"
            );
        }
        migration::Migration::Done { .. } => {}
    }
    let inner = Inner {
        path: path.clone(),
        retention,
        idle: Mutex::new(Vec::new()),
    };
    let purged = conn
        .execute(PURGE_EXPIRED, [inner.cutoff()])
        .map_err(sqlite("purging expired records"))?;
    if purged > 0 {
        tracing::info!(path = %path.display(), purged, "deleted expired memory records");
    }
    inner.checkin(conn);
    Ok(SqliteStore {
        inner: Arc::new(inner),
    })
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    Ok(conn)
}
