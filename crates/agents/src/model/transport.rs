//! JSON over HTTPS for the providers that speak plain HTTP (Anthropic, OpenAI-compatible): one POST per
//! attempt, HTTP status mapped to retryable or final failures, the provider's error message kept.

use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

use super::{
    ModelError,
    retry::{AttemptError, RetryPolicy, parse_retry_after, with_retry},
};

/// Longest piece of an error body quoted in a message.
const MAX_QUOTED_BODY_CHARS: usize = 300;

/// One JSON endpoint of a provider.
#[derive(Debug, Clone)]
pub(crate) struct JsonEndpoint {
    pub client: reqwest::Client,
    pub url: String,
    pub headers: HeaderMap,
    pub provider: &'static str,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl JsonEndpoint {
    /// POSTs `body` with retries; the parsed JSON reply of the first 2xx answer.
    pub async fn post(&self, body: &Value) -> Result<Value, ModelError> {
        with_retry(&self.retry, self.timeout, self.provider, |_| {
            self.attempt(body)
        })
        .await
    }

    async fn attempt(&self, body: &Value) -> Result<Value, AttemptError> {
        let response = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| AttemptError::Retryable {
                error: ModelError::Unavailable {
                    provider: self.provider.to_owned(),
                    message: format!("{} could not be reached: {}", self.url, error_chain(&e)),
                },
                retry_after: None,
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| AttemptError::Retryable {
            error: ModelError::Unavailable {
                provider: self.provider.to_owned(),
                message: format!("the reply from {} broke off: {}", self.url, error_chain(&e)),
            },
            retry_after: None,
        })?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                AttemptError::Fatal(ModelError::MalformedReply {
                    provider: self.provider.to_owned(),
                    message: format!("the body is not JSON ({e}): {}", quote(&text)),
                })
            });
        }
        Err(self.classify(status, &headers, &text))
    }

    fn classify(&self, status: StatusCode, headers: &HeaderMap, text: &str) -> AttemptError {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = parse_retry_after(header("retry-after-ms"), header("retry-after"));
        let message = format!("HTTP {status}: {}", error_message(text));
        let provider = self.provider.to_owned();
        match status.as_u16() {
            429 => AttemptError::Retryable {
                error: ModelError::Throttled { provider, message },
                retry_after,
            },
            // 529 is Anthropic's "overloaded".
            408 | 409 | 500..=599 => AttemptError::Retryable {
                error: ModelError::Unavailable { provider, message },
                retry_after,
            },
            _ => AttemptError::Fatal(ModelError::Rejected { provider, message }),
        }
    }
}

/// The provider's own error message from an error body (`{"error": {"message": ...}}` in both APIs), else
/// the start of the body.
pub(crate) fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .or_else(|| parsed.as_ref().and_then(|v| v.get("message")))
        .and_then(Value::as_str);
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    match (kind, message) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(message)) => message.to_owned(),
        _ => quote(body),
    }
}

/// `e` and its sources, `: `-joined ("error sending request: connection refused").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The innermost cause of an error ("Connection refused (os error 111)").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn quote(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        sre_telemetry::redact::truncate_chars(text, MAX_QUOTED_BODY_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_error_messages_are_extracted() {
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
            ),
            "rate_limit_error: slow down"
        );
        assert_eq!(
            error_message(r#"{"error":{"message":"bad key","type":null}}"#),
            "bad key"
        );
        assert_eq!(error_message("<html>502</html>"), "<html>502</html>");
        assert_eq!(error_message(""), "(empty body)");
    }
}
