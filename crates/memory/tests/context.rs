//! `retrieve_context` asks the store for the three strategies at the same time, and a failing strategy does
//! not take the others down.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sre_memory::{
    DeleteSelector, KnowledgeRecord, Memory, MemorySettings, MemoryStore, RecordId, SessionId,
    SqliteStore, StoreError, Strategy, UserId,
    config::DEFAULT_RETENTION,
    store::{Backend, ListFilter, NewRecord, SearchQuery, StoredRecord},
};
use tokio::sync::Barrier;

/// Holds every search until three are in flight, so sequential retrieval could never finish; searches of
/// `failing` fail with a corrupt-record error.
#[derive(Debug)]
struct Gate {
    inner: SqliteStore,
    barrier: Barrier,
    failing: Option<Strategy>,
}

#[async_trait]
impl MemoryStore for Gate {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn put(&self, records: Vec<NewRecord>) -> Result<Vec<RecordId>, StoreError> {
        self.inner.put(records).await
    }
    async fn search(&self, query: SearchQuery) -> Result<Vec<StoredRecord>, StoreError> {
        self.barrier.wait().await;
        if self.failing == Some(query.scope.strategy) {
            return Err(StoreError::Corrupt {
                id: "x".into(),
                message: "injected".into(),
            });
        }
        self.inner.search(query).await
    }
    async fn list(&self, filter: ListFilter) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.list(filter).await
    }
    async fn delete(&self, selector: DeleteSelector) -> Result<usize, StoreError> {
        self.inner.delete(selector).await
    }
}

async fn gated(dir: &tempfile::TempDir, failing: Option<Strategy>) -> Memory {
    let store = Gate {
        inner: SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
            .await
            .expect("opening the store"),
        barrier: Barrier::new(3),
        failing,
    };
    Memory::new(Arc::new(store), MemorySettings::default())
}

#[tokio::test]
async fn the_three_strategies_are_searched_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let memory = gated(&dir, None).await;
    let alice = UserId::parse("alice").unwrap();
    let s1 = SessionId::parse("s1").unwrap();
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
    let context = tokio::time::timeout(
        Duration::from_secs(30),
        memory.retrieve_context(&alice, &s1, "web-service errors"),
    )
    .await
    .expect("the three searches must be in flight together");
    assert!(context.failures.is_empty());
    assert_eq!(context.knowledge.len(), 1);
}

#[tokio::test]
async fn a_failing_strategy_is_reported_and_the_others_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    let memory = gated(&dir, Some(Strategy::InvestigationHistory)).await;
    let alice = UserId::parse("alice").unwrap();
    let s1 = SessionId::parse("s1").unwrap();
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
    let context = tokio::time::timeout(
        Duration::from_secs(30),
        memory.retrieve_context(&alice, &s1, "web-service errors"),
    )
    .await
    .unwrap();
    assert_eq!(context.failures.len(), 1);
    assert_eq!(context.failures[0].strategy, Strategy::InvestigationHistory);
    assert_eq!(context.failures[0].error_type, "corrupt_record");
    assert_eq!(context.knowledge.len(), 1);
    assert_eq!(context.timings[2].error_type, Some("corrupt_record"));
    assert!(
        context
            .prompt_lines()
            .iter()
            .any(|l| l.contains("depends on"))
    );
}
