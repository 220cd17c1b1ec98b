//! How the SQLite store's ranked searches grow with a user's investigation history: the knowledge and the
//! history search an investigation starts with, on stores holding 100 and 1000 investigation summaries next to
//! four infrastructure facts. A knowledge search reads only the knowledge index, so it should not grow with
//! the history; a history search ranks every summary that shares a word with the question, so it grows with
//! them.
//!
//! `cargo bench -p sre-memory --bench search`

use std::{hint::black_box, time::Duration};

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sre_memory::{
    Namespace, SessionId, Strategy, UserId,
    store::{MemoryStore, NewRecord, Scope, SearchQuery, sqlite::SqliteStore},
};
use tokio::runtime::Runtime;

const QUESTION: &str = "Why are the database pods crash looping in production?";
const HISTORY_SIZES: [usize; 2] = [100, 1000];

/// Parts of investigation summaries of a few kinds, so that some share the question's words and some do not.
const SUMMARIES: [&str; 4] = [
    "Why are the database pods crash looping in production? Pod database-pod-{n} (production) is \
     CrashLoopBackOff, {n} restarts; ConfigMap database-config that the pod needs does not exist.",
    "Why is the api-gateway slow in staging? p99 latency of api-gateway rose to {n} ms after deploy {n}; \
     upstream auth-service timeouts in the logs.",
    "Is the checkout service healthy? Error rate of checkout-{n} is 0.{n} %, within its baseline; no \
     finding needs attention.",
    "Why did nodes run out of disk? Node ip-10-0-{n}-7 reports DiskPressure; image garbage collection \
     failed and evicted {n} pods in production.",
];

fn record(namespace: Namespace, text: String) -> NewRecord {
    NewRecord {
        namespace,
        created_at: Utc::now(),
        content: format!(
            "{{\"summary\":{}}}",
            serde_json::Value::String(text.clone())
        ),
        search_text: text,
        supersedes_same_text: false,
    }
}

/// A store with `history` summaries and four facts for user `bench`, and as many summaries for another user.
async fn seeded(dir: &std::path::Path, history: usize) -> SqliteStore {
    let store = SqliteStore::open(dir.join("memory.db"), Duration::from_secs(90 * 24 * 3600))
        .await
        .expect("the store opens");
    let session = SessionId::parse("bench-session").expect("a valid session id");
    for user in ["bench", "other"] {
        let user = UserId::parse(user).expect("a valid user id");
        let mut records: Vec<NewRecord> = (0..history)
            .map(|n| {
                // About 2.5 KB, the size of a real summary's search text (findings, services, actions).
                let text: Vec<String> = (0..12)
                    .map(|k| {
                        SUMMARIES[(n + k / 6) % SUMMARIES.len()]
                            .replace("{n}", &(n + k).to_string())
                    })
                    .collect();
                let text = text.join(" ");
                record(
                    Namespace::investigations(user.clone(), session.clone()),
                    text,
                )
            })
            .collect();
        records.extend(
            [
                "database-service depends on storage-class fast-ssd",
                "api-gateway calls auth-service",
                "checkout baseline error rate 0.5 %",
                "production nodes have 100 GiB disks",
            ]
            .map(|fact| {
                record(
                    Namespace::knowledge(user.clone(), session.clone()),
                    fact.to_owned(),
                )
            }),
        );
        for chunk in records.chunks(200) {
            store.put(chunk.to_vec()).await.expect("records are stored");
        }
    }
    store
}

fn search(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let user = UserId::parse("bench").expect("a valid user id");
    let mut group = c.benchmark_group("ranked search");
    for history in HISTORY_SIZES {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = runtime.block_on(seeded(dir.path(), history));
        for strategy in [
            Strategy::InfrastructureKnowledge,
            Strategy::InvestigationHistory,
        ] {
            let query = SearchQuery {
                scope: Scope::user(strategy, user.clone()),
                text: Some(QUESTION.to_owned()),
                top_k: 5,
            };
            group.bench_with_input(
                BenchmarkId::new(strategy.as_str(), format!("{history} summaries")),
                &query,
                |b, query| {
                    b.iter(|| {
                        let found = runtime
                            .block_on(store.search(query.clone()))
                            .expect("the search runs");
                        black_box(found.len())
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
