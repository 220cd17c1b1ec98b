//! The AgentCore store runs the real SDK against a local endpoint that speaks AgentCore's REST-JSON wire format:
//! the requests it sends (memory id, actor, session, namespace, top_k), how it reads responses, and how it
//! handles throttling (retried) and denied access (a clear error).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde_json::{Value, json};
use sre_memory::{
    AgentCoreError, AgentCoreSettings, AgentCoreStore, CommunicationStyle, DeleteSelector,
    InvestigationSummary, KnowledgeRecord, ListedBody, Memory, MemorySettings, MemoryStore,
    PreferencesSource, RecordBody, RecordId, ResolutionStatus, SessionId, Severity, StoreError,
    Strategy, UserId, UserPreferences,
    config::DEFAULT_RETENTION,
    store::{Scope, SearchQuery},
};

const MEMORY_ID: &str = "sre_agent_memory-Ab12Cd34Ef";

/// One request the endpoint received.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    query: Option<String>,
    body: Value,
    signed: bool,
}

/// A reply: status, `x-amzn-errortype` for errors, JSON body.
struct Reply {
    status: StatusCode,
    error_type: Option<&'static str>,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            error_type: None,
            body,
        }
    }

    fn error(status: StatusCode, error_type: &'static str, message: &str) -> Self {
        Self {
            status,
            error_type: Some(error_type),
            body: json!({ "message": message }),
        }
    }
}

type Script = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// A local AgentCore endpoint: records every request and answers with `script(request, nth request to this
/// path)`.
struct Endpoint {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Endpoint {
    async fn start(script: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let seen = Arc::clone(&requests);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let seen = Arc::clone(&seen);
                let script = Arc::clone(&script);
                async move {
                    let recorded = Recorded {
                        method,
                        path: uri.path().to_owned(),
                        query: uri.query().map(str::to_owned),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        signed: headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256")),
                    };
                    let nth = {
                        let mut seen = seen.lock().expect("request log");
                        let nth = seen.iter().filter(|r| r.path == recorded.path).count();
                        seen.push(recorded.clone());
                        nth
                    };
                    let reply = script(&recorded, nth);
                    let mut response: Response =
                        (reply.status, axum::Json(reply.body)).into_response();
                    if let Some(error_type) = reply.error_type {
                        response.headers_mut().insert(
                            "x-amzn-errortype",
                            error_type.parse().expect("header value"),
                        );
                    }
                    response
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("request log").clone()
    }

    fn store(&self) -> AgentCoreStore {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST", "secret", None, None, "test",
                    ),
                ),
            )
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(5)),
            )
            .build();
        AgentCoreStore::from_sdk_config(
            &sdk,
            AgentCoreSettings {
                memory_id: MEMORY_ID.into(),
                retention: DEFAULT_RETENTION,
            },
        )
        .expect("valid AgentCore settings")
    }
}

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid user id")
}

fn session(id: &str) -> SessionId {
    SessionId::parse(id).expect("valid session id")
}

fn epoch(days_ago: i64) -> f64 {
    (Utc::now() - chrono::Duration::days(days_ago)).timestamp() as f64
}

fn summary(id: &str, namespace: &str, text: &str, days_ago: i64, score: f64) -> Value {
    json!({
        "memoryRecordId": id,
        "content": { "text": text },
        "memoryStrategyId": "strategy-1",
        "namespaces": [namespace],
        "createdAt": epoch(days_ago),
        "score": score,
    })
}

fn event_reply(request: &Recorded, event_id: &str) -> Reply {
    Reply::ok(json!({
        "event": {
            "memoryId": MEMORY_ID,
            "actorId": request.body["actorId"],
            "sessionId": request.body["sessionId"],
            "eventId": event_id,
            "eventTimestamp": request.body["eventTimestamp"],
            "payload": request.body["payload"],
        }
    }))
}

#[tokio::test]
async fn writes_are_create_events_for_the_user_and_session() {
    let endpoint = Endpoint::start(|request, nth| {
        event_reply(request, &format!("0000001700000000000#evt{nth}"))
    })
    .await;
    let memory = Memory::new(Arc::new(endpoint.store()), MemorySettings::default());
    let alice = user("alice");

    let receipt = memory
        .save_knowledge(
            &alice,
            &session("s-1"),
            &[KnowledgeRecord::dependency(
                "web-service",
                "database-service",
                "logs-agent",
                0.9,
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        receipt.ids,
        [RecordId::parse("0000001700000000000#evt0").unwrap()]
    );
    assert_eq!(
        receipt.namespace.to_string(),
        "/sre/infrastructure/alice/s-1"
    );

    let prefs = memory
        .save_preferences(&alice, &UserPreferences::default())
        .await
        .unwrap();
    assert_eq!(prefs.ids.len(), 1);

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, format!("/memories/{MEMORY_ID}/events"));
        assert!(request.signed, "requests are SigV4-signed");
        assert_eq!(request.body["actorId"], "alice");
        assert!(request.body["eventTimestamp"].is_number());
        assert!(
            request.body["clientToken"]
                .as_str()
                .is_some_and(|t| t.len() >= 33)
        );
        let message = &request.body["payload"][0]["conversational"];
        assert_eq!(message["role"], "ASSISTANT");
        let text = message["content"]["text"].as_str().unwrap();
        RecordBody::from_json(text).unwrap();
    }
    assert_eq!(requests[0].body["sessionId"], "s-1");
    let knowledge = RecordBody::from_json(
        requests[0].body["payload"][0]["conversational"]["content"]["text"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(knowledge.strategy(), Strategy::InfrastructureKnowledge);
    assert_eq!(requests[1].body["sessionId"], "preferences");
}

#[tokio::test]
async fn retrieval_searches_each_namespace_and_keeps_only_the_users_fresh_records() {
    let ours = |body: RecordBody| body.to_json().unwrap();
    let newer_prefs = ours(RecordBody::Preferences(UserPreferences {
        communication_style: CommunicationStyle::Executive,
        ..UserPreferences::default()
    }));
    let older_prefs = ours(RecordBody::Preferences(UserPreferences::default()));
    let fact = ours(RecordBody::Knowledge(KnowledgeRecord::dependency(
        "web-service",
        "database-service",
        "logs-agent",
        0.9,
    )));
    let investigation = ours(RecordBody::Investigation(InvestigationSummary {
        investigation_id: "inv-1".into(),
        question: "Why is the database down?".into(),
        root_cause: "missing ConfigMap database-config".into(),
        impacted_services: vec!["api-service".into()],
        severity: Severity::Critical,
        actions: vec![],
        resolution: ResolutionStatus::Resolved,
        trace_id: Some("6b01357ef0d58debe69bcc7be896f611".into()),
        occurred_at: Utc::now(),
    }));
    let endpoint = Endpoint::start(move |request, _| {
        let ns = request.body["namespace"]
            .as_str()
            .or(request.body["namespacePath"].as_str())
            .unwrap_or_default()
            .to_owned();
        let records = if ns.starts_with("/sre/users/") {
            vec![
                summary(
                    "mem-p-old",
                    "/sre/users/alice/preferences",
                    &older_prefs,
                    10,
                    0.9,
                ),
                summary(
                    "mem-p-new",
                    "/sre/users/alice/preferences",
                    &newer_prefs,
                    1,
                    0.5,
                ),
                // Free text from the service's own preference extraction is not structured preferences.
                summary(
                    "mem-p-text",
                    "/sre/users/alice/preferences",
                    "Alice likes short answers",
                    0,
                    0.95,
                ),
            ]
        } else if ns.starts_with("/sre/infrastructure/") {
            vec![
                summary("mem-k-1", "/sre/infrastructure/alice/s-1", &fact, 2, 0.9),
                summary(
                    "mem-k-2",
                    "/sre/infrastructure/alice/s-2",
                    "database-service restarts nightly",
                    3,
                    0.7,
                ),
                // Another user's record must never come back, whatever the service returns.
                summary("mem-k-bob", "/sre/infrastructure/bob/s-1", &fact, 1, 0.99),
                summary(
                    "mem-k-alice2",
                    "/sre/infrastructure/alice2/s-1",
                    &fact,
                    1,
                    0.98,
                ),
                // Older than the retention period.
                summary(
                    "mem-k-old",
                    "/sre/infrastructure/alice/s-0",
                    &fact,
                    120,
                    0.95,
                ),
            ]
        } else {
            vec![summary(
                "mem-i-1",
                "/sre/investigations/alice/s-1",
                &investigation,
                1,
                0.8,
            )]
        };
        Reply::ok(json!({ "memoryRecordSummaries": records }))
    })
    .await;
    let memory = Memory::new(Arc::new(endpoint.store()), MemorySettings::default());
    let question = "Why is the database crash looping?";
    let context = memory
        .retrieve_context(&user("alice"), &session("s-3"), question)
        .await;
    assert!(context.failures.is_empty(), "{:?}", context.failures);

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 3);
    let by_target: HashMap<String, &Recorded> = requests
        .iter()
        .map(|r| {
            let target = r.body["namespace"]
                .as_str()
                .map(|n| format!("namespace={n}"))
                .or_else(|| {
                    r.body["namespacePath"]
                        .as_str()
                        .map(|n| format!("path={n}"))
                })
                .unwrap();
            (target, r)
        })
        .collect();
    let prefs = by_target["namespace=/sre/users/alice/preferences"];
    let knowledge = by_target["path=/sre/infrastructure/alice/"];
    let history = by_target["path=/sre/investigations/alice/"];
    for (request, top_k) in [(prefs, 10), (knowledge, 50), (history, 5)] {
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, format!("/memories/{MEMORY_ID}/retrieve"));
        // topK defaults to 10 in the model, so the SDK leaves 10 off the wire.
        let sent_top_k = request.body["searchCriteria"]["topK"]
            .as_i64()
            .unwrap_or(10);
        assert_eq!(sent_top_k, top_k);
        assert_eq!(request.body["maxResults"], top_k);
        assert!(request.signed);
    }
    assert_eq!(knowledge.body["searchCriteria"]["searchQuery"], question);
    assert_eq!(history.body["searchCriteria"]["searchQuery"], question);
    assert!(
        prefs.body["searchCriteria"]["searchQuery"]
            .as_str()
            .is_some_and(|q| q.contains("preferences"))
    );

    // The newest structured preferences win.
    assert_eq!(
        context.preferences.communication_style,
        CommunicationStyle::Executive
    );
    assert!(matches!(
        &context.preferences_source,
        PreferencesSource::Stored { record_id, .. } if record_id.as_str() == "mem-p-new"
    ));
    assert_eq!(context.preferences_note, None);
    // Our record is typed; the service's free text is a note; foreign and expired records are gone.
    assert_eq!(context.knowledge.len(), 1);
    assert_eq!(context.knowledge[0].id.as_str(), "mem-k-1");
    assert_eq!(context.knowledge[0].score, Some(0.9));
    assert_eq!(context.notes.len(), 1);
    assert_eq!(context.notes[0].body, "database-service restarts nightly");
    assert_eq!(context.investigations.len(), 1);
    assert_eq!(
        context.investigations[0].body.trace_id.as_deref(),
        Some("6b01357ef0d58debe69bcc7be896f611")
    );
    assert!(
        context
            .investigations
            .iter()
            .all(|r| r.namespace.user().as_str() == "alice")
    );
}

#[tokio::test]
async fn listing_follows_pages_and_one_session_uses_an_exact_namespace() {
    let fact = RecordBody::Knowledge(KnowledgeRecord::dependency("a", "b", "k8s-agent", 0.5))
        .to_json()
        .unwrap();
    let endpoint = Endpoint::start(move |request, nth| {
        let ns = "/sre/infrastructure/alice/s-1";
        if request.path.ends_with("/retrieve") {
            return Reply::ok(json!({ "memoryRecordSummaries": [summary("mem-r", ns, &fact, 0, 0.5)] }));
        }
        match nth {
            0 => Reply::ok(json!({
                "memoryRecordSummaries": [summary("mem-1", ns, &fact, 1, 0.0), summary("mem-2", ns, &fact, 2, 0.0)],
                "nextToken": "page-2",
            })),
            _ => Reply::ok(json!({ "memoryRecordSummaries": [summary("mem-3", ns, &fact, 3, 0.0)] })),
        }
    })
    .await;
    let store = endpoint.store();
    let memory = Memory::new(Arc::new(store.clone()), MemorySettings::default());
    let listed = memory
        .list(
            Some(Strategy::InfrastructureKnowledge),
            Some(&user("alice")),
            101,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["mem-1", "mem-2", "mem-3"]);
    assert!(matches!(listed[0].body, ListedBody::Typed(_)));

    let found = store
        .search(SearchQuery {
            scope: Scope {
                strategy: Strategy::InfrastructureKnowledge,
                user: user("alice"),
                session: Some(session("s-1")),
            },
            text: Some("a depends on b".into()),
            top_k: 3,
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    let requests = endpoint.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].path,
        format!("/memories/{MEMORY_ID}/memoryRecords")
    );
    assert_eq!(
        requests[0].body["namespacePath"],
        "/sre/infrastructure/alice/"
    );
    assert_eq!(requests[0].body["maxResults"], 100);
    assert!(requests[0].body.get("nextToken").is_none());
    assert_eq!(requests[1].body["nextToken"], "page-2");
    assert_eq!(requests[1].body["maxResults"], 99);
    assert_eq!(
        requests[2].body["namespace"],
        "/sre/infrastructure/alice/s-1"
    );
    assert!(requests[2].body.get("namespacePath").is_none());
    assert_eq!(requests[2].body["searchCriteria"]["topK"], 3);
}

#[tokio::test]
async fn throttling_is_retried_and_persistent_throttling_is_reported() {
    let endpoint = Endpoint::start(|request, nth| {
        if request.body["searchCriteria"]["searchQuery"] == "always throttled" || nth < 2 {
            return Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottledException",
                "Rate exceeded",
            );
        }
        Reply::ok(json!({ "memoryRecordSummaries": [] }))
    })
    .await;
    let store = endpoint.store();
    let query = |text: &str| SearchQuery {
        scope: Scope::user(Strategy::InvestigationHistory, user("alice")),
        text: Some(text.into()),
        top_k: 5,
    };
    let found = store.search(query("pods crash")).await.unwrap();
    assert!(found.is_empty());
    assert_eq!(
        endpoint.requests().len(),
        3,
        "two throttled attempts, then success"
    );

    let err = store.search(query("always throttled")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::AgentCore(AgentCoreError::Throttled {
                operation: "RetrieveMemoryRecords",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(endpoint.requests().len(), 6, "three attempts in all");
    assert_eq!(err.error_type(), "agentcore_throttled");
}

#[tokio::test]
async fn access_denied_is_a_clear_error_and_memory_degrades_to_defaults() {
    let endpoint = Endpoint::start(|_, _| {
        Reply::error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/sre is not authorized",
        )
    })
    .await;
    let memory = Memory::new(Arc::new(endpoint.store()), MemorySettings::default());
    let err = memory
        .save_investigation(
            &user("alice"),
            &session("s-1"),
            &InvestigationSummary {
                investigation_id: "inv-1".into(),
                question: "q".into(),
                root_cause: "r".into(),
                impacted_services: vec![],
                severity: Severity::Low,
                actions: vec![],
                resolution: ResolutionStatus::Inconclusive,
                trace_id: None,
                occurred_at: Utc::now(),
            },
        )
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(MEMORY_ID)
            && message.contains("bedrock-agentcore:CreateEvent")
            && message.contains("not authorized"),
        "{message}"
    );
    assert_eq!(endpoint.requests().len(), 1, "access denied is not retried");

    let context = memory
        .retrieve_context(&user("alice"), &session("s-1"), "anything")
        .await;
    assert_eq!(context.failures.len(), 3);
    assert!(
        context
            .failures
            .iter()
            .all(|f| f.error_type == "agentcore_access_denied")
    );
    assert_eq!(context.preferences, UserPreferences::default());
    assert!(
        context
            .preferences_note
            .as_deref()
            .is_some_and(|n| n.contains("could not be read"))
    );
}

#[tokio::test]
async fn deletion_checks_ownership_and_batches_by_user() {
    let fact = RecordBody::Knowledge(KnowledgeRecord::dependency("a", "b", "k8s-agent", 0.5))
        .to_json()
        .unwrap();
    let endpoint = Endpoint::start(move |request, _| {
        let path = request.path.as_str();
        if request.method == Method::GET {
            let owner = if path.ends_with("/mem-bob") {
                "bob"
            } else {
                "alice"
            };
            return Reply::ok(json!({ "memoryRecord": {
                "memoryRecordId": path.rsplit('/').next().unwrap(),
                "content": { "text": "x" },
                "memoryStrategyId": "s",
                "namespaces": [format!("/sre/users/{owner}/preferences")],
                "createdAt": epoch(0),
            }}));
        }
        if request.method == Method::DELETE {
            return Reply::ok(json!({ "memoryRecordId": path.rsplit('/').next().unwrap() }));
        }
        if path.ends_with("/batchDelete") {
            let ok: Vec<Value> = request.body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| json!({ "memoryRecordId": r["memoryRecordId"], "status": "SUCCEEDED" }))
                .collect();
            return Reply::ok(json!({ "successfulRecords": ok, "failedRecords": [] }));
        }
        // ListMemoryRecords
        let ns = request.body["namespacePath"]
            .as_str()
            .or(request.body["namespace"].as_str())
            .unwrap_or_default();
        let records = if ns.starts_with("/sre/infrastructure/alice/") {
            vec![
                summary("mem-a1", "/sre/infrastructure/alice/s-1", &fact, 0, 0.0),
                summary("mem-a2", "/sre/infrastructure/alice/s-2", &fact, 0, 0.0),
            ]
        } else {
            vec![]
        };
        Reply::ok(json!({ "memoryRecordSummaries": records }))
    })
    .await;
    let store = endpoint.store();
    let bob_record = DeleteSelector::Record {
        id: RecordId::parse("mem-bob").unwrap(),
        user: Some(user("alice")),
    };
    assert_eq!(store.delete(bob_record).await.unwrap(), 0);
    let own = DeleteSelector::Record {
        id: RecordId::parse("mem-alice").unwrap(),
        user: Some(user("alice")),
    };
    assert_eq!(store.delete(own).await.unwrap(), 1);
    let all = DeleteSelector::User {
        user: user("alice"),
        strategy: Some(Strategy::InfrastructureKnowledge),
    };
    assert_eq!(store.delete(all).await.unwrap(), 2);

    let requests = endpoint.requests();
    let methods: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.rsplit('/').next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("GET".into(), "mem-bob".into()),
            ("GET".into(), "mem-alice".into()),
            ("DELETE".into(), "mem-alice".into()),
            ("POST".into(), "memoryRecords".into()),
            ("POST".into(), "batchDelete".into()),
        ],
        "no DELETE for bob's record"
    );
    assert_eq!(
        requests[2].query.as_deref(),
        Some("namespace=%2Fsre%2Fusers%2Falice%2Fpreferences")
    );
    let batch = &requests[4].body["records"];
    assert_eq!(batch[0]["memoryRecordId"], "mem-a1");
    assert_eq!(batch[0]["namespace"], "/sre/infrastructure/alice/s-1");
}
