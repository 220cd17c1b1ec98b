//! OTLP span exporters (gRPC through tonic, HTTP/protobuf through the blocking reqwest client) built from an
//! [`OtlpConfig`], towards an ADOT collector or any OTLP backend.

use std::str::FromStr;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use tokio::runtime::Handle;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

use super::batch::ExportRuntime;
use crate::{
    TelemetryError,
    config::{OtlpConfig, OtlpProtocol},
};

/// The OTLP span exporter for `config` and how its lane must run it. The tonic exporter is built inside
/// `runtime` and exports on it; the HTTP one uses the blocking client on its own thread.
pub fn span_exporter(
    config: &OtlpConfig,
    runtime: &Handle,
) -> Result<(opentelemetry_otlp::SpanExporter, ExportRuntime), TelemetryError> {
    let build_err = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
        exporter: "OTLP traces",
        reason: e.to_string(),
    };
    match config.protocol {
        OtlpProtocol::Grpc => {
            let _entered = runtime.enter();
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.clone())
                .with_timeout(config.timeout)
                .with_metadata(metadata(&config.headers)?)
                .build()
                .map_err(build_err)?;
            Ok((exporter, ExportRuntime::Tokio(runtime.clone())))
        }
        OtlpProtocol::HttpProtobuf => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(config.endpoint.clone())
                .with_timeout(config.timeout)
                .with_headers(config.headers.iter().cloned().collect())
                .build()
                .map_err(build_err)?;
            Ok((exporter, ExportRuntime::Thread))
        }
    }
}

/// gRPC metadata from header pairs (names lower-cased).
pub(crate) fn metadata(headers: &[(String, String)]) -> Result<MetadataMap, TelemetryError> {
    let mut map = MetadataMap::new();
    for (name, value) in headers {
        let key = MetadataKey::from_str(&name.to_ascii_lowercase()).map_err(|e| {
            TelemetryError::Exporter {
                exporter: "OTLP",
                reason: format!("header name `{name}`: {e}"),
            }
        })?;
        let value = MetadataValue::from_str(value).map_err(|e| TelemetryError::Exporter {
            exporter: "OTLP",
            reason: format!("value of header `{name}`: {e}"),
        })?;
        map.insert(key, value);
    }
    Ok(map)
}
