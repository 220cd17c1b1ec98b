//! The service map computed from local spans the way X-Ray computes its own: nodes are services that
//! received work (SERVER spans, named by `aws.local.service` or the process's `service.name`) and remote
//! services that CLIENT spans called (`aws.remote.service`, `peer.service`, a model provider's
//! `gen_ai.provider.name`); edges go from the service that issued a call to the one that received it, with
//! request counts, error and fault rates, and latency percentiles.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer, ser::SerializeStruct};

use crate::traces::{Outcome, Trace, span::unix_ns_of};

/// Name used when a span says nothing about its service.
pub const UNKNOWN_SERVICE: &str = "unknown";

/// Requests, failures and latencies of a node or an edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    requests: u64,
    errors: u64,
    faults: u64,
    latencies_ns: Vec<u64>,
    sorted: bool,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A service whose own spans are in the file.
    Service,
    /// A service known only from the calls made to it (not instrumented, or never reached).
    Remote,
    /// A model provider (`gen_ai.provider.name`).
    Model,
}

/// A service on the map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceNode {
    /// Service name.
    pub service: String,
    /// What the node stands for.
    pub kind: NodeKind,
    /// Requests the service handled (its SERVER spans), plus calls to it that it never saw (refused
    /// connections, services without spans of their own).
    #[serde(flatten)]
    pub stats: CallStats,
}

/// Calls from one service to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEdge {
    /// The calling service.
    pub from: String,
    /// The called service.
    pub to: String,
    /// One request per call attempt, as the caller saw it (failures on either side count).
    #[serde(flatten)]
    pub stats: CallStats,
}

/// Nodes and edges of the service map.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceMap {
    /// Only spans that started at or after this time were counted.
    pub since: Option<DateTime<Utc>>,
    /// Traces with at least one counted span.
    pub traces: usize,
    /// Spans counted.
    pub spans: usize,
    /// Nodes, by name.
    pub nodes: Vec<ServiceNode>,
    /// Edges, by caller then callee.
    pub edges: Vec<ServiceEdge>,
}

impl CallStats {
    /// Adds one request.
    pub fn record(&mut self, outcome: Outcome, duration_ns: u64) {
        self.requests += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Error => self.errors += 1,
            Outcome::Fault => self.faults += 1,
        }
        self.latencies_ns.push(duration_ns);
        self.sorted = false;
    }

    /// Requests seen.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Requests that succeeded.
    pub fn ok(&self) -> u64 {
        self.requests - self.errors - self.faults
    }

    /// Requests that failed because of the caller.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Requests that failed because of the callee or the network.
    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// Errors per request (0 without requests).
    pub fn error_rate(&self) -> f64 {
        ratio(self.errors, self.requests)
    }

    /// Faults per request (0 without requests).
    pub fn fault_rate(&self) -> f64 {
        ratio(self.faults, self.requests)
    }

    /// The `q`-quantile (0 < q ≤ 1) of the latencies by the nearest-rank method: the smallest latency that
    /// at least `q` of the requests did not exceed. `None` without requests.
    pub fn percentile_ns(&self, q: f64) -> Option<u64> {
        if self.latencies_ns.is_empty() {
            return None;
        }
        let n = self.latencies_ns.len();
        // Ranks are small integers; the float round trip is exact for them.
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        if self.sorted {
            return self.latencies_ns.get(rank - 1).copied();
        }
        let mut sorted = self.latencies_ns.clone();
        sorted.sort_unstable();
        sorted.get(rank - 1).copied()
    }

    /// Median latency.
    pub fn p50_ns(&self) -> Option<u64> {
        self.percentile_ns(0.50)
    }

    /// 95th-percentile latency.
    pub fn p95_ns(&self) -> Option<u64> {
        self.percentile_ns(0.95)
    }

    /// The worst outcome among the requests: fault, else error, else ok.
    pub fn worst(&self) -> Outcome {
        if self.faults > 0 {
            Outcome::Fault
        } else if self.errors > 0 {
            Outcome::Error
        } else {
            Outcome::Ok
        }
    }

    fn seal(&mut self) {
        self.latencies_ns.sort_unstable();
        self.sorted = true;
    }
}

impl Serialize for CallStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ms = |ns: Option<u64>| ns.map(|ns| (ns as f64 / 1e3).round() / 1e3);
        let mut s = serializer.serialize_struct("CallStats", 8)?;
        s.serialize_field("requests", &self.requests)?;
        s.serialize_field("ok", &self.ok())?;
        s.serialize_field("errors", &self.errors)?;
        s.serialize_field("faults", &self.faults)?;
        s.serialize_field("error_rate", &self.error_rate())?;
        s.serialize_field("fault_rate", &self.fault_rate())?;
        s.serialize_field("p50_ms", &ms(self.p50_ns()))?;
        s.serialize_field("p95_ms", &ms(self.p95_ns()))?;
        s.end()
    }
}

impl NodeKind {
    /// `service`, `remote` or `model`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Service => "service",
            NodeKind::Remote => "remote",
            NodeKind::Model => "model",
        }
    }
}

impl ServiceMap {
    /// The map of `traces`, counting only spans that started at or after `since`.
    ///
    /// A call seen from both sides (a CLIENT span and the SERVER span it caused) is one request on its edge,
    /// as the client saw it, failed when either side failed; a SERVER span whose parent is such a CLIENT span
    /// adds no edge of its own.
    pub fn build<'a>(
        traces: impl IntoIterator<Item = &'a Trace>,
        since: Option<DateTime<Utc>>,
    ) -> Self {
        let cutoff = since.map(unix_ns_of).unwrap_or(0);
        let mut builder = Builder::default();
        let mut map = ServiceMap {
            since,
            ..ServiceMap::default()
        };
        for trace in traces {
            let counted = builder.add_trace(trace, cutoff);
            if counted > 0 {
                map.traces += 1;
                map.spans += counted;
            }
        }
        map.nodes = builder
            .nodes
            .into_iter()
            .map(|(service, (kind, mut stats))| {
                stats.seal();
                ServiceNode {
                    service,
                    kind,
                    stats,
                }
            })
            .collect();
        map.edges = builder
            .edges
            .into_iter()
            .map(|((from, to), mut stats)| {
                stats.seal();
                ServiceEdge { from, to, stats }
            })
            .collect();
        map
    }

    /// The node named `service`.
    pub fn node(&self, service: &str) -> Option<&ServiceNode> {
        self.nodes.iter().find(|n| n.service == service)
    }

    /// The edge from `from` to `to`.
    pub fn edge(&self, from: &str, to: &str) -> Option<&ServiceEdge> {
        self.edges.iter().find(|e| e.from == from && e.to == to)
    }
}

#[derive(Debug, Default)]
struct Builder {
    nodes: BTreeMap<String, (NodeKind, CallStats)>,
    edges: BTreeMap<(String, String), CallStats>,
}

impl Builder {
    /// Adds the spans of `trace` that started at or after `cutoff` (Unix ns); returns how many.
    fn add_trace(&mut self, trace: &Trace, cutoff: u64) -> usize {
        let spans = trace.spans();
        let mut counted = 0;
        for (i, span) in spans.iter().enumerate() {
            if span.start_ns < cutoff {
                continue;
            }
            counted += 1;
            if span.kind.is_entry() {
                let service = span.local_service().unwrap_or(UNKNOWN_SERVICE);
                self.node(service, NodeKind::Service)
                    .record(span.outcome(), span.duration_ns());
                let Some(parent) = trace.parent(i) else {
                    continue;
                };
                if spans[parent].remote().is_some() {
                    continue; // the CLIENT span that caused this one counts the call
                }
                let caller = trace.context_service(parent).unwrap_or(UNKNOWN_SERVICE);
                if caller != service {
                    self.node(caller, NodeKind::Service);
                    self.edge(caller, service)
                        .record(span.outcome(), span.duration_ns());
                }
            } else if let Some(remote) = span.remote() {
                let caller = trace.context_service(i).unwrap_or(UNKNOWN_SERVICE);
                self.node(caller, NodeKind::Service);
                let servers: Vec<usize> = trace
                    .children(i)
                    .iter()
                    .copied()
                    .filter(|&c| spans[c].kind.is_entry())
                    .collect();
                let callee = match servers.first() {
                    // The receiving side knows its own name best.
                    Some(&s) => spans[s].local_service().unwrap_or(remote.name),
                    None => {
                        let kind = if remote.model {
                            NodeKind::Model
                        } else {
                            NodeKind::Remote
                        };
                        // No span of the callee records this request: count it for the callee here.
                        self.node(remote.name, kind)
                            .record(span.outcome(), span.duration_ns());
                        remote.name
                    }
                };
                let outcome = servers
                    .iter()
                    .map(|&s| spans[s].outcome())
                    .fold(span.outcome(), Outcome::max);
                if caller != callee {
                    self.edge(caller, callee)
                        .record(outcome, span.duration_ns());
                }
            }
        }
        counted
    }

    /// The stats of node `service`, created with `kind` when new; a node with spans of its own is a
    /// service whatever it was first seen as.
    fn node(&mut self, service: &str, kind: NodeKind) -> &mut CallStats {
        let entry = self
            .nodes
            .entry(service.to_owned())
            .or_insert_with(|| (kind, CallStats::default()));
        if kind == NodeKind::Service {
            entry.0 = NodeKind::Service;
        }
        &mut entry.1
    }

    fn edge(&mut self, from: &str, to: &str) -> &mut CallStats {
        self.edges
            .entry((from.to_owned(), to.to_owned()))
            .or_default()
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{
        AttrValue, SpanKind, SpanRecord, TraceId,
        trace::tests::{TRACE, span, with_attr},
    };

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut stats = CallStats::default();
        assert_eq!(stats.p50_ns(), None);
        for ms in (1..=100).rev() {
            stats.record(Outcome::Ok, ms * 1_000_000);
        }
        assert_eq!(stats.p50_ns(), Some(50_000_000));
        assert_eq!(stats.p95_ns(), Some(95_000_000));
        assert_eq!(stats.percentile_ns(1.0), Some(100_000_000));
        stats.seal();
        assert_eq!(stats.p95_ns(), Some(95_000_000));
        let mut one = CallStats::default();
        one.record(Outcome::Fault, 7);
        assert_eq!((one.p50_ns(), one.p95_ns()), (Some(7), Some(7)));
        let mut small = CallStats::default();
        for ns in [10, 20, 30, 40] {
            small.record(Outcome::Ok, ns);
        }
        assert_eq!(small.p50_ns(), Some(20), "rank ceil(0.5 × 4) = 2");
        assert_eq!(small.p95_ns(), Some(40), "rank ceil(0.95 × 4) = 4");
    }

    #[test]
    fn rates_count_errors_and_faults_separately() {
        let mut stats = CallStats::default();
        for outcome in [
            Outcome::Ok,
            Outcome::Error,
            Outcome::Fault,
            Outcome::Fault,
            Outcome::Ok,
        ] {
            stats.record(outcome, 1);
        }
        assert_eq!(stats.requests(), 5);
        assert_eq!((stats.ok(), stats.errors(), stats.faults()), (2, 1, 2));
        assert!((stats.error_rate() - 0.2).abs() < 1e-9);
        assert!((stats.fault_rate() - 0.4).abs() < 1e-9);
        assert_eq!(CallStats::default().error_rate(), 0.0);
    }

    fn attempt(mut s: SpanRecord, n: i64, error_type: Option<&str>) -> SpanRecord {
        s = with_attr(s, "peer.service", "k8s-backend");
        s = with_attr(s, "aws.remote.service", "k8s-backend");
        s.attributes
            .push(("retry.attempt".into(), AttrValue::Int(n)));
        match error_type {
            Some(t) => with_attr(s, "error.type", t),
            None => s,
        }
    }

    /// sre.investigation → agent.kubernetes.execute → tool → 3 attempts (refused, timeout, ok with a
    /// SERVER span in k8s-backend), plus a model call and a tool_error call answered by the server.
    fn trace() -> Trace {
        use SpanKind::*;
        let mut server = span(9, Some(6), "tools/call get_pod_status", Server, 52, 58);
        server.resource_service = Some("k8s-backend".into());
        let mut failing_server = with_attr(
            span(11, Some(10), "tools/call get_events", Server, 72, 78),
            "aws.local.service",
            "k8s-backend",
        );
        failing_server = with_attr(failing_server, "error.type", "tool_error");
        let spans = vec![
            span(1, None, "sre.investigation", Server, 0, 100),
            with_attr(
                span(2, Some(1), "agent.kubernetes.execute", Server, 2, 98),
                "aws.local.service",
                "kubernetes-agent",
            ),
            span(3, Some(2), "tool.get_pod_status", Internal, 3, 60),
            attempt(
                span(4, Some(3), "tools/call get_pod_status", Client, 4, 6),
                1,
                Some("connection_refused"),
            ),
            attempt(
                span(5, Some(3), "tools/call get_pod_status", Client, 10, 40),
                2,
                Some("timeout"),
            ),
            attempt(
                span(6, Some(3), "tools/call get_pod_status", Client, 50, 60),
                3,
                None,
            ),
            with_attr(
                span(7, Some(2), "chat offline-analyst-1", Client, 61, 65),
                "gen_ai.provider.name",
                "sre.offline",
            ),
            with_attr(
                span(8, Some(1), "chat offline-analyst-1", Client, 1, 2),
                "gen_ai.provider.name",
                "sre.offline",
            ),
            server,
            attempt(
                span(10, Some(2), "tools/call get_events", Client, 70, 80),
                1,
                None,
            ),
            failing_server,
        ];
        Trace::new(TraceId::from_hex(TRACE).unwrap(), spans)
    }

    #[test]
    fn edges_follow_server_and_client_spans_without_double_counting() {
        let trace = trace();
        let map = ServiceMap::build([&trace], None);
        let names: Vec<&str> = map.nodes.iter().map(|n| n.service.as_str()).collect();
        assert_eq!(
            names,
            [
                "k8s-backend",
                "kubernetes-agent",
                "sre-agent",
                "sre.offline"
            ]
        );
        assert_eq!(map.spans, 11);
        assert_eq!(map.traces, 1);

        let agent = map.edge("sre-agent", "kubernetes-agent").unwrap();
        assert_eq!(agent.stats.requests(), 1);
        assert_eq!(agent.stats.p50_ns(), Some(96_000_000));

        let backend = map.edge("kubernetes-agent", "k8s-backend").unwrap();
        assert_eq!(
            backend.stats.requests(),
            4,
            "one per attempt, servers not counted again"
        );
        assert_eq!(backend.stats.faults(), 2, "refused and timed out");
        assert_eq!(backend.stats.errors(), 1, "the server's tool_error");
        assert!((backend.stats.fault_rate() - 0.5).abs() < 1e-9);
        assert_eq!(backend.stats.p50_ns(), Some(10_000_000), "2, 10, 10, 30 ms");
        assert_eq!(backend.stats.p95_ns(), Some(30_000_000));

        let k8s = map.node("k8s-backend").unwrap();
        assert_eq!(k8s.kind, NodeKind::Service);
        assert_eq!(
            k8s.stats.requests(),
            4,
            "two SERVER spans plus the two attempts it never saw"
        );
        assert_eq!((k8s.stats.errors(), k8s.stats.faults()), (1, 2));

        let model = map.node("sre.offline").unwrap();
        assert_eq!(model.kind, NodeKind::Model);
        assert_eq!(model.stats.requests(), 2);
        assert!(map.edge("sre-agent", "sre.offline").is_some());
        assert!(map.edge("kubernetes-agent", "sre.offline").is_some());
        assert_eq!(map.edges.len(), 4);
        assert_eq!(map.node("sre-agent").unwrap().stats.requests(), 1);
    }

    #[test]
    fn since_counts_only_spans_that_started_after_it() {
        let trace = trace();
        let cutoff = trace.spans()[0].start_time() + chrono::Duration::milliseconds(45);
        let map = ServiceMap::build([&trace], Some(cutoff));
        let backend = map.edge("kubernetes-agent", "k8s-backend").unwrap();
        assert_eq!(backend.stats.requests(), 2, "attempt 3 and get_events");
        assert_eq!(backend.stats.faults(), 0);
        assert!(map.edge("sre-agent", "kubernetes-agent").is_none());
        let json = serde_json::to_value(&map).unwrap();
        assert_eq!(json["edges"][0]["requests"], 2);
        assert!(json["since"].is_string());
    }
}
