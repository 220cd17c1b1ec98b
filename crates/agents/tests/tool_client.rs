//! The resilient tool client against a small MCP server on loopback: retries (one CLIENT span per attempt),
//! timeouts, one shared handshake for concurrent calls, the circuit breaker opening and recovering, the read-only result cache and its invalidation,
//! API-key and OAuth2 client-credentials authentication, and the tool catalog used when a backend is down.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::future::join_all;
use opentelemetry::trace::{SpanKind, TraceId};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::json;
use sre_agents::{
    error::ToolError,
    model::ToolSpec,
    tool_client::{
        BackendAuth, BackendEndpoint, BreakerConfig, BreakerState, CacheConfig, ClientCredentials,
        KnownTool, RetryPolicy, ToolClient, ToolClientConfig,
    },
};
use sre_telemetry::{convention::attr, testing};
use tokio_util::sync::CancellationToken;

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    text: String,
}

#[derive(Clone)]
struct TestServer {
    tool_calls: Arc<AtomicU32>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl TestServer {
    #[tool(description = "Returns its text", annotations(read_only_hint = true))]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        self.tool_calls.fetch_add(1, Ordering::SeqCst);
        args.text
    }

    #[tool(
        description = "Answers after two seconds",
        annotations(read_only_hint = true)
    )]
    async fn slow(&self) -> String {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "late".to_owned()
    }

    #[tool(description = "Changes state")]
    async fn mutate(&self) -> String {
        self.tool_calls.fetch_add(1, Ordering::SeqCst);
        "changed".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// What the HTTP layer in front of the MCP service does.
#[derive(Clone, Default)]
struct Gate {
    /// Answer this many requests with 503 before passing requests on.
    fail_next: Arc<AtomicU32>,
    /// Require this `X-API-Key`.
    api_key: Option<String>,
    /// Send this `WWW-Authenticate` challenge with a refusal, as the reference backends do.
    challenge: Option<&'static str>,
    /// Require `Authorization: Bearer` with the latest token issued by `/token`.
    tokens: Option<Arc<Mutex<Option<String>>>>,
    token_fetches: Arc<AtomicU32>,
    http_requests: Arc<AtomicU32>,
}

async fn check(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    gate.http_requests.fetch_add(1, Ordering::SeqCst);
    if gate
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    // Read the headers first: the request body is not Sync, so no borrow of it may live across the await.
    let (api_key, authorization) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (header("x-api-key"), header("authorization"))
    };
    if let Some(key) = &gate.api_key
        && api_key.as_deref() != Some(key)
    {
        return match gate.challenge {
            Some(challenge) => (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response(),
            None => StatusCode::UNAUTHORIZED.into_response(),
        };
    }
    if let Some(tokens) = &gate.tokens {
        let expected = tokens
            .lock()
            .expect("token lock")
            .clone()
            .map(|t| format!("Bearer {t}"));
        if expected.is_none() || authorization != expected {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    next.run(request).await
}

async fn issue_token(State(gate): State<Gate>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        // base64("client:secret")
        .is_some_and(|v| v == "Basic Y2xpZW50OnNlY3JldA==");
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}").into_response();
    }
    let n = gate.token_fetches.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("token-{n}");
    if let Some(tokens) = &gate.tokens {
        *tokens.lock().expect("token lock") = Some(token.clone());
    }
    axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 1}))
        .into_response()
}

struct Running {
    addr: SocketAddr,
    server: TestServer,
    gate: Gate,
    stop: CancellationToken,
}

impl Running {
    fn endpoint(&self) -> BackendEndpoint {
        BackendEndpoint::new("test-backend", format!("http://{}/mcp", self.addr))
    }
}

async fn start(gate: Gate, addr: Option<SocketAddr>) -> Running {
    let server = TestServer {
        tool_calls: Arc::new(AtomicU32::new(0)),
        tool_router: TestServer::tool_router(),
    };
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(stop.child_token());
    let mcp_server = server.clone();
    let service: StreamableHttpService<TestServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(mcp_server.clone()), Default::default(), config);
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(gate.clone(), check));
    let token = Router::new()
        .route("/token", post(issue_token))
        .with_state(gate.clone());
    let app = mcp.merge(token);
    let listener = tokio::net::TcpListener::bind(
        addr.unwrap_or_else(|| "127.0.0.1:0".parse().expect("address")),
    )
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
    });
    Running {
        addr,
        server,
        gate,
        stop,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("http client")
}

/// Defaults with short timeouts and backoffs, so failures are quick to provoke.
fn quick() -> ToolClientConfig {
    ToolClientConfig {
        call_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
        ..ToolClientConfig::default()
    }
}

/// A client of a `k8s-backend` at `addr` (a dead or silent address of these tests).
fn k8s_client_at(addr: SocketAddr, config: ToolClientConfig) -> ToolClient {
    ToolClient::new(
        BackendEndpoint::new("k8s-backend", format!("http://{addr}/mcp")),
        http(),
        config,
    )
}

async fn dead_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address")
}

/// A backend that accepts connections and never answers, like a hung or `SIGSTOP`ped process: the sockets are
/// held open until the returned task is aborted. Counts the connections it accepted.
async fn silent_backend() -> (SocketAddr, Arc<AtomicU32>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicU32::new(0));
    let count = accepted.clone();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted, holder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_to_a_silent_backend_share_one_handshake_and_fail_together() {
    let (addr, accepted, holder) = silent_backend().await;
    let connect_timeout = Duration::from_millis(300);
    let config = ToolClientConfig {
        connect_timeout,
        retry: RetryPolicy {
            max_attempts: 1,
            ..quick().retry
        },
        breaker: BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        },
        ..quick()
    };
    let client = k8s_client_at(addr, config);
    let calls = 6;
    let started = Instant::now();
    let results =
        join_all((0..calls).map(|i| client.call("echo", json!({"text": format!("call {i}")}))))
            .await;
    let took = started.elapsed();
    for result in &results {
        let error = result.as_ref().expect_err("nothing answers");
        assert_eq!(error.error_type(), "timeout", "{error}");
        assert!(error.to_string().contains("handshake"), "{error}");
    }
    // Handshakes one after another would take `calls` × connect_timeout; a shared one takes one, and the
    // rest of the bound is slack for a loaded machine.
    assert!(
        took < connect_timeout * 3,
        "{calls} concurrent calls took {took:?} with a {connect_timeout:?} handshake timeout"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the calls did not share one handshake"
    );
    // Every caller's attempt failed and counted towards the breaker, which now fails calls fast.
    assert_eq!(client.breaker_state(), BreakerState::Open);
    let started = Instant::now();
    let fast = client
        .call("echo", json!({"text": "again"}))
        .await
        .expect_err("breaker open");
    assert_eq!(fast.error_type(), "circuit_open", "{fast}");
    assert!(
        started.elapsed() < connect_timeout,
        "an open breaker fails fast"
    );
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_each_attempt_in_its_own_client_span() {
    let capture = testing::capture();
    let running = start(Gate::default(), None).await;
    let client = ToolClient::new(running.endpoint(), http(), quick());
    client.list_tools().await.expect("tools listed");

    running.gate.fail_next.store(2, Ordering::SeqCst);
    let tool_span = sre_telemetry::span::tool("echo", &serde_json::json!({}));
    let trace_id = sre_telemetry::span::trace_id(&tool_span).expect("recorded");
    let output = tracing::Instrument::instrument(
        client.call("echo", json!({"text": "hi"})),
        tool_span.clone(),
    )
    .await
    .expect("the third attempt succeeds");
    drop(tool_span);
    assert_eq!(output.text, "hi");
    assert_eq!(running.server.tool_calls.load(Ordering::SeqCst), 1);

    let spans = capture.trace(trace_id);
    let mut attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    attempts.sort_by_key(|s| testing::attribute(s, attr::RETRY_ATTEMPT));
    assert_eq!(attempts.len(), 3);
    for (i, span) in attempts.iter().enumerate() {
        assert_eq!(
            testing::attribute(span, attr::RETRY_ATTEMPT),
            Some((i + 1).to_string())
        );
        assert_eq!(span.name, "tools/call echo");
    }
    assert_eq!(
        testing::attribute(attempts[0], attr::ERROR_TYPE).as_deref(),
        Some("server_error")
    );
    assert_eq!(testing::attribute(attempts[2], attr::ERROR_TYPE), None);
    assert_ne!(trace_id, TraceId::INVALID);
    running.stop.cancel();
}

#[tokio::test]
async fn a_dead_backend_gives_up_after_the_retry_budget_and_opens_the_breaker() {
    let addr = dead_address().await;
    let config = ToolClientConfig {
        breaker: BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(60),
        },
        ..quick()
    };
    let client = k8s_client_at(addr, config);
    let error = client
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error, ToolError::GaveUp { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(error.error_type(), "connection_refused");
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
    assert_eq!(client.breaker_state(), BreakerState::Open);

    let started = Instant::now();
    let fast = client
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("breaker open");
    assert!(matches!(fast, ToolError::CircuitOpen { .. }), "{fast}");
    assert_eq!(fast.error_type(), "circuit_open");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "an open breaker fails fast"
    );
}

#[tokio::test]
async fn a_breaker_that_opens_mid_call_cuts_the_retries_and_says_so() {
    let addr = dead_address().await;
    let config = ToolClientConfig {
        breaker: BreakerConfig {
            failure_threshold: 1,
            cool_down: Duration::from_secs(60),
        },
        ..quick()
    };
    let client = k8s_client_at(addr, config);
    let error = client
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(
            error,
            ToolError::GaveUp {
                attempts: 1,
                breaker_opened: true,
                ..
            }
        ),
        "{error:?}"
    );
    // The cause is the refused connection, not the breaker that followed it.
    assert_eq!(error.error_type(), "connection_refused");
    let text = error.to_string();
    assert!(
        text.contains("after 1 attempt (the circuit breaker then opened and refused the retry)"),
        "{text}"
    );
}

#[tokio::test]
async fn the_breaker_half_opens_and_a_restarted_backend_is_picked_up() {
    let running = start(Gate::default(), None).await;
    let addr = running.addr;
    let config = ToolClientConfig {
        breaker: BreakerConfig {
            failure_threshold: 2,
            cool_down: Duration::from_millis(200),
        },
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..quick()
    };
    let client = ToolClient::new(running.endpoint(), http(), config);
    client.call("echo", json!({"text": "a"})).await.expect("up");

    running.stop.cancel();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Open, or already half-open when the loop is slow: either way it left Closed.
    while client.breaker_state() == BreakerState::Closed {
        assert!(Instant::now() < deadline, "the breaker never opened");
        let _ = client.call("mutate", json!({})).await;
    }
    let restarted = start(Gate::default(), Some(addr)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.call("echo", json!({"text": "back"})).await {
            Ok(output) => {
                assert_eq!(output.text, "back");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    restarted.stop.cancel();
}

#[tokio::test]
async fn slow_calls_time_out_per_attempt() {
    let running = start(Gate::default(), None).await;
    let config = ToolClientConfig {
        call_timeout: Duration::from_millis(100),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
        ..quick()
    };
    let client = ToolClient::new(running.endpoint(), http(), config);
    let error = client.call("slow", json!({})).await.expect_err("too slow");
    assert_eq!(error.error_type(), "timeout");
    assert!(
        matches!(error, ToolError::GaveUp { attempts: 2, .. }),
        "{error}"
    );
    running.stop.cancel();
}

#[tokio::test]
async fn read_only_results_are_cached_and_a_state_change_invalidates_them() {
    let running = start(Gate::default(), None).await;
    let client = ToolClient::new(
        running.endpoint(),
        http(),
        ToolClientConfig {
            cache: Some(CacheConfig::default()),
            ..quick()
        },
    );
    client
        .list_tools()
        .await
        .expect("tools listed: annotations tell which are read-only");
    let first = client
        .call("echo", json!({"text": "same"}))
        .await
        .expect("echo");
    let second = client
        .call("echo", json!({"text": "same"}))
        .await
        .expect("echo");
    assert!(!first.cached && second.cached);
    assert_eq!(
        running.server.tool_calls.load(Ordering::SeqCst),
        1,
        "the second answer came from the cache"
    );
    let other = client
        .call("echo", json!({"text": "other"}))
        .await
        .expect("echo");
    assert!(!other.cached, "different arguments, different entry");

    client.call("mutate", json!({})).await.expect("mutate");
    let after = client
        .call("echo", json!({"text": "same"}))
        .await
        .expect("echo");
    assert!(!after.cached, "a state-changing tool invalidated the cache");
    let stats = client.cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 3));
    running.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_sent_and_a_wrong_one_is_reported() {
    let capture = testing::capture();
    // A bare 401, and one with the challenge the reference backends send.
    for challenge in [None, Some(r#"ApiKey header="X-API-Key""#)] {
        let running = start(
            Gate {
                api_key: Some("s3cret".into()),
                challenge,
                ..Gate::default()
            },
            None,
        )
        .await;
        let good = ToolClient::new(
            running.endpoint(),
            http(),
            ToolClientConfig {
                auth: Some(BackendAuth::ApiKey("s3cret".into())),
                ..quick()
            },
        );
        assert_eq!(
            good.call("echo", json!({"text": "ok"}))
                .await
                .expect("authorized")
                .text,
            "ok"
        );
        let echo = ToolSpec {
            name: "echo".into(),
            description: "Returns its text".into(),
            input_schema: json!({"type": "object"}),
        };
        let bad = ToolClient::new(
            running.endpoint(),
            http(),
            ToolClientConfig {
                auth: Some(BackendAuth::ApiKey("wrong".into())),
                ..quick()
            },
        )
        .with_catalog(vec![KnownTool {
            spec: echo.clone(),
            read_only: true,
        }]);
        // The agent still gets tools to call, so the refusal shows up in its calls rather than as no calls.
        assert_eq!(
            bad.list_tools().await.expect("the known catalog"),
            vec![echo]
        );

        let requests_before = running.gate.http_requests.load(Ordering::SeqCst);
        let tool_span = sre_telemetry::span::tool("echo", &serde_json::json!({}));
        let trace_id = sre_telemetry::span::trace_id(&tool_span).expect("recorded");
        let error = tracing::Instrument::instrument(
            bad.call("echo", json!({"text": "no"})),
            tool_span.clone(),
        )
        .await
        .expect_err("refused");
        drop(tool_span);
        assert!(
            matches!(error, ToolError::Unauthorized { .. }),
            "not retried, so not wrapped in GaveUp: {error:?}"
        );
        assert_eq!(error.error_type(), "unauthorized", "{error}");
        assert_eq!(
            running.gate.http_requests.load(Ordering::SeqCst) - requests_before,
            1,
            "wrong credentials are not retried"
        );
        let text = error.to_string();
        assert!(
            text.starts_with("test-backend refused our credentials: HTTP 401 Unauthorized")
                && text.ends_with("; check the API key or token configured for this backend"),
            "{text}"
        );
        assert!(
            !text.contains("rmcp")
                && !text.contains("Transport")
                && !text.contains("Auth required"),
            "transport internals in the message: {text}"
        );
        if let Some(challenge) = challenge {
            assert!(text.contains(challenge), "the challenge is missing: {text}");
        }
        assert_eq!(
            bad.unavailable_line("echo", &error),
            Some(format!("test-backend: echo failed after 1 attempt: {text}"))
        );

        let attempts: Vec<_> = capture
            .trace(trace_id)
            .into_iter()
            .filter(|s| s.span_kind == SpanKind::Client)
            .collect();
        assert_eq!(attempts.len(), 1, "one attempt, one CLIENT span");
        assert_eq!(attempts[0].name, "tools/call echo");
        assert!(
            matches!(
                attempts[0].status,
                opentelemetry::trace::Status::Error { .. }
            ),
            "{:?}",
            attempts[0].status
        );
        assert_eq!(
            testing::attribute(&attempts[0], attr::ERROR_TYPE).as_deref(),
            Some("unauthorized")
        );
        running.stop.cancel();
    }
}

#[tokio::test]
async fn oauth_tokens_are_fetched_cached_and_refreshed_before_expiry() {
    let tokens = Arc::new(Mutex::new(None));
    let running = start(
        Gate {
            tokens: Some(tokens),
            ..Gate::default()
        },
        None,
    )
    .await;
    let credentials = |secret: &str| ClientCredentials {
        token_url: format!("http://{}/token", running.addr),
        client_id: "client".into(),
        client_secret: secret.into(),
        scope: Some("tools".into()),
    };
    let client = ToolClient::new(
        running.endpoint(),
        http(),
        ToolClientConfig {
            auth: Some(BackendAuth::ClientCredentials(credentials("secret"))),
            cache: None,
            ..quick()
        },
    );
    client
        .call("echo", json!({"text": "1"}))
        .await
        .expect("first token");
    client
        .call("echo", json!({"text": "2"}))
        .await
        .expect("cached token");
    assert_eq!(
        running.gate.token_fetches.load(Ordering::SeqCst),
        1,
        "the token is reused"
    );

    // Tokens live one second and are refreshed a fifth of their life early.
    tokio::time::sleep(Duration::from_millis(900)).await;
    client
        .call("echo", json!({"text": "3"}))
        .await
        .expect("refreshed token");
    assert_eq!(
        running.gate.token_fetches.load(Ordering::SeqCst),
        2,
        "refreshed before expiry"
    );

    let wrong = ToolClient::new(
        running.endpoint(),
        http(),
        ToolClientConfig {
            auth: Some(BackendAuth::ClientCredentials(credentials("nope"))),
            ..quick()
        },
    );
    let error = wrong
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("bad client secret");
    assert_eq!(error.error_type(), "unauthorized");
    assert!(error.to_string().contains("invalid_client"), "{error}");
    running.stop.cancel();
}

#[tokio::test]
async fn a_down_backend_still_offers_its_known_tools() {
    let addr = dead_address().await;
    let spec = ToolSpec {
        name: "echo".into(),
        description: "Returns its text".into(),
        input_schema: json!({"type": "object"}),
    };
    let client = k8s_client_at(addr, quick()).with_catalog(vec![KnownTool {
        spec: spec.clone(),
        read_only: true,
    }]);
    assert_eq!(client.list_tools().await.expect("catalog"), vec![spec]);
    let error = client
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("still down");
    assert_eq!(error.error_type(), "connection_refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_never_answers_times_out_within_the_connect_budget() {
    let (token_addr, _accepted, holder) = silent_backend().await;
    let running = start(Gate::default(), None).await;
    let connect_timeout = Duration::from_millis(300);
    let client = ToolClient::new(
        running.endpoint(),
        http(),
        ToolClientConfig {
            auth: Some(BackendAuth::ClientCredentials(ClientCredentials {
                token_url: format!("http://{token_addr}/token"),
                client_id: "client".into(),
                client_secret: "secret".into(),
                scope: None,
            })),
            connect_timeout,
            retry: RetryPolicy {
                max_attempts: 1,
                ..quick().retry
            },
            cache: None,
            ..quick()
        },
    );
    let started = Instant::now();
    let error = client
        .call("echo", json!({"text": "x"}))
        .await
        .expect_err("no token, no call");
    assert_eq!(error.error_type(), "timeout", "{error}");
    assert!(
        error.to_string().contains("OAuth2 token request"),
        "{error}"
    );
    assert!(
        started.elapsed() < connect_timeout * 10,
        "took {:?}",
        started.elapsed()
    );
    holder.abort();
    running.stop.cancel();
}
