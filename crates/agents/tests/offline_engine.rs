//! The offline engine on incidents unlike the bundled scenario: tool answers are served from a table
//! written to the tool contract (docs/tools.md), and the engine drives the conversation through the
//! ordinary `ChatModel` interface — planning, specialist tool calls, and the final assessment.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sre_agents::{
    finding::{AgentAnswer, AgentResult, Assessment, RoutePlan, Severity, SummaryInput},
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, ToolResult, ToolSpec,
        offline::OfflineModel, parse_json_answer, task_prompt,
    },
    protocol::AgentKind,
};

/// A tool's answer to its arguments: the JSON output, or the error text the model sees.
type Handler = Box<dyn Fn(&Value) -> Result<Value, String>>;
type Tools = BTreeMap<&'static str, Handler>;

fn ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339()
}

fn series(points: &[(i64, f64)]) -> Value {
    let pts: Vec<Value> = points
        .iter()
        .map(|(m, v)| json!({"timestamp": ago(*m), "value": v}))
        .collect();
    let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    json!({"first": values[0], "latest": values[values.len() - 1], "min": min, "max": max,
           "avg": values.iter().sum::<f64>() / values.len() as f64, "points": pts})
}

fn specs(tools: &Tools) -> Vec<ToolSpec> {
    tools
        .keys()
        .map(|name| ToolSpec {
            name: (*name).to_owned(),
            description: String::new(),
            input_schema: json!({"type": "object"}),
        })
        .collect()
}

/// Runs one specialist conversation to its answer.
async fn run_agent(
    model: &OfflineModel,
    kind: AgentKind,
    question: &str,
    tools: &Tools,
) -> AgentAnswer {
    let mut messages = vec![
        ChatMessage::System {
            text: String::new(),
        },
        ChatMessage::User {
            text: task_prompt(question, &[]),
        },
    ];
    for _ in 0..8 {
        let request = ChatRequest {
            purpose: ChatPurpose::Investigate(kind),
            messages: messages.clone(),
            tools: specs(tools),
            max_output_tokens: 4096,
        };
        let response = model.chat(request).await.expect("the engine answers");
        if response.tool_calls.is_empty() {
            return parse_json_answer(&response.text.unwrap_or_default()).expect("findings JSON");
        }
        messages.push(ChatMessage::Assistant {
            text: None,
            tool_calls: response.tool_calls.clone(),
        });
        for call in response.tool_calls {
            let handler = tools
                .get(call.name.as_str())
                .expect("the engine calls only offered tools");
            let (content, is_error) = match handler(&call.arguments) {
                Ok(v) => (v.to_string(), false),
                Err(e) => (e, true),
            };
            messages.push(ChatMessage::Tool {
                result: ToolResult {
                    call_id: call.id,
                    tool: call.name,
                    content,
                    is_error,
                },
            });
        }
    }
    panic!("{kind} agent did not finish within 8 steps");
}

/// The JSON answer of a model reply, parsed as `T`.
fn answer_json<T: serde::de::DeserializeOwned>(
    reply: Result<sre_agents::model::ChatResponse, sre_agents::model::ModelError>,
) -> T {
    let text = reply
        .expect("the engine answers")
        .text
        .expect("a final answer is text");
    parse_json_answer(&text).expect("the answer is JSON of the expected shape")
}

async fn plan(model: &OfflineModel, question: &str) -> RoutePlan {
    let request = ChatRequest {
        purpose: ChatPurpose::Plan,
        messages: vec![ChatMessage::User {
            text: task_prompt(question, &[]),
        }],
        tools: Vec::new(),
        max_output_tokens: 512,
    };
    answer_json(model.chat(request).await)
}

async fn investigate(
    question: &str,
    domains: &BTreeMap<AgentKind, Tools>,
) -> (RoutePlan, Assessment) {
    let model = OfflineModel::new();
    let route = plan(&model, question).await;
    let mut reports = Vec::new();
    for kind in &route.agents {
        let Some(tools) = domains.get(kind) else {
            continue;
        };
        let answer = run_agent(&model, *kind, question, tools).await;
        reports.push(AgentResult {
            agent: *kind,
            status: "complete".into(),
            summary: answer.summary,
            findings: answer.findings,
            unavailable: Vec::new(),
            error: None,
        });
    }
    let input = SummaryInput {
        question: question.to_owned(),
        reports,
    };
    let request = ChatRequest {
        purpose: ChatPurpose::Summarize,
        messages: vec![ChatMessage::User {
            text: serde_json::to_string(&input).expect("summary input encodes"),
        }],
        tools: Vec::new(),
        max_output_tokens: 2048,
    };
    let assessment = answer_json(model.chat(request).await);
    (route, assessment)
}

fn tools(entries: Vec<(&'static str, Handler)>) -> Tools {
    entries.into_iter().collect()
}

fn constant(value: Value) -> Handler {
    Box::new(move |_| Ok(value.clone()))
}

fn pod(
    name: &str,
    app: &str,
    owner: &str,
    node: &str,
    status: &str,
    ready: bool,
    restarts: i64,
) -> Value {
    json!({"name": name, "namespace": "production", "app": app, "owner": owner, "node": node,
           "phase": if status == "Evicted" { "Failed" } else if status == "Pending" { "Pending" } else { "Running" },
           "status": status, "ready": ready, "restarts": restarts, "started_at": ago(300), "age": "5h",
           "containers": [{"name": app, "image": format!("registry/{app}:1.0"), "state": if ready { "running" } else { "waiting" }}]})
}

fn node(name: &str, disk_pressure: bool) -> Value {
    json!({"name": name, "roles": ["worker"], "kubelet_version": "v1.30.2", "ready": true,
           "conditions": {"Ready": "True", "MemoryPressure": "False",
                          "DiskPressure": if disk_pressure { "True" } else { "False" }, "PIDPressure": "False"},
           "capacity": {"cpu_millicores": 4000, "memory_mib": 16384, "pods": 110},
           "usage": {"cpu_millicores": 1200, "memory_mib": 6000, "pods": 14},
           "cpu_pct": 30.0, "memory_pct": 36.6, "pods": 14})
}

fn metrics_tools(per_service: Vec<(&'static str, Value, Value, Value)>) -> Tools {
    // (service, response_time series, error_rate (current, baseline), availability series)
    let perf: Vec<Value> = per_service
        .iter()
        .map(|(s, rt, _, _)| {
            let mut v = rt.clone();
            v["service"] = json!(s);
            v
        })
        .collect();
    let errors: Vec<Value> = per_service
        .iter()
        .map(|(s, _, er, _)| {
            json!({"service": s, "unit": "percent",
        "current": er[0], "baseline": er[1], "peak": er[0], "points": []})
        })
        .collect();
    let avail: Vec<Value> = per_service.iter().map(|(s, _, _, av)| json!({"service": s,
        "availability": av["avg"], "latest": av["latest"], "min": av["min"], "slo_met": av["min"].as_f64() >= Some(99.9)})).collect();
    let flat: Vec<Value> = per_service
        .iter()
        .map(|(s, _, _, _)| {
            let mut v = series(&[(60, 40.0), (30, 41.0), (0, 40.0)]);
            v["service"] = json!(s);
            v
        })
        .collect();
    let trends = {
        let per = per_service
            .iter()
            .map(|(s, rt, _, _)| (s.to_string(), rt.clone()))
            .collect::<Vec<_>>();
        move |args: &Value| -> Result<Value, String> {
            let metric = args["metric_name"].as_str().unwrap_or_default().to_owned();
            let services: Vec<Value> = per.iter().filter(|_| metric == "response_time").map(|(s, rt)| {
                let baseline = rt["first"].as_f64().expect("series has a first value");
                let latest = rt["latest"].as_f64().expect("series has a latest value");
                let anomalous = latest > baseline * 1.5;
                json!({"service": s, "trend": if anomalous { "increasing" } else { "stable" }, "baseline": baseline,
                       "latest": latest, "change_pct": (latest / baseline - 1.0) * 100.0, "anomalous": anomalous,
                       "onset": if anomalous { json!(ago(38)) } else { Value::Null }, "anomalies": []})
            }).collect();
            Ok(
                json!({"metric_name": metric, "unit": "ms", "time_window": "2h", "services": services}),
            )
        }
    };
    tools(vec![
        (
            "get_performance_metrics",
            constant(json!({"metric_type": "response_time", "unit": "ms", "services": perf})),
        ),
        (
            "get_error_rates",
            constant(json!({"time_window": "1h", "services": errors})),
        ),
        (
            "get_availability_metrics",
            constant(json!({"time_window": "1h", "slo_target": 99.9, "services": avail})),
        ),
        (
            "get_resource_metrics",
            Box::new(move |args: &Value| {
                Ok(
                    json!({"resource_type": args["resource_type"], "unit": "percent", "time_window": "1h", "services": flat.clone()}),
                )
            }),
        ),
        ("analyze_trends", Box::new(trends)),
    ])
}

fn empty_logs_tools(errors: Vec<Value>) -> Tools {
    let mut by_service = serde_json::Map::new();
    for e in &errors {
        let s = e["service"]
            .as_str()
            .expect("log entry has a service")
            .to_owned();
        let n = by_service.get(&s).and_then(Value::as_u64).unwrap_or(0);
        by_service.insert(s, json!(n + 1));
    }
    let total = errors.len();
    let entries = errors.clone();
    tools(vec![
        (
            "get_error_logs",
            constant(
                json!({"since": ago(60), "total": total, "by_service": by_service, "entries": entries}),
            ),
        ),
        (
            "analyze_log_patterns",
            constant(json!({"time_window": "1h", "patterns": []})),
        ),
        (
            "count_log_events",
            constant(
                json!({"event_type": "ERROR", "time_window": "1h", "group_by": "service", "total": total, "groups": {}}),
            ),
        ),
        (
            "search_logs",
            constant(json!({"pattern": "", "total": 0, "entries": []})),
        ),
        (
            "get_recent_logs",
            constant(json!({"total": errors.len(), "entries": errors})),
        ),
    ])
}

#[tokio::test]
async fn node_disk_pressure_is_found_as_the_root_of_evictions() {
    let k8s = tools(vec![
        (
            "get_pod_status",
            constant(json!({"namespace": "production", "pods": [
            pod("checkout-7d9f8b6c5d-abc12", "checkout", "checkout", "node-2", "Evicted", false, 0),
            pod("checkout-7d9f8b6c5d-def34", "checkout", "checkout", "node-2", "Pending", false, 0),
            pod("search-5c4b3a2d1e-x1y2z", "search", "search", "node-1", "Running", true, 0),
        ], "summary": {"total": 3, "running": 1, "not_ready": 2, "restarts": 0}})),
        ),
        (
            "get_deployment_status",
            constant(json!({"namespace": "production", "deployments": [
            {"name": "checkout", "namespace": "production", "app": "checkout", "replicas": 2, "ready_replicas": 0,
             "available_replicas": 0, "updated_replicas": 2, "image": "registry/checkout:4.2", "revision": 9,
             "updated_at": ago(20000), "strategy": "RollingUpdate", "healthy": false, "conditions": [], "history": []},
            {"name": "search", "namespace": "production", "app": "search", "replicas": 2, "ready_replicas": 2,
             "available_replicas": 2, "updated_replicas": 2, "image": "registry/search:2.0", "revision": 3,
             "updated_at": ago(30000), "strategy": "RollingUpdate", "healthy": true, "conditions": [], "history": []}]})),
        ),
        (
            "get_cluster_events",
            constant(json!({"since": ago(120), "events": [
            {"timestamp": ago(25), "type": "Warning", "reason": "Evicted", "namespace": "production",
             "object": {"kind": "Pod", "name": "checkout-7d9f8b6c5d-abc12"},
             "message": "The node was low on resource: ephemeral-storage.", "count": 1},
            {"timestamp": ago(24), "type": "Warning", "reason": "FailedScheduling", "namespace": "production",
             "object": {"kind": "Pod", "name": "checkout-7d9f8b6c5d-def34"},
             "message": "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }", "count": 6},
            {"timestamp": ago(30), "type": "Warning", "reason": "NodeHasDiskPressure", "namespace": "",
             "object": {"kind": "Node", "name": "node-2"}, "message": "Node node-2 status is now: NodeHasDiskPressure", "count": 1}]})),
        ),
        (
            "get_node_status",
            constant(json!({"nodes": [node("node-1", false), node("node-2", true)]})),
        ),
        (
            "get_resource_usage",
            constant(
                json!({"namespace": "production", "resource_type": "all", "pods": [], "totals": {}}),
            ),
        ),
    ]);
    let metrics = metrics_tools(vec![
        (
            "checkout-service",
            series(&[(60, 90.0), (30, 95.0), (0, 110.0)]),
            json!([38.0, 0.4]),
            series(&[(60, 99.95), (30, 70.0), (0, 41.0)]),
        ),
        (
            "search-service",
            series(&[(60, 35.0), (30, 36.0), (0, 34.0)]),
            json!([0.1, 0.1]),
            series(&[(60, 99.99), (0, 99.99)]),
        ),
    ]);
    let logs = empty_logs_tools(vec![
        json!({"timestamp": ago(5), "service": "frontend", "level": "ERROR", "message": "Upstream checkout-service returned 503 for POST /cart/checkout"}),
        json!({"timestamp": ago(9), "service": "frontend", "level": "ERROR", "message": "Upstream checkout-service returned 503 for POST /cart/checkout"}),
        json!({"timestamp": ago(12), "service": "frontend", "level": "ERROR", "message": "Upstream checkout-service returned 503 for GET /cart"}),
        json!({"timestamp": ago(15), "service": "frontend", "level": "ERROR", "message": "Upstream checkout-service returned 503 for GET /cart"}),
        json!({"timestamp": ago(18), "service": "frontend", "level": "ERROR", "message": "Upstream checkout-service returned 503 for GET /cart"}),
    ]);
    let domains = BTreeMap::from([
        (AgentKind::Kubernetes, k8s),
        (AgentKind::Metrics, metrics),
        (AgentKind::Logs, logs),
    ]);
    let (route, a) = investigate("Checkout is down for customers, why?", &domains).await;

    assert!(
        route.agents.contains(&AgentKind::Kubernetes) && route.agents.contains(&AgentKind::Metrics)
    );
    assert!(
        a.root_cause_entities.iter().any(|e| e == "node-2"),
        "root: {} / {:?}",
        a.root_cause,
        a.root_cause_entities
    );
    assert!(a.root_cause.contains("DiskPressure"), "{}", a.root_cause);
    assert!(
        a.root_cause.contains("checkout-7d9f8b6c5d-abc12"),
        "names the evicted pod: {}",
        a.root_cause
    );
    assert!(
        a.impacted_services.iter().any(|s| s == "checkout-service"),
        "{:?}",
        a.impacted_services
    );
    assert!(
        a.impacted_services.iter().any(|s| s == "frontend"),
        "{:?}",
        a.impacted_services
    );
    assert!(
        !a.impacted_services.iter().any(|s| s.starts_with("search")),
        "the healthy service is a control"
    );
    assert_eq!(a.severity, Severity::Critical);
}

#[tokio::test]
async fn a_latency_regression_after_a_rollout_names_the_rollout() {
    let k8s = tools(vec![
        (
            "get_pod_status",
            constant(json!({"namespace": "production", "pods": [
            pod("api-gateway-6f7c8d9e0a-q1w2e", "api-gateway", "api-gateway", "node-1", "Running", true, 0),
            pod("orders-4a5b6c7d8e-r4t5y", "orders", "orders", "node-1", "Running", true, 0),
        ], "summary": {"total": 2, "running": 2, "not_ready": 0, "restarts": 0}})),
        ),
        (
            "get_deployment_status",
            constant(json!({"namespace": "production", "deployments": [
            {"name": "api-gateway", "namespace": "production", "app": "api-gateway", "replicas": 3, "ready_replicas": 3,
             "available_replicas": 3, "updated_replicas": 3, "image": "registry/api-gateway:v3.8.0", "revision": 12,
             "updated_at": ago(41), "strategy": "RollingUpdate", "healthy": true, "conditions": [],
             "history": [{"revision": 11, "image": "registry/api-gateway:v3.7.2", "deployed_at": ago(9000)}]},
            {"name": "orders", "namespace": "production", "app": "orders", "replicas": 2, "ready_replicas": 2,
             "available_replicas": 2, "updated_replicas": 2, "image": "registry/orders:1.4.1", "revision": 5,
             "updated_at": ago(20000), "strategy": "RollingUpdate", "healthy": true, "conditions": [], "history": []}]})),
        ),
        (
            "get_cluster_events",
            constant(json!({"since": ago(120), "events": []})),
        ),
        (
            "get_node_status",
            constant(json!({"nodes": [node("node-1", false)]})),
        ),
    ]);
    let metrics = metrics_tools(vec![
        (
            "api-gateway",
            series(&[(90, 120.0), (60, 118.0), (38, 300.0), (0, 380.0)]),
            json!([0.3, 0.3]),
            series(&[(60, 99.98), (0, 99.97)]),
        ),
        (
            "orders",
            series(&[(90, 45.0), (0, 46.0)]),
            json!([0.2, 0.2]),
            series(&[(60, 99.99), (0, 99.99)]),
        ),
    ]);
    let logs = empty_logs_tools(Vec::new());
    let domains = BTreeMap::from([
        (AgentKind::Kubernetes, k8s),
        (AgentKind::Metrics, metrics),
        (AgentKind::Logs, logs),
    ]);
    let (route, a) = investigate("API latency tripled in the last hour", &domains).await;

    assert_eq!(
        route.agents,
        vec![AgentKind::Kubernetes, AgentKind::Logs, AgentKind::Metrics]
    );
    assert!(
        a.root_cause_entities.iter().any(|e| e == "api-gateway"),
        "{:?}",
        a.root_cause_entities
    );
    assert!(
        a.root_cause_entities
            .iter()
            .any(|e| e == "registry/api-gateway:v3.8.0"),
        "{:?}",
        a.root_cause_entities
    );
    assert!(
        a.root_cause.contains("v3.7.2"),
        "names what was there before: {}",
        a.root_cause
    );
    assert_eq!(a.severity, Severity::High);
    assert!(
        a.next_steps
            .iter()
            .any(|s| s.contains("rollout undo") && s.contains("--to-revision=11")),
        "{:?}",
        a.next_steps
    );
    assert!(!a.impacted_services.iter().any(|s| s == "orders"));
}

#[tokio::test]
async fn failed_tools_give_a_no_data_answer_not_a_guess() {
    let failing: Tools = tools(vec![
        (
            "get_pod_status",
            Box::new(|_: &Value| {
                Err("Tool error: k8s-backend at http://127.0.0.1:1/mcp is unreachable: connection refused".to_owned())
            }),
        ),
        (
            "get_deployment_status",
            Box::new(|_: &Value| Err("Tool error: connection refused".to_owned())),
        ),
        (
            "get_cluster_events",
            Box::new(|_: &Value| Err("Tool error: connection refused".to_owned())),
        ),
        (
            "get_node_status",
            Box::new(|_: &Value| Err("Tool error: connection refused".to_owned())),
        ),
    ]);
    let answer = run_agent(
        &OfflineModel::new(),
        AgentKind::Kubernetes,
        "Check cluster health",
        &failing,
    )
    .await;
    assert!(answer.findings.is_empty());
    assert!(
        answer.summary.starts_with("No data") && answer.summary.contains("connection refused"),
        "{}",
        answer.summary
    );
}
