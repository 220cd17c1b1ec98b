//! Span exporters written for sre-agent: the local OTLP-JSON lines file and a compact console view.

pub mod console;
pub mod file;

pub use console::ConsoleExporter;
pub use file::OtlpJsonFileExporter;
