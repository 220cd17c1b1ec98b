//! Reads the OTLP-JSON lines trace file (one `ExportTraceServiceRequest` per line, appended by one or more
//! processes) span by span, so large files are never held whole; corrupt lines are skipped and counted, and
//! an incomplete last line (a writer still at work, or a crash mid-write) is noted, never fatal.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    sync::Arc,
};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::traces::{SpanRecord, TraceError, span::resource_service_name};

/// How many corrupt line numbers a [`ReadStats`] remembers for its warning.
const CORRUPT_EXAMPLES: usize = 5;

/// What reading the trace file found besides spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// The file read (empty when reading from memory).
    pub path: PathBuf,
    /// Non-blank lines.
    pub lines: usize,
    /// Spans read.
    pub spans: usize,
    /// Lines that are not an OTLP-JSON `ExportTraceServiceRequest` and were skipped.
    pub corrupt_lines: usize,
    /// Line numbers (1-based) of the first corrupt lines.
    pub corrupt_line_numbers: Vec<usize>,
    /// True when the last line has no newline and does not parse: a batch still being written or cut off.
    pub incomplete_last_line: bool,
    /// Spans skipped because their trace or span id is missing or malformed.
    pub invalid_spans: usize,
}

impl ReadStats {
    /// One sentence about skipped data, for stderr; `None` when everything was read.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.corrupt_lines > 0 {
            let numbers: Vec<String> = self
                .corrupt_line_numbers
                .iter()
                .map(ToString::to_string)
                .collect();
            let more = if self.corrupt_lines > numbers.len() {
                ", …"
            } else {
                ""
            };
            parts.push(format!(
                "skipped {} corrupt line{} (line {}{more})",
                self.corrupt_lines,
                plural(self.corrupt_lines),
                numbers.join(", ")
            ));
        }
        if self.invalid_spans > 0 {
            parts.push(format!(
                "skipped {} span{} without valid ids",
                self.invalid_spans,
                plural(self.invalid_spans)
            ));
        }
        if self.incomplete_last_line {
            parts.push("ignored an incomplete last line (a batch still being written?)".to_owned());
        }
        if parts.is_empty() {
            return None;
        }
        let file = if self.path.as_os_str().is_empty() {
            "the trace file".to_owned()
        } else {
            self.path.display().to_string()
        };
        Some(format!("{file}: {}", parts.join("; ")))
    }
}

/// Calls `visit` with every span of the trace file at `path`, in file order.
pub fn read_spans(path: &Path, visit: impl FnMut(SpanRecord)) -> Result<ReadStats, TraceError> {
    let file = File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TraceError::Missing {
            path: path.to_owned(),
        },
        _ => TraceError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    let mut stats =
        read_spans_from(BufReader::new(file), visit).map_err(|source| TraceError::Read {
            path: path.to_owned(),
            source,
        })?;
    stats.path = path.to_owned();
    Ok(stats)
}

/// Calls `visit` with every span of OTLP-JSON lines read from `reader`.
pub fn read_spans_from(
    mut reader: impl BufRead,
    mut visit: impl FnMut(SpanRecord),
) -> Result<ReadStats, std::io::Error> {
    let mut stats = ReadStats::default();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        stats.lines += 1;
        let request = match serde_json::from_slice::<ExportTraceServiceRequest>(text) {
            Ok(request) => request,
            // Only the last line can lack its newline.
            Err(_) if !complete => {
                stats.incomplete_last_line = true;
                continue;
            }
            Err(_) => {
                stats.corrupt_lines += 1;
                if stats.corrupt_line_numbers.len() < CORRUPT_EXAMPLES {
                    stats.corrupt_line_numbers.push(number);
                }
                continue;
            }
        };
        for resource_spans in request.resource_spans {
            let service: Option<Arc<str>> = resource_spans
                .resource
                .as_ref()
                .and_then(|r| resource_service_name(&r.attributes))
                .map(Arc::from);
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                match SpanRecord::from_otlp(span, service.clone()) {
                    Some(span) => {
                        stats.spans += 1;
                        visit(span);
                    }
                    None => stats.invalid_spans += 1,
                }
            }
        }
    }
    Ok(stats)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"k8s-backend"}}]},"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"6b01357ef0d58debe69bcc7be896f611","spanId":"01d19d20599f2fdc","parentSpanId":"","name":"tools/call get_pod_status","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"2000","attributes":[],"status":{"code":0,"message":""}},{"traceId":"","spanId":"01d19d20599f2fdd","name":"no trace id","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[test]
    fn skips_and_counts_corrupt_lines_and_notes_an_incomplete_tail() {
        let text = format!(
            "{LINE}\nnot json at all\n\n{{\"resourceSpans\": 3}}\n{LINE}\n{}",
            &LINE[..40]
        );
        let mut spans = Vec::new();
        let stats = read_spans_from(text.as_bytes(), |s| spans.push(s)).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].resource_service.as_deref(), Some("k8s-backend"));
        assert_eq!(stats.lines, 5);
        assert_eq!(stats.corrupt_lines, 2);
        assert_eq!(stats.corrupt_line_numbers, vec![2, 4]);
        assert!(stats.incomplete_last_line);
        assert_eq!(stats.invalid_spans, 2);
        let warning = stats.warning().unwrap();
        assert!(
            warning.contains("skipped 2 corrupt lines (line 2, 4)"),
            "{warning}"
        );
        assert!(warning.contains("incomplete last line"), "{warning}");
    }

    #[test]
    fn invalid_utf8_is_a_corrupt_line_and_a_clean_file_has_no_warning() {
        let mut bytes = vec![0xff, 0xfe, b'{', b'\n'];
        bytes.extend_from_slice(LINE.as_bytes());
        bytes.push(b'\n');
        let stats = read_spans_from(bytes.as_slice(), |_| {}).unwrap();
        assert_eq!(stats.corrupt_lines, 1);
        assert_eq!(stats.spans, 1);

        let clean = format!("{LINE}\n").replace(r#",{"traceId":"","spanId":"01d19d20599f2fdd","name":"no trace id","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}"#, "");
        let stats = read_spans_from(clean.as_bytes(), |_| {}).unwrap();
        assert_eq!(stats.spans, 1);
        assert_eq!(stats.warning(), None);
    }

    #[test]
    fn a_missing_file_says_how_to_create_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_spans(&dir.path().join("traces.jsonl"), |_| {}).unwrap_err();
        assert!(matches!(err, TraceError::Missing { .. }));
        assert!(err.to_string().contains("run an investigation first"));
    }
}
