//! Reads the OTLP-JSON lines trace file (one `ExportTraceServiceRequest` per line, appended by one or more
//! processes) span by span, so large files are never held whole; corrupt lines are skipped and counted, and
//! an incomplete last line (a writer still at work, or a crash mid-write) is noted, never fatal. The file's
//! previous generation (`traces.1.jsonl`, left by size rotation) is read first, so traces that straddle a
//! rotation stay whole.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    sync::Arc,
};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sre_telemetry::rotation;

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
    /// What reading the file's previous generation found, when there is one.
    pub previous: Option<Box<ReadStats>>,
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
        let previous = self.previous.as_ref().and_then(|p| p.warning());
        if parts.is_empty() {
            return previous;
        }
        let file = if self.path.as_os_str().is_empty() {
            "the trace file".to_owned()
        } else {
            self.path.display().to_string()
        };
        let warning = format!("{file}: {}", parts.join("; "));
        Some(match previous {
            Some(previous) => format!("{previous}\n{warning}"),
            None => warning,
        })
    }
}

/// Calls `visit` with every span of the trace file at `path` and of its previous generation
/// ([`rotation::previous`], read first), in file order. Missing only when neither file exists.
pub fn read_spans(path: &Path, mut visit: impl FnMut(SpanRecord)) -> Result<ReadStats, TraceError> {
    let older = rotation::previous(path);
    let previous = read_file(&older, &mut visit)?.map(Box::new);
    let Some(mut stats) = read_file(path, &mut visit)? else {
        return match previous {
            Some(previous) => Ok(ReadStats {
                path: path.to_owned(),
                previous: Some(previous),
                ..ReadStats::default()
            }),
            None => Err(TraceError::Missing {
                path: path.to_owned(),
            }),
        };
    };
    stats.previous = previous;
    Ok(stats)
}

/// [`read_spans_from`] the file at `path`; `None` when it does not exist.
fn read_file(
    path: &Path,
    visit: &mut impl FnMut(SpanRecord),
) -> Result<Option<ReadStats>, TraceError> {
    let read_error = |source| TraceError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let mut stats = read_spans_from(BufReader::new(file), visit).map_err(read_error)?;
    stats.path = path.to_owned();
    Ok(Some(stats))
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
    fn the_previous_generation_is_read_first_and_either_file_may_be_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        let older = rotation::previous(&path);
        let other = LINE.replace("01d19d20599f2fdc", "01d19d20599f2fde");
        std::fs::write(&older, format!("{LINE}\nnot json\n")).unwrap();
        let read = |path: &Path| {
            let mut ids = Vec::new();
            let stats = read_spans(path, |s| ids.push(s.span_id.to_string())).unwrap();
            (ids, stats)
        };

        // Rotated, and no span written since.
        let (ids, stats) = read(&path);
        assert_eq!(ids, ["01d19d20599f2fdc"]);
        assert_eq!(stats.path, path);
        let warning = stats.warning().unwrap();
        assert!(
            warning.contains("traces.1.jsonl") && warning.contains("line 2"),
            "{warning}"
        );

        std::fs::write(&path, format!("{other}\n")).unwrap();
        let (ids, stats) = read(&path);
        assert_eq!(ids, ["01d19d20599f2fdc", "01d19d20599f2fde"]);
        assert_eq!(stats.spans, 1);
        assert_eq!(stats.previous.as_ref().map(|p| p.spans), Some(1));

        std::fs::remove_file(&older).unwrap();
        let (ids, stats) = read(&path);
        assert_eq!(ids, ["01d19d20599f2fde"]);
        assert_eq!(stats.previous, None);
    }

    #[test]
    fn a_missing_file_says_how_to_create_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_spans(&dir.path().join("traces.jsonl"), |_| {}).unwrap_err();
        assert!(matches!(err, TraceError::Missing { .. }));
        assert!(err.to_string().contains("run an investigation first"));
    }
}
