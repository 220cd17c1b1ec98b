//! The HTTP client under the MCP transport: rmcp's reqwest client plus the W3C trace headers copied from
//! each request's `params._meta` (so proxies and servers that only read headers see the same trace) and the
//! backend's current credentials.

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
    transport::streamable_http_client::{
        StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
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
