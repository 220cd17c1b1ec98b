//! `traces list`: one line of facts per trace (id, start, duration, root, user, question, span count,
//! services, status), newest first, computed while streaming the file so only small summaries stay in memory.

use std::{
    cmp::Reverse,
    collections::{HashMap, HashSet},
    fmt::Write as _,
    path::Path,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sre_telemetry::convention::{attr, span_name};

use crate::traces::{
    Outcome, ReadStats, SpanId, SpanRecord, Trace, TraceError, TraceId,
    ansi::Ansi,
    reader::read_spans,
    span::{time_of, unix_ns_of},
    waterfall::format_ns,
};

/// Traces `traces list` shows when no limit is given.
pub const DEFAULT_LIST_LIMIT: usize = 20;
/// Characters of the question shown in the list.
const QUESTION_CHARS: usize = 60;
/// Characters of the user id shown in the list.
const USER_CHARS: usize = 24;

/// How a trace ended overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceStatus {
    /// No span failed.
    Ok,
    /// The root succeeded but some spans failed (or the root says `sre.partial`).
    Partial,
    /// The root span failed.
    Error,
}

/// One trace in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Trace id (hex).
    pub id: TraceId,
    /// X-Ray form of the id.
    pub xray_id: String,
    /// Earliest span start.
    pub start: DateTime<Utc>,
    /// From the first start to the last end.
    #[serde(serialize_with = "serialize_ms")]
    pub duration: Duration,
    /// Name of the root span.
    pub root_name: String,
    /// `sre.user_id` of the root, else `user.id` of any span.
    pub user: Option<String>,
    /// `sre.query` of the root.
    pub question: Option<String>,
    /// Number of spans.
    pub span_count: usize,
    /// Services involved: where spans ran and what they called, in order of first appearance.
    pub services: Vec<String>,
    /// Overall status.
    pub status: TraceStatus,
    /// Spans that ended in an error (the caller's fault).
    pub errors: usize,
    /// Spans that ended in a fault.
    pub faults: usize,
}

/// Which traces `traces list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOptions {
    /// Most traces shown.
    pub limit: usize,
    /// Only traces that started at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// The answer of `traces list`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceListing {
    /// The traces shown, newest first.
    pub traces: Vec<TraceSummary>,
    /// Traces that matched before the limit was applied.
    pub matching: usize,
    /// What reading the file found.
    pub stats: ReadStats,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIST_LIMIT,
            since: None,
        }
    }
}

impl TraceSummary {
    /// The summary of a loaded trace.
    pub fn of(trace: &Trace) -> Self {
        let mut builder = SummaryBuilder::default();
        for span in trace.spans() {
            builder.add(span);
        }
        builder.finish(trace.id())
    }
}

impl TraceStatus {
    /// `ok`, `partial` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Ok => "ok",
            TraceStatus::Partial => "partial",
            TraceStatus::Error => "error",
        }
    }
}

impl TraceListing {
    /// The list as an aligned table, two lines per trace; `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let ansi = Ansi::new(color);
        let mut out = String::new();
        if self.traces.is_empty() {
            let _ = writeln!(out, "No traces found.");
            return out;
        }
        let _ = writeln!(
            out,
            "{} of {} trace{}, newest first",
            self.traces.len(),
            self.matching,
            if self.matching == 1 { "" } else { "s" }
        );
        let statuses: Vec<String> = self.traces.iter().map(status_text).collect();
        let users: Vec<String> = self
            .traces
            .iter()
            .map(|t| shorten(t.user.as_deref().unwrap_or("-"), USER_CHARS))
            .collect();
        let status_width = column_width(&statuses, "STATUS");
        let user_width = column_width(&users, "USER");
        let header = format!(
            "{:<32}  {:<23}  {:>9}  {:>5}  {:<status_width$}  {:<user_width$}  QUESTION",
            "TRACE ID", "STARTED (UTC)", "DURATION", "SPANS", "STATUS", "USER"
        );
        let _ = writeln!(out, "{}", ansi.bold(&header));
        for ((t, status), user) in self.traces.iter().zip(&statuses).zip(&users) {
            let padded = format!("{status:<status_width$}");
            let painted = match t.status {
                TraceStatus::Ok => ansi.green(&padded),
                TraceStatus::Partial => ansi.yellow(&padded),
                TraceStatus::Error => ansi.red(&padded),
            };
            let _ = writeln!(
                out,
                "{:<32}  {:<23}  {:>9}  {:>5}  {painted}  {user:<user_width$}  {}",
                t.id.to_hex(),
                t.start.format("%Y-%m-%d %H:%M:%S%.3f"),
                format_ns(u64::try_from(t.duration.as_nanos()).unwrap_or(u64::MAX)),
                t.span_count,
                shorten(t.question.as_deref().unwrap_or("-"), QUESTION_CHARS),
            );
            let _ = writeln!(
                out,
                "{}",
                ansi.dim(&format!(
                    "  {} · root {} · {} service{}: {}",
                    t.xray_id,
                    t.root_name,
                    t.services.len(),
                    if t.services.len() == 1 { "" } else { "s" },
                    t.services.join(", ")
                ))
            );
        }
        out
    }
}

/// Summarises the traces of the file at `path`, newest first.
pub fn list_traces(path: &Path, options: &ListOptions) -> Result<TraceListing, TraceError> {
    let mut builders: HashMap<TraceId, SummaryBuilder> = HashMap::new();
    let cutoff = options.since.map(unix_ns_of).unwrap_or(0);
    let stats = read_spans(path, |span| {
        // A trace that started after the cutoff has no span ending before it.
        if span.end_ns >= cutoff {
            builders.entry(span.trace_id).or_default().add(&span);
        }
    })?;
    let mut traces: Vec<TraceSummary> = builders
        .into_iter()
        .filter(|(_, b)| b.start_ns >= cutoff)
        .map(|(id, b)| b.finish(id))
        .collect();
    traces.sort_by_key(|t| std::cmp::Reverse((t.start, t.id)));
    let matching = traces.len();
    traces.truncate(options.limit);
    Ok(TraceListing {
        traces,
        matching,
        stats,
    })
}

/// Accumulates a [`TraceSummary`] span by span.
#[derive(Debug, Default)]
struct SummaryBuilder {
    seen: HashSet<SpanId>,
    start_ns: u64,
    end_ns: u64,
    /// The earliest span without a parent.
    root: Option<RootFacts>,
    /// Start and name of the earliest span, for traces whose root is missing.
    earliest: Option<(u64, String)>,
    any_user: Option<String>,
    services: HashMap<String, u64>,
    errors: usize,
    faults: usize,
}

/// What the list shows of a root span.
#[derive(Debug)]
struct RootFacts {
    start_ns: u64,
    name: String,
    user: Option<String>,
    question: Option<String>,
    outcome: Outcome,
    partial: bool,
}

impl SummaryBuilder {
    fn add(&mut self, span: &SpanRecord) {
        if !self.seen.insert(span.span_id) {
            return;
        }
        if self.seen.len() == 1 {
            self.start_ns = span.start_ns;
            self.end_ns = span.end_ns;
        } else {
            self.start_ns = self.start_ns.min(span.start_ns);
            self.end_ns = self.end_ns.max(span.end_ns);
        }
        if self
            .earliest
            .as_ref()
            .is_none_or(|(s, _)| span.start_ns < *s)
        {
            self.earliest = Some((span.start_ns, span.name.clone()));
        }
        // The root: the investigation span (whose parent is outside the file when a caller's trace context
        // came with the request, e.g. `sre-agent serve` behind a gateway), else the earliest parentless span.
        let rank = |name: &str| u8::from(name == span_name::INVESTIGATION);
        let better_root = (span.parent_id.is_none() || rank(&span.name) > 0)
            && self.root.as_ref().is_none_or(|r| {
                (rank(&span.name), Reverse(span.start_ns)) > (rank(&r.name), Reverse(r.start_ns))
            });
        if better_root {
            self.root = Some(RootFacts {
                start_ns: span.start_ns,
                name: span.name.clone(),
                user: span.attr_str(attr::SRE_USER_ID).map(str::to_owned),
                question: span.attr_str(attr::SRE_QUERY).map(str::to_owned),
                outcome: span.outcome(),
                partial: span
                    .attr(attr::SRE_PARTIAL)
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
            });
        }
        if self.any_user.is_none() {
            self.any_user = span
                .attr_str(attr::SRE_USER_ID)
                .or_else(|| span.attr_str(attr::USER_ID))
                .map(str::to_owned);
        }
        let local = if span.kind.is_entry() {
            span.local_service()
        } else {
            span.resource_service.as_deref()
        };
        for service in local.into_iter().chain(span.remote().map(|r| r.name)) {
            let first = self.services.entry(service.to_owned()).or_insert(u64::MAX);
            *first = (*first).min(span.start_ns);
        }
        match span.outcome() {
            Outcome::Ok => {}
            Outcome::Error => self.errors += 1,
            Outcome::Fault => self.faults += 1,
        }
    }

    fn finish(self, id: TraceId) -> TraceSummary {
        let mut services: Vec<(String, u64)> = self.services.into_iter().collect();
        services.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let status = match &self.root {
            Some(root) if root.outcome.is_failure() => TraceStatus::Error,
            Some(root) if root.partial => TraceStatus::Partial,
            _ if self.errors + self.faults > 0 => TraceStatus::Partial,
            _ => TraceStatus::Ok,
        };
        let (root_name, user, question) = match self.root {
            Some(root) => (root.name, root.user, root.question),
            None => (
                self.earliest.map(|(_, name)| name).unwrap_or_default(),
                None,
                None,
            ),
        };
        TraceSummary {
            id,
            xray_id: id.to_xray(),
            start: time_of(self.start_ns),
            duration: Duration::from_nanos(self.end_ns.saturating_sub(self.start_ns)),
            root_name,
            user: user.or(self.any_user),
            question,
            span_count: self.seen.len(),
            services: services.into_iter().map(|(name, _)| name).collect(),
            status,
            errors: self.errors,
            faults: self.faults,
        }
    }
}

/// `ok`, `partial · 2 faults`, `error · 1 error, 3 faults`.
fn status_text(t: &TraceSummary) -> String {
    let mut counts = Vec::new();
    if t.errors > 0 {
        counts.push(format!(
            "{} error{}",
            t.errors,
            if t.errors == 1 { "" } else { "s" }
        ));
    }
    if t.faults > 0 {
        counts.push(format!(
            "{} fault{}",
            t.faults,
            if t.faults == 1 { "" } else { "s" }
        ));
    }
    if counts.is_empty() {
        t.status.as_str().to_owned()
    } else {
        format!("{} · {}", t.status.as_str(), counts.join(", "))
    }
}

/// The width of a column holding `cells` under `header`.
fn column_width(cells: &[String], header: &str) -> usize {
    cells
        .iter()
        .map(|c| c.chars().count())
        .chain([header.len()])
        .max()
        .unwrap_or(0)
}

/// `text` cut to `max` characters, with `…` when cut; line breaks become spaces.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn serialize_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{
        SpanKind,
        trace::tests::{TRACE, span, with_attr},
    };

    #[test]
    fn summary_counts_spans_services_and_failures() {
        use SpanKind::*;
        let root = with_attr(
            with_attr(
                span(1, None, "sre.investigation", Server, 0, 100),
                "sre.user_id",
                "alice",
            ),
            "sre.query",
            "Why\nis it slow?",
        );
        let agent = with_attr(
            span(2, Some(1), "agent.k.execute", Server, 5, 90),
            "aws.local.service",
            "kubernetes-agent",
        );
        let refused = with_attr(
            with_attr(
                span(3, Some(2), "tools/call x", Client, 10, 20),
                "peer.service",
                "k8s-backend",
            ),
            "error.type",
            "connection_refused",
        );
        let bad = with_attr(
            span(4, Some(2), "tool.y", Internal, 30, 40),
            "error.type",
            "invalid_params",
        );
        let trace = Trace::new(
            TraceId::from_hex(TRACE).unwrap(),
            vec![root, agent, refused, bad],
        );
        let summary = TraceSummary::of(&trace);
        assert_eq!(summary.span_count, 4);
        assert_eq!(summary.duration, Duration::from_millis(100));
        assert_eq!(summary.user.as_deref(), Some("alice"));
        assert_eq!(summary.root_name, "sre.investigation");
        assert_eq!(
            summary.services,
            ["sre-agent", "kubernetes-agent", "k8s-backend"]
        );
        assert_eq!((summary.errors, summary.faults), (1, 1));
        assert_eq!(summary.status, TraceStatus::Partial);
        assert_eq!(status_text(&summary), "partial · 1 error, 1 fault");
        let listing = TraceListing {
            traces: vec![summary],
            matching: 3,
            stats: ReadStats::default(),
        };
        let text = listing.render(false);
        assert!(text.contains("1 of 3 traces"), "{text}");
        assert!(text.contains("Why is it slow?"), "{text}");
        assert!(
            text.contains("1-6b01357e-f0d58debe69bcc7be896f611"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert!(listing.render(true).contains("\x1b[33m"));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("ünïcödé", 4), "ünï…");
        assert_eq!(shorten("short", 10), "short");
    }
}
