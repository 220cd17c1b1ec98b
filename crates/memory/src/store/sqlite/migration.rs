//! Schema migrations of the SQLite store, tracked in the `schema_version` table. Each migration runs once, in
//! order, inside one `BEGIN IMMEDIATE` transaction with the version bump, so two processes opening the same
//! file at once migrate it exactly once, and a crash mid-migration leaves the previous version intact.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Migrations by version: `MIGRATIONS[0]` takes an empty database to version 1.
const MIGRATIONS: &[&str] = &[
    // 1: records, their keyword index (external-content FTS5 kept in sync by triggers), scope and age indexes.
    "CREATE TABLE records (
         seq         INTEGER PRIMARY KEY,
         id          TEXT    NOT NULL UNIQUE,
         strategy    TEXT    NOT NULL CHECK (strategy IN
                         ('user_preferences', 'infrastructure_knowledge', 'investigation_history')),
         user_id     TEXT    NOT NULL,
         session_id  TEXT,
         namespace   TEXT    NOT NULL,
         created_at  INTEGER NOT NULL,
         content     TEXT    NOT NULL,
         search_text TEXT    NOT NULL
     ) STRICT;
     CREATE INDEX records_by_scope ON records (user_id, strategy, session_id, created_at);
     CREATE INDEX records_by_age ON records (created_at);
     CREATE VIRTUAL TABLE records_fts USING fts5(
         search_text,
         content = 'records',
         content_rowid = 'seq',
         tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE TRIGGER records_after_insert AFTER INSERT ON records BEGIN
         INSERT INTO records_fts (rowid, search_text) VALUES (new.seq, new.search_text);
     END;
     CREATE TRIGGER records_after_delete AFTER DELETE ON records BEGIN
         INSERT INTO records_fts (records_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
     END;
     CREATE TRIGGER records_after_update AFTER UPDATE ON records BEGIN
         INSERT INTO records_fts (records_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
         INSERT INTO records_fts (rowid, search_text) VALUES (new.seq, new.search_text);
     END;",
];

/// The schema version this build writes.
pub(crate) const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Outcome of [`migrate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Migration {
    /// Migrated from `from` to [`LATEST_VERSION`] (`from == LATEST_VERSION` when nothing was to do).
    Done { from: i64 },
    /// The file is newer than this build.
    Newer { found: i64 },
}

/// Brings `conn`'s database to [`LATEST_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<Migration> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id         INTEGER PRIMARY KEY CHECK (id = 1),
             version    INTEGER NOT NULL,
             updated_at INTEGER NOT NULL
         ) STRICT;",
    )?;
    let from: i64 = tx
        .query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    if from > LATEST_VERSION {
        return Ok(Migration::Newer { found: from });
    }
    for sql in MIGRATIONS.iter().skip(usize::try_from(from).unwrap_or(0)) {
        tx.execute_batch(sql)?;
    }
    if from < LATEST_VERSION {
        tx.execute(
            "INSERT INTO schema_version (id, version, updated_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
            (LATEST_VERSION, chrono::Utc::now().timestamp_millis()),
        )?;
    }
    tx.commit()?;
    Ok(Migration::Done { from })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_files() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Migration::Done { from: 0 });
        assert_eq!(
            migrate(&mut conn).unwrap(),
            Migration::Done {
                from: LATEST_VERSION
            }
        );
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), Migration::Newer { found: 99 });
    }
}
