//! Span exporters and their plumbing: the local OTLP-JSON lines file, a compact console view, OTLP (gRPC and
//! HTTP/protobuf), direct X-Ray (daemon or API), and the bounded batch processor that runs them all off the
//! actor path.

pub mod batch;
pub mod console;
pub mod file;
pub mod otlp;
pub mod xray;

pub use batch::{BatchExportProcessor, ExportRuntime};
pub use console::ConsoleExporter;
pub use file::OtlpJsonFileExporter;
