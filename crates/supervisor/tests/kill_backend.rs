//! A tool server dies: the four backends run as their own `sre-agent backends serve` processes, the k8s one is
//! killed, and an investigation over the network still completes within the tool client's retry budget. The
//! report names the dead backend as not checked (error and attempts) and keeps the other agents' findings;
//! the trace shows the failed attempts (status Error, `exception` event, `error.type`, `retry.attempt`) and
//! the live backends' SERVER spans under the agent's CLIENT spans.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use sre_agents::tool_client::ToolClientConfig;
use sre_mcp_backends::Domain;
use sre_telemetry::convention::{AGENT_SERVICE_NAME, attr, span_name};

/// Longest wait for a backend to start and answer.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// What the run may take beyond the dead backend's retry budget: process start, routing, the live agents,
/// the report and the trace flush, on a loaded two-core machine with a debug build.
const SLACK: Duration = Duration::from_secs(20);
/// Longest wait for the backends' spans to reach the trace file (they export every 100 ms here).
const FLUSH_DEADLINE: Duration = Duration::from_secs(30);
/// OTLP span kinds.
const KIND_SERVER: i64 = 2;
const KIND_CLIENT: i64 = 3;
/// OTLP status code Error.
const STATUS_ERROR: i64 = 2;

#[test]
fn killing_a_backend_leaves_a_partial_report_and_a_traced_failure() {
    let data = tempfile::tempdir().expect("temporary data dir");
    let mut backends = Backends::default();
    for domain in Domain::ALL {
        backends.start(domain, data.path());
    }
    let urls: HashMap<Domain, String> = backends
        .running
        .iter()
        .map(|b| (b.domain, b.url.clone()))
        .collect();
    let k8s_url = urls[&Domain::K8s].clone();

    backends.kill(Domain::K8s);
    let k8s_addr = socket_addr(&k8s_url);
    assert!(
        TcpStream::connect_timeout(&k8s_addr, Duration::from_secs(1)).is_err(),
        "the killed k8s backend still accepts connections at {k8s_addr}"
    );

    // The binary uses the default tool client settings (no flag changes them): each call makes up to
    // `max_attempts` attempts, each bounded by the handshake timeout against a dead port, with backoff in
    // between; `tools/list` costs one more handshake before the known catalog is offered. The calls of one
    // step run concurrently and the breaker fails later ones fast, so one call's budget bounds the agent.
    let config = ToolClientConfig::default();
    let retry = config.retry;
    let backoff: Duration = (2..=retry.max_attempts)
        .map(|attempt| {
            let exponent = (attempt - 2).min(16);
            retry
                .base_delay
                .saturating_mul(1 << exponent)
                .min(retry.max_delay)
        })
        .sum();
    let budget = config.connect_timeout * (retry.max_attempts + 1) + backoff;

    let mut args = vec!["--data-dir".to_owned(), path_arg(data.path())];
    for domain in Domain::ALL {
        args.push("--backend-url".into());
        args.push(format!("{domain}={}", urls[&domain]));
    }
    args.extend(
        [
            "--timeout",
            "90s",
            "--no-markdown",
            "--prompt",
            "Database pods are crash looping in production",
        ]
        .map(str::to_owned),
    );
    let run = run_to_end(&args, budget + SLACK + Duration::from_secs(30));
    eprintln!(
        "kill-a-backend run: {:.2?} (dead backend's retry budget {budget:.2?}, asserted below {:.2?})",
        run.elapsed,
        budget + SLACK
    );
    assert_eq!(
        run.code,
        Some(0),
        "the investigation fails instead of reporting partially:\n{}",
        run.stderr
    );
    assert!(
        run.elapsed < budget + SLACK,
        "the run took {:?}, over the retry budget {budget:?} plus {SLACK:?}",
        run.elapsed
    );

    assert_backend_failure_metrics(data.path());

    // The report: partial, the dead backend not checked with its error and attempts, the others' findings.
    let report = &run.stdout;
    assert!(
        report.contains("**Partial investigation:**"),
        "not marked partial:\n{report}"
    );
    let gaps = section(report, "## What could not be checked");
    let k8s_gaps: Vec<&str> = gaps
        .lines()
        .filter(|l| l.starts_with("- k8s-backend: "))
        .collect();
    assert!(
        !k8s_gaps.is_empty(),
        "the dead backend is not listed as not checked:\n{report}"
    );
    for line in &k8s_gaps {
        assert!(
            line.contains(&k8s_url)
                && line.contains("Connection refused")
                && (line.contains(" attempt") || line.contains("circuit breaker is open")),
            "a gap line lacks the URL, the error or the attempts: {line}"
        );
    }
    assert!(
        k8s_gaps
            .iter()
            .any(|l| l.contains("failed after") && l.contains(" attempt")),
        "no gap line says how many attempts were made: {k8s_gaps:?}"
    );
    assert!(
        !gaps.contains("- logs-backend") && !gaps.contains("- metrics-backend"),
        "a live backend is listed as not checked:\n{gaps}"
    );
    for agent in ["### Logs agent", "### Metrics agent"] {
        let findings = section(report, agent);
        assert!(
            findings.contains("- **[") && findings.contains("_Evidence_"),
            "{agent} has no findings:\n{report}"
        );
    }
    assert!(
        report.contains("| Kubernetes | partial |"),
        "the Kubernetes agent is not marked partial:\n{report}"
    );

    // The trace.
    let trace_id = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Trace ID: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no trace id printed:\n{}", run.stderr))
        .to_owned();
    let trace_file = data.path().join("traces").join("traces.jsonl");
    let spans = wait_for_spans(&trace_file, &trace_id, |spans| {
        ["logs-backend", "metrics-backend"]
            .iter()
            .all(|service| spans.iter().any(|s| s.service == *service))
    });

    let root: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == span_name::INVESTIGATION)
        .collect();
    assert_eq!(root.len(), 1, "one investigation root");
    let root = root[0];
    assert!(root.parent.is_empty(), "the root has no parent");
    assert_eq!(root.kind, KIND_SERVER);
    assert_eq!(root.attr(attr::SRE_PARTIAL), Some(&Value::Bool(true)));
    assert_eq!(root.str_attr(attr::SRE_OUTCOME), Some("partial"));

    let k8s_agent = spans
        .iter()
        .find(|s| s.name == span_name::agent_execute("kubernetes"))
        .expect("the Kubernetes agent ran");
    assert_eq!(k8s_agent.str_attr(attr::SRE_OUTCOME), Some("partial"));
    let k8s_agent_time = k8s_agent.duration();
    eprintln!("Kubernetes agent with a dead backend: {k8s_agent_time:.2?} (budget {budget:.2?})");
    assert!(
        k8s_agent_time < budget,
        "the Kubernetes agent took {k8s_agent_time:?}, over its retry budget {budget:?}"
    );

    let k8s_calls: Vec<&Span> = spans
        .iter()
        .filter(|s| s.is_call_to("k8s-backend"))
        .collect();
    assert!(!k8s_calls.is_empty(), "no tools/call span to k8s-backend");
    for call in &k8s_calls {
        assert_eq!(
            call.status, STATUS_ERROR,
            "{} ended without error",
            call.name
        );
        assert!(
            call.events.iter().any(|e| e == attr::EXCEPTION_EVENT),
            "{} has no exception event",
            call.name
        );
        let error_type = call.str_attr(attr::ERROR_TYPE);
        assert!(
            matches!(error_type, Some("connection_refused" | "circuit_open")),
            "{}: error.type {error_type:?}",
            call.name
        );
    }
    assert!(
        k8s_calls
            .iter()
            .any(|c| c.str_attr(attr::ERROR_TYPE) == Some("connection_refused")),
        "no attempt was refused"
    );
    let attempts: Vec<i64> = k8s_calls
        .iter()
        .filter_map(|c| c.int_attr(attr::RETRY_ATTEMPT))
        .collect();
    assert_eq!(
        attempts.len(),
        k8s_calls.len(),
        "an attempt lacks retry.attempt"
    );
    assert!(
        attempts.iter().any(|&a| a > 1),
        "no call was retried: {attempts:?}"
    );
    assert!(
        !spans.iter().any(|s| s.service == "k8s-backend"),
        "the dead backend wrote spans"
    );

    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    for service in ["logs-backend", "metrics-backend"] {
        let served: Vec<&Span> = spans
            .iter()
            .filter(|s| s.service == service && s.kind == KIND_SERVER)
            .collect();
        assert!(!served.is_empty(), "{service} served nothing in this trace");
        for server in served {
            let client = by_id.get(server.parent.as_str()).unwrap_or_else(|| {
                panic!("{service} span {} has no parent in the trace", server.name)
            });
            assert!(
                client.is_call_to(service) && client.name == server.name,
                "{service} span {} is not a child of the agent's CLIENT span (parent: {} in {})",
                server.name,
                client.name,
                client.service
            );
        }
    }
}

/// The metrics the run wrote (CloudWatch EMF, one JSON document per line in the data dir): the dead backend's
/// failed calls by error type, and its circuit breaker reported open.
fn assert_backend_failure_metrics(data_dir: &Path) {
    let emf =
        std::fs::read_to_string(data_dir.join("metrics/emf.jsonl")).expect("EMF metrics file");
    let docs: Vec<Value> = emf
        .lines()
        .map(|l| serde_json::from_str(l).expect("an EMF line is JSON"))
        .collect();
    let k8s = |doc: &&Value| doc["Backend"] == "k8s-backend";
    let refused: f64 = docs
        .iter()
        .filter(k8s)
        .filter(|d| d["ErrorType"] == "connection_refused")
        .filter_map(|d| d["McpCallErrors"].as_f64())
        .sum();
    assert!(
        refused >= 1.0,
        "no McpCallErrors for the refused k8s calls:\n{emf}"
    );
    assert!(
        docs.iter()
            .filter(k8s)
            .any(|d| d["CircuitBreakerState"].as_f64() == Some(2.0)),
        "the k8s-backend breaker was never reported open (CircuitBreakerState 2):\n{emf}"
    );
    assert!(
        docs.iter()
            .filter(|d| d["Backend"] == "logs-backend")
            .any(|d| d.get("McpCallDuration").is_some()),
        "the live logs backend's call durations are missing:\n{emf}"
    );
    // Agent and tool lines carry the investigation and trace as root fields (the Logs Insights queries of
    // dashboards/insights-queries.json group by them).
    let per_investigation: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            ["AgentInvocation", "ToolCalls", "ToolExecution"]
                .iter()
                .any(|m| d.get(*m).is_some())
        })
        .collect();
    assert!(
        !per_investigation.is_empty(),
        "no agent or tool lines:\n{emf}"
    );
    for doc in per_investigation {
        let investigation = doc["investigation_id"].as_str().unwrap_or_default();
        let trace = doc["trace_id"].as_str().unwrap_or_default();
        assert!(
            investigation.starts_with("inv-"),
            "no investigation_id: {doc}"
        );
        assert!(
            trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
            "no trace_id: {doc}"
        );
    }
}

/// The backend processes; whatever still runs is killed (by PID) and reaped on drop, also on panic.
#[derive(Default)]
struct Backends {
    running: Vec<Backend>,
}

struct Backend {
    domain: Domain,
    child: Child,
    url: String,
}

impl Backends {
    /// Starts `sre-agent backends serve --domain <domain>` on a port the system picks, and waits until it
    /// answers an MCP request.
    fn start(&mut self, domain: Domain, data_dir: &Path) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sre-agent"));
        command
            .args(["--data-dir", &path_arg(data_dir), "backends", "serve"])
            .args(["--domain", domain.as_str(), "--port-base", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        quiet_env(&mut command);
        // Export spans every 100 ms so the test sees them without stopping the process.
        command.env("OTEL_BSP_SCHEDULE_DELAY", "100");
        let mut child = command.spawn().expect("the backend starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        // Registered before waiting, so a failed start still kills the process.
        self.running.push(Backend {
            domain,
            child,
            url: String::new(),
        });
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        // Reads stderr to its end, so the backend never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line
                    .split_once("listening on ")
                    .map(|(_, url)| url.trim().to_owned())
                {
                    let _ = tx.send(url);
                }
                if let Ok(mut log) = sink.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let url = rx.recv_timeout(STARTUP_DEADLINE).unwrap_or_else(|_| {
            panic!(
                "{domain} backend did not say where it listens within {STARTUP_DEADLINE:?}:\n{}",
                log.lock().map(|l| l.clone()).unwrap_or_default()
            )
        });
        wait_until_answers(&url);
        if let Some(backend) = self.running.last_mut() {
            backend.url = url;
        }
    }

    /// Kills the backend of `domain` by its PID and reaps it.
    fn kill(&mut self, domain: Domain) {
        let at = self
            .running
            .iter()
            .position(|b| b.domain == domain)
            .unwrap_or_else(|| panic!("no {domain} backend running"));
        let mut backend = self.running.remove(at);
        backend.child.kill().expect("kill the backend");
        backend.child.wait().expect("reap the backend");
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        for backend in &mut self.running {
            let _ = backend.child.kill();
            let _ = backend.child.wait();
        }
    }
}

/// A finished investigation process.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `sre-agent args…` to its end; kills it (by PID) when it outlives `deadline`.
fn run_to_end(args: &[String], deadline: Duration) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sre-agent"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    quiet_env(&mut command);
    let started = Instant::now();
    let mut child = command.spawn().expect("the investigation starts");
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let status = loop {
        match child.try_wait().expect("poll the investigation") {
            Some(status) => break status,
            None if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the investigation did not end within {deadline:?}:\n{}",
                    stderr.join().unwrap_or_default()
                );
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    let elapsed = started.elapsed();
    Run {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed,
    }
}

/// Reads a pipe to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Keeps the caller's environment from choosing exporters, providers, users or backends for the children.
fn quiet_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("OTEL_")
            || key.starts_with("SRE_")
            || key.starts_with("AWS_")
            || [
                "USER_ID",
                "LLM_PROVIDER",
                "RUST_LOG",
                "CLOUDWATCH_METRICS_NAMESPACE",
            ]
            .contains(&key.as_ref())
        {
            command.env_remove(key.as_ref());
        }
    }
    command.env("NO_COLOR", "1");
}

/// Polls the backend with an MCP `ping` until it answers HTTP (any status), within the startup deadline.
fn wait_until_answers(url: &str) {
    let addr = socket_addr(url);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let deadline = Instant::now() + STARTUP_DEADLINE;
    let mut last = String::new();
    while Instant::now() < deadline {
        let answer = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(request.as_bytes())?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head)?;
            Ok(String::from_utf8_lossy(&head).into_owned())
        });
        match answer {
            Ok(head) if head.starts_with("HTTP/1.1 ") => return,
            Ok(head) => last = format!("unexpected answer {head:?}"),
            Err(e) => last = e.to_string(),
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("the backend at {url} did not answer within {STARTUP_DEADLINE:?}: {last}");
}

/// `127.0.0.1:PORT` of `http://127.0.0.1:PORT/mcp`.
fn socket_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|host_port| host_port.parse().ok())
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"))
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}

/// The lines of the Markdown section that starts with `heading`, up to the next heading.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let Some(start) = markdown.find(heading) else {
        return "";
    };
    let body = &markdown[start + heading.len()..];
    let end = body.find("\n#").unwrap_or(body.len());
    &body[..end]
}

/// One span of the trace file, with what the test asks of it.
#[derive(Debug)]
struct Span {
    span_id: String,
    parent: String,
    name: String,
    kind: i64,
    status: i64,
    service: String,
    start_ns: u64,
    end_ns: u64,
    attributes: HashMap<String, Value>,
    events: Vec<String>,
}

impl Span {
    fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(Value::as_str)
    }

    /// OTLP-JSON writes 64-bit integers as strings.
    fn int_attr(&self, key: &str) -> Option<i64> {
        match self.attr(key)? {
            Value::String(text) => text.parse().ok(),
            other => other.as_i64(),
        }
    }

    fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_ns.saturating_sub(self.start_ns))
    }

    /// A `tools/call` CLIENT span of the agent process to `service`.
    fn is_call_to(&self, service: &str) -> bool {
        self.service == AGENT_SERVICE_NAME
            && self.kind == KIND_CLIENT
            && self.name.starts_with(span_name::MCP_TOOLS_CALL)
            && (self.str_attr(attr::AWS_REMOTE_SERVICE) == Some(service)
                || self.str_attr(attr::PEER_SERVICE) == Some(service))
    }
}

/// Polls the trace file until the spans of `trace_id` satisfy `complete`, within the flush deadline.
fn wait_for_spans(path: &Path, trace_id: &str, complete: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    let deadline = Instant::now() + FLUSH_DEADLINE;
    loop {
        let spans = read_trace(path, trace_id);
        if complete(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "the trace file {} did not get the expected spans of {trace_id} within {FLUSH_DEADLINE:?}; \
             services seen: {:?}",
            path.display(),
            spans
                .iter()
                .map(|s| s.service.as_str())
                .collect::<std::collections::BTreeSet<_>>()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The spans of `trace_id` in the OTLP-JSON lines file at `path`.
fn read_trace(path: &Path, trace_id: &str) -> Vec<Span> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut spans = Vec::new();
    // A line being appended by another process may be incomplete: skip what does not parse yet.
    for line in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        for resource in array(&line["resourceSpans"]) {
            let service = array(&resource["resource"]["attributes"])
                .iter()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or_default()
                .to_owned();
            for scope in array(&resource["scopeSpans"]) {
                for span in array(&scope["spans"]) {
                    if span["traceId"] != trace_id {
                        continue;
                    }
                    spans.push(Span {
                        span_id: text_of(&span["spanId"]),
                        parent: text_of(&span["parentSpanId"]),
                        name: text_of(&span["name"]),
                        kind: span["kind"].as_i64().unwrap_or_default(),
                        status: span["status"]["code"].as_i64().unwrap_or_default(),
                        service: service.clone(),
                        start_ns: nanos(&span["startTimeUnixNano"]),
                        end_ns: nanos(&span["endTimeUnixNano"]),
                        attributes: array(&span["attributes"])
                            .iter()
                            .filter_map(|a| {
                                let value = a["value"].as_object()?.values().next()?.clone();
                                Some((text_of(&a["key"]), value))
                            })
                            .collect(),
                        events: array(&span["events"])
                            .iter()
                            .map(|e| text_of(&e["name"]))
                            .collect(),
                    });
                }
            }
        }
    }
    spans
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn nanos(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or_default()
}
