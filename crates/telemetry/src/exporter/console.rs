//! One line per finished span on stderr, for `--debug` / `OTEL_DEBUG=true`.

use std::io::Write;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{SpanData, SpanExporter},
};

/// Prints finished spans to stderr as `span <name> kind=.. trace=.. span=.. parent=.. <ms>ms [error]`.
#[derive(Debug, Default)]
pub struct ConsoleExporter;

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = String::new();
        for span in &batch {
            out.push_str(&render(span));
            out.push('\n');
        }
        // A failed write to stderr has nowhere better to be reported.
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        Ok(())
    }
}

fn render(span: &SpanData) -> String {
    let kind = match span.span_kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    };
    let ms = span
        .end_time
        .duration_since(span.start_time)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default();
    let status = match &span.status {
        Status::Error { description } => format!(" ERROR {description}"),
        _ => String::new(),
    };
    format!(
        "span {name} kind={kind} trace={trace} span={id} parent={parent} {ms:.1}ms{status}",
        name = span.name,
        trace = span.span_context.trace_id(),
        id = span.span_context.span_id(),
        parent = span.parent_span_id,
    )
}
