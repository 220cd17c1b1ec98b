//! The HTTP gate in front of every backend's MCP service: it checks the credential ([`Auth`]), caps the request
//! body, and answers a body that is not a JSON-RPC message with a JSON-RPC error (parse error, invalid request)
//! instead of passing it on. Each refusal ends that one request; the server keeps serving.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderValue, Method, StatusCode, header};
use rmcp::model::{CallToolRequestParams, ClientJsonRpcMessage, InitializeRequestParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::Auth;
use crate::domain::Domain;

/// JSON-RPC: the body is not JSON.
pub(super) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the JSON is not a valid request object.
pub(super) const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: a method's params have the wrong shape.
pub(super) const INVALID_PARAMS: i64 = -32602;
/// Server-defined JSON-RPC code for a refused credential.
pub(super) const UNAUTHORIZED: i64 = -32001;

const TOOLS_CALL: &str = "tools/call";
const INITIALIZE: &str = "initialize";

/// What the gate of one backend enforces.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) domain: Domain,
    pub(super) auth: Option<Auth>,
    pub(super) max_body_bytes: usize,
}

/// The axum middleware: credential first, then (for POST) the body.
pub(super) async fn gate(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    if let Some(auth) = &gate.auth
        && let Err(refusal) = auth.check(request.headers())
    {
        tracing::warn!(
            backend = gate.domain.service_name(),
            method = %request.method(),
            path = request.uri().path(),
            ?refusal,
            "refused a request without a valid credential"
        );
        return auth.refuse(refusal);
    }
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    if let Some(length) = content_length(&parts.headers)
        && length > gate.max_body_bytes
    {
        return too_large(gate.max_body_bytes);
    }
    let bytes = match read_limited(body, gate.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return *response,
    };
    if let Err(response) = check_message(&bytes) {
        tracing::debug!(
            backend = gate.domain.service_name(),
            "refused a request body that is not a JSON-RPC message"
        );
        return *response;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A JSON-RPC error object as the whole HTTP answer.
pub(super) fn jsonrpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn content_length(headers: &http::HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Reads the whole body, refusing it as soon as it exceeds `limit` (whatever `Content-Length` claimed).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, Box<Response>> {
    let mut stream = body.into_data_stream();
    let mut collected: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            Box::new(jsonrpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                INVALID_REQUEST,
                &format!("cannot read the request body: {error}"),
            ))
        })?;
        if chunk.len() > limit.saturating_sub(collected.len()) {
            return Err(Box::new(too_large(limit)));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(collected))
}

fn too_large(limit: usize) -> Response {
    jsonrpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Value::Null,
        INVALID_REQUEST,
        &format!("request body exceeds the limit of {limit} bytes"),
    )
}

/// Accepts a body that is one JSON-RPC message MCP understands; otherwise the JSON-RPC error to answer with.
fn check_message(bytes: &[u8]) -> Result<(), Box<Response>> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| {
        refusal(
            Value::Null,
            PARSE_ERROR,
            format!("parse error: the body is not JSON: {error}"),
        )
    })?;
    let id = match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let method = value.get("method").and_then(Value::as_str);
    let envelope_ok = value.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
        && (method.is_some() || value.get("result").is_some() || value.get("error").is_some())
        && value
            .get("id")
            .is_none_or(|id| matches!(id, Value::String(_) | Value::Number(_)));
    if !envelope_ok {
        return Err(refusal(
            id,
            INVALID_REQUEST,
            "invalid request: expected one JSON-RPC 2.0 object with \"jsonrpc\": \"2.0\", a string \"method\" \
             and a string or number \"id\" (batches are not supported)"
                .to_owned(),
        ));
    }
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    match method {
        Some(TOOLS_CALL) => check_params::<CallToolRequestParams>(TOOLS_CALL, params, &id)?,
        Some(INITIALIZE) => check_params::<InitializeRequestParams>(INITIALIZE, params, &id)?,
        _ => {}
    }
    match serde_json::from_value::<ClientJsonRpcMessage>(value) {
        Ok(_) => Ok(()),
        Err(error) => Err(refusal(
            id,
            INVALID_REQUEST,
            format!("invalid request: {error}"),
        )),
    }
}

/// Checks the params of a method whose shape MCP fixes, naming the JSON path of what does not fit.
fn check_params<P: DeserializeOwned>(
    method: &str,
    params: Value,
    id: &Value,
) -> Result<(), Box<Response>> {
    if params.is_null() {
        return Err(refusal(
            id.clone(),
            INVALID_PARAMS,
            format!("invalid params for {method}: params are required"),
        ));
    }
    serde_path_to_error::deserialize::<_, P>(params)
        .map(drop)
        .map_err(|error| {
            let path = error.path().to_string();
            let cause = error.into_inner();
            let message = if path == "." {
                format!("invalid params for {method}: {cause}")
            } else {
                format!("invalid params for {method}: {path}: {cause}")
            };
            refusal(id.clone(), INVALID_PARAMS, message)
        })
}

fn refusal(id: Value, code: i64, message: String) -> Box<Response> {
    Box::new(jsonrpc_error(StatusCode::BAD_REQUEST, id, code, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer_to(body: &str) -> (StatusCode, Value) {
        let response = *check_message(body.as_bytes()).unwrap_err();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn garbage_is_a_parse_error() {
        let (status, body) = answer_to("{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["id"], Value::Null);
        assert_eq!(body["error"]["code"], PARSE_ERROR);
        assert_eq!(
            body["error"]["message"],
            "parse error: the body is not JSON: key must be a string at line 1 column 2"
        );
    }

    #[tokio::test]
    async fn json_that_is_not_json_rpc_is_an_invalid_request() {
        for body in [
            r#"{"method": "tools/list", "id": 1}"#,
            "[]",
            "42",
            r#"{"jsonrpc": "2.0", "id": 7}"#,
            r#"{"jsonrpc": "1.0", "id": 1, "method": "ping"}"#,
            r#"{"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}"#,
        ] {
            let (status, answer) = answer_to(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(answer["error"]["code"], INVALID_REQUEST, "{body}");
        }
        let (_, answer) = answer_to(r#"{"jsonrpc": "2.0", "id": 7}"#).await;
        assert_eq!(answer["id"], 7, "the id is echoed when there is one");
    }

    #[tokio::test]
    async fn a_known_method_with_malformed_params_is_invalid_params() {
        let (status, answer) = answer_to(
            r#"{"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "get_pod_status", "arguments": 5}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["id"], "a");
        assert_eq!(answer["error"]["code"], INVALID_PARAMS);
        assert_eq!(
            answer["error"]["message"],
            "invalid params for tools/call: arguments: invalid type: integer `5`, expected a map"
        );
        let (_, answer) = answer_to(
            r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": 5}}"#,
        )
        .await;
        assert_eq!(
            answer["error"]["message"],
            "invalid params for tools/call: name: invalid type: integer `5`, expected a string"
        );
        let (_, answer) = answer_to(r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/call"}"#).await;
        assert_eq!(
            answer["error"]["message"],
            "invalid params for tools/call: params are required"
        );
    }

    #[test]
    fn mcp_messages_pass() {
        for body in [
            r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#,
            r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x", "arguments": {"a": 1}}}"#,
            r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#,
        ] {
            assert!(check_message(body.as_bytes()).is_ok(), "{body}");
        }
    }
}
