//! Preferences end to end on SQLite: the bundled `config/users.yaml`, the preference cache (hits skip the
//! store; writes invalidate), defaults for unknown users, escalation decisions for Alice and Carol, and the
//! timings the facade reports.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use sre_memory::{
    CacheStats, CommunicationStyle, DeleteSelector, EscalationType, Memory, MemoryConfig,
    MemorySettings, MemoryStore, Operation, OperationTiming, PreferencesSource, RecordId,
    ReportFormat, SessionId, Severity, SqliteStore, StoreError, Strategy, UserId, UserPreferences,
    config::DEFAULT_RETENTION,
    decide_escalation,
    store::{Backend, ListFilter, NewRecord, SearchQuery, StoredRecord},
};

/// Counts searches, to prove cache hits never reach the store.
#[derive(Debug)]
struct Counting {
    inner: SqliteStore,
    searches: AtomicUsize,
}

#[async_trait]
impl MemoryStore for Counting {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn put(&self, records: Vec<NewRecord>) -> Result<Vec<RecordId>, StoreError> {
        self.inner.put(records).await
    }
    async fn search(&self, query: SearchQuery) -> Result<Vec<StoredRecord>, StoreError> {
        self.searches.fetch_add(1, Ordering::SeqCst);
        self.inner.search(query).await
    }
    async fn list(&self, filter: ListFilter) -> Result<Vec<StoredRecord>, StoreError> {
        self.inner.list(filter).await
    }
    async fn delete(&self, selector: DeleteSelector) -> Result<usize, StoreError> {
        self.inner.delete(selector).await
    }
}

fn users_yaml() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/users.yaml")
}

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid user id")
}

async fn seeded(
    dir: &tempfile::TempDir,
) -> (Memory, Arc<Counting>, Arc<Mutex<Vec<OperationTiming>>>) {
    let store = Arc::new(Counting {
        inner: SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
            .await
            .expect("opening the store"),
        searches: AtomicUsize::new(0),
    });
    let timings: Arc<Mutex<Vec<OperationTiming>>> = Arc::default();
    let seen = Arc::clone(&timings);
    let memory = Memory::new(store.clone(), MemorySettings::default())
        .with_observer(move |t| seen.lock().expect("timing log").push(t.clone()));
    let loaded = memory
        .load_preferences(&users_yaml())
        .await
        .expect("the bundled users.yaml loads");
    assert_eq!(loaded, [user("Alice"), user("Carol")]);
    (memory, store, timings)
}

#[tokio::test]
async fn bundled_users_load_with_their_preferences() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _, _) = seeded(&dir).await;

    let alice = memory.preferences(&user("Alice")).await.unwrap();
    assert!(matches!(alice.source, PreferencesSource::Stored { .. }));
    assert_eq!(alice.note, None);
    let a = &alice.preferences;
    assert_eq!(a.communication_style, CommunicationStyle::Technical);
    assert_eq!(a.report_format, ReportFormat::Detailed);
    assert_eq!(a.timezone, chrono_tz::Tz::UTC);
    assert_eq!(a.escalation.contacts, ["alice.manager@company.com"]);
    assert_eq!(a.escalation.delay_minutes, 15);
    assert_eq!(a.notification_channels, ["#alice-alerts", "#sre-team"]);

    let carol = memory
        .preferences(&user("Carol"))
        .await
        .unwrap()
        .preferences;
    assert_eq!(carol.communication_style, CommunicationStyle::Executive);
    assert_eq!(carol.timezone, chrono_tz::Tz::America__New_York);
    assert_eq!(carol.escalation.contacts, ["carol.director@company.com"]);
    assert_eq!(carol.escalation.delay_minutes, 20);
    assert_eq!(carol.severity_filter, Severity::Critical);
    assert!(carol.business_impact_focus);
}

#[tokio::test]
async fn the_preference_cache_hits_and_is_invalidated_by_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, store, _) = seeded(&dir).await;
    let alice = user("Alice");
    let searches = || store.searches.load(Ordering::SeqCst);

    let first = memory.preferences(&alice).await.unwrap();
    assert_eq!(memory.cache_stats(), CacheStats { hits: 0, misses: 1 });
    assert_eq!(searches(), 1);
    let second = memory.preferences(&alice).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(memory.cache_stats(), CacheStats { hits: 1, misses: 1 });
    assert_eq!(searches(), 1, "a hit does not query the store");

    let context = memory
        .retrieve_context(&alice, &SessionId::parse("s1").unwrap(), "pods crash")
        .await;
    assert_eq!(context.timings[0].cache_hit, Some(true));
    assert_eq!(searches(), 3, "knowledge and history only");

    let changed = UserPreferences {
        report_format: ReportFormat::Summary,
        ..first.preferences.clone()
    };
    memory.save_preferences(&alice, &changed).await.unwrap();
    let third = memory.preferences(&alice).await.unwrap();
    assert_eq!(third.preferences.report_format, ReportFormat::Summary);
    assert_eq!(memory.cache_stats(), CacheStats { hits: 2, misses: 2 });
    assert_eq!(searches(), 4);

    // Deleting a user's records invalidates too: the user falls back to defaults.
    memory
        .delete(DeleteSelector::User {
            user: alice.clone(),
            strategy: Some(Strategy::UserPreferences),
        })
        .await
        .unwrap();
    let gone = memory.preferences(&alice).await.unwrap();
    assert_eq!(gone.source, PreferencesSource::Defaults);
}

#[tokio::test]
async fn an_unknown_user_gets_neutral_defaults_and_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _, _) = seeded(&dir).await;
    let dave = user("dave");
    let context = memory
        .retrieve_context(
            &dave,
            &SessionId::parse("s1").unwrap(),
            "Why is the API slow?",
        )
        .await;
    assert!(context.failures.is_empty());
    assert_eq!(context.preferences, UserPreferences::default());
    assert_eq!(context.preferences_source, PreferencesSource::Defaults);
    let note = context.preferences_note.clone().unwrap();
    assert!(note.contains("dave") && note.contains("defaults"), "{note}");
    assert!(context.prompt_lines()[0].contains(&note));
    // Alice's preferences are not leaked to dave, and "alice" (lower case) is another user.
    let lower = memory.preferences(&user("alice")).await.unwrap();
    assert_eq!(lower.source, PreferencesSource::Defaults);
}

#[tokio::test]
async fn escalation_follows_alice_and_carol_preferences() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _, _) = seeded(&dir).await;
    let alice = memory
        .preferences(&user("Alice"))
        .await
        .unwrap()
        .preferences;
    let carol = memory
        .preferences(&user("Carol"))
        .await
        .unwrap()
        .preferences;
    // 15:00 UTC = 10:00 in New York; 02:00 UTC = 21:00 in New York (the evening before); 04:00 UTC = 23:00.
    let afternoon = Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0).unwrap();
    let two_am = Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap();
    let four_am = Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap();

    // Carol: critical only; it escalates to her director after 20 minutes, also inside her quiet hours.
    let d = decide_escalation(Severity::Critical, &carol, afternoon);
    assert!(d.escalate);
    assert_eq!(d.escalation_type, EscalationType::Critical);
    assert_eq!(d.contacts, ["carol.director@company.com"]);
    assert_eq!(d.delay, std::time::Duration::from_secs(20 * 60));
    assert_eq!(
        d.escalate_at,
        Some(afternoon + chrono::Duration::minutes(20))
    );
    let d = decide_escalation(Severity::High, &carol, afternoon);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::BelowSeverityFilter);
    let d = decide_escalation(Severity::Critical, &carol, two_am);
    assert_eq!(
        d.escalation_type,
        EscalationType::Critical,
        "21:00 in New York is not quiet"
    );
    let d = decide_escalation(Severity::Critical, &carol, four_am);
    assert_eq!(d.escalation_type, EscalationType::CriticalQuietHours);
    assert!(d.escalate);

    // Alice is the responder: for high and critical incidents paging her manager is scheduled for 15 minutes
    // later if still unresolved, not triggered; medium only notifies her channels; at 02:00 UTC (her quiet
    // hours) only critical incidents are scheduled.
    let d = decide_escalation(Severity::High, &alice, afternoon);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::Scheduled);
    assert_eq!(d.contacts, ["alice.manager@company.com"]);
    assert_eq!(d.channels, ["#alice-alerts", "#sre-team"]);
    assert_eq!(d.delay, std::time::Duration::from_secs(15 * 60));
    assert_eq!(
        d.escalate_at,
        Some(afternoon + chrono::Duration::minutes(15))
    );
    assert!(
        d.reason.contains("still unresolved at 15:15 UTC"),
        "{}",
        d.reason
    );
    let d = decide_escalation(Severity::Medium, &alice, afternoon);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::NotifyOnly);
    assert_eq!(d.channels, ["#alice-alerts", "#sre-team"]);
    let d = decide_escalation(Severity::High, &alice, two_am);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::QuietHours);
    let d = decide_escalation(Severity::Critical, &alice, two_am);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::Scheduled);
    assert_eq!(d.escalation_type.as_str(), "scheduled");

    // An unknown user (defaults) has no contacts: nothing pages.
    let d = decide_escalation(Severity::Critical, &UserPreferences::default(), afternoon);
    assert!(!d.escalate);
    assert_eq!(d.escalation_type, EscalationType::NoContacts);
}

#[tokio::test]
async fn every_operation_reports_its_timing() {
    let dir = tempfile::tempdir().unwrap();
    let (memory, _, timings) = seeded(&dir).await;
    let saves: Vec<OperationTiming> = timings.lock().unwrap().drain(..).collect();
    assert_eq!(saves.len(), 2);
    assert!(saves.iter().all(|t| t.operation == Operation::Save
        && t.strategy == Some(Strategy::UserPreferences)
        && t.results == 1
        && t.error_type.is_none()));

    let context = memory
        .retrieve_context(
            &user("Alice"),
            &SessionId::parse("s1").unwrap(),
            "database down",
        )
        .await;
    let observed: Vec<OperationTiming> = timings.lock().unwrap().drain(..).collect();
    assert_eq!(observed.len(), 3);
    let mut strategies: Vec<&str> = observed
        .iter()
        .map(OperationTiming::strategy_dimension)
        .collect();
    strategies.sort();
    assert_eq!(
        strategies,
        [
            "infrastructure_knowledge",
            "investigation_history",
            "user_preferences"
        ]
    );
    assert!(observed.iter().all(|t| t.operation.as_str() == "retrieve"));
    assert_eq!(context.timings.len(), 3);
    assert_eq!(context.timings[0].strategy, Some(Strategy::UserPreferences));
    assert_eq!(context.timings[0].cache_hit, Some(false));
    assert_eq!(context.timings[0].results, 1);

    memory.list(None, None, 10).await.unwrap();
    let listed = timings.lock().unwrap().pop().unwrap();
    assert_eq!(listed.operation, Operation::List);
    assert_eq!(listed.strategy_dimension(), "all");
    assert_eq!(listed.results, 2);
}

#[tokio::test]
async fn a_broken_preferences_file_is_a_clear_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("memory.db"), DEFAULT_RETENTION)
        .await
        .unwrap();
    let memory = Memory::new(Arc::new(store), MemorySettings::default());
    let file = dir.path().join("users.yaml");
    std::fs::write(
        &file,
        "users:\n  good: {}\n  bad:\n    escalation: {delay_minutes: 5000}\n",
    )
    .unwrap();
    let err = memory
        .load_preferences(&file)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("users.yaml") && err.contains("bad") && err.contains("delay_minutes"),
        "{err}"
    );
    assert!(memory.list(None, None, 10).await.unwrap().is_empty());
    let missing = memory
        .load_preferences(&dir.path().join("nope.yaml"))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.yaml"), "{missing}");
}

#[tokio::test]
async fn the_bundled_users_are_seeded_once_into_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Memory::open(&MemoryConfig::sqlite_in(dir.path()), None)
        .await
        .unwrap();
    let seeded = memory.seed_bundled_users().await.unwrap();
    let names: Vec<&str> = seeded.iter().map(UserId::as_str).collect();
    assert_eq!(names, ["Alice", "Carol"]);
    let carol = memory.preferences(&user("Carol")).await.unwrap();
    assert!(matches!(carol.source, PreferencesSource::Stored { .. }));
    assert_eq!(
        carol.preferences.communication_style,
        CommunicationStyle::Executive
    );
    assert!(
        memory.seed_bundled_users().await.unwrap().is_empty(),
        "existing preferences are kept"
    );
}
