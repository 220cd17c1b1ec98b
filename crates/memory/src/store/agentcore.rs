//! The AWS store: Amazon Bedrock AgentCore Memory through `aws-sdk-bedrockagentcore`.
//!
//! - Writes are `CreateEvent`s: actor = user id, session = session id (`preferences` for preference writes), the
//!   record's JSON as one conversational message, and a fresh UUID as client token (the SDK's retries of one
//!   call are stored once). The returned id is the event id. The memory's strategies turn events into long-term records asynchronously; configure them with the
//!   namespace templates `/sre/users/{actorId}/preferences`, `/sre/infrastructure/{actorId}/{sessionId}` and
//!   `/sre/investigations/{actorId}/{sessionId}`.
//! - Reads are `RetrieveMemoryRecords` (semantic search with `top_k`): `namespace` for one namespace,
//!   `namespacePath` for every session of a user (`/sre/infrastructure/{user}/`).
//! - Listings are `ListMemoryRecords`; deletions `DeleteMemoryRecord` / `BatchDeleteMemoryRecords`.
//!
//! Isolation does not rest on the service alone: every returned record's namespace is parsed and dropped unless
//! it belongs to the requested user (and strategy). Records older than the retention period are dropped too
//! (the service expires events by the memory's own event-expiry setting). Throttling is retried by the SDK's
//! retry policy (standard mode, from the `SdkConfig`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockagentcore::{
    Client,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    types::{
        Content, Conversational, MemoryContent, MemoryRecordDeleteInput, MemoryRecordSummary,
        PayloadType, Role, SearchCriteria,
    },
};
use chrono::{DateTime, Utc};

use crate::{
    AgentCoreError, Namespace, OpenError, RecordId, SessionId, StoreError, Strategy,
    store::{
        Backend, DeleteSelector, ListFilter, MAX_TOP_K, MemoryStore, NewRecord, Scope, SearchQuery,
        StoredRecord, clamp_limit, clamp_top_k,
    },
};

/// Session id of preference events (preferences are not tied to an investigation session).
pub const PREFERENCES_SESSION: &str = "preferences";
/// Longest search query sent (the rest of a long question adds little to a semantic search).
pub const MAX_SEARCH_QUERY_CHARS: usize = 1000;
/// Most pages one listing follows.
const MAX_PAGES: usize = 200;

/// Which AgentCore memory to use and how long its records count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCoreSettings {
    /// The memory resource id (`sre_agent_memory-AbCdEf1234`).
    pub memory_id: String,
    /// Records older than this are ignored.
    pub retention: Duration,
}

/// The AgentCore Memory store.
#[derive(Debug, Clone)]
pub struct AgentCoreStore {
    client: Client,
    memory_id: String,
    retention: chrono::Duration,
}

impl AgentCoreStore {
    /// A store using `client` (built from an `SdkConfig` with region, credentials and retry policy).
    pub fn new(client: Client, settings: AgentCoreSettings) -> Result<Self, OpenError> {
        let memory_id = settings.memory_id.trim().to_owned();
        if memory_id.is_empty()
            || memory_id.len() > 256
            || !memory_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(OpenError::Config(format!(
                "AgentCore memory id {:?} is not valid; use the id shown by `aws bedrock-agentcore-control list-memories`",
                settings.memory_id
            )));
        }
        let retention = chrono::Duration::from_std(settings.retention).map_err(|_| {
            OpenError::Config(format!("retention {:?} is too long", settings.retention))
        })?;
        Ok(Self {
            client,
            memory_id,
            retention,
        })
    }

    /// A store with a client built from `sdk_config`.
    pub fn from_sdk_config(
        sdk_config: &aws_config::SdkConfig,
        settings: AgentCoreSettings,
    ) -> Result<Self, OpenError> {
        Self::new(Client::new(sdk_config), settings)
    }

    /// The memory id.
    pub fn memory_id(&self) -> &str {
        &self.memory_id
    }

    fn cutoff(&self) -> DateTime<Utc> {
        Utc::now() - self.retention
    }

    fn error<E>(&self, operation: &'static str, err: SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        StoreError::AgentCore(classify(operation, &self.memory_id, err))
    }

    fn malformed(&self, operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::AgentCore(AgentCoreError::MalformedResponse {
            operation,
            memory_id: self.memory_id.clone(),
            message: message.into(),
        })
    }

    /// Keeps the summaries whose namespace satisfies `belongs`, that are within retention and carry text.
    fn accept(
        &self,
        summaries: &[MemoryRecordSummary],
        belongs: impl Fn(&Namespace) -> bool,
    ) -> Vec<StoredRecord> {
        let cutoff = self.cutoff();
        summaries
            .iter()
            .filter_map(|summary| {
                let namespace = summary
                    .namespaces()
                    .iter()
                    .filter_map(|ns| Namespace::parse(ns))
                    .find(|ns| belongs(ns));
                let Some(namespace) = namespace else {
                    tracing::warn!(
                        memory_id = %self.memory_id,
                        record = summary.memory_record_id(),
                        namespaces = ?summary.namespaces(),
                        "dropped an AgentCore record outside the requested namespaces"
                    );
                    return None;
                };
                let id = RecordId::parse(summary.memory_record_id()).ok()?;
                let created_at = summary
                    .timestamp()
                    .unwrap_or(summary.created_at())
                    .to_millis()
                    .ok()
                    .and_then(DateTime::from_timestamp_millis)?;
                // Preferences are configuration, not history: they do not expire.
                if created_at < cutoff && namespace.strategy() != Strategy::UserPreferences {
                    return None;
                }
                let content = match summary.content() {
                    Some(MemoryContent::Text(text)) => text.clone(),
                    _ => return None,
                };
                Some(StoredRecord {
                    id,
                    namespace,
                    created_at,
                    score: summary.score(),
                    content,
                })
            })
            .collect()
    }

    async fn list_path(
        &self,
        strategy: Strategy,
        path: String,
        exact: bool,
        limit: usize,
        belongs: impl Fn(&Namespace) -> bool,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut records = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page_size = (limit - records.len().min(limit)).clamp(1, MAX_TOP_K);
            let mut request = self
                .client
                .list_memory_records()
                .memory_id(&self.memory_id)
                .max_results(i32::try_from(page_size).unwrap_or(1))
                .set_next_token(next_token.take());
            request = if exact {
                request.namespace(&path)
            } else {
                request.namespace_path(&path)
            };
            let page = request
                .send()
                .await
                .map_err(|e| self.error("ListMemoryRecords", e))?;
            records.extend(self.accept(page.memory_record_summaries(), |ns| {
                ns.strategy() == strategy && belongs(ns)
            }));
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() || records.len() >= limit {
                break;
            }
        }
        Ok(records)
    }
}

#[async_trait]
impl MemoryStore for AgentCoreStore {
    fn backend(&self) -> Backend {
        Backend::AgentCore
    }

    async fn put(&self, records: Vec<NewRecord>) -> Result<Vec<RecordId>, StoreError> {
        let mut ids = Vec::with_capacity(records.len());
        for record in records {
            let ns = &record.namespace;
            let session = ns.session().map_or(PREFERENCES_SESSION, SessionId::as_str);
            let message = Conversational::builder()
                .content(Content::Text(record.content))
                .role(Role::Assistant)
                .build()
                .map_err(|e| self.malformed("CreateEvent", e.to_string()))?;
            let output = self
                .client
                .create_event()
                .memory_id(&self.memory_id)
                .actor_id(ns.user().as_str())
                .session_id(session)
                .event_timestamp(aws_smithy_types::DateTime::from_millis(
                    record.created_at.timestamp_millis(),
                ))
                .payload(PayloadType::Conversational(message))
                .client_token(RecordId::generate().as_str())
                .send()
                .await
                .map_err(|e| self.error("CreateEvent", e))?;
            let event_id = output
                .event()
                .map(|e| e.event_id())
                .ok_or_else(|| self.malformed("CreateEvent", "the response has no event"))?;
            let id = RecordId::parse(event_id).map_err(|e| {
                self.malformed("CreateEvent", format!("event id {event_id:?}: {e}"))
            })?;
            ids.push(id);
        }
        Ok(ids)
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<StoredRecord>, StoreError> {
        let top_k = clamp_top_k(query.top_k);
        let scope = &query.scope;
        let text = query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let search_query: String = text
            .unwrap_or_else(|| default_query(scope.strategy))
            .chars()
            .take(MAX_SEARCH_QUERY_CHARS)
            .collect();
        let criteria = SearchCriteria::builder()
            .search_query(search_query)
            .top_k(i32::try_from(top_k).unwrap_or(1))
            .build()
            .map_err(|e| self.malformed("RetrieveMemoryRecords", e.to_string()))?;
        let mut request = self
            .client
            .retrieve_memory_records()
            .memory_id(&self.memory_id)
            .search_criteria(criteria)
            .max_results(i32::try_from(top_k).unwrap_or(1));
        request = if exact_scope(scope) {
            request.namespace(scope.path())
        } else {
            request.namespace_path(scope.path())
        };
        let output = request
            .send()
            .await
            .map_err(|e| self.error("RetrieveMemoryRecords", e))?;
        let mut records = self.accept(output.memory_record_summaries(), |ns| scope.contains(ns));
        if text.is_none() {
            records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        }
        records.truncate(top_k);
        Ok(records)
    }

    async fn list(&self, filter: ListFilter) -> Result<Vec<StoredRecord>, StoreError> {
        let limit = clamp_limit(filter.limit);
        let strategies: Vec<Strategy> = match filter.strategy {
            Some(s) => vec![s],
            None => Strategy::ALL.to_vec(),
        };
        let mut records = Vec::new();
        for strategy in strategies {
            let found = match &filter.user {
                Some(user) => {
                    let scope = Scope::user(strategy, user.clone());
                    self.list_path(strategy, scope.path(), exact_scope(&scope), limit, |ns| {
                        scope.contains(ns)
                    })
                    .await?
                }
                None => {
                    self.list_path(
                        strategy,
                        strategy.root_prefix().to_owned(),
                        false,
                        limit,
                        |_| true,
                    )
                    .await?
                }
            };
            records.extend(found);
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        records.truncate(limit);
        Ok(records)
    }

    async fn delete(&self, selector: DeleteSelector) -> Result<usize, StoreError> {
        match selector {
            DeleteSelector::Record { id, user } => {
                let mut namespace = None;
                if let Some(user) = &user {
                    let found = self
                        .client
                        .get_memory_record()
                        .memory_id(&self.memory_id)
                        .memory_record_id(id.as_str())
                        .send()
                        .await;
                    let record = match found {
                        Ok(out) => out.memory_record,
                        Err(e) => match self.error("GetMemoryRecord", e) {
                            StoreError::AgentCore(AgentCoreError::NotFound { .. }) => return Ok(0),
                            other => return Err(other),
                        },
                    };
                    let owned = record.as_ref().and_then(|r| {
                        r.namespaces()
                            .iter()
                            .find(|ns| Namespace::parse(ns).is_some_and(|n| n.user() == user))
                            .cloned()
                    });
                    match owned {
                        Some(ns) => namespace = Some(ns),
                        None => return Ok(0),
                    }
                }
                let deleted = self
                    .client
                    .delete_memory_record()
                    .memory_id(&self.memory_id)
                    .memory_record_id(id.as_str())
                    .set_namespace(namespace)
                    .send()
                    .await;
                match deleted {
                    Ok(_) => Ok(1),
                    Err(e) => match self.error("DeleteMemoryRecord", e) {
                        StoreError::AgentCore(AgentCoreError::NotFound { .. }) => Ok(0),
                        other => Err(other),
                    },
                }
            }
            DeleteSelector::User { user, strategy } => {
                let records = self
                    .list(ListFilter {
                        strategy,
                        user: Some(user),
                        limit: crate::store::MAX_LIST_LIMIT,
                    })
                    .await?;
                let mut deleted = 0;
                for chunk in records.chunks(MAX_TOP_K) {
                    let mut request = self
                        .client
                        .batch_delete_memory_records()
                        .memory_id(&self.memory_id);
                    for record in chunk {
                        let input = MemoryRecordDeleteInput::builder()
                            .memory_record_id(record.id.as_str())
                            .namespace(record.namespace.to_string())
                            .build()
                            .map_err(|e| {
                                self.malformed("BatchDeleteMemoryRecords", e.to_string())
                            })?;
                        request = request.records(input);
                    }
                    let output = request
                        .send()
                        .await
                        .map_err(|e| self.error("BatchDeleteMemoryRecords", e))?;
                    deleted += output.successful_records().len();
                    if let Some(failed) = output.failed_records().first() {
                        return Err(StoreError::AgentCore(AgentCoreError::Service {
                            operation: "BatchDeleteMemoryRecords",
                            memory_id: self.memory_id.clone(),
                            code: "PartialFailure".into(),
                            message: format!(
                                "deleted {deleted} records; {} failed, first {}: {}",
                                output.failed_records().len(),
                                failed.memory_record_id(),
                                failed.error_message().unwrap_or("no message")
                            ),
                        }));
                    }
                }
                Ok(deleted)
            }
        }
    }
}

/// True when the scope is one namespace (preferences, or one session) rather than a prefix.
fn exact_scope(scope: &Scope) -> bool {
    !scope.strategy.is_session_scoped() || scope.session().is_some()
}

/// What to search for when the caller gives no text (the service needs a query).
fn default_query(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::UserPreferences => {
            "user preferences: communication style, report format, escalation, notifications"
        }
        Strategy::InfrastructureKnowledge => {
            "infrastructure knowledge: dependencies, patterns, configuration, baselines"
        }
        Strategy::InvestigationHistory => "past investigations: root cause, impact, resolution",
    }
}

fn classify<E>(operation: &'static str, memory_id: &str, err: SdkError<E>) -> AgentCoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let memory_id = memory_id.to_owned();
    match &err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("Unknown").to_owned();
            let message = err.message().unwrap_or("no message").to_owned();
            match code.as_str() {
                "AccessDeniedException" | "UnauthorizedException" => AgentCoreError::AccessDenied {
                    operation,
                    memory_id,
                    message,
                },
                "ThrottledException"
                | "ThrottlingException"
                | "ServiceQuotaExceededException"
                | "RetryableConflictException" => AgentCoreError::Throttled {
                    operation,
                    memory_id,
                    message,
                },
                "ResourceNotFoundException" => AgentCoreError::NotFound {
                    operation,
                    memory_id,
                    message,
                },
                "ValidationException" | "InvalidInputException" => AgentCoreError::InvalidRequest {
                    operation,
                    memory_id,
                    code,
                    message,
                },
                _ => AgentCoreError::Service {
                    operation,
                    memory_id,
                    code,
                    message,
                },
            }
        }
        SdkError::ConstructionFailure(_) => AgentCoreError::InvalidRequest {
            operation,
            memory_id,
            code: "ConstructionFailure".into(),
            message: DisplayErrorContext(&err).to_string(),
        },
        SdkError::ResponseError(_) => AgentCoreError::MalformedResponse {
            operation,
            memory_id,
            message: DisplayErrorContext(&err).to_string(),
        },
        _ => AgentCoreError::Transport {
            operation,
            memory_id,
            message: DisplayErrorContext(&err).to_string(),
        },
    }
}
