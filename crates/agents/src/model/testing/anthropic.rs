//! A fake Anthropic Messages API: `POST /v1/messages` with `x-api-key` and `anthropic-version` required,
//! errors as `{"type": "error", "error": {...}}`.

use axum::response::Response;
use serde_json::{Value, json};

use super::{
    FakeReply, FakeScript, FakeServer, RecordedRequest, Wire, call_ids, json_headers, respond,
    retry_after_header, start,
};

/// The fake Anthropic endpoint; its URL goes in `ANTHROPIC_BASE_URL`.
#[derive(Debug)]
pub struct FakeAnthropic;

impl FakeAnthropic {
    /// Starts a fake answering from `script`.
    pub async fn start(script: impl Into<FakeScript>) -> std::io::Result<FakeServer> {
        start(AnthropicWire, script.into(), "").await
    }
}

struct AnthropicWire;

fn error(status: u16, kind: &str, message: &str, extra: &[(&str, String)]) -> Response {
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    let mut headers = json_headers(extra);
    headers.push(("request-id".into(), "req_fake".into()));
    respond(status, &headers, body.to_string())
}

impl Wire for AnthropicWire {
    fn check(&self, request: &RecordedRequest) -> Option<Response> {
        if request.method != "POST" || request.path.split('?').next() != Some("/v1/messages") {
            return Some(error(404, "not_found_error", "Not found", &[]));
        }
        if request.header("x-api-key").is_none_or(str::is_empty) {
            return Some(error(
                401,
                "authentication_error",
                "x-api-key header is required",
                &[],
            ));
        }
        if request.header("anthropic-version").is_none() {
            return Some(error(
                400,
                "invalid_request_error",
                "anthropic-version: header is required",
                &[],
            ));
        }
        let body_ok = request.json().is_some_and(|b| {
            b.get("model").is_some_and(Value::is_string)
                && b.get("max_tokens").is_some_and(Value::is_u64)
                && b.get("messages").is_some_and(Value::is_array)
        });
        if !body_ok {
            return Some(error(
                400,
                "invalid_request_error",
                "model, max_tokens and messages are required",
                &[],
            ));
        }
        None
    }

    fn render(&self, reply: FakeReply, request: &RecordedRequest, index: usize) -> Response {
        let model = request
            .json()
            .and_then(|b| b.get("model").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        match reply {
            FakeReply::Text { text, usage } => ok(
                &model,
                index,
                vec![json!({"type": "text", "text": text})],
                "end_turn",
                &usage,
            ),
            FakeReply::ToolCalls { text, calls, usage } => {
                let ids = call_ids(&calls, "toolu_", index);
                let mut content: Vec<Value> = text
                    .map(|t| json!({"type": "text", "text": t}))
                    .into_iter()
                    .collect();
                content.extend(calls.iter().zip(ids).map(|(c, id)| {
                    json!({"type": "tool_use", "id": id, "name": c.name, "input": c.arguments})
                }));
                ok(&model, index, content, "tool_use", &usage)
            }
            FakeReply::Throttled { retry_after_secs } => error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                &retry_after_header(retry_after_secs),
            ),
            FakeReply::ServerError { status } => {
                let (kind, message) = if status == 529 {
                    ("overloaded_error", "Overloaded")
                } else {
                    ("api_error", "Internal server error")
                };
                error(status, kind, message, &[])
            }
            FakeReply::Malformed { body } => respond(200, &json_headers(&[]), body),
            FakeReply::Raw {
                status,
                headers,
                body,
            } => respond(status, &headers, body),
        }
    }
}

fn ok(
    model: &str,
    index: usize,
    content: Vec<Value>,
    stop_reason: &str,
    usage: &crate::model::TokenUsage,
) -> Response {
    let body = json!({
        "id": format!("msg_fake{index}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
        },
    });
    respond(
        200,
        &json_headers(&[("request-id", "req_fake".into())]),
        body.to_string(),
    )
}
