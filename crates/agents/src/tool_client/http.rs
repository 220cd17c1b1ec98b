//! The HTTP client under the MCP transport: rmcp's reqwest client plus the W3C trace headers copied from
//! each request's `params._meta` (so proxies and servers that only read headers see the same trace) and the
//! backend's current credentials; and what its failures mean when the backend refuses those credentials.

use std::{
    borrow::Cow,
    collections::HashMap,
    error::Error as StdError,
    fmt,
    sync::{Arc, RwLock},
};

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::{
    model::{ClientJsonRpcMessage, ClientRequest},
    service::{ClientInitializeError, ServiceError},
    transport::{
        DynamicTransportError,
        streamable_http_client::{
            StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
        },
    },
};
use sre_telemetry::TraceCarrier;

/// A transport failure with its whole cause chain in its message ("error sending request: client error
/// (Connect): tcp connect error: Connection refused (os error 111)"). rmcp keeps only the message of a client
/// error, so the cause must be in it for the failure to be classified and reported usefully.
#[derive(Debug)]
pub struct ClientError(reqwest::Error);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// Re-types the reqwest client's errors as [`ClientError`]s; every other variant carries over unchanged.
fn convert(error: StreamableHttpError<reqwest::Error>) -> StreamableHttpError<ClientError> {
    use StreamableHttpError as E;
    match error {
        E::Client(inner) => E::Client(ClientError(inner)),
        E::Sse(e) => E::Sse(e),
        E::Io(e) => E::Io(e),
        E::HttpStatus(e) => E::HttpStatus(e),
        E::UnexpectedEndOfStream => E::UnexpectedEndOfStream,
        E::UnexpectedServerResponse(e) => E::UnexpectedServerResponse(e),
        E::ResponseBodyTooLarge { max_size } => E::ResponseBodyTooLarge { max_size },
        E::UnexpectedContentType(e) => E::UnexpectedContentType(e),
        E::ServerDoesNotSupportSse => E::ServerDoesNotSupportSse,
        E::ServerDoesNotSupportDeleteSession => E::ServerDoesNotSupportDeleteSession,
        E::TokioJoinError(e) => E::TokioJoinError(e),
        E::Deserialize(e) => E::Deserialize(e),
        E::TransportChannelClosed => E::TransportChannelClosed,
        E::MissingSessionIdInResponse => E::MissingSessionIdInResponse,
        E::AuthRequired(e) => E::AuthRequired(e),
        E::InsufficientScope(e) => E::InsufficientScope(e),
        E::ReservedHeaderConflict(e) => E::ReservedHeaderConflict(e),
        E::SessionExpired => E::SessionExpired,
        E::SessionRecoveryTimeout => E::SessionRecoveryTimeout,
        E::ReinitializationFailed(e) => E::ReinitializationFailed(e),
        E::ControlRequestTimeout => E::ControlRequestTimeout,
        // A variant added by a later rmcp: keep its message.
        other => E::UnexpectedServerResponse(Cow::Owned(other.to_string())),
    }
}

/// Why the backend refused our credentials, when that is what `error` (an rmcp client error, at any depth)
/// comes down to: its HTTP status and challenge or message, and what to check (`HTTP 401 Unauthorized
/// (WWW-Authenticate: ApiKey header="X-API-Key"); check the API key or token configured for this backend`).
/// `None` for every other failure.
pub fn refused_credentials(error: &(dyn StdError + 'static)) -> Option<String> {
    let refusal = match transport_failure(error)? {
        StreamableHttpError::AuthRequired(e) => format!(
            "HTTP 401 Unauthorized (WWW-Authenticate: {})",
            e.www_authenticate_header
        ),
        StreamableHttpError::InsufficientScope(e) => format!(
            "HTTP 403 Forbidden, insufficient scope (WWW-Authenticate: {})",
            e.www_authenticate_header
        ),
        // A 401 or 403 without a challenge: rmcp keeps the status line and the body.
        StreamableHttpError::UnexpectedServerResponse(text)
            if text.starts_with("HTTP 401") || text.starts_with("HTTP 403") =>
        {
            let (status, body) = text.split_once(": ").unwrap_or((text, ""));
            match body_message(body) {
                Some(message) => format!("{status}: {message}"),
                None => status.to_owned(),
            }
        }
        StreamableHttpError::Client(ClientError(e)) => match e.status() {
            Some(status) if status == 401 || status == 403 => format!("HTTP {status}"),
            _ => return None,
        },
        _ => return None,
    };
    Some(format!(
        "{refusal}; check the API key or token configured for this backend"
    ))
}

/// The HTTP transport's own failure inside an rmcp error. rmcp wraps it without exposing it as a `source`
/// (the handshake's `ClientInitializeError`, a call's `ServiceError`), so those layers are unwrapped by type.
fn transport_failure<'a>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a StreamableHttpError<ClientError>> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(failure) = error.downcast_ref::<StreamableHttpError<ClientError>>() {
            return Some(failure);
        }
        current = if let Some(init) = error.downcast_ref::<ClientInitializeError>() {
            match init {
                ClientInitializeError::TransportError { error, .. } => Some(error),
                ClientInitializeError::LegacyFallbackFailed { fallback, .. } => {
                    Some(fallback.as_ref())
                }
                other => other.source(),
            }
        } else if let Some(ServiceError::TransportSend(error)) =
            error.downcast_ref::<ServiceError>()
        {
            Some(error)
        } else if let Some(error) = error.downcast_ref::<DynamicTransportError>() {
            Some(error.error.as_ref())
        } else {
            error.source()
        };
    }
    None
}

/// The `error.message` of a JSON-RPC error body, else the body itself (cut short); `None` when empty.
fn body_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| sre_telemetry::redact::truncate_chars(body, 200));
    Some(message)
}

/// Header carrying an API key, as the reference backends expect.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Credentials sent with every request; the tool client updates the bearer token when it refreshes.
#[derive(Debug, Clone, Default)]
pub struct AuthHeaders {
    pub api_key: Option<String>,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
}

type SseStream = BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>;

/// A pooled reqwest client that adds trace context and credentials to every MCP request.
#[derive(Clone, Debug)]
pub struct TracingHttpClient {
    inner: reqwest::Client,
    auth: Arc<RwLock<AuthHeaders>>,
}

impl TracingHttpClient {
    /// Wraps a reqwest client (build it with `tcp_nodelay(true)` to avoid delayed-ACK stalls on loopback).
    pub fn new(inner: reqwest::Client, auth: Arc<RwLock<AuthHeaders>>) -> Self {
        Self { inner, auth }
    }

    /// The bearer token to use (ours when set, else whatever the transport was configured with), and the
    /// API key header added to `headers`.
    fn credentials(
        &self,
        auth_header: Option<String>,
        headers: &mut HashMap<HeaderName, HeaderValue>,
    ) -> Option<String> {
        let Ok(auth) = self.auth.read() else {
            return auth_header;
        };
        if let Some(key) = auth
            .api_key
            .as_deref()
            .and_then(|k| HeaderValue::from_str(k).ok())
        {
            headers.insert(HeaderName::from_static(API_KEY_HEADER), key);
        }
        auth.bearer.clone().or(auth_header)
    }
}

fn add_trace_headers(
    message: &ClientJsonRpcMessage,
    headers: &mut HashMap<HeaderName, HeaderValue>,
) {
    let ClientJsonRpcMessage::Request(request) = message else {
        return;
    };
    let ClientRequest::CallToolRequest(call) = &request.request else {
        return;
    };
    let Some(meta) = call.params.meta.as_ref() else {
        return;
    };
    // Every format OTEL_PROPAGATORS names (W3C trace context and baggage, and X-Amzn-Trace-Id with `xray`),
    // for proxies, gateways and load balancers between us and the backend; the backend itself reads `_meta`.
    let carrier = TraceCarrier::from_parts(
        meta.get_traceparent(),
        meta.get_tracestate(),
        meta.get_baggage(),
    );
    for (name, value) in carrier.propagation_headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
}

impl StreamableHttpClient for TracingHttpClient {
    type Error = ClientError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        add_trace_headers(&message, &mut custom_headers);
        let auth_header = self.credentials(auth_header, &mut custom_headers);
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
            .map_err(convert)
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        add_trace_headers(&message, &mut custom_headers);
        let auth_header = self.credentials(auth_header, &mut custom_headers);
        self.inner
            .post_message_with_max_sse_event_size(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
            .map_err(convert)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        let auth_header = self.credentials(auth_header, &mut custom_headers);
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
            .map_err(convert)
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<SseStream, StreamableHttpError<Self::Error>> {
        let auth_header = self.credentials(auth_header, &mut custom_headers);
        self.inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
            .map_err(convert)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<SseStream, StreamableHttpError<Self::Error>> {
        let auth_header = self.credentials(auth_header, &mut custom_headers);
        self.inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
            .map_err(convert)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{
        CallToolRequestParams, JsonRpcRequest, Request, RequestId, RequestParamsMeta,
    };
    use sre_telemetry::{config::Propagator, pipeline::propagator};

    #[test]
    fn a_refusal_body_is_read_for_its_message() {
        let jsonrpc = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"unauthorized: the API key in the X-API-Key header is not valid"}}"#;
        assert_eq!(
            body_message(jsonrpc).as_deref(),
            Some("unauthorized: the API key in the X-API-Key header is not valid")
        );
        assert_eq!(body_message(" denied \n").as_deref(), Some("denied"));
        assert_eq!(body_message("  "), None);
    }

    #[test]
    fn a_tool_call_carries_its_trace_in_every_configured_header_format() {
        opentelemetry::global::set_text_map_propagator(propagator(&[
            Propagator::TraceContext,
            Propagator::Baggage,
            Propagator::Xray,
        ]));
        let traceparent = "00-6b01357ef0d58debe69bcc7be896f611-1f2e3d4c5b6a7980-01";
        // Built as the tool client builds it: W3C values in the request's `_meta`.
        let mut params = CallToolRequestParams::new("get_pod_status");
        params.set_traceparent(traceparent);
        params.set_baggage("user.id=Alice");
        let message = ClientJsonRpcMessage::Request(JsonRpcRequest::new(
            RequestId::Number(7),
            ClientRequest::CallToolRequest(Request::new(params)),
        ));
        let mut headers = HashMap::new();
        add_trace_headers(&message, &mut headers);
        let header = |name: &str| {
            headers
                .get(&HeaderName::from_bytes(name.as_bytes()).expect("a header name"))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("traceparent").as_deref(), Some(traceparent));
        assert_eq!(header("baggage").as_deref(), Some("user.id=Alice"));
        assert_eq!(
            header("x-amzn-trace-id").as_deref(),
            Some("Root=1-6b01357e-f0d58debe69bcc7be896f611;Parent=1f2e3d4c5b6a7980;Sampled=1")
        );
    }
}
