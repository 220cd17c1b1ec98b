//! PutMetricData through the real AWS SDK against a local endpoint that decodes what the SDK really sends
//! (Smithy RPCv2 CBOR, gzip above 10 KB): namespace, names, dimensions, values, batching limits and a retry
//! after throttling.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    io::Read,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};
use ciborium::Value as Cbor;
use sre_telemetry::metric::{MetricId, Recorder, cloudwatch::CloudWatchSink};

const PATH: &str = "/service/GraniteServiceVersion20100801/operation/PutMetricData";

#[derive(Debug, Clone)]
struct Request {
    path: String,
    signed: bool,
    body: Cbor,
}

#[derive(Clone, Default)]
struct Endpoint {
    requests: Arc<Mutex<Vec<Request>>>,
    throttle_first: Arc<Mutex<u32>>,
}

fn field<'a>(map: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn text(v: &Cbor) -> &str {
    v.as_text().expect("text")
}

fn float(v: &Cbor) -> f64 {
    match v {
        Cbor::Float(f) => *f,
        Cbor::Integer(i) => i128::from(*i) as f64,
        other => panic!("not a number: {other:?}"),
    }
}

fn cbor_bytes(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

async fn handle(
    axum::extract::State(endpoint): axum::extract::State<Endpoint>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut raw = body.to_vec();
    if headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        raw = out;
    }
    let decoded: Cbor = ciborium::from_reader(&raw[..]).expect("the SDK sends CBOR");
    endpoint.requests.lock().unwrap().push(Request {
        path: uri.path().to_owned(),
        signed: headers.get("authorization").is_some_and(|v| {
            v.to_str()
                .unwrap_or_default()
                .starts_with("AWS4-HMAC-SHA256")
        }),
        body: decoded,
    });
    let cbor_headers = [
        ("smithy-protocol", "rpc-v2-cbor"),
        ("content-type", "application/cbor"),
    ];
    let throttle = {
        let mut left = endpoint.throttle_first.lock().unwrap();
        let t = *left > 0;
        *left = left.saturating_sub(1);
        t
    };
    if throttle {
        let error = Cbor::Map(vec![
            (Cbor::Text("__type".into()), Cbor::Text("Throttling".into())),
            (
                Cbor::Text("message".into()),
                Cbor::Text("Rate exceeded".into()),
            ),
        ]);
        return (StatusCode::BAD_REQUEST, cbor_headers, cbor_bytes(&error));
    }
    (
        StatusCode::OK,
        cbor_headers,
        cbor_bytes(&Cbor::Map(Vec::new())),
    )
}

async fn start(endpoint: Endpoint) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(endpoint);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn sink(url: &str) -> CloudWatchSink {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(url)
        .build();
    CloudWatchSink::new(
        aws_sdk_cloudwatch::Client::from_conf(config),
        "SREAgent/Test",
        tokio::runtime::Handle::current(),
        Duration::from_secs(10),
    )
    .with_retry(3, Duration::from_millis(20))
}

async fn flush(recorder: &Recorder) {
    let r = recorder.clone();
    let ok = tokio::task::spawn_blocking(move || r.flush(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(ok, "the sink delivered the batch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datums_are_batched_within_limits_and_decode_back() {
    let endpoint = Endpoint::default();
    let url = start(endpoint.clone()).await;
    let recorder = Recorder::builder()
        .sink(Box::new(sink(&url)))
        .build()
        .unwrap();
    for i in 0..2500 {
        let tool = format!("tool-{i:04}");
        recorder.record(
            MetricId::ToolCalls,
            1.0,
            &[("ToolName", &tool), ("AgentName", "kubernetes")],
        );
    }
    let llm = [("Provider", "bedrock"), ("Model", "claude")];
    for ms in [100.0, 100.0, 250.0] {
        recorder.record(MetricId::LlmDuration, ms, &llm);
    }
    recorder.record(
        MetricId::TokenBudgetRemaining,
        9000.0,
        &[("UserID", "alice")],
    );
    flush(&recorder).await;

    let requests = endpoint.requests.lock().unwrap().clone();
    assert!(requests.len() >= 3, "{} requests", requests.len());
    let mut tools: HashMap<String, f64> = HashMap::new();
    let mut llm_duration = None;
    let mut budget = None;
    for request in &requests {
        assert_eq!(request.path, PATH);
        assert!(request.signed, "SigV4-signed");
        assert_eq!(
            field(&request.body, "Namespace").map(text),
            Some("SREAgent/Test")
        );
        let data = field(&request.body, "MetricData")
            .unwrap()
            .as_array()
            .unwrap();
        assert!(
            !data.is_empty() && data.len() <= 1000,
            "{} datums",
            data.len()
        );
        for datum in data {
            let name = text(field(datum, "MetricName").unwrap());
            let dims: HashMap<&str, &str> = field(datum, "Dimensions")
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        text(field(d, "Name").unwrap()),
                        text(field(d, "Value").unwrap()),
                    )
                })
                .collect();
            let unit = field(datum, "Unit").map(text);
            assert!(field(datum, "Timestamp").is_some());
            match name {
                "ToolCalls" => {
                    assert_eq!(dims["AgentName"], "kubernetes");
                    assert_eq!(unit, Some("Count"));
                    tools.insert(
                        dims["ToolName"].to_owned(),
                        float(field(datum, "Value").unwrap()),
                    );
                }
                "LlmDuration" => {
                    assert_eq!((dims["Provider"], dims["Model"]), ("bedrock", "claude"));
                    assert_eq!(unit, Some("Milliseconds"));
                    let values: Vec<f64> = field(datum, "Values")
                        .unwrap()
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(float)
                        .collect();
                    let counts: Vec<f64> = field(datum, "Counts")
                        .unwrap()
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(float)
                        .collect();
                    llm_duration = Some((values, counts));
                }
                "TokenBudgetRemaining" => {
                    assert_eq!(dims["UserID"], "alice");
                    budget = Some(float(field(datum, "Value").unwrap()));
                }
                other => panic!("unexpected metric {other}"),
            }
        }
    }
    assert_eq!(tools.len(), 2500);
    assert!(tools.values().all(|v| *v == 1.0));
    assert!(tools.contains_key("tool-0000") && tools.contains_key("tool-2499"));
    assert_eq!(llm_duration, Some((vec![100.0, 250.0], vec![2.0, 1.0])));
    assert_eq!(budget, Some(9000.0));

    let r = recorder.clone();
    tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_retried_with_backoff() {
    let endpoint = Endpoint::default();
    *endpoint.throttle_first.lock().unwrap() = 1;
    let url = start(endpoint.clone()).await;
    let recorder = Recorder::builder()
        .sink(Box::new(sink(&url)))
        .build()
        .unwrap();
    recorder.record(
        MetricId::Errors,
        1.0,
        &[("Component", "mcp"), ("ErrorType", "timeout")],
    );
    flush(&recorder).await;

    let requests = endpoint.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one throttled attempt, one retry");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same datums are sent again"
    );
    let stats = recorder.stats();
    assert_eq!(stats.sink_dropped, 0);
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
}
