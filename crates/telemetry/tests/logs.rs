//! A JSON log line emitted inside an investigation carries the six correlation fields — also inside an
//! agent span linked only through a `TraceCarrier` — and secret-looking fields are redacted.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;
use sre_telemetry::{TraceCarrier, config::LogFormat, convention::xray_trace_id, log, span};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lines(buffer: &Buffer) -> Vec<Value> {
    String::from_utf8(buffer.0.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lines_inside_an_investigation_carry_the_correlation_fields() {
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .build();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let (correlation, format) = log::layers(LogFormat::Json, false);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("logs-test")))
        .with(correlation)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .event_format(format),
        );
    let _default = tracing::subscriber::set_default(subscriber);

    let root = span::investigation(&TraceCarrier::default(), "inv-9", "alice", "sess-3", "why?");
    let trace_id = span::trace_id(&root).unwrap().to_string();
    root.in_scope(|| {
        tracing::warn!(api_key = "hunter2", attempts = 3, "backend slow");
    });
    // An agent span in "another task": no tracing parent, only the carrier.
    let carrier = TraceCarrier::from_span(&root);
    let agent = span::agent_execute("logs", "inv-9");
    assert!(carrier.attach(&agent));
    agent.in_scope(|| tracing::info!("agent started"));
    tracing::info!("outside any investigation");
    drop(agent);
    drop(root);

    let lines = lines(&buffer);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines[..2] {
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
        assert_eq!(
            line["xray_trace_id"],
            xray_trace_id(&trace_id).unwrap().as_str()
        );
        assert!(
            line["span_id"].as_str().is_some_and(|s| s.len() == 16),
            "{line}"
        );
        assert_eq!(line["investigation_id"], "inv-9", "{line}");
        assert_eq!(line["user_id"], "alice", "{line}");
        assert_eq!(line["session_id"], "sess-3", "{line}");
    }
    assert_ne!(
        lines[0]["span_id"], lines[1]["span_id"],
        "each event names its own span"
    );
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["message"], "backend slow");
    assert_eq!(lines[0]["fields"]["api_key"], "[REDACTED]");
    assert_eq!(lines[0]["fields"]["attempts"], 3);
    assert!(!buffer.0.lock().unwrap().windows(7).any(|w| w == b"hunter2"));
    assert!(
        lines[2].get("trace_id").is_none(),
        "no ids outside an investigation"
    );
    assert!(lines[2].get("investigation_id").is_none());
}
