//! The SQLite store on real files: relevance ranking, user isolation (hostile ids included), retention,
//! migrations and reopening, and concurrent writers.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sre_memory::{
    DeleteSelector, InvestigationSummary, KnowledgeKind, KnowledgeRecord, Memory, MemorySettings,
    MemoryStore, Namespace, OpenError, RecordBody, ResolutionStatus, SessionId, Severity,
    SqliteStore, Strategy, UserId, UserPreferences,
    config::DEFAULT_RETENTION,
    store::{ListFilter, NewRecord, Scope, SearchQuery},
};

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid user id")
}

fn session(id: &str) -> SessionId {
    SessionId::parse(id).expect("valid session id")
}

fn fact(kind: KnowledgeKind, subject: &str, fact: &str) -> KnowledgeRecord {
    KnowledgeRecord {
        kind,
        subject: subject.into(),
        fact: fact.into(),
        related: vec![],
        confidence: 0.8,
        source_agent: "kubernetes-agent".into(),
        investigation_id: None,
    }
}

async fn memory_in(dir: &tempfile::TempDir) -> (Memory, SqliteStore) {
    let store = SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
        .await
        .expect("opening the store");
    let memory = Memory::new(Arc::new(store.clone()), MemorySettings::default());
    (memory, store)
}

fn knowledge_record(
    user: &UserId,
    session: &SessionId,
    text: &str,
    age: chrono::Duration,
) -> NewRecord {
    let body = RecordBody::Knowledge(fact(KnowledgeKind::Pattern, "svc", text));
    NewRecord {
        namespace: Namespace::knowledge(user.clone(), session.clone()),
        created_at: Utc::now() - age,
        content: body.to_json().expect("serialisable record"),
        search_text: text.into(),
        supersedes_same_text: false,
    }
}

#[tokio::test]
async fn the_most_relevant_record_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _) = memory_in(&dir).await;
    let alice = user("alice");
    memory
        .save_knowledge(
            &alice,
            &session("s1"),
            &[
                KnowledgeRecord::dependency("web-service", "database-service", "logs-agent", 0.9),
                fact(
                    KnowledgeKind::Baseline,
                    "cache-service",
                    "cache-service memory baseline is 2 GiB",
                ),
            ],
        )
        .await
        .unwrap();
    memory
        .save_knowledge(
            &alice,
            &session("s2"),
            &[
                fact(
                    KnowledgeKind::Config,
                    "database-service",
                    "database-service connection pool allows 100 connections; exhausted pools show as timeouts",
                ),
                fact(
                    KnowledgeKind::Pattern,
                    "api-service",
                    "api-service latency rises during the nightly batch",
                ),
            ],
        )
        .await
        .unwrap();
    for (summary_id, question, root_cause) in [
        (
            "inv-1",
            "Why is checkout slow?",
            "api-service CPU throttling after a limits change",
        ),
        (
            "inv-2",
            "Why does the database refuse connections?",
            "database-service connection pool exhausted by a leaking worker",
        ),
    ] {
        memory
            .save_investigation(
                &alice,
                &session("s1"),
                &InvestigationSummary {
                    investigation_id: summary_id.into(),
                    question: question.into(),
                    root_cause: root_cause.into(),
                    impacted_services: vec!["web-service".into()],
                    severity: Severity::High,
                    actions: vec!["restart the worker".into()],
                    resolution: ResolutionStatus::Resolved,
                    trace_id: None,
                    occurred_at: Utc::now(),
                },
            )
            .await
            .unwrap();
    }

    let context = memory
        .retrieve_context(
            &alice,
            &session("s3"),
            "Database connection pool exhausted, requests time out",
        )
        .await;
    assert!(context.failures.is_empty(), "{:?}", context.failures);
    // Knowledge from both earlier sessions is searched; the pool fact matches the most words.
    assert!(
        context.knowledge[0].body.fact.contains("connection pool"),
        "{:#?}",
        context.knowledge
    );
    assert!(
        context
            .knowledge
            .iter()
            .all(|k| !k.body.fact.contains("cache-service")),
        "an unrelated record matched: {:#?}",
        context.knowledge
    );
    let scores: Vec<f64> = context.knowledge.iter().filter_map(|k| k.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(context.investigations[0].body.investigation_id, "inv-2");
    assert!(
        context
            .knowledge
            .iter()
            .any(|k| k.namespace.session() == Some(&session("s1")))
    );
}

#[tokio::test]
async fn one_user_never_sees_another_users_records() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, store) = memory_in(&dir).await;
    // Ids chosen to collide under prefix matching or LIKE wildcards (`_` matches any character).
    let users = ["alice", "alice2", "alice.bob", "a_b", "aXb", "ALICE"];
    for id in users {
        memory
            .save_knowledge(
                &user(id),
                &session("s1"),
                &[fact(
                    KnowledgeKind::Dependency,
                    "web-service",
                    &format!("web-service of {id} depends on database-service"),
                )],
            )
            .await
            .unwrap();
    }
    for id in users {
        let found = store
            .search(SearchQuery {
                scope: Scope::user(Strategy::InfrastructureKnowledge, user(id)),
                text: Some("web-service database-service depends".into()),
                top_k: 100,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{id}: {found:#?}");
        assert_eq!(found[0].namespace.user().as_str(), id);
        let listed = memory.list(None, Some(&user(id)), 100).await.unwrap();
        assert_eq!(listed.len(), 1, "{id}");
        assert!(listed[0].body.describe().contains(&format!("of {id} ")));
    }
    // A question full of FTS5 syntax neither errors nor widens the search.
    let hostile = memory
        .retrieve_context(
            &user("a_b"),
            &session("s1"),
            "\" OR user_id:alice * NEAR(web database) -- '; DROP TABLE records; --",
        )
        .await;
    assert!(hostile.failures.is_empty(), "{:?}", hostile.failures);
    assert!(
        hostile
            .knowledge
            .iter()
            .all(|k| k.namespace.user().as_str() == "a_b")
    );

    // Hostile ids never become ids, so they never reach a namespace or a query.
    for bad in [
        "../alice",
        "alice/../bob",
        "alice%",
        "alice' OR '1'='1",
        "*",
        "alice\u{0}",
        "",
        ".",
    ] {
        assert!(UserId::parse(bad).is_err(), "{bad:?} accepted");
        assert!(SessionId::parse(bad).is_err(), "{bad:?} accepted");
    }

    // Deleting by id for the wrong user deletes nothing; by user deletes only that user's records.
    let alice_record = memory.list(None, Some(&user("alice")), 1).await.unwrap()[0]
        .id
        .clone();
    assert_eq!(
        memory
            .delete(DeleteSelector::Record {
                id: alice_record.clone(),
                user: Some(user("alice2")),
            })
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        memory
            .delete(DeleteSelector::User {
                user: user("a_b"),
                strategy: None,
            })
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        memory.list(None, None, 100).await.unwrap().len(),
        users.len() - 1
    );
    assert_eq!(
        memory
            .delete(DeleteSelector::Record {
                id: alice_record,
                user: Some(user("alice")),
            })
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn records_expire_after_the_retention_period() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let alice = user("alice");
    let s1 = session("s1");
    let store = SqliteStore::open(&path, DEFAULT_RETENTION).await.unwrap();
    store
        .put(vec![
            knowledge_record(&alice, &s1, "disk pressure old", chrono::Duration::days(91)),
            knowledge_record(
                &alice,
                &s1,
                "disk pressure recent",
                chrono::Duration::days(89),
            ),
            knowledge_record(&alice, &s1, "disk pressure today", chrono::Duration::zero()),
        ])
        .await
        .unwrap();
    let scope = Scope::user(Strategy::InfrastructureKnowledge, alice.clone());
    for text in [Some("disk pressure".to_owned()), None] {
        let found = store
            .search(SearchQuery {
                scope: scope.clone(),
                text,
                top_k: 10,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().all(|r| !r.content.contains("old")));
    }
    let listed = store
        .list(ListFilter {
            strategy: None,
            user: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    // A shorter retention is configurable and applies to existing records; purging deletes them for good.
    let short = SqliteStore::open(&path, Duration::from_secs(30 * 24 * 60 * 60))
        .await
        .unwrap();
    let remaining = short
        .list(ListFilter {
            strategy: None,
            user: Some(alice.clone()),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(remaining.len(), 1);
    assert!(remaining[0].content.contains("today"));
    assert_eq!(
        short.purge_expired().await.unwrap(),
        0,
        "open already purged"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let fts_rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM records_fts_infrastructure_knowledge \
             WHERE records_fts_infrastructure_knowledge MATCH 'pressure'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fts_rows, 1, "the keyword index follows deletions");
}

#[tokio::test]
async fn migrations_run_on_empty_files_and_reopening_keeps_records() {
    let dir = tempfile::tempdir().unwrap();
    // An empty file, as `touch` leaves it, in a directory that does not exist yet for the second case.
    let empty = dir.path().join("empty.db");
    std::fs::File::create(&empty).unwrap();
    let nested = dir.path().join("data").join("memory").join("memory.db");
    for path in [&empty, &nested] {
        let store = SqliteStore::open(path, DEFAULT_RETENTION).await.unwrap();
        let alice = user("alice");
        let ids = store
            .put(vec![knowledge_record(
                &alice,
                &session("s1"),
                "web-service depends on database-service",
                chrono::Duration::zero(),
            )])
            .await
            .unwrap();
        drop(store);

        let reopened = SqliteStore::open(path, DEFAULT_RETENTION).await.unwrap();
        let listed = reopened
            .list(ListFilter {
                strategy: Some(Strategy::InfrastructureKnowledge),
                user: Some(alice),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, ids[0]);

        let conn = rusqlite::Connection::open(path).unwrap();
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, sre_memory::store::sqlite::SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    // A file from a newer build is refused with a clear error, not modified.
    let conn = rusqlite::Connection::open(&empty).unwrap();
    conn.execute("UPDATE schema_version SET version = 999", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&empty, DEFAULT_RETENTION)
        .await
        .unwrap_err();
    assert!(
        matches!(err, OpenError::NewerSchema { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade sre-agent"), "{err}");

    // Garbage is reported as not a database.
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"this is not a sqlite database, just some bytes....................................................................").unwrap();
    let err = SqliteStore::open(&garbage, DEFAULT_RETENTION)
        .await
        .unwrap_err();
    assert!(matches!(err, OpenError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("garbage.db"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_investigations_write_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _) = memory_in(&dir).await;
    let memory = Arc::new(memory);
    const TASKS: usize = 8;
    const WRITES: usize = 25;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let memory = Arc::clone(&memory);
        tasks.push(tokio::spawn(async move {
            let u = user(&format!("user{}", t % 3));
            let s = session(&format!("session-{t}"));
            for w in 0..WRITES {
                memory
                    .save_knowledge(
                        &u,
                        &s,
                        &[fact(
                            KnowledgeKind::Pattern,
                            "svc",
                            &format!("pattern {t}-{w} seen in svc"),
                        )],
                    )
                    .await
                    .unwrap();
                // Readers interleave with writers.
                let context = memory.retrieve_context(&u, &s, "pattern svc").await;
                assert!(context.failures.is_empty(), "{:?}", context.failures);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = memory.list(None, None, 10_000).await.unwrap();
    assert_eq!(all.len(), TASKS * WRITES);
    let mut facts: Vec<String> = all.iter().map(|r| r.body.describe()).collect();
    facts.sort();
    facts.dedup();
    assert_eq!(facts.len(), TASKS * WRITES);
}

#[tokio::test]
async fn preferences_do_not_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let carol = user("Carol");
    let s1 = session("s1");
    let store = SqliteStore::open(&path, DEFAULT_RETENTION).await.unwrap();
    let old_preferences = NewRecord {
        namespace: Namespace::preferences(carol.clone()),
        created_at: Utc::now() - chrono::Duration::days(400),
        content: RecordBody::Preferences(UserPreferences::default())
            .to_json()
            .unwrap(),
        search_text: "preferences".into(),
        supersedes_same_text: false,
    };
    store
        .put(vec![
            old_preferences,
            knowledge_record(&carol, &s1, "old pattern", chrono::Duration::days(400)),
        ])
        .await
        .unwrap();
    // Reopening purges what expired: the old knowledge goes, the preferences stay.
    let reopened = SqliteStore::open(&path, DEFAULT_RETENTION).await.unwrap();
    assert_eq!(reopened.purge_expired().await.unwrap(), 0);
    let listed = reopened
        .list(ListFilter {
            strategy: None,
            user: Some(carol.clone()),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0].namespace.strategy(), Strategy::UserPreferences);
    let found = reopened
        .search(SearchQuery {
            scope: Scope::user(Strategy::UserPreferences, carol),
            text: None,
            top_k: 10,
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn knowledge_learned_again_is_stored_once_with_its_latest_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let (memory, store) = memory_in(&dir).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let learned = |investigation: &str| {
        let mut dependency =
            KnowledgeRecord::dependency("web-service", "database-service", "logs-agent", 0.8);
        dependency.investigation_id = Some(investigation.to_owned());
        let mut config = fact(
            KnowledgeKind::Config,
            "database-deployment",
            "database-deployment needs ConfigMap database-config",
        );
        config.investigation_id = Some(investigation.to_owned());
        vec![dependency, config]
    };
    // Three investigations of alice's learn the same two facts; bob learns one of them too.
    for (n, s) in ["s1", "s2", "s3"].into_iter().enumerate() {
        let inv = format!("inv-{n}");
        memory
            .save_knowledge(&alice, &session(s), &learned(&inv))
            .await
            .unwrap();
    }
    memory
        .save_knowledge(&bob, &session("b1"), &learned("inv-bob")[..1])
        .await
        .unwrap();
    // A new fact is a record of its own; investigations are never merged, even when they read alike.
    memory
        .save_knowledge(
            &alice,
            &session("s3"),
            &[fact(
                KnowledgeKind::Baseline,
                "cache-service",
                "cache-service memory baseline is 2 GiB",
            )],
        )
        .await
        .unwrap();
    let summary = InvestigationSummary {
        investigation_id: "inv-a".into(),
        question: "Why are the database pods crash looping?".into(),
        root_cause: "a missing ConfigMap".into(),
        impacted_services: vec!["database".into()],
        severity: Severity::High,
        actions: vec!["restore the ConfigMap".into()],
        resolution: ResolutionStatus::RootCauseIdentified,
        trace_id: None,
        occurred_at: Utc::now(),
    };
    for s in ["s1", "s2"] {
        memory
            .save_investigation(&alice, &session(s), &summary)
            .await
            .unwrap();
    }

    let listed = |strategy, who: &UserId| {
        let store = store.clone();
        let who = who.clone();
        async move {
            store
                .list(ListFilter {
                    strategy: Some(strategy),
                    user: Some(who),
                    limit: 100,
                })
                .await
                .unwrap()
        }
    };
    let knowledge = listed(Strategy::InfrastructureKnowledge, &alice).await;
    assert_eq!(knowledge.len(), 3, "{knowledge:#?}");
    for text in ["depends on database-service", "needs ConfigMap"] {
        let kept: Vec<_> = knowledge
            .iter()
            .filter(|r| r.content.contains(text))
            .collect();
        assert_eq!(kept.len(), 1, "{text}: {kept:#?}");
        assert_eq!(kept[0].namespace.session(), Some(&session("s3")));
        assert!(kept[0].content.contains("inv-2"), "{}", kept[0].content);
    }
    let bobs = listed(Strategy::InfrastructureKnowledge, &bob).await;
    assert_eq!(bobs.len(), 1, "another user's copy of a fact is their own");
    assert!(bobs[0].content.contains("inv-bob"));
    assert_eq!(
        listed(Strategy::InvestigationHistory, &alice).await.len(),
        2
    );

    // The search index follows: one hit per fact, and ranked search still finds it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let fts_rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM records_fts_infrastructure_knowledge \
             WHERE records_fts_infrastructure_knowledge MATCH 'needs'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fts_rows, 1);
    let found = store
        .search(SearchQuery {
            scope: Scope::user(Strategy::InfrastructureKnowledge, alice.clone()),
            text: Some("database-service dependency".into()),
            top_k: 5,
        })
        .await
        .unwrap();
    assert!(found[0].content.contains("depends on database-service"));
}
