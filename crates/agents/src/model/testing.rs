//! Local fake provider endpoints for tests (feature `test-util`): an HTTP server on 127.0.0.1 per wire format
//! — [`FakeBedrock`] (Converse REST-JSON, SigV4 `authorization` required), [`FakeAnthropic`] (Messages API)
//! and [`FakeOpenAi`] (chat completions) — that answers from a [`FakeScript`], records every request, and can
//! throttle, fail with a 5xx or send a malformed body.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sre_agents::model::testing::{FakeBedrock, FakeReply};
//! let fake = FakeBedrock::start(vec![
//!     FakeReply::throttled(Some(1)),
//!     FakeReply::text(r#"{"summary": "no data", "findings": []}"#),
//! ])
//! .await?;
//! // Point AWS_ENDPOINT_URL_BEDROCK_RUNTIME at fake.url(), with static credentials.
//! assert_eq!(fake.requests().len(), 0);
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod bedrock;
mod openai;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use tokio::task::JoinHandle;

pub use self::{anthropic::FakeAnthropic, bedrock::FakeBedrock, openai::FakeOpenAi};
use super::{TokenUsage, ToolCall};

/// One scripted answer of a fake endpoint, rendered in the endpoint's wire format.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeReply {
    /// A final text answer (`end_turn` / `stop`).
    Text { text: String, usage: TokenUsage },
    /// Tool calls, optionally after some text (`tool_use` / `tool_calls`). Empty ids are filled in; arguments
    /// that are a JSON string are sent as that raw text where the format carries text (OpenAI).
    ToolCalls {
        text: Option<String>,
        calls: Vec<ToolCall>,
        usage: TokenUsage,
    },
    /// HTTP 429 in the format's throttling shape, with `Retry-After: <seconds>` when given.
    Throttled { retry_after_secs: Option<u64> },
    /// A 5xx (500, 502, 503, 529, ...) in the format's error shape.
    ServerError { status: u16 },
    /// HTTP 200 with a body that is not a reply of the format.
    Malformed { body: String },
    /// Exactly this response.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

impl FakeReply {
    /// Usage reported when a reply does not set its own: 10 input and 5 output tokens.
    pub fn default_usage() -> TokenUsage {
        TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            ..TokenUsage::default()
        }
    }

    /// A final text answer.
    pub fn text(text: impl Into<String>) -> Self {
        FakeReply::Text {
            text: text.into(),
            usage: Self::default_usage(),
        }
    }

    /// One tool call.
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::tool_calls([(name.into(), arguments)])
    }

    /// Several tool calls in one reply.
    pub fn tool_calls(calls: impl IntoIterator<Item = (String, Value)>) -> Self {
        FakeReply::ToolCalls {
            text: None,
            calls: calls
                .into_iter()
                .map(|(name, arguments)| ToolCall {
                    id: String::new(),
                    name,
                    arguments,
                })
                .collect(),
            usage: Self::default_usage(),
        }
    }

    /// HTTP 429, with `Retry-After` in seconds when given.
    pub fn throttled(retry_after_secs: Option<u64>) -> Self {
        FakeReply::Throttled { retry_after_secs }
    }

    /// A server error with `status`.
    pub fn server_error(status: u16) -> Self {
        FakeReply::ServerError { status }
    }

    /// HTTP 200 with `body`.
    pub fn malformed(body: impl Into<String>) -> Self {
        FakeReply::Malformed { body: body.into() }
    }

    /// The same reply reporting `usage` (for `Text` and `ToolCalls`).
    pub fn with_usage(mut self, new: TokenUsage) -> Self {
        match &mut self {
            FakeReply::Text { usage, .. } | FakeReply::ToolCalls { usage, .. } => *usage = new,
            _ => {}
        }
        self
    }
}

type ReplyFn = dyn Fn(&RecordedRequest, usize) -> FakeReply + Send + Sync;

/// Where a fake's answers come from: a fixed sequence, or a function of the request and its index (for
/// concurrent callers, e.g. the agents of an investigation).
pub struct FakeScript(ScriptKind);

enum ScriptKind {
    Sequence(Mutex<VecDeque<FakeReply>>),
    Function(Box<ReplyFn>),
}

impl FakeScript {
    /// Answers in this order; once they are used up every request gets a 500 saying so.
    pub fn sequence(replies: impl IntoIterator<Item = FakeReply>) -> Self {
        FakeScript(ScriptKind::Sequence(Mutex::new(
            replies.into_iter().collect(),
        )))
    }

    /// Answers with `reply(request, index)`; `index` counts requests from 0.
    pub fn from_fn(
        reply: impl Fn(&RecordedRequest, usize) -> FakeReply + Send + Sync + 'static,
    ) -> Self {
        FakeScript(ScriptKind::Function(Box::new(reply)))
    }

    fn next(&self, request: &RecordedRequest, index: usize) -> FakeReply {
        match &self.0 {
            ScriptKind::Sequence(queue) => queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front()
                .unwrap_or_else(|| FakeReply::Raw {
                    status: 500,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: format!(
                        r#"{{"message": "fake script exhausted: request {} has no scripted reply"}}"#,
                        index + 1
                    ),
                }),
            ScriptKind::Function(reply) => reply(request, index),
        }
    }
}

impl std::fmt::Debug for FakeScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ScriptKind::Sequence(q) => f
                .debug_tuple("FakeScript::Sequence")
                .field(&q.lock().map(|q| q.len()).unwrap_or(0))
                .finish(),
            ScriptKind::Function(_) => f.write_str("FakeScript::Function"),
        }
    }
}

impl From<Vec<FakeReply>> for FakeScript {
    fn from(replies: Vec<FakeReply>) -> Self {
        FakeScript::sequence(replies)
    }
}

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent (percent-encoding kept).
    pub path: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub received_at: Instant,
}

impl RecordedRequest {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A running fake endpoint. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeServer {
    url: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// The URL to configure the provider with (endpoint or base URL, per format).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until at least `count` requests arrived, at most `within`; true if they did.
    pub async fn wait_for_requests(&self, count: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.requests().len() >= count {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What differs between wire formats.
trait Wire: Send + Sync + 'static {
    /// Refuses a request the real service would refuse (wrong path, no credentials, not JSON).
    fn check(&self, request: &RecordedRequest) -> Option<Response>;
    /// Renders a scripted reply; `index` numbers the request (for ids).
    fn render(&self, reply: FakeReply, request: &RecordedRequest, index: usize) -> Response;
}

struct Shared {
    wire: Box<dyn Wire>,
    script: FakeScript,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

/// Binds 127.0.0.1 on an ephemeral port and serves `wire` answers from `script`; `path` is appended to the
/// address to form [`FakeServer::url`].
async fn start(wire: impl Wire, script: FakeScript, path: &str) -> std::io::Result<FakeServer> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        wire: Box::new(wire),
        script,
        requests: requests.clone(),
    });
    let router = Router::new().fallback(handle).with_state(shared);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!("fake provider endpoint stopped: {e}");
        }
    });
    Ok(FakeServer {
        url: format!("http://{addr}{path}"),
        requests,
        task,
    })
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        received_at: Instant::now(),
    };
    let index = {
        let mut all = shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        all.push(request.clone());
        all.len() - 1
    };
    if let Some(refusal) = shared.wire.check(&request) {
        return refusal;
    }
    let reply = shared.script.next(&request, index);
    if let FakeReply::Raw {
        status,
        headers,
        body,
    } = reply
    {
        return respond(status, &headers, body);
    }
    shared.wire.render(reply, &request, index)
}

/// A response with `status`, `headers` and `body`; invalid header names or values are skipped.
fn respond(status: u16, headers: &[(String, String)], body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    (status, map, body).into_response()
}

/// `application/json` plus `extra`.
fn json_headers(extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    headers
}

/// `Retry-After` when given.
fn retry_after_header(retry_after_secs: Option<u64>) -> Vec<(&'static str, String)> {
    retry_after_secs
        .map(|s| vec![("retry-after", s.to_string())])
        .unwrap_or_default()
}

/// Ids for tool calls the script left without one.
fn call_ids(calls: &[ToolCall], prefix: &str, index: usize) -> Vec<String> {
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.id.is_empty() {
                format!("{prefix}{index}_{i}")
            } else {
                c.id.clone()
            }
        })
        .collect()
}
