//! The per-user daily token budget: the model tokens each user's investigations used per UTC day, kept in a
//! small SQLite file in the data directory, checked before an investigation starts and charged after it ends.
//!
//! SQLite rather than a JSON file: two `sre-agent` processes of the same user may finish at the same moment,
//! and an `INSERT … ON CONFLICT DO UPDATE` inside SQLite's own locking adds both charges, where a JSON file
//! rewritten with an atomic rename would keep only the last writer's total. rusqlite is already in the
//! workspace (memory), so this costs no new dependency.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sre_memory::UserId;
use sre_telemetry::metric::{self, MetricId, dim};

use crate::report::thousands;

/// The file in the data directory that holds the daily counts.
pub const DAILY_BUDGET_FILE: &str = "token-usage.sqlite3";

/// Days of counts kept; older rows are deleted when a charge is written.
const KEEP_DAYS: i64 = 90;

/// How long a write waits for another process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Tokens per user and UTC day against an optional limit.
#[derive(Debug, Clone)]
pub struct DailyTokenBudget {
    path: PathBuf,
    limit: Option<u64>,
}

/// One user's count for one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyUsage {
    /// The UTC day.
    pub day: NaiveDate,
    /// Tokens charged on that day.
    pub used: u64,
    /// The daily limit, `None` when unlimited.
    pub limit: Option<u64>,
}

/// Why a daily budget check or charge failed.
#[derive(Debug, thiserror::Error)]
pub enum DailyBudgetError {
    /// The user has no tokens left today.
    #[error(
        "user {user} has used {} of the {}-token daily budget for {day} (UTC); it renews at 00:00 UTC, or raise --daily-token-budget (0 = no limit)",
        thousands(*.used),
        thousands(*.limit)
    )]
    Exhausted {
        user: String,
        day: NaiveDate,
        used: u64,
        limit: u64,
    },
    /// The count could not be read or written.
    #[error("the daily token counts in {path} cannot be read or updated: {message}")]
    Store { path: PathBuf, message: String },
}

impl DailyUsage {
    /// Tokens left today (`None` when unlimited).
    pub fn remaining(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.used))
    }
}

impl DailyTokenBudget {
    /// The budget of `limit` tokens per user and day (`None`: unlimited, still counted), kept in
    /// [`DAILY_BUDGET_FILE`] in `data_dir`.
    pub fn new(data_dir: &Path, limit: Option<u64>) -> Self {
        Self {
            path: data_dir.join(DAILY_BUDGET_FILE),
            limit,
        }
    }

    /// The daily limit, if any.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// What `user` used on the UTC day of `now`; [`DailyBudgetError::Exhausted`] when nothing is left. Without
    /// a limit nothing is read and the usage is reported as zero.
    pub async fn check(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<DailyUsage, DailyBudgetError> {
        let day = now.date_naive();
        let Some(limit) = self.limit else {
            return Ok(DailyUsage {
                day,
                used: 0,
                limit: None,
            });
        };
        let path = self.path.clone();
        let user_id = user.as_str().to_owned();
        let used = blocking(&self.path, move || {
            let conn = open(&path)?;
            used_on(&conn, &user_id, day)
        })
        .await?;
        if used >= limit {
            return Err(DailyBudgetError::Exhausted {
                user: user.as_str().to_owned(),
                day,
                used,
                limit,
            });
        }
        Ok(DailyUsage {
            day,
            used,
            limit: Some(limit),
        })
    }

    /// Adds `tokens` to `user`'s count for the UTC day of `now` and, when there is a limit, records the
    /// `TokenBudgetRemaining` [UserID] gauge. Returns the new count.
    pub async fn charge(
        &self,
        user: &UserId,
        tokens: u64,
        now: DateTime<Utc>,
    ) -> Result<DailyUsage, DailyBudgetError> {
        let day = now.date_naive();
        let path = self.path.clone();
        let user_id = user.as_str().to_owned();
        let used = blocking(&self.path, move || {
            let mut conn = open(&path)?;
            add(&mut conn, &user_id, day, tokens, now)
        })
        .await?;
        let usage = DailyUsage {
            day,
            used,
            limit: self.limit,
        };
        if let Some(remaining) = usage.remaining() {
            metric::record(
                MetricId::TokenBudgetRemaining,
                remaining as f64,
                &[(dim::USER_ID, user.as_str())],
            );
        }
        Ok(usage)
    }
}

/// Runs `work` off the async workers; SQLite may wait up to [`BUSY_TIMEOUT`] for another process.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, DailyBudgetError> {
    let store_error = |message: String| DailyBudgetError::Store {
        path: path.to_owned(),
        message,
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(store_error(e.to_string())),
        Err(e) => Err(store_error(format!("the database task failed: {e}"))),
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        // A missing directory shows as SQLite's own "unable to open database file" below.
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS daily_token_usage (
             user_id TEXT NOT NULL,
             day TEXT NOT NULL,
             tokens INTEGER NOT NULL,
             investigations INTEGER NOT NULL,
             updated_at TEXT NOT NULL,
             PRIMARY KEY (user_id, day)
         )",
    )?;
    Ok(conn)
}

fn used_on(conn: &Connection, user: &str, day: NaiveDate) -> rusqlite::Result<u64> {
    let tokens: Option<i64> = conn
        .query_row(
            "SELECT tokens FROM daily_token_usage WHERE user_id = ?1 AND day = ?2",
            params![user, day_key(day)],
            |row| row.get(0),
        )
        .optional()?;
    Ok(tokens.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
}

/// Adds `tokens` in one statement (concurrent writers both count) and prunes old days; returns the new total.
fn add(
    conn: &mut Connection,
    user: &str,
    day: NaiveDate,
    tokens: u64,
    now: DateTime<Utc>,
) -> rusqlite::Result<u64> {
    let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
    let tx = conn.transaction()?;
    let total: i64 = tx.query_row(
        "INSERT INTO daily_token_usage (user_id, day, tokens, investigations, updated_at)
         VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (user_id, day) DO UPDATE SET
             tokens = CASE WHEN tokens > 9223372036854775807 - excluded.tokens
                           THEN 9223372036854775807 ELSE tokens + excluded.tokens END,
             investigations = investigations + 1,
             updated_at = excluded.updated_at
         RETURNING tokens",
        params![user, day_key(day), tokens, now.to_rfc3339()],
        |row| row.get(0),
    )?;
    let oldest = day - chrono::Days::new(KEEP_DAYS as u64);
    tx.execute(
        "DELETE FROM daily_token_usage WHERE day < ?1",
        params![day_key(oldest)],
    )?;
    tx.commit()?;
    Ok(u64::try_from(total).unwrap_or(0))
}

fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).expect("valid user id")
    }

    #[tokio::test]
    async fn charges_add_up_per_user_and_utc_day_until_the_limit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let budget = DailyTokenBudget::new(dir.path(), Some(1_000));
        let morning = Utc.with_ymd_and_hms(2026, 11, 21, 0, 30, 0).unwrap();
        let evening = Utc.with_ymd_and_hms(2026, 11, 21, 23, 59, 0).unwrap();
        let next_day = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 1).unwrap();
        let alice = user("alice");

        assert_eq!(budget.check(&alice, morning).await.expect("fresh").used, 0);
        let charged = budget.charge(&alice, 600, morning).await.expect("charged");
        assert_eq!((charged.used, charged.remaining()), (600, Some(400)));
        assert_eq!(budget.check(&alice, evening).await.expect("left").used, 600);

        // Another process (another handle on the same file) adds to the same count.
        let other = DailyTokenBudget::new(dir.path(), Some(1_000));
        assert_eq!(
            other
                .charge(&alice, 450, evening)
                .await
                .expect("charged")
                .used,
            1_050
        );
        let refused = budget.check(&alice, evening).await.expect_err("used up");
        let message = refused.to_string();
        assert!(
            message.contains(
                "user alice has used 1,050 of the 1,000-token daily budget for 2026-11-21"
            ),
            "{message}"
        );
        assert!(!message.contains('\n'));

        // Other users and the next UTC day start from zero.
        assert_eq!(
            budget.check(&user("bob"), evening).await.expect("bob").used,
            0
        );
        assert_eq!(
            budget.check(&alice, next_day).await.expect("new day").used,
            0
        );
    }

    #[tokio::test]
    async fn unlimited_budgets_count_without_refusing_and_old_days_are_pruned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let unlimited = DailyTokenBudget::new(dir.path(), None);
        let long_ago = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let today = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let alice = user("alice");
        unlimited
            .charge(&alice, u64::MAX, long_ago)
            .await
            .expect("charged");
        let usage = unlimited.charge(&alice, 5, today).await.expect("charged");
        assert_eq!((usage.used, usage.remaining()), (5, None));
        assert!(unlimited.check(&alice, today).await.is_ok());

        let conn = open(&dir.path().join(DAILY_BUDGET_FILE)).expect("open");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM daily_token_usage", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 1, "the January row is older than {KEEP_DAYS} days");
    }

    #[tokio::test]
    async fn an_unusable_store_is_reported_with_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        // The data directory is a file, so the database cannot be created under it.
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").expect("write");
        let budget = DailyTokenBudget::new(&blocker, Some(10));
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let error = budget
            .check(&user("alice"), now)
            .await
            .expect_err("no store");
        assert!(
            error.to_string().contains("not-a-dir/token-usage.sqlite3"),
            "{error}"
        );
    }
}
