//! A fake OpenAI-compatible server: `POST /v1/chat/completions`, errors as `{"error": {...}}`. It needs no
//! API key (like Ollama) and records the `authorization` header it gets.

use axum::response::Response;
use serde_json::{Value, json};

use super::{
    FakeReply, FakeScript, FakeServer, RecordedRequest, Wire, call_ids, json_headers, respond,
    retry_after_header, start,
};

/// The fake OpenAI-compatible endpoint; its URL (ending in `/v1`) goes in `OPENAI_BASE_URL`.
#[derive(Debug)]
pub struct FakeOpenAi;

impl FakeOpenAi {
    /// Starts a fake answering from `script`.
    pub async fn start(script: impl Into<FakeScript>) -> std::io::Result<FakeServer> {
        start(OpenAiWire, script.into(), "/v1").await
    }
}

struct OpenAiWire;

fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    message: &str,
    extra: &[(&str, String)],
) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    respond(status, &json_headers(extra), body.to_string())
}

impl Wire for OpenAiWire {
    fn check(&self, request: &RecordedRequest) -> Option<Response> {
        if request.method != "POST"
            || request.path.split('?').next() != Some("/v1/chat/completions")
        {
            return Some(error(404, "invalid_request_error", None, "Not found", &[]));
        }
        let body_ok = request.json().is_some_and(|b| {
            b.get("model").is_some_and(Value::is_string)
                && b.get("messages").is_some_and(Value::is_array)
        });
        if !body_ok {
            return Some(error(
                400,
                "invalid_request_error",
                None,
                "model and messages are required",
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
                json!({"role": "assistant", "content": text}),
                "stop",
                &usage,
            ),
            FakeReply::ToolCalls { text, calls, usage } => {
                let ids = call_ids(&calls, "call_", index);
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .zip(ids)
                    .map(|(c, id)| {
                        let arguments = match &c.arguments {
                            Value::String(raw) => raw.clone(),
                            other => other.to_string(),
                        };
                        json!({"id": id, "type": "function",
                               "function": {"name": c.name, "arguments": arguments}})
                    })
                    .collect();
                ok(
                    &model,
                    index,
                    json!({"role": "assistant", "content": text, "tool_calls": tool_calls}),
                    "tool_calls",
                    &usage,
                )
            }
            FakeReply::Throttled { retry_after_secs } => error(
                429,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for requests",
                &retry_after_header(retry_after_secs),
            ),
            FakeReply::ServerError { status } => error(
                status,
                "server_error",
                None,
                "The server had an error while processing your request.",
                &[],
            ),
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
    message: Value,
    finish_reason: &str,
    usage: &crate::model::TokenUsage,
) -> Response {
    // OpenAI counts cached prompt tokens inside prompt_tokens.
    let prompt = usage.input_tokens + usage.cache_read_tokens;
    let body = json!({
        "id": format!("chatcmpl-fake{index}"),
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        },
    });
    respond(200, &json_headers(&[]), body.to_string())
}
