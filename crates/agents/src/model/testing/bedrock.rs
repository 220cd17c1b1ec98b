//! A fake Bedrock Runtime speaking Converse REST-JSON: `POST /model/{modelId}/converse`, SigV4
//! `authorization` required, errors typed by the `x-amzn-errortype` header as the real service does.

use axum::response::Response;
use serde_json::{Value, json};

use super::{
    FakeReply, FakeScript, FakeServer, RecordedRequest, Wire, call_ids, json_headers, respond,
    retry_after_header, start,
};

/// The fake Bedrock endpoint; its URL goes in `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.
#[derive(Debug)]
pub struct FakeBedrock;

impl FakeBedrock {
    /// Starts a fake answering from `script`.
    pub async fn start(script: impl Into<FakeScript>) -> std::io::Result<FakeServer> {
        start(BedrockWire, script.into(), "").await
    }
}

struct BedrockWire;

fn error(status: u16, error_type: &str, message: &str, extra: &[(&str, String)]) -> Response {
    let mut headers = json_headers(extra);
    headers.push(("x-amzn-errortype".into(), error_type.into()));
    headers.push(("x-amzn-requestid".into(), "fake-request".into()));
    respond(status, &headers, json!({"message": message}).to_string())
}

impl Wire for BedrockWire {
    fn check(&self, request: &RecordedRequest) -> Option<Response> {
        let path = request.path.split('?').next().unwrap_or_default();
        let is_converse = request.method == "POST"
            && path.starts_with("/model/")
            && path.ends_with("/converse")
            && path.len() > "/model//converse".len();
        if !is_converse {
            return Some(error(
                404,
                "UnknownOperationException",
                "Unknown operation",
                &[],
            ));
        }
        let signed = request.header("authorization").is_some_and(|auth| {
            auth.starts_with("AWS4-HMAC-SHA256 ")
                && auth.contains("Credential=")
                && auth.contains("SignedHeaders=")
                && auth.contains("Signature=")
        });
        if !signed || request.header("x-amz-date").is_none() {
            return Some(error(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                &[],
            ));
        }
        let body_ok = request
            .json()
            .is_some_and(|b| b.get("messages").is_some_and(Value::is_array));
        if !body_ok {
            return Some(error(
                400,
                "ValidationException",
                "The request body must be a JSON object with messages",
                &[],
            ));
        }
        None
    }

    fn render(&self, reply: FakeReply, _request: &RecordedRequest, index: usize) -> Response {
        match reply {
            FakeReply::Text { text, usage } => ok(vec![json!({"text": text})], "end_turn", &usage),
            FakeReply::ToolCalls { text, calls, usage } => {
                let ids = call_ids(&calls, "tooluse_", index);
                let mut content: Vec<Value> =
                    text.map(|t| json!({"text": t})).into_iter().collect();
                content.extend(calls.iter().zip(ids).map(|(c, id)| {
                    json!({"toolUse": {"toolUseId": id, "name": c.name, "input": c.arguments}})
                }));
                ok(content, "tool_use", &usage)
            }
            FakeReply::Throttled { retry_after_secs } => error(
                429,
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "Too many requests, please wait before trying again.",
                &retry_after_header(retry_after_secs),
            ),
            FakeReply::ServerError { status } => {
                let kind = if status == 503 {
                    "ServiceUnavailableException"
                } else {
                    "InternalServerException"
                };
                error(status, kind, "The service is unavailable. Try again.", &[])
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

fn ok(content: Vec<Value>, stop_reason: &str, usage: &crate::model::TokenUsage) -> Response {
    let body = json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "totalTokens": usage.total(),
            "cacheReadInputTokens": usage.cache_read_tokens,
            "cacheWriteInputTokens": usage.cache_write_tokens,
        },
        "metrics": {"latencyMs": 12},
    });
    respond(
        200,
        &json_headers(&[("x-amzn-requestid", "fake-request".into())]),
        body.to_string(),
    )
}
