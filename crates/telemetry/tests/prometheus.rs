//! The Prometheus exposition parses with a real parser, histograms have `_bucket/_sum/_count`, and the
//! optional listener serves it at `/metrics`.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    io::{Read, Write},
    time::Duration,
};

use prometheus_parse::{Scrape, Value};
use sre_telemetry::metric::{MetricId, Recorder, prometheus};

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("valid exposition")
}

fn sample<'a>(scrape: &'a Scrape, metric: &str, label: (&str, &str)) -> &'a Value {
    &scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && s.labels.get(label.0) == Some(label.1))
        .unwrap_or_else(|| panic!("{metric} {label:?} missing"))
        .value
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn exposition_parses_with_counters_gauges_and_histograms() {
    let recorder = Recorder::builder().build().unwrap();
    let agent = [("AgentName", "logs"), ("UserID", "alice")];
    for ms in [4.0, 30.0, 30.0, 2000.0] {
        recorder.record(MetricId::AgentInvocation, ms, &agent);
    }
    recorder.record(
        MetricId::ToolCalls,
        1.0,
        &[("ToolName", "get_error_logs"), ("AgentName", "logs")],
    );
    recorder.record(
        MetricId::ToolCalls,
        1.0,
        &[("ToolName", "get_error_logs"), ("AgentName", "logs")],
    );
    recorder.record(MetricId::ActiveAgentRuns, 1.0, &[("AgentName", "logs")]);
    recorder.record(
        MetricId::CircuitBreakerState,
        1.0,
        &[("Backend", "logs-backend")],
    );
    recorder.record(
        MetricId::LlmCost,
        0.5,
        &[("Provider", "offline"), ("Model", "analyst")],
    );
    assert!(recorder.flush(Duration::from_secs(5)));

    let text = recorder.prometheus_text();
    let parsed = scrape(&text);
    assert!(parsed.docs.contains_key("sre_tool_calls_total"), "{text}");
    assert_eq!(
        number(sample(
            &parsed,
            "sre_tool_calls_total",
            ("tool_name", "get_error_logs")
        )),
        2.0
    );
    assert_eq!(
        number(sample(
            &parsed,
            "sre_active_agent_runs",
            ("agent_name", "logs")
        )),
        1.0
    );
    assert_eq!(
        number(sample(
            &parsed,
            "sre_circuit_breaker_state",
            ("backend", "logs-backend")
        )),
        1.0
    );
    assert_eq!(
        number(sample(
            &parsed,
            "sre_llm_cost_usd_total",
            ("model", "analyst")
        )),
        0.5
    );

    let name = "sre_agent_invocation_duration_seconds";
    match sample(&parsed, name, ("user_id", "alice")) {
        Value::Histogram(buckets) => {
            let at = |le: f64| {
                buckets
                    .iter()
                    .find(|b| b.less_than == le || (b.less_than - le).abs() < 1e-9)
                    .map(|b| b.count)
            };
            assert_eq!(at(0.005), Some(1.0));
            assert_eq!(at(0.05), Some(3.0));
            assert_eq!(at(2.5), Some(4.0));
            assert_eq!(at(f64::INFINITY), Some(4.0));
        }
        other => panic!("{name} is not a histogram: {other:?}"),
    }
    assert_eq!(
        number(sample(
            &parsed,
            &format!("{name}_count"),
            ("agent_name", "logs")
        )),
        4.0
    );
    let sum = number(sample(
        &parsed,
        &format!("{name}_sum"),
        ("agent_name", "logs"),
    ));
    assert!((sum - 2.064).abs() < 1e-9, "{sum}");
    recorder.shutdown(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_serves_metrics() {
    let recorder = Recorder::builder().build().unwrap();
    recorder.record(MetricId::CacheMisses, 3.0, &[("Cache", "preferences")]);
    let (addr, task) = prometheus::serve(
        recorder.clone(),
        "127.0.0.1:0",
        &tokio::runtime::Handle::current(),
    )
    .unwrap();

    let response = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            stream.read_to_string(&mut body).unwrap();
            // The aggregator applies samples asynchronously; poll until it has.
            if body.contains("sre_cache_misses_total") || std::time::Instant::now() > deadline {
                return body;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap();
    task.abort();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("text/plain; version=0.0.4"));
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let parsed = scrape(body);
    assert_eq!(
        number(sample(
            &parsed,
            "sre_cache_misses_total",
            ("cache", "preferences")
        )),
        3.0
    );
}
