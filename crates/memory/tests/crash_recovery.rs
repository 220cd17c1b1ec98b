//! A writer process killed with SIGKILL in the middle of writing leaves a readable database that holds every
//! record it reported as committed.
//!
//! The test binary is its own child: with `SRE_MEMORY_CRASH_CHILD_DB` set it becomes the writer, which saves
//! records from two tasks in a loop and prints `committed <id> ...` after each commit. The parent waits for
//! enough commits, kills exactly that child by its PID, reopens the file and checks every reported id.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use sre_memory::{
    KnowledgeKind, KnowledgeRecord, Memory, MemorySettings, MemoryStore, SessionId, SqliteStore,
    Strategy, UserId, config::DEFAULT_RETENTION, store::ListFilter,
};

const CHILD_ENV: &str = "SRE_MEMORY_CRASH_CHILD_DB";
/// Commits to see before the kill.
const COMMITS_BEFORE_KILL: usize = 60;
const DEADLINE: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    match std::env::var_os(CHILD_ENV) {
        Some(path) => writer(PathBuf::from(path)),
        None => {
            kill_during_writes_loses_no_committed_record()?;
            println!("test kill_during_writes_loses_no_committed_record ... ok");
            Ok(())
        }
    }
}

fn kill_during_writes_loses_no_committed_record() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("memory.db");
    let mut child = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, &db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawning the writer")?;
    let pid = child.id();
    let stdout = child.stdout.take().context("the writer's stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + DEADLINE;
    let mut committed: Vec<String> = Vec::new();
    let mut commits = 0;
    while commits < COMMITS_BEFORE_KILL {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(remaining) {
            Ok(line) => {
                if let Some(ids) = parse_commit(&line) {
                    committed.extend(ids);
                    commits += 1;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("writer {pid} reported {commits} commits before {e:?}");
            }
        }
    }
    // SIGKILL to exactly the child we spawned; it is writing continuously, so mid-transaction.
    child
        .kill()
        .with_context(|| format!("killing writer {pid}"))?;
    let status = child.wait()?;
    ensure!(!status.success(), "writer {pid} exited by itself: {status}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        ensure!(
            status.signal() == Some(9),
            "writer {pid} ended with {status}, not SIGKILL"
        );
    }
    // Lines already in the pipe were printed after their commits, so they count too.
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(remaining) {
            Ok(line) => committed.extend(parse_commit(&line).unwrap_or_default()),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => bail!("the writer's stdout never closed"),
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stored: HashSet<String> = runtime.block_on(async {
        let store = SqliteStore::open(&db, DEFAULT_RETENTION).await?;
        let records = store
            .list(ListFilter {
                strategy: None,
                user: None,
                limit: sre_memory::store::MAX_LIST_LIMIT,
            })
            .await?;
        anyhow::Ok(records.into_iter().map(|r| r.id.to_string()).collect())
    })?;
    let missing: Vec<&String> = committed
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    ensure!(
        missing.is_empty(),
        "{} of {} committed records are missing after the kill: {missing:?}",
        missing.len(),
        committed.len()
    );
    ensure!(stored.len() >= committed.len());

    let conn = rusqlite::Connection::open(&db)?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    ensure!(integrity == "ok", "integrity_check: {integrity}");
    // Every strategy's keyword index, checked against its strategy's rows.
    for strategy in Strategy::ALL {
        let index = format!("records_fts_{}", strategy.as_str());
        conn.execute(
            &format!("INSERT INTO {index} ({index}) VALUES ('integrity-check')"),
            [],
        )
        .with_context(|| format!("the keyword index {index} is inconsistent"))?;
    }
    Ok(())
}

/// `committed <id> <id> ...` → the ids; `None` for anything else (such as a line cut by the kill).
fn parse_commit(line: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("committed ")?;
    let ids: Vec<String> = rest.split(' ').map(str::to_owned).collect();
    ids.iter()
        .all(|id| uuid_like(id))
        .then_some(ids)
        .filter(|ids| !ids.is_empty())
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The child: two tasks writing batches of knowledge until killed.
fn writer(db: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let memory = Arc::new(open(&db).await?);
        let mut tasks = Vec::new();
        for task in 0..2 {
            let memory = Arc::clone(&memory);
            tasks.push(tokio::spawn(async move {
                let user = UserId::parse(&format!("writer{task}"))?;
                let session = SessionId::parse("crash")?;
                for batch in 0u64.. {
                    let records: Vec<KnowledgeRecord> = (0..3)
                        .map(|i| KnowledgeRecord {
                            kind: KnowledgeKind::Pattern,
                            subject: format!("svc-{task}"),
                            fact: format!("batch {batch} record {i}: {}", "padding ".repeat(200)),
                            related: vec![],
                            confidence: 0.5,
                            source_agent: "crash-writer".into(),
                            investigation_id: None,
                        })
                        .collect();
                    let receipt = memory.save_knowledge(&user, &session, &records).await?;
                    let ids: Vec<String> = receipt.ids.iter().map(ToString::to_string).collect();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "committed {}", ids.join(" "))?;
                    out.flush()?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    })
}

async fn open(db: &Path) -> anyhow::Result<Memory> {
    let store = SqliteStore::open(db, DEFAULT_RETENTION).await?;
    Ok(Memory::new(Arc::new(store), MemorySettings::default()))
}
