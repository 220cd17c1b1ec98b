//! OTLP-JSON lines: each export batch becomes one `ExportTraceServiceRequest` JSON object on its own line,
//! the format of the OpenTelemetry Collector's file exporter, so the file can be replayed to any OTLP backend.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::{
    common::tonic::ResourceAttributesWithSchema, trace::tonic::group_spans_by_resource_and_scope,
};
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    trace::{SpanData, SpanExporter},
};

use crate::TelemetryError;

/// Appends finished spans to a file as OTLP-JSON lines.
#[derive(Debug)]
pub struct OtlpJsonFileExporter {
    path: PathBuf,
    // The SDK never calls `export` concurrently; the lock only makes the exporter `Sync`.
    file: Mutex<File>,
    resource: ResourceAttributesWithSchema,
}

impl OtlpJsonFileExporter {
    /// Opens (creating directories as needed) `path` for appending.
    pub fn create(path: &Path) -> Result<Self, TelemetryError> {
        let io_err = |source| TelemetryError::TraceFile {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err)?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            resource: ResourceAttributesWithSchema::from(&Resource::builder_empty().build()),
        })
    }

    /// The file spans are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn encode(&self, batch: Vec<SpanData>) -> Result<Vec<u8>, serde_json::Error> {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        Ok(line)
    }
}

impl SpanExporter for OtlpJsonFileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let line = self
            .encode(batch)
            .map_err(|e| OTelSdkError::InternalFailure(format!("encoding spans: {e}")))?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("trace file lock poisoned".into()))?;
        // One write per line: with O_APPEND, lines from several processes sharing the file do not interleave.
        file.write_all(&line).map_err(|e| {
            OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
        })
    }

    /// Nothing to do: every batch is written straight to the file (no buffer in this process), so once the
    /// worker has exported it readers see it. No fsync either: surviving a power cut is not worth a disk
    /// round-trip on every command's way out for a trace file.
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    #[test]
    fn writes_one_parseable_otlp_json_line_per_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/traces.jsonl");
        let exporter = OtlpJsonFileExporter::create(&path).unwrap();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("unit").build())
            .with_simple_exporter(exporter)
            .build();
        let tracer = provider.tracer("test");
        tracer.in_span("first", |_| {});
        tracer.in_span("second", |_| {});
        provider.shutdown().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "simple processor exports each span alone");
        let request: ExportTraceServiceRequest = serde_json::from_str(lines[1]).unwrap();
        let rs = &request.resource_spans[0];
        let service = rs
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name");
        assert!(service.is_some(), "resource carries service.name");
        assert_eq!(rs.scope_spans[0].spans[0].name, "second");
        assert!(
            lines[0].contains("\"traceId\""),
            "OTLP/JSON uses camelCase hex ids"
        );
    }
}
