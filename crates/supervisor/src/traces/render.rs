//! The service map's output formats: an aligned text table, Mermaid, Graphviz DOT, JSON, and one
//! self-contained HTML page (drawn by [`crate::traces::html`]).

use std::{fmt::Write as _, str::FromStr};

use crate::traces::{
    CallStats, NodeKind, Outcome, ReadStats, ServiceMap, Trace, TraceError, html::render_html,
    waterfall::format_ns,
};

/// How `traces service-map` prints the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MapFormat {
    /// An aligned table of edges and a list of nodes.
    #[default]
    Text,
    /// A Mermaid `graph LR` block.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
    /// Nodes and edges with their statistics.
    Json,
    /// One self-contained page: the map as a graph and the waterfall of the most recent trace.
    Html,
}

/// A service map with what the HTML page shows next to it.
#[derive(Debug, Clone, Default)]
pub struct ServiceMapReport {
    /// The map.
    pub map: ServiceMap,
    /// The most recent trace in the window, for the HTML waterfall.
    pub latest: Option<Trace>,
    /// What reading the trace file found.
    pub stats: ReadStats,
}

impl MapFormat {
    /// The format's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            MapFormat::Text => "text",
            MapFormat::Mermaid => "mermaid",
            MapFormat::Dot => "dot",
            MapFormat::Json => "json",
            MapFormat::Html => "html",
        }
    }
}

impl FromStr for MapFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(MapFormat::Text),
            "mermaid" => Ok(MapFormat::Mermaid),
            "dot" => Ok(MapFormat::Dot),
            "json" => Ok(MapFormat::Json),
            "html" => Ok(MapFormat::Html),
            other => Err(format!(
                "unknown service-map format `{other}`; use text, mermaid, dot, json or html"
            )),
        }
    }
}

impl ServiceMapReport {
    /// The map in `format`.
    pub fn render(&self, format: MapFormat) -> Result<String, TraceError> {
        Ok(match format {
            MapFormat::Text => render_text(&self.map),
            MapFormat::Mermaid => render_mermaid(&self.map),
            MapFormat::Dot => render_dot(&self.map),
            MapFormat::Json => {
                let mut json = serde_json::to_string_pretty(&self.map)?;
                json.push('\n');
                json
            }
            MapFormat::Html => render_html(&self.map, self.latest.as_ref(), &self.stats)?,
        })
    }
}

/// `12 req · p50 0.41 ms · p95 1.20 ms · 25% fault`
pub fn edge_label(stats: &CallStats) -> String {
    let mut parts = vec![format!("{} req", stats.requests())];
    if let (Some(p50), Some(p95)) = (stats.p50_ns(), stats.p95_ns()) {
        parts.push(format!("p50 {}", format_ns(p50)));
        parts.push(format!("p95 {}", format_ns(p95)));
    }
    if stats.errors() > 0 {
        parts.push(format!("{} err", percent(stats.error_rate())));
    }
    if stats.faults() > 0 {
        parts.push(format!("{} fault", percent(stats.fault_rate())));
    }
    parts.join(" · ")
}

/// `12 req · p95 1.20 ms · 25% fault`: [`edge_label`] without the median, short enough for a drawn edge.
pub fn edge_label_short(stats: &CallStats) -> String {
    let mut parts = vec![format!("{} req", stats.requests())];
    if let Some(p95) = stats.p95_ns() {
        parts.push(format!("p95 {}", format_ns(p95)));
    }
    if stats.errors() > 0 {
        parts.push(format!("{} err", percent(stats.error_rate())));
    }
    if stats.faults() > 0 {
        parts.push(format!("{} fault", percent(stats.fault_rate())));
    }
    parts.join(" · ")
}

/// `12 req · 1 err · 3 fault`
pub fn node_label(stats: &CallStats) -> String {
    format!(
        "{} req · {} err · {} fault",
        stats.requests(),
        stats.errors(),
        stats.faults()
    )
}

/// `12.5%`
pub fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// One sentence on what the map covers: `2 traces, 130 spans since 2026-11-21 06:00:00 UTC`.
pub fn window_text(map: &ServiceMap) -> String {
    let since = match map.since {
        Some(t) => format!("since {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        None => "all of the trace file".to_owned(),
    };
    format!(
        "{} trace{}, {} span{}, {since}",
        map.traces,
        if map.traces == 1 { "" } else { "s" },
        map.spans,
        if map.spans == 1 { "" } else { "s" }
    )
}

fn render_text(map: &ServiceMap) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Service map: {}", window_text(map));
    if map.nodes.is_empty() {
        let _ = writeln!(out, "No spans in this window.");
        return out;
    }
    let stats_cells = |s: &CallStats| {
        format!(
            "{:>8}  {:>13}  {:>13}  {:>9}  {:>9}",
            s.requests(),
            format!("{} ({})", s.errors(), percent(s.error_rate())),
            format!("{} ({})", s.faults(), percent(s.fault_rate())),
            s.p50_ns().map(format_ns).unwrap_or_else(|| "-".into()),
            s.p95_ns().map(format_ns).unwrap_or_else(|| "-".into()),
        )
    };
    let width = map
        .nodes
        .iter()
        .map(|n| n.service.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let numbers = format!(
        "{:>8}  {:>13}  {:>13}  {:>9}  {:>9}",
        "REQUESTS", "ERRORS", "FAULTS", "P50", "P95"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<width$}  {:<width$}  {numbers}", "CALLER", "CALLEE");
    for e in &map.edges {
        let _ = writeln!(
            out,
            "{:<width$}  {:<width$}  {}",
            e.from,
            e.to,
            stats_cells(&e.stats)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<width$}  {:<7}  {numbers}", "SERVICE", "KIND");
    for n in &map.nodes {
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {}",
            n.service,
            n.kind.as_str(),
            stats_cells(&n.stats)
        );
    }
    out
}

fn render_mermaid(map: &ServiceMap) -> String {
    let mut out = String::from("graph LR\n");
    for (i, n) in map.nodes.iter().enumerate() {
        let (open, close) = match n.kind {
            NodeKind::Service => ("[", "]"),
            NodeKind::Remote => ("[/", "/]"),
            NodeKind::Model => ("([", "])"),
        };
        let _ = writeln!(
            out,
            "  n{i}{open}\"{}<br/>{}\"{close}",
            mermaid_escape(&n.service),
            mermaid_escape(&node_label(&n.stats))
        );
    }
    let id = |service: &str| map.nodes.iter().position(|n| n.service == service);
    let mut styled = Vec::new();
    let mut link = 0;
    for e in &map.edges {
        let (Some(from), Some(to)) = (id(&e.from), id(&e.to)) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  n{from} -->|\"{}\"| n{to}",
            mermaid_escape(&edge_label(&e.stats))
        );
        let worst = e.stats.worst();
        if worst.is_failure() {
            styled.push(format!(
                "  linkStyle {link} stroke:{},stroke-width:2px",
                colour(worst)
            ));
        }
        link += 1;
    }
    for outcome in [Outcome::Fault, Outcome::Error] {
        let _ = writeln!(
            out,
            "  classDef {} stroke:{},stroke-width:3px",
            outcome.as_str(),
            colour(outcome)
        );
    }
    for (i, n) in map.nodes.iter().enumerate() {
        let worst = n.stats.worst();
        if worst.is_failure() {
            let _ = writeln!(out, "  class n{i} {}", worst.as_str());
        }
    }
    for line in styled {
        let _ = writeln!(out, "{line}");
    }
    out
}

fn render_dot(map: &ServiceMap) -> String {
    let mut out = String::from("digraph service_map {\n");
    out.push_str("  rankdir=LR;\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n",
    );
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for n in &map.nodes {
        let shape = match n.kind {
            NodeKind::Service => "",
            NodeKind::Remote => ", style=\"rounded,dashed\"",
            NodeKind::Model => ", shape=ellipse",
        };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\", color=\"{}\"{shape}];",
            dot_escape(&n.service),
            dot_escape(&n.service),
            dot_escape(&node_label(&n.stats)),
            colour(n.stats.worst())
        );
    }
    for e in &map.edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\", color=\"{}\"];",
            dot_escape(&e.from),
            dot_escape(&e.to),
            dot_escape(&edge_label(&e.stats)),
            colour(e.stats.worst())
        );
    }
    out.push_str("}\n");
    out
}

/// The colour drawn for an outcome: green, orange or red.
pub fn colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "#2e7d32",
        Outcome::Error => "#ef6c00",
        Outcome::Fault => "#c62828",
    }
}

/// Mermaid labels are quoted: quotes and angle brackets become entity codes.
fn mermaid_escape(text: &str) -> String {
    text.replace('"', "#34;")
        .replace('<', "#60;")
        .replace('>', "#62;")
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{ServiceEdge, ServiceNode};

    fn sample() -> ServiceMap {
        let mut ok = CallStats::default();
        ok.record(Outcome::Ok, 2_000_000);
        let mut failing = CallStats::default();
        failing.record(Outcome::Fault, 1_000_000);
        failing.record(Outcome::Ok, 3_000_000);
        ServiceMap {
            traces: 1,
            spans: 5,
            nodes: vec![
                ServiceNode {
                    service: "k8s-backend".into(),
                    kind: NodeKind::Remote,
                    stats: failing.clone(),
                },
                ServiceNode {
                    service: "kubernetes-agent".into(),
                    kind: NodeKind::Service,
                    stats: ok.clone(),
                },
                ServiceNode {
                    service: "say \"hi\"".into(),
                    kind: NodeKind::Model,
                    stats: ok.clone(),
                },
            ],
            edges: vec![
                ServiceEdge {
                    from: "kubernetes-agent".into(),
                    to: "k8s-backend".into(),
                    stats: failing,
                },
                ServiceEdge {
                    from: "kubernetes-agent".into(),
                    to: "say \"hi\"".into(),
                    stats: ok,
                },
            ],
            since: None,
        }
    }

    #[test]
    fn text_lists_edges_and_nodes_aligned() {
        let text = render_text(&sample());
        assert!(
            text.contains("1 trace, 5 spans, all of the trace file"),
            "{text}"
        );
        let edge = text
            .lines()
            .find(|l| l.starts_with("kubernetes-agent  k8s-backend"))
            .unwrap();
        assert!(edge.contains("1 (50%)"), "{edge}");
        assert!(
            edge.contains("1.00 ms") && edge.contains("3.00 ms"),
            "{edge}"
        );
        assert!(text.contains("k8s-backend       remote"), "{text}");
    }

    #[test]
    fn mermaid_and_dot_escape_and_colour_failures() {
        let mermaid = render_mermaid(&sample());
        assert!(mermaid.starts_with("graph LR\n"));
        assert!(
            mermaid.contains("n0[/\"k8s-backend<br/>2 req · 0 err · 1 fault\"/]"),
            "{mermaid}"
        );
        assert!(
            mermaid.contains("n1 -->|\"2 req · p50 1.00 ms · p95 3.00 ms · 50% fault\"| n0"),
            "{mermaid}"
        );
        assert!(mermaid.contains("say #34;hi#34;"), "{mermaid}");
        assert!(mermaid.contains("linkStyle 0 stroke:#c62828"), "{mermaid}");
        assert!(mermaid.contains("class n0 fault"), "{mermaid}");

        let dot = render_dot(&sample());
        assert!(dot.starts_with("digraph service_map {"));
        assert!(
            dot.contains("\"kubernetes-agent\" -> \"k8s-backend\" [label=\"2 req"),
            "{dot}"
        );
        assert!(dot.contains("\"say \\\"hi\\\"\""), "{dot}");
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn formats_parse_and_json_carries_statistics() {
        assert_eq!("Mermaid".parse::<MapFormat>(), Ok(MapFormat::Mermaid));
        assert!(
            "svg"
                .parse::<MapFormat>()
                .unwrap_err()
                .contains("text, mermaid")
        );
        let report = ServiceMapReport {
            map: sample(),
            ..ServiceMapReport::default()
        };
        let json: serde_json::Value =
            serde_json::from_str(&report.render(MapFormat::Json).unwrap()).unwrap();
        assert_eq!(json["edges"][0]["fault_rate"], 0.5);
        assert_eq!(json["edges"][0]["p95_ms"], 3.0);
        assert_eq!(json["nodes"][0]["kind"], "remote");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.083), "8.3%");
        assert_eq!(percent(1.0), "100%");
    }
}
