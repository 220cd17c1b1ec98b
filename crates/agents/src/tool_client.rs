//! The MCP tool client: one pooled connection per backend, shared by every agent and investigation, made
//! resilient — a per-call timeout, retries with exponential backoff and jitter (each attempt its own
//! `tools/call` CLIENT span with `retry.attempt`), a circuit breaker, a TTL cache of read-only results, and
//! API-key, bearer or OAuth2 client-credentials authentication. Trace context travels in `params._meta` and
//! in the HTTP headers.

pub mod breaker;
pub mod cache;
pub mod http;
pub mod oauth;
pub mod retry;

use std::{
    collections::HashSet,
    error::Error as StdError,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock},
    time::{Duration, Instant},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ClientConfig, ErrorCode, RequestParamsMeta, Tool},
    service::{ClientInitializeError, RunningService, ServiceError},
    transport::streamable_http_client::{
        StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;
use sre_telemetry::{
    TraceCarrier,
    convention::attr,
    metric::{self, MetricId, dim},
    span,
};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error::{RejectKind, ToolError, attempts_text};
use crate::model::ToolSpec;

pub use self::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use self::cache::{CacheConfig, CacheStats, ResultCache};
pub use self::http::{AuthHeaders, TracingHttpClient};
pub use self::oauth::{ClientCredentials, TokenSource};
pub use self::retry::RetryPolicy;

/// Where a backend lives and what it is called on the service map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendEndpoint {
    /// Remote service name (`k8s-backend`), used for `peer.service` / `aws.remote.service`.
    pub service: String,
    /// Streamable HTTP endpoint, e.g. `http://127.0.0.1:8011/mcp`.
    pub url: String,
}

impl BackendEndpoint {
    pub fn new(service: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            url: url.into(),
        }
    }

    /// `host:port` of the URL, for `server.address`.
    pub fn address(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// How the client authenticates to a backend.
#[derive(Debug, Clone)]
pub enum BackendAuth {
    /// `X-API-Key: <key>`, as the reference backends expect.
    ApiKey(String),
    /// `Authorization: Bearer <token>` with a fixed token.
    Bearer(String),
    /// `Authorization: Bearer <token>` with tokens from an OAuth2 client-credentials grant.
    ClientCredentials(ClientCredentials),
}

/// Timeouts and resilience settings of the tool client.
#[derive(Debug, Clone)]
pub struct ToolClientConfig {
    /// Longest wait for one attempt of a `tools/call`.
    pub call_timeout: Duration,
    /// Longest wait for the MCP `initialize` handshake. Concurrent calls share one handshake, so an
    /// attempt waits at most this long to connect, then at most `call_timeout` for its answer.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
    /// `None` disables the result cache.
    pub cache: Option<CacheConfig>,
    pub auth: Option<BackendAuth>,
}

impl Default for ToolClientConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            cache: Some(CacheConfig::default()),
            auth: None,
        }
    }
}

/// A tool's answer. `is_error` answers are still answers: the model reads them and may correct itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
    /// Served from the cache, without calling the backend.
    pub cached: bool,
}

/// A tool known without asking the backend, so an agent can still try (and fail visibly) when the backend
/// is down at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownTool {
    pub spec: ToolSpec,
    /// The tool only reads state, so its results may be cached.
    pub read_only: bool,
}

impl KnownTool {
    /// The tool as an MCP server describes it (its `tools/list` entry); `read_only` is the server's
    /// `readOnlyHint` annotation, absent meaning "may change state".
    pub fn from_mcp(tool: &Tool) -> Self {
        Self {
            spec: tool_spec(tool),
            read_only: is_read_only(tool),
        }
    }
}

type Connection = RunningService<RoleClient, ClientConfig>;

/// A handshake in flight; every caller that needs the connection meanwhile awaits this same one.
type PendingConnection = Shared<BoxFuture<'static, Result<Arc<Connection>, ToolError>>>;

/// The backend's connection: not open, being opened (only the handshake's task or, if it panicked, its first
/// waiter moves the slot on), or open.
enum Slot {
    Idle,
    Opening(PendingConnection),
    Open(Arc<Connection>),
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Idle => f.write_str("Idle"),
            Slot::Opening(_) => f.write_str("Opening"),
            Slot::Open(_) => f.write_str("Open"),
        }
    }
}

/// A lazily connected, resilient MCP client for one backend. Cheap to share behind an `Arc`; calls run
/// concurrently.
#[derive(Debug)]
pub struct ToolClient {
    endpoint: BackendEndpoint,
    http: TracingHttpClient,
    auth_headers: Arc<RwLock<AuthHeaders>>,
    tokens: Option<TokenSource>,
    config: ToolClientConfig,
    /// Never held across an `.await`: a handshake runs in a task of its own and settles the slot itself.
    connection: Arc<Mutex<Slot>>,
    breaker: CircuitBreaker,
    cache: Option<ResultCache>,
    read_only: RwLock<HashSet<String>>,
    catalog: Vec<KnownTool>,
    /// The latest failure of the backend itself (cleared by a success), so a call the open breaker refuses
    /// can still say why the backend is failing.
    last_failure: RwLock<Option<ToolError>>,
}

impl ToolClient {
    /// A client for `endpoint`; the connection opens on first use and reopens after it is lost.
    pub fn new(endpoint: BackendEndpoint, http: reqwest::Client, config: ToolClientConfig) -> Self {
        let mut headers = AuthHeaders::default();
        let tokens = match &config.auth {
            Some(BackendAuth::ApiKey(key)) => {
                headers.api_key = Some(key.clone());
                None
            }
            Some(BackendAuth::Bearer(token)) => {
                headers.bearer = Some(token.clone());
                None
            }
            Some(BackendAuth::ClientCredentials(credentials)) => {
                Some(TokenSource::new(credentials.clone(), http.clone()))
            }
            None => None,
        };
        let auth_headers = Arc::new(RwLock::new(headers));
        Self {
            endpoint,
            http: TracingHttpClient::new(http, auth_headers.clone()),
            auth_headers,
            tokens,
            breaker: CircuitBreaker::new(config.breaker),
            cache: config.cache.map(ResultCache::new),
            config,
            connection: Arc::new(Mutex::new(Slot::Idle)),
            read_only: RwLock::new(HashSet::new()),
            catalog: Vec::new(),
            last_failure: RwLock::new(None),
        }
    }

    /// Tools to offer when the backend cannot list its own (it is down or refuses our credentials): calls to
    /// them then fail visibly, with retries and breaker, instead of the agent silently having nothing to call.
    pub fn with_catalog(mut self, catalog: Vec<KnownTool>) -> Self {
        if let Ok(mut read_only) = self.read_only.write() {
            read_only.extend(
                catalog
                    .iter()
                    .filter(|t| t.read_only)
                    .map(|t| t.spec.name.clone()),
            );
        }
        self.catalog = catalog;
        self
    }

    /// The backend this client talks to.
    pub fn endpoint(&self) -> &BackendEndpoint {
        &self.endpoint
    }

    /// The circuit breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Cache hits and misses so far (zero when the cache is off).
    pub fn cache_stats(&self) -> CacheStats {
        self.cache
            .as_ref()
            .map(ResultCache::stats)
            .unwrap_or_default()
    }

    /// The backend's latest own failure (unreachable, timeout, server error) since its last success, if any.
    pub fn last_failure(&self) -> Option<ToolError> {
        self.last_failure.read().ok().and_then(|last| last.clone())
    }

    /// The line for a report's "could not be checked" list when a call of `tool` failed with `error` because
    /// the backend could not be used (down, too slow, failing, refusing our credentials, its breaker open):
    /// the backend, the tool, the attempts made and the error; for a call the open breaker refused, also the
    /// failure that opened it. `None` for a bad request, which the model corrects instead.
    pub fn unavailable_line(&self, tool: &str, error: &ToolError) -> Option<String> {
        let backend = &self.endpoint.service;
        match error {
            ToolError::GaveUp {
                attempts,
                breaker_opened,
                last,
                ..
            } if backend_unusable(last) => Some(format!(
                "{backend}: {tool} failed after {}: {last}",
                attempts_text(*attempts, *breaker_opened)
            )),
            ToolError::CircuitOpen { .. } => {
                let cause = self
                    .last_failure()
                    .map(|last| format!("; last failure: {last}"))
                    .unwrap_or_default();
                Some(format!("{backend}: {tool} was not sent: {error}{cause}"))
            }
            // Without a retry wrapper the call made exactly one attempt.
            _ if backend_unusable(error) => {
                Some(format!("{backend}: {tool} failed after 1 attempt: {error}"))
            }
            _ => None,
        }
    }

    /// Forgets cached results, e.g. after something outside the client changed the backend's state.
    pub fn invalidate_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// The backend's tools (`tools/list`), or the catalog when the backend cannot be used (down, too slow,
    /// failing, refusing our credentials): calls to them then fail visibly, each attempt traced and counted,
    /// and the report says why, instead of the agent silently having nothing to call.
    pub async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        match self.list_live().await {
            Ok(tools) => Ok(tools),
            Err(e) if !self.catalog.is_empty() && backend_unusable(&e) => {
                if e.is_backend_failure() {
                    self.note_failure(Some(&e));
                }
                tracing::warn!(backend = %self.endpoint.service, "cannot list tools ({e}); offering the known catalog");
                Ok(self.catalog.iter().map(|t| t.spec.clone()).collect())
            }
            Err(e) => Err(e),
        }
    }

    async fn list_live(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let connection = self.connection().await?;
        let tools = tokio::time::timeout(self.config.call_timeout, connection.list_all_tools())
            .await
            .map_err(|_| ToolError::Timeout {
                backend: self.endpoint.service.clone(),
                tool: "tools/list".into(),
                after: self.config.call_timeout,
            })?
            .map_err(|e| self.classify("tools/list", e))?;
        if let Ok(mut read_only) = self.read_only.write() {
            for tool in &tools {
                if is_read_only(tool) {
                    read_only.insert(tool.name.to_string());
                } else {
                    read_only.remove(tool.name.as_ref());
                }
            }
        }
        Ok(tools.iter().map(tool_spec).collect())
    }

    /// Calls `tool` with `arguments` (a JSON object): from the cache when the tool is read-only and a fresh
    /// result exists, else with up to `retry.max_attempts` attempts, each a `tools/call {tool}` CLIENT span.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<ToolOutput, ToolError> {
        let read_only = self.is_read_only(tool);
        let cache = self.cache.as_ref().filter(|_| read_only);
        let key = cache.map(|_| ResultCache::key(tool, &arguments));
        if let (Some(cache), Some(key)) = (cache, key.as_deref()) {
            let hit = cache.get(key);
            tracing::Span::current().set_attribute(attr::TOOL_CACHE_HIT, hit.is_some());
            let counter = if hit.is_some() {
                MetricId::CacheHits
            } else {
                MetricId::CacheMisses
            };
            metric::record(counter, 1.0, &[(dim::CACHE, "tool")]);
            if let Some(mut output) = hit {
                output.cached = true;
                return Ok(output);
            }
        }
        let output = self.call_with_retries(tool, arguments).await?;
        match (cache, key) {
            (Some(cache), Some(key)) if !output.is_error => cache.put(key, output.clone()),
            // A tool that may change state makes every cached answer of this backend suspect.
            _ if !read_only => self.invalidate_cache(),
            _ => {}
        }
        Ok(output)
    }

    fn is_read_only(&self, tool: &str) -> bool {
        self.read_only.read().is_ok_and(|set| set.contains(tool))
    }

    async fn call_with_retries(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolOutput, ToolError> {
        let max = self.config.retry.max_attempts.max(1);
        let mut attempt = 1;
        // The failure of the previous attempt of this call, if any.
        let mut previous: Option<ToolError> = None;
        loop {
            let client_span = span::mcp_client(
                tool,
                &self.endpoint.service,
                self.endpoint.address(),
                attempt,
            );
            client_span.set_attribute(attr::CIRCUIT_BREAKER_STATE, self.breaker.state().as_str());
            let permit = match self.breaker.acquire() {
                Ok(permit) => permit,
                Err(retry_in) => {
                    let open = ToolError::CircuitOpen {
                        backend: self.endpoint.service.clone(),
                        // Whole milliseconds: the wait is for people to read, not nanosecond-exact.
                        retry_in: Duration::from_millis(
                            u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                        ),
                    };
                    span::record_error(&client_span, open.error_type(), &open.to_string());
                    self.record_attempt_metrics(tool, Duration::ZERO, Some(open.error_type()));
                    // A retry cut short by the breaker ends the call with the failure that caused it: the
                    // open breaker is on the attempt's span, the real cause belongs to the caller.
                    return Err(match previous {
                        Some(last) => ToolError::GaveUp {
                            backend: self.endpoint.service.clone(),
                            tool: tool.to_owned(),
                            attempts: attempt - 1,
                            breaker_opened: true,
                            last: Box::new(last),
                        },
                        None => open,
                    });
                }
            };
            let started = Instant::now();
            let cancelled = span::CancelGuard::new(&client_span);
            let result = self
                .attempt(tool, &arguments)
                .instrument(client_span.clone())
                .await;
            cancelled.finished();
            match result {
                Ok(output) => {
                    permit.success();
                    self.note_failure(None);
                    let error_type = output.is_error.then_some("tool_error");
                    if let Some(error_type) = error_type {
                        client_span.record(attr::ERROR_TYPE, error_type);
                    }
                    self.record_attempt_metrics(tool, started.elapsed(), error_type);
                    return Ok(output);
                }
                Err(error) => {
                    span::record_error(&client_span, error.error_type(), &error.to_string());
                    if error.is_backend_failure() {
                        permit.failure();
                        self.note_failure(Some(&error));
                    } else {
                        permit.neutral();
                    }
                    self.record_attempt_metrics(tool, started.elapsed(), Some(error.error_type()));
                    if !error.is_retryable() || attempt >= max {
                        return Err(self.give_up(tool, attempt, error));
                    }
                    previous = Some(error);
                }
            }
            drop(client_span);
            attempt += 1;
            tokio::time::sleep(self.config.retry.delay_before(attempt)).await;
        }
    }

    /// `McpCallDuration` of one attempt (none for an attempt the open breaker refused), `McpCallErrors` when
    /// it failed, and the backend's `CircuitBreakerState` after it.
    fn record_attempt_metrics(&self, tool: &str, took: Duration, error_type: Option<&str>) {
        let backend = self.endpoint.service.as_str();
        if error_type != Some("circuit_open") {
            metric::record(
                MetricId::McpCallDuration,
                took.as_secs_f64() * 1000.0,
                &[(dim::TOOL_NAME, tool), (dim::BACKEND, backend)],
            );
        }
        if let Some(error_type) = error_type {
            metric::record(
                MetricId::McpCallErrors,
                1.0,
                &[(dim::BACKEND, backend), (dim::ERROR_TYPE, error_type)],
            );
        }
        metric::record(
            MetricId::CircuitBreakerState,
            self.breaker.state().gauge(),
            &[(dim::BACKEND, backend)],
        );
    }

    /// Records the backend's latest own failure, or clears it after a success.
    fn note_failure(&self, failure: Option<&ToolError>) {
        // A healthy backend has nothing to clear: skip the write lock on the success path.
        if failure.is_none() && self.last_failure.read().is_ok_and(|last| last.is_none()) {
            return;
        }
        if let Ok(mut last) = self.last_failure.write() {
            *last = failure.cloned();
        }
    }

    /// The final error: the failure itself after one attempt (or none), else wrapped with the attempt count.
    fn give_up(&self, tool: &str, attempts: u32, last: ToolError) -> ToolError {
        if attempts <= 1 {
            return last;
        }
        ToolError::GaveUp {
            backend: self.endpoint.service.clone(),
            tool: tool.to_owned(),
            attempts,
            breaker_opened: false,
            last: Box::new(last),
        }
    }

    async fn attempt(&self, tool: &str, arguments: &Value) -> Result<ToolOutput, ToolError> {
        let Value::Object(arguments) = arguments else {
            return Err(ToolError::Rejected {
                backend: self.endpoint.service.clone(),
                tool: tool.to_owned(),
                kind: RejectKind::InvalidParams,
                message: format!("arguments must be a JSON object, got {arguments}"),
            });
        };
        self.refresh_token().await?;
        let connection = self.connection().await?;
        let mut params =
            CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments.clone());
        let carrier = TraceCarrier::current();
        if let Some(tp) = &carrier.traceparent {
            params.set_traceparent(tp);
        }
        if let Some(ts) = &carrier.tracestate {
            params.set_tracestate(ts);
        }
        if let Some(bag) = &carrier.baggage {
            params.set_baggage(bag);
        }
        let answer =
            tokio::time::timeout(self.config.call_timeout, connection.call_tool(params)).await;
        let result = match answer {
            Err(_) => {
                return Err(ToolError::Timeout {
                    backend: self.endpoint.service.clone(),
                    tool: tool.to_owned(),
                    after: self.config.call_timeout,
                });
            }
            Ok(Err(e)) => {
                let error = self.classify(tool, e);
                if error.is_retryable() {
                    // The next attempt reconnects: a restarted backend is picked up without a restart of ours.
                    self.forget(&connection);
                }
                return Err(error);
            }
            Ok(Ok(result)) => result,
        };
        let text = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(ToolOutput {
            text,
            is_error: result.is_error.unwrap_or(false),
            cached: false,
        })
    }

    /// Makes sure the bearer header carries a valid OAuth token (no-op without client credentials).
    async fn refresh_token(&self) -> Result<(), ToolError> {
        let Some(tokens) = &self.tokens else {
            return Ok(());
        };
        // A token endpoint that never answers must not stall the attempt: it gets the connect budget.
        let token = match tokio::time::timeout(self.config.connect_timeout, tokens.token()).await {
            Err(_) => {
                return Err(ToolError::Timeout {
                    backend: self.endpoint.service.clone(),
                    tool: "the OAuth2 token request".to_owned(),
                    after: self.config.connect_timeout,
                });
            }
            Ok(token) => token.map_err(|message| ToolError::Unauthorized {
                backend: self.endpoint.service.clone(),
                message,
            })?,
        };
        if let Ok(mut headers) = self.auth_headers.write() {
            headers.bearer = Some(token);
        }
        Ok(())
    }

    /// The open connection, or the outcome of the handshake in flight (started here when there is none).
    /// Concurrent callers share one handshake, so each waits at most `connect_timeout` however many queue.
    async fn connection(&self) -> Result<Arc<Connection>, ToolError> {
        if let Some(conn) = self.open_connection() {
            return Ok(conn);
        }
        self.refresh_token().await?;
        let pending = {
            let mut slot = self.lock_slot();
            match &*slot {
                Slot::Open(conn) if !conn.is_closed() => return Ok(conn.clone()),
                Slot::Opening(pending) => pending.clone(),
                Slot::Idle | Slot::Open(_) => {
                    let pending = self.handshake();
                    *slot = Slot::Opening(pending.clone());
                    pending
                }
            }
        };
        pending.await
    }

    fn open_connection(&self) -> Option<Arc<Connection>> {
        match &*self.lock_slot() {
            Slot::Open(conn) if !conn.is_closed() => Some(conn.clone()),
            _ => None,
        }
    }

    fn lock_slot(&self) -> MutexGuard<'_, Slot> {
        lock(&self.connection)
    }

    /// Starts a handshake in a task of its own, bounded by `connect_timeout`. The task settles the slot (open
    /// on success, idle on failure) before its result is seen, also when every caller waiting for it has gone.
    fn handshake(&self) -> PendingConnection {
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(self.endpoint.url.clone()),
        );
        let endpoint = self.endpoint.clone();
        let connect_timeout = self.config.connect_timeout;
        let slot = self.connection.clone();
        // The connection outlives the call that opens it, and rmcp's service task captures the current span:
        // open it in a task of its own so no investigation's spans are held open by the connection.
        let task = tokio::spawn(async move {
            let result = match tokio::time::timeout(
                connect_timeout,
                ClientConfig::default().serve(transport),
            )
            .await
            {
                Err(_) => Err(ToolError::Timeout {
                    backend: endpoint.service.clone(),
                    tool: format!("the MCP handshake at {}", endpoint.url),
                    after: connect_timeout,
                }),
                Ok(Err(e)) => Err(handshake_error(&endpoint, &e)),
                Ok(Ok(conn)) => Ok(Arc::new(conn)),
            };
            settle(&slot, result.as_ref().ok().cloned());
            result
        });
        let endpoint = self.endpoint.clone();
        let slot = self.connection.clone();
        async move {
            task.await.unwrap_or_else(|e| {
                // The task panicked before it settled the slot: free it for the next caller.
                settle(&slot, None);
                Err(ToolError::Unreachable {
                    backend: endpoint.service,
                    url: endpoint.url,
                    message: format!("the connection task failed: {e}"),
                })
            })
        }
        .boxed()
        .shared()
    }

    fn forget(&self, lost: &Arc<Connection>) {
        let mut slot = self.lock_slot();
        if matches!(&*slot, Slot::Open(conn) if Arc::ptr_eq(conn, lost)) {
            *slot = Slot::Idle;
        }
    }

    fn classify(&self, tool: &str, error: ServiceError) -> ToolError {
        let backend = self.endpoint.service.clone();
        match error {
            ServiceError::McpError(data) => {
                let kind = match data.code {
                    ErrorCode::METHOD_NOT_FOUND => RejectKind::NotFound,
                    ErrorCode::INVALID_PARAMS if data.message.contains("not found") => {
                        RejectKind::NotFound
                    }
                    ErrorCode::INVALID_PARAMS => RejectKind::InvalidParams,
                    ErrorCode::INTERNAL_ERROR => RejectKind::ServerError,
                    _ => RejectKind::Protocol,
                };
                ToolError::Rejected {
                    backend,
                    tool: tool.to_owned(),
                    kind,
                    message: data.message.into_owned(),
                }
            }
            ServiceError::Timeout { timeout } => ToolError::Timeout {
                backend,
                tool: tool.to_owned(),
                after: timeout,
            },
            other => {
                if let Some(message) = http::refused_credentials(&other) {
                    return ToolError::Unauthorized { backend, message };
                }
                let message = root_cause(&other);
                match http_status(&message) {
                    Some(status) => ToolError::Rejected {
                        backend,
                        tool: tool.to_owned(),
                        kind: if status >= 500 {
                            RejectKind::ServerError
                        } else {
                            RejectKind::Protocol
                        },
                        message,
                    },
                    None => ToolError::Unreachable {
                        backend,
                        url: self.endpoint.url.clone(),
                        message: transport_cause(&message),
                    },
                }
            }
        }
    }
}

/// Ends the handshake in flight: the slot holds its `connection`, or nothing after a failure.
fn settle(slot: &Mutex<Slot>, connection: Option<Arc<Connection>>) {
    let mut slot = lock(slot);
    if matches!(*slot, Slot::Opening(_)) {
        *slot = connection.map_or(Slot::Idle, Slot::Open);
    }
}

/// The connection slot, also after a panic elsewhere: every write replaces it whole, so it is never torn.
fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why the MCP handshake with `endpoint` failed.
fn handshake_error(endpoint: &BackendEndpoint, error: &ClientInitializeError) -> ToolError {
    match http::refused_credentials(error) {
        Some(message) => ToolError::Unauthorized {
            backend: endpoint.service.clone(),
            message,
        },
        None => ToolError::Unreachable {
            backend: endpoint.service.clone(),
            url: endpoint.url.clone(),
            message: transport_cause(&root_cause(error)),
        },
    }
}

/// True when `error` is the backend's fault rather than the request's.
fn backend_unusable(error: &ToolError) -> bool {
    match error {
        ToolError::GaveUp { last, .. } => backend_unusable(last),
        ToolError::CircuitOpen { .. } | ToolError::Unauthorized { .. } => true,
        other => other.is_backend_failure(),
    }
}

/// The model's view of an MCP tool: name, description and input schema.
fn tool_spec(tool: &Tool) -> ToolSpec {
    ToolSpec {
        name: tool.name.to_string(),
        description: tool.description.as_deref().unwrap_or_default().to_owned(),
        input_schema: Value::Object((*tool.input_schema).clone()),
    }
}

/// True when the server marks the tool read-only (`readOnlyHint`).
fn is_read_only(tool: &Tool) -> bool {
    tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)
}

/// The innermost message of an error chain ("Connection refused (os error 111)").
fn root_cause(error: &dyn StdError) -> String {
    let mut current: &dyn StdError = error;
    let mut message = current.to_string();
    while let Some(source) = current.source() {
        current = source;
        let text = current.to_string();
        if !text.is_empty() {
            message = text;
        }
    }
    message
}

/// The part of a transport error a person can act on. rmcp wraps the socket error in layers naming its
/// worker types ("Send message error Transport [rmcp::…] error: Client error: … tcp connect error: Connection
/// refused (os error 111), when send initialize request"); the innermost `: `-separated part without the
/// trailing context is the cause ("Connection refused (os error 111)"). The whole text goes to the debug log.
fn transport_cause(message: &str) -> String {
    let without_context = message
        .rfind(", when ")
        .map_or(message, |at| &message[..at]);
    let cause = without_context
        .rsplit(": ")
        .next()
        .map(str::trim)
        .filter(|cause| !cause.is_empty())
        .unwrap_or(without_context);
    if cause.len() < message.len() {
        tracing::debug!(error = message, "transport error");
    }
    cause.to_owned()
}

/// An HTTP status mentioned in a transport error message, if any ("HTTP 503", "status 503 ...").
fn http_status(message: &str) -> Option<u16> {
    let lower = message.to_ascii_lowercase();
    ["http ", "status"].iter().find_map(|marker| {
        let idx = lower.find(marker)?;
        lower[idx + marker.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|n| !n.is_empty())
            .and_then(|n| n.parse::<u16>().ok())
            .filter(|s| (100..600).contains(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_address_is_host_and_port() {
        let e = BackendEndpoint::new("k8s-backend", "http://127.0.0.1:8011/mcp");
        assert_eq!(e.address(), "127.0.0.1:8011");
    }

    #[test]
    fn a_known_tool_keeps_the_mcp_description_and_read_only_hint() {
        let mut schema = serde_json::Map::new();
        schema.insert("type".into(), Value::String("object".into()));
        let reader = Tool::new("get_pod_status", "Pods", schema.clone())
            .annotate(rmcp::model::ToolAnnotations::new().read_only(true));
        let known = KnownTool::from_mcp(&reader);
        assert_eq!(
            known,
            KnownTool {
                spec: ToolSpec {
                    name: "get_pod_status".into(),
                    description: "Pods".into(),
                    input_schema: serde_json::json!({"type": "object"}),
                },
                read_only: true,
            }
        );
        let writer = Tool::new_with_raw("restart_pod", None, schema);
        let known = KnownTool::from_mcp(&writer);
        assert!(!known.read_only, "no annotation means it may change state");
        assert_eq!(known.spec.description, "");
    }

    fn k8s_client() -> ToolClient {
        ToolClient::new(
            BackendEndpoint::new("k8s-backend", "http://127.0.0.1:1/mcp"),
            reqwest::Client::new(),
            ToolClientConfig::default(),
        )
    }

    fn refused() -> ToolError {
        ToolError::Unreachable {
            backend: "k8s-backend".into(),
            url: "http://127.0.0.1:1/mcp".into(),
            message: "Connection refused (os error 111)".into(),
        }
    }

    #[test]
    fn an_unusable_backend_is_named_with_tool_attempts_and_error() {
        let client = k8s_client();
        let gave_up = ToolError::GaveUp {
            backend: "k8s-backend".into(),
            tool: "get_pod_status".into(),
            attempts: 3,
            breaker_opened: false,
            last: Box::new(refused()),
        };
        assert_eq!(
            client
                .unavailable_line("get_pod_status", &gave_up)
                .as_deref(),
            Some(
                "k8s-backend: get_pod_status failed after 3 attempts: k8s-backend at \
                 http://127.0.0.1:1/mcp is unreachable: Connection refused (os error 111)"
            )
        );
        assert_eq!(
            client
                .unavailable_line("get_node_status", &refused())
                .as_deref(),
            Some(
                "k8s-backend: get_node_status failed after 1 attempt: k8s-backend at \
                 http://127.0.0.1:1/mcp is unreachable: Connection refused (os error 111)"
            )
        );
        let cut_short = ToolError::GaveUp {
            backend: "k8s-backend".into(),
            tool: "get_pod_status".into(),
            attempts: 1,
            breaker_opened: true,
            last: Box::new(refused()),
        };
        assert_eq!(
            client
                .unavailable_line("get_pod_status", &cut_short)
                .as_deref(),
            Some(
                "k8s-backend: get_pod_status failed after 1 attempt (the circuit breaker then opened and \
                 refused the retry): k8s-backend at http://127.0.0.1:1/mcp is unreachable: Connection \
                 refused (os error 111)"
            )
        );
        let open = ToolError::CircuitOpen {
            backend: "k8s-backend".into(),
            retry_in: Duration::from_millis(29_500),
        };
        assert_eq!(
            client
                .unavailable_line("get_cluster_events", &open)
                .as_deref(),
            Some(
                "k8s-backend: get_cluster_events was not sent: k8s-backend is failing: its circuit \
                 breaker is open (next probe in 29.5s)"
            )
        );
        client.note_failure(Some(&refused()));
        let line = client
            .unavailable_line("get_cluster_events", &open)
            .unwrap_or_default();
        assert!(
            line.ends_with(
                "; last failure: k8s-backend at http://127.0.0.1:1/mcp is unreachable: \
                            Connection refused (os error 111)"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_bad_request_is_not_unavailable_data() {
        let client = k8s_client();
        let invalid = ToolError::Rejected {
            backend: "k8s-backend".into(),
            tool: "get_pod_status".into(),
            kind: RejectKind::InvalidParams,
            message: "unknown field `pod`".into(),
        };
        assert_eq!(client.unavailable_line("get_pod_status", &invalid), None);
        let unknown = ToolError::UnknownTool {
            tool: "get_pods".into(),
        };
        assert_eq!(client.unavailable_line("get_pods", &unknown), None);
    }

    #[test]
    fn transport_errors_are_cut_to_their_cause() {
        let rmcp = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::transport::\
                    streamable_http_client::StreamableHttpClientWorker<sre_agents::tool_client::http::\
                    TracingHttpClient>>] error: Client error: error sending request for url \
                    (http://127.0.0.1:18311/mcp): client error (Connect): tcp connect error: Connection refused \
                    (os error 111), when send initialize request";
        assert_eq!(transport_cause(rmcp), "Connection refused (os error 111)");
        assert_eq!(
            transport_cause("Transport channel closed"),
            "Transport channel closed"
        );
        assert_eq!(
            transport_cause("no MCP handshake within 5s"),
            "no MCP handshake within 5s"
        );
        assert_eq!(transport_cause("broken: "), "broken: ");
    }

    #[test]
    fn status_is_read_from_transport_messages() {
        assert_eq!(
            http_status("HTTP status 503 Service Unavailable"),
            Some(503)
        );
        assert_eq!(http_status("Transport error: HTTP 502"), Some(502));
        assert_eq!(http_status("connection refused"), None);
    }
}
