//! One trace as a tree of spans (from every process that wrote to the file), the sets of traces a file holds,
//! and what a tree tells: the service that issued each call, the critical path and the slowest agent.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use chrono::{DateTime, Utc};
use sre_telemetry::convention::span_name;

use crate::traces::{
    ReadStats, SpanRecord, TraceError, TraceId, TraceQuery,
    reader::read_spans,
    span::{time_of, unix_ns_of},
};

/// How many recent trace ids an unknown-id error lists.
const RECENT_IDS: usize = 5;

/// The spans of one trace, linked into a forest (normally a single tree under `sre.investigation`).
#[derive(Debug, Clone)]
pub struct Trace {
    id: TraceId,
    spans: Vec<SpanRecord>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
}

/// A stretch of time on the critical path, attributed to the span that was working then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriticalSegment {
    /// Index of the span in [`Trace::spans`].
    pub span: usize,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// End, Unix nanoseconds.
    pub end_ns: u64,
}

/// The chain of spans that determines when the trace ends: from the end of the root backwards, always the
/// child that finished last before the current point, down to the leaves (children are clipped to their
/// parent's end, as in Jaeger).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CriticalPath {
    /// Segments in time order; together they cover the root span.
    pub segments: Vec<CriticalSegment>,
    on_path: Vec<bool>,
}

/// Every trace of a trace file (or of the part of it that was loaded), newest first.
#[derive(Debug, Clone, Default)]
pub struct TraceSet {
    path: PathBuf,
    traces: Vec<Trace>,
}

impl Trace {
    /// Links `spans` (those of other traces are dropped; a span id seen twice keeps its first copy). Spans
    /// whose parent is not in the file become extra roots, and parent cycles from corrupt data are cut, so
    /// every span is reachable from a root.
    pub fn new(id: TraceId, spans: Vec<SpanRecord>) -> Self {
        let mut seen = HashSet::new();
        let mut spans: Vec<SpanRecord> = spans
            .into_iter()
            .filter(|s| s.trace_id == id && seen.insert(s.span_id))
            .collect();
        spans.sort_by(|a, b| {
            (a.start_ns, std::cmp::Reverse(a.end_ns), &a.name).cmp(&(
                b.start_ns,
                std::cmp::Reverse(b.end_ns),
                &b.name,
            ))
        });
        let index: HashMap<_, _> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let mut parent: Vec<Option<usize>> = spans
            .iter()
            .map(|s| s.parent_id.and_then(|p| index.get(&p).copied()))
            .collect();
        cut_cycles(&mut parent);
        let mut children = vec![Vec::new(); spans.len()];
        let mut roots = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            match p {
                Some(p) => children[*p].push(i),
                None => roots.push(i),
            }
        }
        Self {
            id,
            spans,
            parent,
            children,
            roots,
        }
    }

    /// The trace id.
    pub fn id(&self) -> TraceId {
        self.id
    }

    /// The spans, ordered by start time.
    pub fn spans(&self) -> &[SpanRecord] {
        &self.spans
    }

    /// Index of the parent of span `i`, when it is in the trace.
    pub fn parent(&self, i: usize) -> Option<usize> {
        self.parent.get(i).copied().flatten()
    }

    /// Indices of the children of span `i`, by start time.
    pub fn children(&self, i: usize) -> &[usize] {
        self.children.get(i).map(Vec::as_slice).unwrap_or_default()
    }

    /// Indices of the spans without a parent in the trace, by start time.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// The main root: the earliest span that has no parent at all, else the earliest span whose parent is
    /// missing from the file.
    pub fn root(&self) -> Option<usize> {
        self.roots
            .iter()
            .copied()
            .find(|&i| self.spans[i].parent_id.is_none())
            .or_else(|| self.roots.first().copied())
    }

    /// The root span (see [`Trace::root`]).
    pub fn root_span(&self) -> Option<&SpanRecord> {
        self.root().map(|i| &self.spans[i])
    }

    /// Earliest span start, Unix nanoseconds.
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0)
    }

    /// Latest span end, Unix nanoseconds.
    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0)
    }

    /// From the first start to the last end, in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// Start time.
    pub fn start_time(&self) -> DateTime<Utc> {
        time_of(self.start_ns())
    }

    /// The service on whose behalf span `i` runs: that of the nearest SERVER (or CONSUMER) span at or above
    /// it, else the `service.name` of the process that wrote it.
    pub fn context_service(&self, i: usize) -> Option<&str> {
        let mut current = Some(i);
        while let Some(j) = current {
            let span = &self.spans[j];
            if span.kind.is_entry() {
                return span.local_service();
            }
            current = self.parent(j);
        }
        self.spans.get(i)?.resource_service.as_deref()
    }

    /// The critical path from the main root (empty for an empty trace).
    pub fn critical_path(&self) -> CriticalPath {
        let n = self.spans.len();
        let Some(root) = self.root() else {
            return CriticalPath::default();
        };
        let (start, end) = self.clipped_intervals(root);
        let mut on_path = vec![false; n];
        on_path[root] = true;
        let mut segments = Vec::new();
        let (mut current, mut bound) = (root, end[root]);
        // Each step either descends into a new span or climbs back up, so 2n steps always suffice.
        for _ in 0..=2 * n {
            let next = self
                .children(current)
                .iter()
                .copied()
                .filter(|&c| !on_path[c] && start[c] < end[c] && end[c] <= bound)
                .max_by_key(|&c| (end[c], start[c]));
            if let Some(child) = next {
                if end[child] < bound {
                    segments.push(CriticalSegment {
                        span: current,
                        start_ns: end[child],
                        end_ns: bound,
                    });
                }
                on_path[child] = true;
                current = child;
                bound = end[child];
                continue;
            }
            let from = start[current].min(bound);
            if bound > from {
                segments.push(CriticalSegment {
                    span: current,
                    start_ns: from,
                    end_ns: bound,
                });
            }
            match self.parent(current).filter(|_| current != root) {
                Some(p) => {
                    bound = start[current];
                    current = p;
                }
                None => break,
            }
        }
        segments.reverse();
        CriticalPath { segments, on_path }
    }

    /// The longest `agent.*.execute` span: the agent everything else waited for.
    pub fn slowest_agent(&self) -> Option<usize> {
        self.spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.name.starts_with("agent.") && s.name.ends_with(".execute"))
            .max_by_key(|(_, s)| s.duration_ns())
            .map(|(i, _)| i)
    }

    /// Start and end of every span of the `root` subtree, each child clipped to its parent's interval
    /// (children that start after their parent ended get an empty interval).
    fn clipped_intervals(&self, root: usize) -> (Vec<u64>, Vec<u64>) {
        let n = self.spans.len();
        let (mut start, mut end) = (vec![0; n], vec![0; n]);
        start[root] = self.spans[root].start_ns;
        end[root] = self.spans[root].end_ns;
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            for &c in self.children(p) {
                let span = &self.spans[c];
                end[c] = span.end_ns.min(end[p]);
                start[c] = span.start_ns.max(start[p]).min(end[c]);
                stack.push(c);
            }
        }
        (start, end)
    }
}

impl CriticalPath {
    /// True when span `i` is on the path.
    pub fn contains(&self, i: usize) -> bool {
        self.on_path.get(i).copied().unwrap_or(false)
    }

    /// The spans on the path, by start time (the root first).
    pub fn spans(&self) -> Vec<usize> {
        self.on_path
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(i, _)| i)
            .collect()
    }

    /// Nanoseconds of the path attributed to span `i` itself (not to its children).
    pub fn self_time_ns(&self, i: usize) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.span == i)
            .map(|s| s.end_ns - s.start_ns)
            .sum()
    }
}

impl TraceSet {
    /// Groups `spans` by trace.
    pub fn from_spans(spans: impl IntoIterator<Item = SpanRecord>) -> Self {
        let mut by_trace: HashMap<TraceId, Vec<SpanRecord>> = HashMap::new();
        for span in spans {
            by_trace.entry(span.trace_id).or_default().push(span);
        }
        let mut traces: Vec<Trace> = by_trace
            .into_iter()
            .map(|(id, spans)| Trace::new(id, spans))
            .collect();
        traces.sort_by_cached_key(|t| std::cmp::Reverse((t.start_ns(), t.id)));
        Self {
            path: PathBuf::new(),
            traces,
        }
    }

    /// Every trace of the file at `path`.
    pub fn load(path: &Path) -> Result<(Self, ReadStats), TraceError> {
        Self::load_active_since(path, None)
    }

    /// The spans of the file at `path` that were still running at or after `since` (all when `None`),
    /// grouped by trace. Keeping every span that ends after `since` keeps the ancestors of every span that
    /// starts after it.
    pub fn load_active_since(
        path: &Path,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Self, ReadStats), TraceError> {
        let cutoff = since.map(unix_ns_of).unwrap_or(0);
        let mut spans = Vec::new();
        let stats = read_spans(path, |span| {
            if span.end_ns >= cutoff {
                spans.push(span);
            }
        })?;
        let mut set = Self::from_spans(spans);
        set.path = path.to_owned();
        Ok((set, stats))
    }

    /// The traces, newest first.
    pub fn traces(&self) -> &[Trace] {
        &self.traces
    }

    /// The traces, newest first, by value.
    pub fn into_traces(self) -> Vec<Trace> {
        self.traces
    }

    /// The most recent trace.
    pub fn latest(&self) -> Option<&Trace> {
        self.traces.first()
    }

    /// The one trace matching `query`.
    pub fn find(&self, query: &TraceQuery) -> Result<&Trace, TraceError> {
        let matches: Vec<&Trace> = self
            .traces
            .iter()
            .filter(|t| query.matches(&t.id))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(TraceError::UnknownTrace {
                input: query.input().to_owned(),
                path: self.path.clone(),
                recent: self
                    .traces
                    .iter()
                    .take(RECENT_IDS)
                    .map(|t| t.id.to_hex())
                    .collect(),
            }),
            many => Err(TraceError::AmbiguousTrace {
                input: query.input().to_owned(),
                matches: many.iter().map(|t| t.id.to_hex()).collect(),
            }),
        }
    }
}

/// What `traces show` accepts instead of an id for the most recent investigation.
pub const LATEST: &str = "latest";

/// Loads the one trace of the file at `path` whose id is, or starts with, `input` (hex or X-Ray form),
/// keeping only that trace's spans in memory. `latest` is the most recent investigation (the newest trace
/// with an `sre.investigation` root; the newest trace of any kind when none has one).
pub fn load_trace(path: &Path, input: &str) -> Result<(Trace, ReadStats), TraceError> {
    if input.trim().eq_ignore_ascii_case(LATEST) {
        let mut newest: Option<(bool, u64, TraceId)> = None;
        read_spans(path, |span| {
            let investigation = span.parent_id.is_none() && span.name == span_name::INVESTIGATION;
            let candidate = (investigation, span.start_ns, span.trace_id);
            if newest.is_none_or(|best| candidate > best) {
                newest = Some(candidate);
            }
        })?;
        let Some((_, _, id)) = newest else {
            return Err(TraceError::UnknownTrace {
                input: input.trim().to_owned(),
                path: path.to_owned(),
                recent: Vec::new(),
            });
        };
        return load_trace(path, &id.to_hex());
    }
    let query = TraceQuery::parse(input)?;
    let mut starts: HashMap<TraceId, u64> = HashMap::new();
    let mut kept = Vec::new();
    let stats = read_spans(path, |span| {
        starts
            .entry(span.trace_id)
            .and_modify(|s| *s = (*s).min(span.start_ns))
            .or_insert(span.start_ns);
        if query.matches(&span.trace_id) {
            kept.push(span);
        }
    })?;
    let newest_first = |ids: &mut Vec<TraceId>| {
        ids.sort_by_key(|id| (std::cmp::Reverse(starts.get(id).copied()), *id));
    };
    let mut matching: Vec<TraceId> = kept
        .iter()
        .map(|s| s.trace_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    newest_first(&mut matching);
    match matching.as_slice() {
        [one] => Ok((Trace::new(*one, kept), stats)),
        [] => {
            let mut recent: Vec<TraceId> = starts.keys().copied().collect();
            newest_first(&mut recent);
            Err(TraceError::UnknownTrace {
                input: query.input().to_owned(),
                path: path.to_owned(),
                recent: recent
                    .iter()
                    .take(RECENT_IDS)
                    .map(TraceId::to_hex)
                    .collect(),
            })
        }
        many => Err(TraceError::AmbiguousTrace {
            input: query.input().to_owned(),
            matches: many.iter().map(TraceId::to_hex).collect(),
        }),
    }
}

/// Makes the parent relation a forest: a span whose ancestors loop back on themselves loses its parent
/// link, starting with the earliest span of each loop.
fn cut_cycles(parent: &mut [Option<usize>]) {
    // 0 = unknown, 1 = on the current walk, 2 = known to reach a root.
    let mut state = vec![0u8; parent.len()];
    for i in 0..parent.len() {
        let mut walk = Vec::new();
        let mut current = Some(i);
        while let Some(j) = current {
            match state[j] {
                2 => break,
                1 => {
                    // `j` is on this walk: the loop closes here; cut it at its earliest span.
                    let position = walk.iter().position(|&w| w == j).unwrap_or(0);
                    if let Some(&first) = walk[position..].iter().min() {
                        parent[first] = None;
                    }
                    break;
                }
                _ => {
                    state[j] = 1;
                    walk.push(j);
                    current = parent[j];
                }
            }
        }
        for j in walk {
            state[j] = 2;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::traces::{SpanId, SpanKind, SpanStatus};

    pub(crate) const TRACE: &str = "6b01357ef0d58debe69bcc7be896f611";

    /// A span of trace [`TRACE`] with id `id` (1-based), times in milliseconds from 0.
    pub(crate) fn span(
        id: u8,
        parent: Option<u8>,
        name: &str,
        kind: SpanKind,
        start_ms: u64,
        end_ms: u64,
    ) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::from_hex(TRACE).unwrap(),
            span_id: SpanId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, id]).unwrap(),
            parent_id: parent.map(|p| SpanId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, p]).unwrap()),
            name: name.to_owned(),
            kind,
            start_ns: 1_000_000_000_000 + start_ms * 1_000_000,
            end_ns: 1_000_000_000_000 + end_ms * 1_000_000,
            status: SpanStatus::Unset,
            message: None,
            resource_service: Some("sre-agent".into()),
            attributes: Vec::new(),
        }
    }

    pub(crate) fn with_attr(mut span: SpanRecord, key: &str, value: &str) -> SpanRecord {
        span.attributes.push((
            key.to_owned(),
            crate::traces::AttrValue::Str(value.to_owned()),
        ));
        span
    }

    fn names(trace: &Trace, indices: &[usize]) -> Vec<String> {
        indices
            .iter()
            .map(|&i| trace.spans()[i].name.clone())
            .collect()
    }

    /// root 0..100: analyze 0..10, agents a 10..60 and b 10..80 (b has a tool 20..75), aggregate 80..100.
    fn investigation() -> Trace {
        use SpanKind::*;
        let spans = vec![
            span(1, None, "root", Server, 0, 100),
            span(2, Some(1), "analyze", Internal, 0, 10),
            span(3, Some(1), "agent.a.execute", Server, 10, 60),
            span(4, Some(1), "agent.b.execute", Server, 10, 80),
            span(5, Some(4), "tool", Internal, 20, 75),
            span(6, Some(1), "aggregate", Internal, 80, 100),
        ];
        Trace::new(TraceId::from_hex(TRACE).unwrap(), spans)
    }

    #[test]
    fn critical_path_follows_the_last_finishing_children() {
        let trace = investigation();
        let path = trace.critical_path();
        assert_eq!(
            names(&trace, &path.spans()),
            ["root", "analyze", "agent.b.execute", "tool", "aggregate"]
        );
        let a = trace
            .spans()
            .iter()
            .position(|s| s.name == "agent.a.execute")
            .unwrap();
        assert!(!path.contains(a), "the faster agent is off the path");
        let covered: u64 = path.segments.iter().map(|s| s.end_ns - s.start_ns).sum();
        assert_eq!(covered, 100 * 1_000_000, "segments cover the root exactly");
        let b = trace
            .spans()
            .iter()
            .position(|s| s.name == "agent.b.execute")
            .unwrap();
        assert_eq!(path.self_time_ns(b), 15 * 1_000_000, "10..20 and 75..80");
        assert_eq!(trace.slowest_agent(), Some(b));
    }

    #[test]
    fn critical_path_clips_children_that_outlive_their_parent() {
        use SpanKind::*;
        let spans = vec![
            span(1, None, "root", Server, 0, 50),
            span(2, Some(1), "early", Internal, 0, 30),
            span(3, Some(1), "async", Internal, 40, 90),
            span(4, Some(1), "after", Internal, 60, 70),
        ];
        let trace = Trace::new(TraceId::from_hex(TRACE).unwrap(), spans);
        let path = trace.critical_path();
        assert_eq!(names(&trace, &path.spans()), ["root", "early", "async"]);
        let total: u64 = path.segments.iter().map(|s| s.end_ns - s.start_ns).sum();
        assert_eq!(total, 50 * 1_000_000);
    }

    #[test]
    fn orphans_duplicates_and_cycles_still_form_a_forest() {
        use SpanKind::*;
        let spans = vec![
            span(1, None, "root", Server, 0, 10),
            span(2, Some(9), "orphan", Internal, 1, 2),
            span(3, Some(4), "loop a", Internal, 2, 3),
            span(4, Some(3), "loop b", Internal, 3, 4),
            span(1, None, "root again", Server, 0, 10),
        ];
        let trace = Trace::new(TraceId::from_hex(TRACE).unwrap(), spans);
        assert_eq!(trace.spans().len(), 4, "the duplicate span id is dropped");
        assert_eq!(names(&trace, trace.roots()), ["root", "orphan", "loop a"]);
        assert_eq!(trace.spans()[trace.root().unwrap()].name, "root");
        let reachable: usize = trace
            .roots()
            .iter()
            .map(|&r| 1 + trace.children(r).len())
            .sum();
        assert_eq!(reachable, 4);
        assert_eq!(trace.critical_path().spans().len(), 1);
    }

    #[test]
    fn context_service_is_the_nearest_server_span() {
        use SpanKind::*;
        let spans = vec![
            span(1, None, "sre.investigation", Server, 0, 10),
            with_attr(
                span(2, Some(1), "agent.k.execute", Server, 1, 9),
                "aws.local.service",
                "kubernetes-agent",
            ),
            span(3, Some(2), "tool.x", Internal, 2, 8),
            span(4, Some(3), "tools/call x", Client, 3, 7),
            span(5, Some(1), "supervisor.route_decision", Internal, 0, 1),
        ];
        let trace = Trace::new(TraceId::from_hex(TRACE).unwrap(), spans);
        let index = |name: &str| trace.spans().iter().position(|s| s.name == name).unwrap();
        assert_eq!(
            trace.context_service(index("tools/call x")),
            Some("kubernetes-agent")
        );
        assert_eq!(
            trace.context_service(index("supervisor.route_decision")),
            Some("sre-agent")
        );
    }

    #[test]
    fn finds_traces_by_prefix_and_explains_misses() {
        let mut other = span(1, None, "other", SpanKind::Server, 500, 600);
        other.trace_id = TraceId::from_hex("6b01357f00000000000000000000000a").unwrap();
        let mut spans: Vec<SpanRecord> = investigation().spans().to_vec();
        spans.push(other);
        let set = TraceSet::from_spans(spans);
        assert_eq!(set.latest().unwrap().spans()[0].name, "other");
        let found = set.find(&TraceQuery::parse("1-6b01357e-f0d5").unwrap());
        assert_eq!(found.unwrap().id().to_hex(), TRACE);
        let ambiguous = set.find(&TraceQuery::parse("6b0135").unwrap()).unwrap_err();
        assert!(
            matches!(ambiguous, TraceError::AmbiguousTrace { ref matches, .. } if matches.len() == 2)
        );
        let unknown = set.find(&TraceQuery::parse("abc").unwrap()).unwrap_err();
        let text = unknown.to_string();
        assert!(
            text.contains("6b01357f00000000000000000000000a, 6b01357ef0d58debe69bcc7be896f611"),
            "{text}"
        );
    }
}
