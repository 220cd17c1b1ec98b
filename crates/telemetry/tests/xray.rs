//! Direct X-Ray export: segment documents reach a local `PutTraceSegments` endpoint (through the real SDK)
//! and a local UDP "daemon", and are valid X-Ray JSON — trace ids, parent ids, `namespace: remote` on CLIENT
//! subsegments, annotations for the investigation's user and session.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    net::UdpSocket,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_xray::config::{BehaviorVersion, Credentials, Region};
use axum::{Router, body::Bytes, routing::post};
use opentelemetry::{
    Context, KeyValue,
    trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _},
};
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;
use sre_telemetry::{
    TelemetryConfig,
    config::BatchConfig,
    exporter::{BatchExportProcessor, ExportRuntime, xray},
    pipeline::resource,
};

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Checks the fields every X-Ray segment or subsegment document needs; returns the errors.
fn validate(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let trace_id = doc["trace_id"].as_str().unwrap_or_default();
    let parts: Vec<&str> = trace_id.split('-').collect();
    if !(parts.len() == 3 && parts[0] == "1" && is_hex(parts[1], 8) && is_hex(parts[2], 24)) {
        errors.push(format!(
            "trace_id {trace_id:?} is not 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"
        ));
    }
    if !doc["id"].as_str().is_some_and(|id| is_hex(id, 16)) {
        errors.push(format!("id {} is not 16 hex digits", doc["id"]));
    }
    if !doc["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty() && n.len() <= 200)
    {
        errors.push("name missing".into());
    }
    match (doc["start_time"].as_f64(), doc["end_time"].as_f64()) {
        (Some(start), Some(end)) if start > 1.0e9 && end >= start => {}
        _ => errors.push("start_time/end_time must be epoch seconds, end >= start".into()),
    }
    if doc["type"] == "subsegment" && !doc["parent_id"].as_str().is_some_and(|p| is_hex(p, 16)) {
        errors.push("an independent subsegment needs a parent_id".into());
    }
    errors
}

/// Emits a small investigation: root (SERVER) → route (INTERNAL) → MCP call (CLIENT).
fn emit(provider: &SdkTracerProvider) -> String {
    let tracer = provider.tracer("xray-test");
    let root = tracer
        .span_builder("sre.investigation")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("user.id", "alice"),
            KeyValue::new("session.id", "sess-1"),
            KeyValue::new("sre.investigation_id", "inv-7"),
        ])
        .start(&tracer);
    let trace_id = opentelemetry::trace::Span::span_context(&root)
        .trace_id()
        .to_string();
    let cx = Context::current_with_span(root);
    let route = tracer
        .span_builder("supervisor.route_decision")
        .start_with_context(&tracer, &cx);
    let cx_route = cx.with_span(route);
    let call = tracer
        .span_builder("tools/call get_pod_status")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("peer.service", "k8s-backend")])
        .start_with_context(&tracer, &cx_route);
    drop(call);
    drop(cx_route);
    drop(cx);
    trace_id
}

fn provider(
    exporter_lane: impl FnOnce(BatchExportProcessorBuilderAlias) -> BatchExportProcessor,
) -> SdkTracerProvider {
    let config = TelemetryConfig::new("sre-agent", None);
    let builder = BatchExportProcessor::builder(BatchConfig::default(), 4096, resource(&config));
    SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_resource(resource(&config))
        .with_span_processor(exporter_lane(builder))
        .build()
}

type BatchExportProcessorBuilderAlias = sre_telemetry::exporter::batch::BatchExportProcessorBuilder;

fn check_documents(docs: &[Value], trace_id: &str) {
    assert_eq!(docs.len(), 3, "{docs:#?}");
    for doc in docs {
        let errors = validate(doc);
        assert!(errors.is_empty(), "{errors:?} in {doc}");
        assert_eq!(
            doc["trace_id"].as_str().unwrap().replace('-', "")[1..],
            *trace_id,
            "X-Ray form of the W3C trace id"
        );
    }
    let by_name = |n: &str| {
        docs.iter()
            .find(|d| d["name"].as_str().is_some_and(|x| x.contains(n)))
    };
    let segment = docs
        .iter()
        .find(|d| d["type"] != "subsegment")
        .expect("the SERVER root is a segment");
    assert!(segment.get("parent_id").is_none() || segment["parent_id"].is_null());
    let annotations = &segment["annotations"];
    assert_eq!(annotations["user_id"], "alice", "{segment}");
    assert_eq!(annotations["session_id"], "sess-1");
    assert_eq!(annotations["sre_investigation_id"], "inv-7");
    let client = docs
        .iter()
        .find(|d| d["namespace"] == "remote")
        .unwrap_or_else(|| panic!("a CLIENT subsegment has namespace remote: {docs:#?}"));
    let route = by_name("route_decision").expect("route subsegment");
    assert_eq!(route["parent_id"], segment["id"]);
    assert_eq!(client["parent_id"], route["id"]);
    assert_eq!(client["type"], "subsegment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_reach_put_trace_segments_as_valid_documents() {
    let documents: Arc<Mutex<Vec<Value>>> = Arc::default();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let (docs_in, paths_in) = (Arc::clone(&documents), Arc::clone(&paths));
    let app = Router::new().route(
        "/TraceSegments",
        post(move |uri: axum::http::Uri, body: Bytes| {
            let (docs_in, paths_in) = (Arc::clone(&docs_in), Arc::clone(&paths_in));
            async move {
                paths_in.lock().unwrap().push(uri.path().to_owned());
                let request: Value = serde_json::from_slice(&body).expect("REST-JSON body");
                for doc in request["TraceSegmentDocuments"]
                    .as_array()
                    .expect("documents")
                {
                    let parsed: Value =
                        serde_json::from_str(doc.as_str().expect("a JSON string")).unwrap();
                    docs_in.lock().unwrap().push(parsed);
                }
                (
                    [("content-type", "application/json")],
                    r#"{"UnprocessedTraceSegments":[]}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .build();
    let exporter = xray::api_exporter(
        aws_sdk_xray::Client::from_conf(config),
        tokio::runtime::Handle::current(),
        Duration::from_secs(10),
    );
    let provider = provider(|b| {
        b.exporter("xray", exporter, ExportRuntime::Thread)
            .unwrap()
            .build()
    });
    let trace_id = emit(&provider);
    let flushed = tokio::task::spawn_blocking(move || {
        let r = provider.force_flush();
        let _ = provider.shutdown();
        r
    })
    .await
    .unwrap();
    assert!(flushed.is_ok(), "{flushed:?}");
    let docs = documents.lock().unwrap().clone();
    assert!(paths.lock().unwrap().iter().all(|p| p == "/TraceSegments"));
    check_documents(&docs, &trace_id);
}

#[test]
fn segments_reach_the_daemon_over_udp() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let exporter = xray::daemon_exporter(daemon.local_addr().unwrap()).unwrap();
    let provider = provider(|b| {
        b.exporter("xray", exporter, ExportRuntime::Thread)
            .unwrap()
            .build()
    });
    let trace_id = emit(&provider);
    provider.force_flush().unwrap();

    let mut docs = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while docs.len() < 3 {
        let n = daemon
            .recv(&mut buf)
            .expect("a datagram within the deadline");
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, body) = text.split_once('\n').expect("header line");
        assert_eq!(
            serde_json::from_str::<Value>(header).unwrap(),
            serde_json::json!({"format": "json", "version": 1})
        );
        docs.push(serde_json::from_str::<Value>(body).unwrap());
    }
    check_documents(&docs, &trace_id);
    provider.shutdown().unwrap();
}
