//! The MCP tool client: one connection per backend, shared by every agent and investigation, with a
//! `tools/call` CLIENT span per call whose context travels in `params._meta` and the HTTP headers.

pub mod http;

use std::{error::Error as StdError, sync::Arc, time::Duration};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ClientConfig, ErrorCode, RequestParamsMeta},
    service::{RunningService, ServiceError},
    transport::streamable_http_client::{
        StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;
use sre_telemetry::{TraceCarrier, span};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::error::{RejectKind, ToolError};
use crate::model::ToolSpec;

pub use self::http::TracingHttpClient;

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

/// Timeouts of the tool client.
#[derive(Debug, Clone, Copy)]
pub struct ToolClientConfig {
    /// Longest wait for one `tools/call`.
    pub call_timeout: Duration,
    /// Longest wait for the MCP `initialize` handshake.
    pub connect_timeout: Duration,
}

impl Default for ToolClientConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A tool's answer. `is_error` answers are still answers: the model reads them and may correct itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

type Connection = RunningService<RoleClient, ClientConfig>;

/// A lazily connected MCP client for one backend. Cheap to share behind an `Arc`; calls run concurrently.
#[derive(Debug)]
pub struct ToolClient {
    endpoint: BackendEndpoint,
    http: TracingHttpClient,
    config: ToolClientConfig,
    connection: Mutex<Option<Arc<Connection>>>,
}

impl ToolClient {
    /// A client for `endpoint`; the connection opens on first use and reopens after it is lost.
    pub fn new(endpoint: BackendEndpoint, http: reqwest::Client, config: ToolClientConfig) -> Self {
        Self {
            endpoint,
            http: TracingHttpClient::new(http),
            config,
            connection: Mutex::new(None),
        }
    }

    /// The backend this client talks to.
    pub fn endpoint(&self) -> &BackendEndpoint {
        &self.endpoint
    }

    /// The backend's tools (`tools/list`).
    pub async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let connection = self.connection().await?;
        let tools = tokio::time::timeout(self.config.call_timeout, connection.list_all_tools())
            .await
            .map_err(|_| ToolError::Timeout {
                backend: self.endpoint.service.clone(),
                tool: "tools/list".into(),
                after: self.config.call_timeout,
            })?
            .map_err(|e| self.classify("tools/list", e))?;
        Ok(tools
            .into_iter()
            .map(|t| ToolSpec {
                name: t.name.into_owned(),
                description: t.description.map(|d| d.into_owned()).unwrap_or_default(),
                input_schema: Value::Object((*t.input_schema).clone()),
            })
            .collect())
    }

    /// Calls `tool` with `arguments` (a JSON object) under a `tools/call {tool}` CLIENT span.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<ToolOutput, ToolError> {
        let client_span =
            span::mcp_client(tool, &self.endpoint.service, self.endpoint.address(), 1);
        let result = self
            .call_once(tool, arguments)
            .instrument(client_span.clone())
            .await;
        match &result {
            Err(e) => span::record_error(&client_span, e.error_type(), &e.to_string()),
            Ok(out) if out.is_error => {
                client_span.record(sre_telemetry::convention::attr::ERROR_TYPE, "tool_error");
            }
            Ok(_) => {}
        }
        result
    }

    async fn call_once(&self, tool: &str, arguments: Value) -> Result<ToolOutput, ToolError> {
        let Value::Object(arguments) = arguments else {
            return Err(ToolError::Rejected {
                backend: self.endpoint.service.clone(),
                tool: tool.to_owned(),
                kind: RejectKind::InvalidParams,
                message: format!("arguments must be a JSON object, got {arguments}"),
            });
        };
        let connection = self.connection().await?;
        let mut params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
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
                if matches!(e, ServiceError::TransportClosed) {
                    self.forget(&connection).await;
                }
                return Err(self.classify(tool, e));
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
        })
    }

    async fn connection(&self) -> Result<Arc<Connection>, ToolError> {
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(self.endpoint.url.clone()),
        );
        // The connection outlives the call that opens it, and rmcp's service task captures the current span:
        // open it in a task of its own so no investigation's spans are held open by the connection.
        let mut connect = tokio::spawn(ClientConfig::default().serve(transport));
        let unreachable = |message: String| ToolError::Unreachable {
            backend: self.endpoint.service.clone(),
            url: self.endpoint.url.clone(),
            message,
        };
        let joined = match tokio::time::timeout(self.config.connect_timeout, &mut connect).await {
            Ok(joined) => joined,
            Err(_) => {
                connect.abort();
                return Err(unreachable(format!(
                    "no MCP handshake within {:?}",
                    self.config.connect_timeout
                )));
            }
        };
        let conn = joined
            .map_err(|e| unreachable(format!("the connection task failed: {e}")))?
            .map_err(|e| unreachable(root_cause(&e)))?;
        let conn = Arc::new(conn);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn forget(&self, lost: &Arc<Connection>) {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, lost)) {
            *slot = None;
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
                let message = root_cause(&other);
                if let Some(status) = http_status(&message) {
                    ToolError::Rejected {
                        backend,
                        tool: tool.to_owned(),
                        kind: if status >= 500 {
                            RejectKind::ServerError
                        } else {
                            RejectKind::Protocol
                        },
                        message,
                    }
                } else {
                    ToolError::Unreachable {
                        backend,
                        url: self.endpoint.url.clone(),
                        message,
                    }
                }
            }
        }
    }
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

/// An HTTP status mentioned in a transport error message, if any ("... status 503 ...").
fn http_status(message: &str) -> Option<u16> {
    let lower = message.to_ascii_lowercase();
    let idx = lower.find("status")?;
    lower[idx..]
        .split(|c: char| !c.is_ascii_digit())
        .find_map(|n| n.parse::<u16>().ok().filter(|s| (100..600).contains(s)))
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
    fn status_is_read_from_transport_messages() {
        assert_eq!(
            http_status("HTTP status 503 Service Unavailable"),
            Some(503)
        );
        assert_eq!(http_status("connection refused"), None);
    }
}
