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
    // 2: one keyword index per strategy, so a search reads and ranks only the documents of its strategy (a
    // knowledge search no longer walks every investigation summary). Each index is external-content over a
    // view of its strategy's rows (so `rebuild` and `integrity-check` work, with any FTS5 version), kept in
    // step by the same three triggers, which now route every row to its strategy's index.
    "DROP TRIGGER records_after_insert;
     DROP TRIGGER records_after_delete;
     DROP TRIGGER records_after_update;
     DROP TABLE records_fts;
     CREATE VIEW records_text_user_preferences AS
         SELECT seq, search_text FROM records WHERE strategy = 'user_preferences';
     CREATE VIEW records_text_infrastructure_knowledge AS
         SELECT seq, search_text FROM records WHERE strategy = 'infrastructure_knowledge';
     CREATE VIEW records_text_investigation_history AS
         SELECT seq, search_text FROM records WHERE strategy = 'investigation_history';
     CREATE VIRTUAL TABLE records_fts_user_preferences USING fts5(
         search_text,
         content = 'records_text_user_preferences',
         content_rowid = 'seq',
         tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE VIRTUAL TABLE records_fts_infrastructure_knowledge USING fts5(
         search_text,
         content = 'records_text_infrastructure_knowledge',
         content_rowid = 'seq',
         tokenize = 'porter unicode61 remove_diacritics 2'
     );
     CREATE VIRTUAL TABLE records_fts_investigation_history USING fts5(
         search_text,
         content = 'records_text_investigation_history',
         content_rowid = 'seq',
         tokenize = 'porter unicode61 remove_diacritics 2'
     );
     INSERT INTO records_fts_user_preferences (records_fts_user_preferences) VALUES ('rebuild');
     INSERT INTO records_fts_infrastructure_knowledge (records_fts_infrastructure_knowledge) VALUES ('rebuild');
     INSERT INTO records_fts_investigation_history (records_fts_investigation_history) VALUES ('rebuild');
     CREATE TRIGGER records_after_insert AFTER INSERT ON records BEGIN
         INSERT INTO records_fts_user_preferences (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'user_preferences';
         INSERT INTO records_fts_infrastructure_knowledge (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'infrastructure_knowledge';
         INSERT INTO records_fts_investigation_history (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'investigation_history';
     END;
     CREATE TRIGGER records_after_delete AFTER DELETE ON records BEGIN
         INSERT INTO records_fts_user_preferences (records_fts_user_preferences, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'user_preferences';
         INSERT INTO records_fts_infrastructure_knowledge (records_fts_infrastructure_knowledge, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'infrastructure_knowledge';
         INSERT INTO records_fts_investigation_history (records_fts_investigation_history, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'investigation_history';
     END;
     CREATE TRIGGER records_after_update AFTER UPDATE ON records BEGIN
         INSERT INTO records_fts_user_preferences (records_fts_user_preferences, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'user_preferences';
         INSERT INTO records_fts_infrastructure_knowledge (records_fts_infrastructure_knowledge, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'infrastructure_knowledge';
         INSERT INTO records_fts_investigation_history (records_fts_investigation_history, rowid, search_text)
             SELECT 'delete', old.seq, old.search_text WHERE old.strategy = 'investigation_history';
         INSERT INTO records_fts_user_preferences (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'user_preferences';
         INSERT INTO records_fts_infrastructure_knowledge (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'infrastructure_knowledge';
         INSERT INTO records_fts_investigation_history (rowid, search_text)
             SELECT new.seq, new.search_text WHERE new.strategy = 'investigation_history';
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

    fn insert(conn: &Connection, seq: i64, strategy: &str, text: &str) {
        conn.execute(
            "INSERT INTO records (seq, id, strategy, user_id, session_id, namespace, created_at, content, search_text)
             VALUES (?1, ?2, ?3, 'alice', 's1', 'ns', 0, '{}', ?4)",
            (seq, format!("id-{seq}"), strategy, text),
        )
        .unwrap();
    }

    fn hits(conn: &Connection, index: &str, word: &str) -> Vec<i64> {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT rowid FROM {index} WHERE {index} MATCH ?1 ORDER BY rowid"
            ))
            .unwrap();
        stmt.query_map([word], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn version_two_splits_the_keyword_index_by_strategy_and_keeps_it_in_step() {
        // A version-1 file with records of every strategy in its single index.
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute(
            "CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL,
             updated_at INTEGER NOT NULL) STRICT;",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO schema_version VALUES (1, 1, 0)", [])
            .unwrap();
        insert(&conn, 1, "user_preferences", "database alerts to slack");
        insert(
            &conn,
            2,
            "infrastructure_knowledge",
            "database depends on storage",
        );
        insert(
            &conn,
            3,
            "investigation_history",
            "database crash loop resolved",
        );
        insert(&conn, 4, "investigation_history", "disk pressure on nodes");

        assert_eq!(migrate(&mut conn).unwrap(), Migration::Done { from: 1 });
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'records_fts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the shared index is gone");
        assert_eq!(hits(&conn, "records_fts_user_preferences", "database"), [1]);
        assert_eq!(
            hits(&conn, "records_fts_infrastructure_knowledge", "database"),
            [2]
        );
        assert_eq!(
            hits(&conn, "records_fts_investigation_history", "database"),
            [3]
        );

        // Inserts, updates and deletes reach the index of the row's strategy only.
        insert(
            &conn,
            5,
            "infrastructure_knowledge",
            "disk pressure threshold",
        );
        assert_eq!(
            hits(&conn, "records_fts_infrastructure_knowledge", "pressure"),
            [5]
        );
        assert_eq!(
            hits(&conn, "records_fts_investigation_history", "pressure"),
            [4]
        );
        conn.execute(
            "UPDATE records SET strategy = 'investigation_history', search_text = 'disk full' WHERE seq = 5",
            [],
        )
        .unwrap();
        assert!(hits(&conn, "records_fts_infrastructure_knowledge", "disk").is_empty());
        assert_eq!(
            hits(&conn, "records_fts_investigation_history", "disk"),
            [4, 5]
        );
        conn.execute("DELETE FROM records WHERE seq IN (3, 4)", [])
            .unwrap();
        assert!(hits(&conn, "records_fts_investigation_history", "database").is_empty());
        assert_eq!(
            hits(&conn, "records_fts_investigation_history", "disk"),
            [5]
        );
        for strategy in crate::Strategy::ALL {
            let index = format!("records_fts_{}", strategy.as_str());
            conn.execute(
                &format!("INSERT INTO {index} ({index}) VALUES ('integrity-check')"),
                [],
            )
            .unwrap();
        }
    }
}
