//! The four backends started in-process answer every tool over MCP streamable HTTP with the documented JSON
//! shapes, and report domain failures as tool errors the model can read.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ErrorCode, InitializeRequestParams,
};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use sre_mcp_backends::{BackendSet, DEFAULT_SCENARIO, Domain, load_bundled};

type Client = RunningService<RoleClient, InitializeRequestParams>;

/// One call per tool: arguments, the exact top-level keys of the answer, and a check of its content.
struct Case {
    tool: &'static str,
    args: Value,
    keys: &'static [&'static str],
    check: fn(&Value) -> Result<()>,
}

fn cases(domain: Domain) -> Vec<Case> {
    match domain {
        Domain::K8s => vec![
            Case {
                tool: "get_pod_status",
                args: json!({"namespace": "production"}),
                keys: &["namespace", "pods", "summary"],
                check: |v| {
                    let db = find(&v["pods"], "name", "database-pod-7b9c4d8f2a-x5m1q")?;
                    expect_keys(
                        db,
                        &[
                            "name",
                            "namespace",
                            "app",
                            "owner",
                            "node",
                            "phase",
                            "status",
                            "ready",
                            "restarts",
                            "started_at",
                            "age",
                            "containers",
                            "usage",
                            "limits",
                        ],
                    )?;
                    expect_eq(&db["status"], &json!("CrashLoopBackOff"))?;
                    expect_eq(&db["restarts"], &json!(15))?;
                    expect_keys(
                        &db["containers"][0]["last_termination"],
                        &["reason", "exit_code", "finished_at", "message"],
                    )?;
                    expect_keys(
                        &v["summary"],
                        &["total", "running", "not_ready", "restarts"],
                    )?;
                    all_eq(&v["pods"], "namespace", "production")
                },
            },
            Case {
                tool: "get_deployment_status",
                args: json!({"namespace": "production", "deployment_name": "database-deployment"}),
                keys: &["namespace", "deployments"],
                check: |v| {
                    let d = &v["deployments"][0];
                    expect_keys(
                        d,
                        &[
                            "name",
                            "namespace",
                            "app",
                            "replicas",
                            "ready_replicas",
                            "available_replicas",
                            "updated_replicas",
                            "image",
                            "revision",
                            "updated_at",
                            "strategy",
                            "healthy",
                            "conditions",
                            "history",
                        ],
                    )?;
                    expect_eq(&d["healthy"], &json!(false))?;
                    expect_keys(&d["history"][0], &["revision", "image", "deployed_at"])
                },
            },
            Case {
                tool: "get_cluster_events",
                args: json!({"severity": "warning"}),
                keys: &["since", "events"],
                check: |v| {
                    let mount = find(&v["events"], "reason", "FailedMount")?;
                    expect_keys(
                        mount,
                        &[
                            "timestamp",
                            "type",
                            "reason",
                            "namespace",
                            "object",
                            "message",
                            "count",
                        ],
                    )?;
                    all_eq(&v["events"], "type", "Warning")
                },
            },
            Case {
                tool: "get_resource_usage",
                args: json!({"namespace": "production", "resource_type": "memory"}),
                keys: &["namespace", "resource_type", "pods", "totals"],
                check: |v| {
                    expect_keys(
                        &v["pods"][0],
                        &[
                            "name",
                            "namespace",
                            "app",
                            "node",
                            "memory_mib",
                            "memory_limit_mib",
                            "memory_pct_of_limit",
                        ],
                    )?;
                    expect_keys(&v["totals"], &["pods", "cpu_millicores", "memory_mib"])
                },
            },
            Case {
                tool: "get_node_status",
                args: json!({}),
                keys: &["nodes"],
                check: |v| {
                    expect_keys(
                        &v["nodes"][0],
                        &[
                            "name",
                            "roles",
                            "kubelet_version",
                            "ready",
                            "conditions",
                            "capacity",
                            "usage",
                            "cpu_pct",
                            "memory_pct",
                            "pods",
                        ],
                    )?;
                    all_eq(&v["nodes"], "ready", true)
                },
            },
        ],
        Domain::Logs => vec![
            Case {
                tool: "search_logs",
                args: json!({"pattern": "outofmemoryerror", "log_level": "ERROR"}),
                keys: &["pattern", "total", "entries"],
                check: |v| {
                    expect_keys(
                        &v["entries"][0],
                        &["timestamp", "service", "pod", "level", "logger", "message"],
                    )?;
                    all_eq(&v["entries"], "service", "web-service")
                },
            },
            Case {
                tool: "get_error_logs",
                args: json!({"service": "api-service"}),
                keys: &["since", "total", "by_service", "entries"],
                check: |v| {
                    expect_eq(&v["by_service"], &json!({"api-service": v["total"]}))?;
                    nonempty(&v["entries"])
                },
            },
            Case {
                tool: "analyze_log_patterns",
                args: json!({}),
                keys: &["time_window", "patterns"],
                check: |v| {
                    expect_keys(
                        &v["patterns"][0],
                        &[
                            "template",
                            "count",
                            "levels",
                            "services",
                            "first_seen",
                            "last_seen",
                            "example",
                        ],
                    )?;
                    find(
                        &v["patterns"],
                        "template",
                        "Connection timeout after <num>ms to <host>",
                    )
                    .map(|_| ())
                },
            },
            Case {
                tool: "get_recent_logs",
                args: json!({"limit": 10}),
                keys: &["total", "entries"],
                check: |v| expect_eq(&v["total"], &json!(10)),
            },
            Case {
                tool: "count_log_events",
                args: json!({"event_type": "ERROR", "group_by": "service"}),
                keys: &["event_type", "time_window", "group_by", "total", "groups"],
                check: |v| {
                    expect_eq(&v["groups"]["product-catalog-service"], &Value::Null)?;
                    nonempty_object(&v["groups"])
                },
            },
        ],
        Domain::Metrics => vec![
            Case {
                tool: "get_performance_metrics",
                args: json!({"service": "web-service"}),
                keys: &["metric_type", "unit", "services"],
                check: |v| {
                    expect_keys(
                        &v["services"][0],
                        &[
                            "service",
                            "namespace",
                            "first",
                            "latest",
                            "min",
                            "max",
                            "avg",
                            "points",
                        ],
                    )?;
                    expect_eq(&v["services"][0]["latest"], &json!(5000.0))
                },
            },
            Case {
                tool: "get_error_rates",
                args: json!({}),
                keys: &["time_window", "services"],
                check: |v| {
                    let web = find(&v["services"], "service", "web-service")?;
                    expect_keys(
                        web,
                        &["service", "unit", "current", "baseline", "peak", "points"],
                    )?;
                    expect_eq(&web["current"], &json!(75.0))
                },
            },
            Case {
                tool: "get_resource_metrics",
                args: json!({"resource_type": "memory"}),
                keys: &["resource_type", "unit", "time_window", "services"],
                check: |v| {
                    expect_keys(
                        &v["services"][0],
                        &["service", "first", "latest", "min", "max", "avg", "points"],
                    )
                },
            },
            Case {
                tool: "get_availability_metrics",
                args: json!({"service": "database"}),
                keys: &["time_window", "slo_target", "services"],
                check: |v| {
                    let db = &v["services"][0];
                    expect_keys(db, &["service", "availability", "latest", "min", "slo_met"])?;
                    expect_eq(&db["latest"], &json!(0.0))
                },
            },
            Case {
                tool: "analyze_trends",
                args: json!({"metric_name": "response_time", "service": "web-service"}),
                keys: &["metric_name", "unit", "time_window", "services"],
                check: |v| {
                    let web = &v["services"][0];
                    expect_keys(
                        web,
                        &[
                            "service",
                            "trend",
                            "baseline",
                            "latest",
                            "change_pct",
                            "anomalous",
                            "onset",
                            "anomalies",
                        ],
                    )?;
                    expect_eq(&web["trend"], &json!("increasing"))?;
                    expect_keys(&web["anomalies"][0], &["timestamp", "value", "deviation"])
                },
            },
        ],
        Domain::Runbooks => vec![
            Case {
                tool: "search_runbooks",
                args: json!({"keyword": "database crashloop"}),
                keys: &["runbooks"],
                check: |v| {
                    expect_keys(
                        &v["runbooks"][0],
                        &[
                            "id",
                            "title",
                            "incident_type",
                            "severity",
                            "score",
                            "symptoms",
                        ],
                    )?;
                    expect_eq(&v["runbooks"][0]["id"], &json!("PB-DB-CRASHLOOP"))
                },
            },
            Case {
                tool: "get_incident_playbook",
                args: json!({"playbook_id": "PB-DB-CRASHLOOP"}),
                keys: &[
                    "id",
                    "title",
                    "incident_type",
                    "severity",
                    "keywords",
                    "symptoms",
                    "steps",
                    "escalation",
                ],
                check: |v| expect_keys(&v["steps"][0], &["title", "commands", "expected"]),
            },
            Case {
                tool: "get_troubleshooting_guide",
                args: json!({"category": "kubernetes"}),
                keys: &["guides"],
                check: |v| {
                    expect_keys(
                        &v["guides"][0],
                        &[
                            "id",
                            "category",
                            "issue_type",
                            "title",
                            "symptoms",
                            "diagnostic_steps",
                            "solutions",
                        ],
                    )?;
                    all_eq(&v["guides"], "category", "kubernetes")
                },
            },
            Case {
                tool: "get_escalation_procedures",
                args: json!({"severity": "critical", "incident_type": "database"}),
                keys: &["procedures"],
                check: |v| {
                    expect_keys(
                        &v["procedures"][0],
                        &[
                            "severity",
                            "incident_type",
                            "response_time",
                            "levels",
                            "notes",
                        ],
                    )?;
                    expect_eq(&v["procedures"][0]["incident_type"], &json!("database"))
                },
            },
            Case {
                tool: "get_common_resolutions",
                args: json!({"issue": "connection pool exhausted", "service": "web-service"}),
                keys: &["issue", "resolutions"],
                check: |v| {
                    expect_keys(
                        &v["resolutions"][0],
                        &["issue", "services", "resolution", "steps", "score"],
                    )?;
                    expect_eq(
                        &v["resolutions"][0]["issue"],
                        &json!("Database connection pool exhausted"),
                    )
                },
            },
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_answers_over_streamable_http() -> Result<()> {
    let backends = start().await?;
    let mut tools_seen = 0;
    for domain in Domain::ALL {
        let client = connect(&backends, domain).await?;
        let listed: BTreeSet<String> = client
            .list_all_tools()
            .await?
            .into_iter()
            .map(|t| t.name.into_owned())
            .collect();
        let expected: BTreeSet<String> = domain
            .tool_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        assert_eq!(listed, expected, "tools of {domain}");
        tools_seen += listed.len();

        for case in cases(domain) {
            let result = call(&client, case.tool, case.args.clone()).await?;
            assert_eq!(
                result.is_error,
                Some(false),
                "{}: {}",
                case.tool,
                text(&result)
            );
            let answer: Value = serde_json::from_str(&text(&result))
                .with_context(|| format!("{} answers JSON", case.tool))?;
            expect_keys(&answer, case.keys).with_context(|| format!("{} top level", case.tool))?;
            (case.check)(&answer).with_context(|| format!("{}: {answer:#}", case.tool))?;
        }
        client.cancel().await?;
    }
    assert_eq!(tools_seen, 20);
    backends.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_failures_are_tool_errors_naming_the_problem() -> Result<()> {
    let backends = start().await?;
    let runbooks = connect(&backends, Domain::Runbooks).await?;
    let unknown = call(
        &runbooks,
        "get_incident_playbook",
        json!({"playbook_id": "PB-NOPE"}),
    )
    .await?;
    assert_eq!(unknown.is_error, Some(true));
    assert!(
        text(&unknown).starts_with(
            "playbook_id \"PB-NOPE\" not found; existing playbooks: PB-DB-CRASHLOOP, "
        )
    );
    runbooks.cancel().await?;

    let logs = connect(&backends, Domain::Logs).await?;
    let bad_window = call(&logs, "get_error_logs", json!({"since": "a while"})).await?;
    assert_eq!(bad_window.is_error, Some(true));
    assert!(text(&bad_window).starts_with("invalid since \"a while\": expected a duration"));
    let bad_type = call(&logs, "get_recent_logs", json!({"limit": "five"})).await;
    assert_eq!(
        protocol_error(bad_type)?,
        (
            ErrorCode::INVALID_PARAMS,
            "invalid params for get_recent_logs: limit: invalid type: string \"five\", expected i64"
                .to_owned()
        )
    );
    let unknown_argument = call(&logs, "get_recent_logs", json!({"lines": 5})).await;
    assert_eq!(
        protocol_error(unknown_argument)?,
        (
            ErrorCode::INVALID_PARAMS,
            "invalid params for get_recent_logs: lines: unknown field `lines`, expected `limit` or `service`"
                .to_owned()
        )
    );
    let missing = logs
        .call_tool(CallToolRequestParams::new("get_pod_status"))
        .await;
    assert_eq!(
        protocol_error(missing)?,
        (
            ErrorCode::INVALID_PARAMS,
            "tool `get_pod_status` not found on logs-backend; its tools are search_logs, get_error_logs, \
             analyze_log_patterns, get_recent_logs, count_log_events"
                .to_owned()
        ),
        "a tool of another backend is a protocol error"
    );
    let answer = call(&logs, "get_recent_logs", json!({"limit": 1})).await?;
    assert_eq!(answer.is_error, Some(false), "the connection still serves");
    logs.cancel().await?;
    backends.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_docs_become_schema_descriptions() -> Result<()> {
    let backends = start().await?;
    let client = connect(&backends, Domain::Metrics).await?;
    let info = client.peer_info().context("server info after initialize")?;
    let name = info.server_info.as_ref().map(|i| i.name.as_str());
    assert_eq!(name, Some("metrics-backend"));
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or_default()
            .contains("database-crashloop")
    );
    let tools = client.list_all_tools().await?;
    let trends = tools
        .iter()
        .find(|t| t.name == "analyze_trends")
        .context("analyze_trends listed")?;
    let schema = Value::Object((*trends.input_schema).clone());
    let description = schema["properties"]["anomaly_threshold"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(description.contains("standard deviations"), "{schema:#}");
    assert_eq!(schema["required"], json!(["metric_name"]));
    client.cancel().await?;
    backends.shutdown().await;
    Ok(())
}

async fn start() -> Result<BackendSet> {
    let dataset = load_bundled(DEFAULT_SCENARIO, Utc::now())?;
    Ok(BackendSet::start_in_process(Arc::new(dataset)).await?)
}

async fn connect(backends: &BackendSet, domain: Domain) -> Result<Client> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(backends.url(domain)),
    );
    Ok(ClientConfig::default().serve(transport).await?)
}

async fn call(client: &Client, tool: &'static str, args: Value) -> Result<CallToolResult> {
    let Value::Object(arguments) = args else {
        bail!("arguments of {tool} must be an object");
    };
    Ok(client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await?)
}

/// The code and message of a call that must fail with a JSON-RPC error.
fn protocol_error<T: std::fmt::Debug>(
    result: Result<T, impl Into<anyhow::Error>>,
) -> Result<(ErrorCode, String)> {
    let error = match result {
        Ok(answer) => bail!("expected a protocol error, got {answer:?}"),
        Err(error) => error.into(),
    };
    match error.downcast_ref::<ServiceError>() {
        Some(ServiceError::McpError(data)) => Ok((data.code, data.message.to_string())),
        _ => bail!("expected a JSON-RPC error, got {error:#}"),
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

fn expect_keys(value: &Value, keys: &[&str]) -> Result<()> {
    let Some(object) = value.as_object() else {
        bail!("expected an object, found {value}");
    };
    let found: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let wanted: BTreeSet<&str> = keys.iter().copied().collect();
    if found != wanted {
        bail!("keys {found:?}, expected {wanted:?}");
    }
    Ok(())
}

fn expect_eq(found: &Value, expected: &Value) -> Result<()> {
    if found != expected {
        bail!("found {found}, expected {expected}");
    }
    Ok(())
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Result<&'a Value> {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == value))
        .with_context(|| format!("no item with {key} = {value:?}"))
}

fn all_eq(list: &Value, key: &str, expected: impl Into<Value>) -> Result<()> {
    let expected = expected.into();
    let items = list.as_array().context("expected a list")?;
    if items.is_empty() {
        bail!("expected a non-empty list");
    }
    match items.iter().find(|item| item[key] != expected) {
        Some(other) => bail!("{key} of {other} is not {expected}"),
        None => Ok(()),
    }
}

fn nonempty(list: &Value) -> Result<()> {
    match list.as_array() {
        Some(items) if !items.is_empty() => Ok(()),
        _ => bail!("expected a non-empty list, found {list}"),
    }
}

fn nonempty_object(value: &Value) -> Result<()> {
    match value.as_object() {
        Some(map) if !map.is_empty() => Ok(()),
        _ => bail!("expected a non-empty object, found {value}"),
    }
}
