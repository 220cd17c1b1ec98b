//! The trace of a retrieval: three `memory.retrieve` spans (one per strategy) with their attributes, each with
//! `memory.vector_search` and `memory.post_process` children; a cache hit has neither; saves are
//! `memory.save` spans.

use std::sync::Arc;

use sre_memory::{
    KnowledgeRecord, Memory, MemorySettings, SessionId, SqliteStore, UserId, UserPreferences,
    config::DEFAULT_RETENTION,
};
use sre_telemetry::{
    convention::attr,
    testing::{attribute, capture},
};
use tracing::Instrument;

#[tokio::test]
async fn retrieval_spans_carry_strategy_namespace_count_and_cache_hit() {
    let capture = capture();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
        .await
        .unwrap();
    let memory = Memory::new(Arc::new(store), MemorySettings::default());
    let alice = UserId::parse("alice").unwrap();
    let s1 = SessionId::parse("s1").unwrap();

    // The capture layer records sre_* targets only.
    let root = tracing::info_span!(target: "sre_memory", "test.memory");
    let trace_id = sre_telemetry::span::trace_id(&root).unwrap();
    async {
        memory
            .save_preferences(&alice, &UserPreferences::default())
            .await
            .unwrap();
        memory
            .save_knowledge(
                &alice,
                &s1,
                &[KnowledgeRecord::dependency(
                    "web-service",
                    "database-service",
                    "logs-agent",
                    0.9,
                )],
            )
            .await
            .unwrap();
        memory
            .retrieve_context(&alice, &s1, "Why is web-service failing?")
            .await;
        // Second retrieval: preferences now come from the cache.
        memory
            .retrieve_context(&alice, &s1, "Why is web-service failing?")
            .await;
    }
    .instrument(root.clone())
    .await;
    drop(root);

    let spans = capture.trace(trace_id);
    let root_id = spans
        .iter()
        .find(|s| s.name == "test.memory")
        .unwrap()
        .span_context
        .span_id();
    let saves: Vec<_> = spans.iter().filter(|s| s.name == "memory.save").collect();
    assert_eq!(saves.len(), 2);
    let save_strategies: Vec<String> = saves
        .iter()
        .map(|s| attribute(s, attr::MEMORY_STRATEGY).unwrap())
        .collect();
    assert!(save_strategies.contains(&"infrastructure_knowledge".to_owned()));
    assert!(
        saves
            .iter()
            .all(|s| attribute(s, attr::MEMORY_NAMESPACE).is_some())
    );

    let mut retrieves: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "memory.retrieve")
        .collect();
    assert_eq!(retrieves.len(), 6, "three per retrieval");
    retrieves.sort_by_key(|s| s.start_time);
    for (round, group) in retrieves.chunks(3).enumerate() {
        let mut strategies = Vec::new();
        for retrieve in group {
            assert_eq!(
                retrieve.parent_span_id, root_id,
                "memory.retrieve is a child of the caller"
            );
            let strategy = attribute(retrieve, attr::MEMORY_STRATEGY).unwrap();
            let namespace = attribute(retrieve, attr::MEMORY_NAMESPACE).unwrap();
            let count: i64 = attribute(retrieve, attr::MEMORY_RESULTS_COUNT)
                .unwrap()
                .parse()
                .unwrap();
            let cache_hit = attribute(retrieve, attr::MEMORY_CACHE_HIT).unwrap();
            let mut children: Vec<String> = spans
                .iter()
                .filter(|c| c.parent_span_id == retrieve.span_context.span_id())
                .map(|c| c.name.to_string())
                .collect();
            children.sort();
            let cached = round == 1 && strategy == "user_preferences";
            assert_eq!(cache_hit, cached.to_string(), "{strategy} round {round}");
            if cached {
                assert!(
                    children.is_empty(),
                    "a cache hit does not search: {children:?}"
                );
            } else {
                assert_eq!(children, ["memory.post_process", "memory.vector_search"]);
            }
            match strategy.as_str() {
                "user_preferences" => {
                    assert_eq!(namespace, "/sre/users/alice/preferences");
                    assert_eq!(count, 1);
                }
                "infrastructure_knowledge" => {
                    assert_eq!(namespace, "/sre/infrastructure/alice/");
                    assert_eq!(count, 1);
                }
                "investigation_history" => {
                    assert_eq!(namespace, "/sre/investigations/alice/");
                    assert_eq!(count, 0);
                }
                other => panic!("unexpected strategy {other}"),
            }
            strategies.push(strategy);
        }
        strategies.sort();
        assert_eq!(
            strategies,
            [
                "infrastructure_knowledge",
                "investigation_history",
                "user_preferences"
            ]
        );
    }
    let searches: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "memory.vector_search")
        .collect();
    assert_eq!(searches.len(), 5);
    assert!(
        searches
            .iter()
            .all(|s| attribute(s, attr::MEMORY_RESULTS_COUNT).is_some())
    );
}

#[tokio::test]
async fn seeding_the_personas_is_one_trace_of_saves() {
    let capture = capture();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
        .await
        .unwrap();
    let memory = Memory::new(Arc::new(store), MemorySettings::default());
    let seeded = memory.seed_bundled_users().await.unwrap();
    assert!(seeded.len() >= 2, "{seeded:?}");

    let all = capture.all();
    let load = all
        .iter()
        .find(|s| s.name == "memory.load_preferences")
        .expect("a memory.load_preferences span");
    assert_eq!(
        load.parent_span_id.to_string(),
        "0000000000000000",
        "the load is the root of its own trace"
    );
    let count: usize = attribute(load, attr::MEMORY_RESULTS_COUNT)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, seeded.len());
    let saves: Vec<_> = capture
        .trace(load.span_context.trace_id())
        .into_iter()
        .filter(|s| s.name == "memory.save")
        .collect();
    assert_eq!(
        saves.len(),
        seeded.len(),
        "one save per user, in the same trace"
    );
    assert!(
        saves
            .iter()
            .all(|s| s.parent_span_id == load.span_context.span_id())
    );
}
