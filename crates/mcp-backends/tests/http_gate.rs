//! The HTTP gate of a backend: bad requests (garbage, oversized bodies, malformed JSON-RPC, unknown methods) get
//! a JSON-RPC error and the server keeps serving; API-key and bearer authentication answer 401 with a clear
//! message; `Host` headers outside the allow-list get 403; shutdown lets a request in flight finish.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use http::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, ClientConfig, InitializeRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use sre_mcp_backends::{
    AllowedHosts, Auth, BackendSet, DEFAULT_SCENARIO, Domain, HttpOptions, load_bundled, serve,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

type Client = RunningService<RoleClient, InitializeRequestParams>;

const ACCEPT: &str = "application/json, text/event-stream";
const TOOLS_LIST: &str = r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_a_protocol_error_and_the_server_keeps_serving() -> Result<()> {
    let backends = start(&HttpOptions::default()).await?;
    let url = backends.url(Domain::K8s);
    let http = reqwest::Client::new();

    let (status, body) = post(
        &http,
        &url,
        "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\":",
        &[],
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32700, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("parse error: the body is not JSON: EOF while parsing"),
        "{body}"
    );

    let (status, body) = post(&http, &url, r#"{"id": 2, "method": "tools/list"}"#, &[]).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32600)),
        "{body}"
    );
    assert_eq!(body["id"], 2);

    let (status, body) = post(
        &http,
        &url,
        r#"{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_pod_status", "arguments": [5]}}"#,
        &[],
    )
    .await?;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        json!({"code": -32602, "message": "invalid params for tools/call: arguments: invalid type: sequence, expected a map"})
    );

    let (_, body) = post(
        &http,
        &url,
        r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/destroy"}"#,
        &[],
    )
    .await?;
    assert_eq!(body["id"], 4);
    assert_eq!(
        body["error"]["code"], -32601,
        "an unknown method is method-not-found: {body}"
    );

    let (status, body) = post(
        &http,
        &url,
        r#"{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "get_pod_status", "arguments": {"namespace": 5}}}"#,
        &[],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": -32602, "message": "invalid params for get_pod_status: namespace: invalid type: integer `5`, expected a string"})
    );

    let big = format!(
        r#"{{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {{"name": "search_logs", "arguments": {{"pattern": "{}"}}}}}}"#,
        "a".repeat(1024 * 1024)
    );
    let (status, body) = post(&http, &url, &big, &[]).await?;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"]["message"],
        "request body exceeds the limit of 1048576 bytes"
    );

    // After all of that, the same backend answers a real client.
    let client = connect(&url, HashMap::new()).await?;
    let pods = client
        .call_tool(CallToolRequestParams::new("get_pod_status"))
        .await?;
    assert_eq!(pods.is_error, Some(false));
    let (status, body) = post(&http, &url, TOOLS_LIST, &[]).await?;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["tools"].as_array().map(Vec::len), Some(5));
    client.cancel().await?;
    backends.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_required_when_configured() -> Result<()> {
    let options = HttpOptions {
        auth: Some(Auth::api_key("k3y-for-tests")?),
        ..HttpOptions::default()
    };
    let backends = start(&options).await?;
    let url = backends.url(Domain::Metrics);
    let http = reqwest::Client::new();

    let response = raw_post(&http, &url, TOOLS_LIST, &[]).await?;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("ApiKey header=\"X-API-Key\"")
    );
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32001,
               "message": "unauthorized: this backend requires an API key in the X-API-Key header"}})
    );
    let (status, body) = post(&http, &url, TOOLS_LIST, &[("x-api-key", "wrong")]).await?;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["message"],
        "unauthorized: the API key in the X-API-Key header is not valid"
    );

    let (status, _) = post(&http, &url, TOOLS_LIST, &[("x-api-key", "k3y-for-tests")]).await?;
    assert_eq!(status, 200);
    let headers = HashMap::from([(
        HeaderName::from_static("x-api-key"),
        HeaderValue::from_static("k3y-for-tests"),
    )]);
    let client = connect(&url, headers).await?;
    assert_eq!(client.list_all_tools().await?.len(), 5);
    client.cancel().await?;

    let refused = connect(&url, HashMap::new()).await;
    assert!(
        refused.is_err(),
        "an MCP client without the key cannot connect"
    );
    backends.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_required_when_configured() -> Result<()> {
    let options = HttpOptions {
        auth: Some(Auth::bearer("gateway-token-1")?),
        ..HttpOptions::default()
    };
    let backends = start(&options).await?;
    let url = backends.url(Domain::Runbooks);
    let http = reqwest::Client::new();

    let response = raw_post(&http, &url, TOOLS_LIST, &[]).await?;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"sre-agent\"")
    );
    let body: Value = response.json().await?;
    assert_eq!(
        body["error"]["message"],
        "unauthorized: this backend requires an Authorization: Bearer <token> header"
    );
    let (_, body) = post(
        &http,
        &url,
        TOOLS_LIST,
        &[("authorization", "Basic Z2F0ZXdheQ==")],
    )
    .await?;
    assert_eq!(
        body["error"]["message"],
        "unauthorized: the Authorization header must use the Bearer scheme"
    );
    let response = raw_post(&http, &url, TOOLS_LIST, &[("authorization", "Bearer nope")]).await?;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"sre-agent\", error=\"invalid_token\"")
    );

    let headers = HashMap::from([(
        HeaderName::from_static("authorization"),
        HeaderValue::from_static("Bearer gateway-token-1"),
    )]);
    let client = connect(&url, headers).await?;
    let answer = client
        .call_tool(
            CallToolRequestParams::new("get_incident_playbook").with_arguments(
                json!({"playbook_id": "PB-DB-CRASHLOOP"})
                    .as_object()
                    .cloned()
                    .context("an object")?,
            ),
        )
        .await?;
    assert_eq!(answer.is_error, Some(false));
    client.cancel().await?;
    backends.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_hosts_are_answered() -> Result<()> {
    let http = reqwest::Client::new();

    // Default: loopback names only, even for a request that reaches the socket.
    let loopback = start(&HttpOptions::default()).await?;
    let url = loopback.url(Domain::Logs);
    let (status, _) = post(&http, &url, TOOLS_LIST, &[("host", "localhost:1234")]).await?;
    assert_eq!(status, 200);
    let status = raw_post(&http, &url, TOOLS_LIST, &[("host", "backends.example.com")])
        .await?
        .status();
    assert_eq!(status, 403);
    loopback.shutdown().await;

    // An explicit list replaces the loopback default.
    let listed = start(&HttpOptions {
        allowed_hosts: AllowedHosts::parse(["backends.internal", "10.0.0.5:8012"])?,
        ..HttpOptions::default()
    })
    .await?;
    let url = listed.url(Domain::Logs);
    for (host, expected) in [
        ("backends.internal", 200),
        ("backends.internal:8012", 200),
        ("10.0.0.5:8012", 200),
        ("10.0.0.5:9999", 403),
        ("127.0.0.1", 403),
        ("evil.example", 403),
    ] {
        let status = raw_post(&http, &url, TOOLS_LIST, &[("host", host)])
            .await?
            .status();
        assert_eq!(status, expected, "Host: {host}");
    }
    listed.shutdown().await;

    // `*` answers every host.
    let any = start(&HttpOptions {
        allowed_hosts: AllowedHosts::parse(["*"])?,
        ..HttpOptions::default()
    })
    .await?;
    let status = raw_post(
        &http,
        &any.url(Domain::Logs),
        TOOLS_LIST,
        &[("host", "evil.example")],
    )
    .await?
    .status();
    assert_eq!(status, 200);
    any.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_in_flight_finish() -> Result<()> {
    let dataset = Arc::new(load_bundled(DEFAULT_SCENARIO, Utc::now())?);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        Domain::K8s,
        dataset,
        listener,
        HttpOptions::default(),
        shutdown.clone(),
    ));

    // `Expect: 100-continue` makes the server say when it starts reading the body: from then on the request is
    // in flight. Only then is the server told to stop; the body follows once it no longer accepts connections.
    let body = r#"{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "get_node_status", "arguments": {}}}"#;
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(request_head(addr, body.len()).as_bytes())
        .await?;
    let interim = read_response(&mut stream).await?;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        if tokio::time::Instant::now() > deadline {
            bail!("the listener still accepts connections 5s after shutdown");
        }
        tokio::task::yield_now().await;
    }
    stream.write_all(body.as_bytes()).await?;
    let response = read_response(&mut stream).await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#""id":9"#) && response.contains("node-1"),
        "{response}"
    );

    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .context("the server did not stop")???;
    Ok(())
}

fn request_head(addr: SocketAddr, length: usize) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: {ACCEPT}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        addr.port(),
    )
}

/// Reads one HTTP/1.1 response (an interim `100 Continue`, or one framed by `Content-Length`) within ten
/// seconds.
async fn read_response(stream: &mut TcpStream) -> Result<String> {
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                if head.starts_with("http/1.1 100") {
                    return Ok(String::from_utf8_lossy(&buffer[..end]).into_owned());
                }
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .with_context(|| format!("no content-length in {head}"))?;
                if buffer.len() >= end + 4 + length {
                    buffer.truncate(end + 4 + length);
                    return Ok(String::from_utf8_lossy(&buffer).into_owned());
                }
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!(
                    "connection closed after {}",
                    String::from_utf8_lossy(&buffer)
                );
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .context("no response within 10s")?
}

async fn start(options: &HttpOptions) -> Result<BackendSet> {
    let dataset = Arc::new(load_bundled(DEFAULT_SCENARIO, Utc::now())?);
    Ok(BackendSet::start(dataset, options, |_| {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
    })
    .await?)
}

async fn connect(url: &str, headers: HashMap<HeaderName, HeaderValue>) -> Result<Client> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(headers);
    Ok(ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await?)
}

async fn raw_post(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let mut request = http
        .post(url)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Ok(request.send().await?)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, Value)> {
    let response = raw_post(http, url, body, headers).await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let value = serde_json::from_str(&text).with_context(|| format!("HTTP {status}: {text}"))?;
    Ok((status, value))
}
