//! The service map as one self-contained HTML page: the graph (laid out in Rust, drawn as SVG by an inline
//! script from embedded JSON), a table of the calls, and the waterfall of the most recent trace. No network
//! resource is referenced, so the file opens anywhere, offline.

use std::fmt::Write as _;

use chrono::Utc;
use serde::Serialize;
use sre_telemetry::convention::attr;

use crate::traces::{
    Outcome, ReadStats, ServiceMap, Trace, TraceError,
    layout::layout,
    render::{colour, edge_label, edge_label_short, node_label, percent, window_text},
    waterfall::{CRITICAL_MARK, format_ns, notes, summary_lines, waterfall_rows},
};

/// Deepest indentation of waterfall rows.
const MAX_DEPTH: usize = 32;
/// Colour of edges and arrows without failures (the stylesheet's `g.edge path` stroke).
const EDGE_GREY: &str = "#90a4ae";

#[derive(Debug, Serialize)]
struct MapData<'a> {
    width: f64,
    height: f64,
    nodes: Vec<NodeData<'a>>,
    edges: Vec<EdgeData<'a>>,
}

#[derive(Debug, Serialize)]
struct NodeData<'a> {
    service: &'a str,
    kind: &'static str,
    health: &'static str,
    colour: &'static str,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    stats: String,
    title: String,
}

#[derive(Debug, Serialize)]
struct EdgeData<'a> {
    from: &'a str,
    to: &'a str,
    health: &'static str,
    d: String,
    lx: f64,
    ly: f64,
    label: String,
    title: String,
}

/// The page for `map`, with the waterfall of `latest` when given and a note about skipped lines from
/// `stats`.
pub fn render_html(
    map: &ServiceMap,
    latest: Option<&Trace>,
    stats: &ReadStats,
) -> Result<String, TraceError> {
    let data = map_data(map);
    // JSON inside <script>: `<`, `>` and `&` as escapes, so no text in it can close the element.
    let json = serde_json::to_string(&data)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let mut page = String::with_capacity(32 * 1024 + json.len());
    page.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>sre-agent service map</title>\n<style>\n");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<header>\n<h1>Service map</h1>\n");
    let _ = writeln!(
        page,
        "<p class=\"meta\">{} · generated {}</p>",
        escape(&window_text(map)),
        Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(warning) = stats.warning() {
        let _ = writeln!(page, "<p class=\"warning\">{}</p>", escape(&warning));
    }
    page.push_str("</header>\n<main>\n<section id=\"map\">\n");
    if map.nodes.is_empty() {
        page.push_str("<p class=\"empty\">No spans in this window.</p>\n");
    }
    let _ = writeln!(
        page,
        "<svg id=\"service-map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"service map\">",
        w = data.width,
        h = data.height
    );
    page.push_str("<defs>\n");
    for outcome in [Outcome::Ok, Outcome::Error, Outcome::Fault] {
        let health = outcome.as_str();
        let colour = match outcome {
            Outcome::Ok => EDGE_GREY,
            failure => colour(failure),
        };
        let _ = writeln!(
            page,
            "<marker id=\"arrow-{health}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" \
             markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" \
             fill=\"{colour}\"/></marker>"
        );
    }
    page.push_str("</defs>\n</svg>\n");
    page.push_str(
        "<noscript><p>The graph is drawn by this page's inline script; the table below has the same \
         numbers.</p></noscript>\n",
    );
    page.push_str(
        "<p class=\"hint\">Click a service to highlight its spans in the waterfall.</p>\n",
    );
    page.push_str("</section>\n");
    write_calls_table(&mut page, map);
    match latest {
        Some(trace) => write_waterfall(&mut page, trace),
        None => page.push_str("<section id=\"trace\"><h2>Most recent trace</h2><p>No trace in this window.</p></section>\n"),
    }
    page.push_str("</main>\n<script type=\"application/json\" id=\"service-map-data\">");
    page.push_str(&json);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    Ok(page)
}

fn map_data(map: &ServiceMap) -> MapData<'_> {
    let labels: Vec<String> = map
        .edges
        .iter()
        .map(|e| edge_label_short(&e.stats))
        .collect();
    let drawing = layout(map, &labels);
    let nodes = map
        .nodes
        .iter()
        .zip(&drawing.nodes)
        .map(|(node, place)| {
            let s = &node.stats;
            let mut title = format!(
                "{} ({})\n{} requests: {} ok, {} errors, {} faults",
                node.service,
                node.kind.as_str(),
                s.requests(),
                s.ok(),
                s.errors(),
                s.faults()
            );
            if let (Some(p50), Some(p95)) = (s.p50_ns(), s.p95_ns()) {
                let _ = write!(title, "\np50 {} · p95 {}", format_ns(p50), format_ns(p95));
            }
            NodeData {
                service: &node.service,
                kind: node.kind.as_str(),
                health: s.worst().as_str(),
                colour: colour(s.worst()),
                x: place.x,
                y: place.y,
                w: place.width,
                h: place.height,
                stats: node_label(s),
                title,
            }
        })
        .collect();
    let edges = map
        .edges
        .iter()
        .zip(&drawing.edges)
        .zip(labels)
        .map(|((edge, route), label)| {
            let s = &edge.stats;
            EdgeData {
                from: &edge.from,
                to: &edge.to,
                health: s.worst().as_str(),
                d: route.path.clone(),
                lx: route.label_x,
                ly: route.label_y,
                label,
                title: format!(
                    "{} → {}\n{}\n{} errors ({}) · {} faults ({})",
                    edge.from,
                    edge.to,
                    edge_label(s),
                    s.errors(),
                    percent(s.error_rate()),
                    s.faults(),
                    percent(s.fault_rate())
                ),
            }
        })
        .collect();
    MapData {
        width: drawing.width,
        height: drawing.height,
        nodes,
        edges,
    }
}

fn write_calls_table(page: &mut String, map: &ServiceMap) {
    page.push_str("<section id=\"calls\">\n<h2>Calls</h2>\n<table>\n<thead><tr><th>Caller</th><th>Callee</th>");
    page.push_str("<th>Requests</th><th>Errors</th><th>Faults</th><th>p50</th><th>p95</th></tr></thead>\n<tbody>\n");
    for e in &map.edges {
        let s = &e.stats;
        let _ = writeln!(
            page,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            s.worst().as_str(),
            escape(&e.from),
            escape(&e.to),
            s.requests(),
            s.errors(),
            percent(s.error_rate()),
            s.faults(),
            percent(s.fault_rate()),
            s.p50_ns().map(format_ns).unwrap_or_default(),
            s.p95_ns().map(format_ns).unwrap_or_default(),
        );
    }
    page.push_str("</tbody>\n</table>\n</section>\n");
}

fn write_waterfall(page: &mut String, trace: &Trace) {
    let path = trace.critical_path();
    let rows = waterfall_rows(trace, &path);
    let total = trace.duration_ns().max(1) as f64;
    let root = trace.root_span();
    let _ = writeln!(
        page,
        "<section id=\"trace\">\n<h2>Most recent trace <code>{}</code></h2>",
        trace.id().to_hex()
    );
    let mut facts = vec![
        format!("X-Ray {}", trace.id().to_xray()),
        format!(
            "started {}",
            trace.start_time().format("%Y-%m-%d %H:%M:%S%.3f UTC")
        ),
        format_ns(trace.duration_ns()),
        format!("{} spans", trace.spans().len()),
    ];
    if let Some(user) = root.and_then(|r| r.attr_str(attr::SRE_USER_ID)) {
        facts.push(format!("user {user}"));
    }
    let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(&facts.join(" · ")));
    if let Some(question) = root.and_then(|r| r.attr_str(attr::SRE_QUERY)) {
        let _ = writeln!(page, "<p class=\"question\">{}</p>", escape(question));
    }
    page.push_str("<div class=\"waterfall\">\n<div class=\"wf-head\"><div>Span</div><div>Offset</div><div>Duration</div><div>Timeline</div></div>\n");
    for row in &rows {
        let span = &trace.spans()[row.span];
        let outcome = span.outcome();
        let service = trace.context_service(row.span).unwrap_or_default();
        let remote = span.remote().map(|r| r.name).unwrap_or_default();
        let left = row.offset_ns as f64 / total * 100.0;
        let width = span.duration_ns() as f64 / total * 100.0;
        let mark = if row.critical { CRITICAL_MARK } else { "" };
        let _ = writeln!(
            page,
            "<div class=\"wf-row\" data-outcome=\"{}\" data-critical=\"{}\" data-span-service=\"{}\" data-remote=\"{}\">\
             <div class=\"wf-name\" style=\"padding-left:{:.1}em\" title=\"{}\"><span class=\"wf-mark\">{mark}</span>\
             <span class=\"wf-kind\">{}</span> {} <span class=\"wf-notes\">{}</span></div>\
             <div class=\"wf-num\">{}</div><div class=\"wf-num\">{}</div>\
             <div class=\"wf-track\"><div class=\"wf-bar\" style=\"left:{left:.3}%;width:{width:.3}%\"></div></div></div>",
            outcome.as_str(),
            row.critical,
            escape(service),
            escape(remote),
            row.depth.min(MAX_DEPTH) as f64 * 1.1,
            escape(&format!("{} {}", span.name, notes(trace, row.span))),
            span.kind.as_str(),
            escape(&span.name),
            escape(&notes(trace, row.span)),
            format_ns(row.offset_ns),
            format_ns(span.duration_ns()),
        );
    }
    page.push_str("</div>\n<ul class=\"wf-summary\">\n");
    for line in summary_lines(trace, &path) {
        let _ = writeln!(
            page,
            "<li{}><b>{}:</b> {}</li>",
            if line.failure {
                " class=\"failure\""
            } else {
                ""
            },
            line.label,
            escape(&line.text)
        );
    }
    page.push_str("</ul>\n</section>\n");
}

/// Text safe inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg: #1c2430; --muted: #5f6b7a; --line: #d5dbe3; --ok: #2e7d32; --error: #ef6c00; --fault: #c62828;
        --bar: #5c7cfa; --critical: #f5a623; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; color: var(--fg); background: #f7f9fb; }
header { padding: 16px 24px 4px; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 17px; margin: 20px 0 8px; }
main { padding: 0 24px 32px; }
.meta { color: var(--muted); margin: 2px 0; font-size: 13px; }
.warning { color: var(--error); font-size: 13px; }
.hint, .empty { color: var(--muted); font-size: 13px; }
.question { font-style: italic; margin: 4px 0 10px; }
#map { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
svg text { font-size: 12px; fill: var(--fg); }
g.node { cursor: pointer; }
g.node rect { fill: #fff; stroke-width: 2; }
g.node[data-kind="model"] rect { fill: #f3e9fb; }
g.node[data-kind="remote"] rect { stroke-dasharray: 6 4; fill: #fbfbfb; }
g.node .name { font-weight: 700; font-size: 13px; }
g.node .stats { fill: var(--muted); font-size: 11px; }
g.node.selected rect { stroke-width: 4; }
g.edge path { fill: none; stroke: #90a4ae; stroke-width: 1.6; }
g.edge[data-health="error"] path { stroke: var(--error); stroke-width: 2.2; }
g.edge[data-health="fault"] path { stroke: var(--fault); stroke-width: 2.6; }
g.edge text { font-size: 10.5px; paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
g.edge[data-health="fault"] text { fill: var(--fault); }
table { border-collapse: collapse; font-size: 13px; background: #fff; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.fault td { color: var(--fault); }
tr.error td { color: var(--error); }
.waterfall { background: #fff; border: 1px solid var(--line); border-radius: 8px; font-size: 12px; }
.wf-head, .wf-row { display: grid; grid-template-columns: minmax(360px, 2fr) 80px 80px 3fr; align-items: center;
                    column-gap: 8px; padding: 2px 8px; border-bottom: 1px solid #eef1f4; }
.wf-head { font-weight: 700; color: var(--muted); }
.wf-name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.wf-mark { display: inline-block; width: 1.1em; color: var(--critical); }
.wf-kind { display: inline-block; min-width: 4.5em; color: var(--muted); font-size: 11px; }
.wf-notes { color: var(--muted); }
.wf-num { text-align: right; font-variant-numeric: tabular-nums; }
.wf-track { position: relative; height: 12px; background: #f1f3f6; border-radius: 2px; }
.wf-bar { position: absolute; top: 1px; bottom: 1px; min-width: 2px; background: var(--bar); border-radius: 2px; }
.wf-row[data-critical="true"] .wf-bar { background: var(--critical); }
.wf-row[data-outcome="error"] .wf-bar { background: var(--error); }
.wf-row[data-outcome="fault"] .wf-bar { background: var(--fault); }
.wf-row[data-outcome="error"] .wf-name, .wf-row[data-outcome="fault"] .wf-name { color: var(--fault); }
.waterfall.filtered .wf-row { opacity: 0.3; }
.waterfall.filtered .wf-row.highlight { opacity: 1; background: #fff8e1; }
.wf-summary { font-size: 13px; padding-left: 20px; }
.wf-summary .failure b { color: var(--fault); }
"#;

const SCRIPT: &str = r#"(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("service-map-data").textContent);
  var svg = document.getElementById("service-map");
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    parent.appendChild(e);
    return e;
  }
  function text(parent, attrs, content) {
    var t = el("text", attrs, parent);
    t.textContent = content;
    return t;
  }
  var edgeLayer = el("g", { "class": "edges" }, svg);
  data.edges.forEach(function (e) {
    var g = el("g", { "class": "edge", "data-from": e.from, "data-to": e.to, "data-health": e.health }, edgeLayer);
    el("title", {}, g).textContent = e.title;
    el("path", { "d": e.d, "marker-end": "url(#arrow-" + e.health + ")" }, g);
    text(g, { "x": e.lx, "y": e.ly, "text-anchor": "middle" }, e.label);
  });
  var nodeLayer = el("g", { "class": "nodes" }, svg);
  var waterfall = document.querySelector(".waterfall");
  var selected = null;
  function select(service, node) {
    Array.prototype.forEach.call(svg.querySelectorAll("g.node"), function (g) { g.classList.remove("selected"); });
    if (!waterfall) { return; }
    var rows = waterfall.querySelectorAll(".wf-row");
    if (selected === service) {
      selected = null;
      waterfall.classList.remove("filtered");
      Array.prototype.forEach.call(rows, function (r) { r.classList.remove("highlight"); });
      return;
    }
    selected = service;
    node.classList.add("selected");
    waterfall.classList.add("filtered");
    Array.prototype.forEach.call(rows, function (r) {
      var mine = r.getAttribute("data-span-service") === service || r.getAttribute("data-remote") === service;
      r.classList.toggle("highlight", mine);
    });
  }
  data.nodes.forEach(function (n) {
    var g = el("g", {
      "class": "node", "data-service": n.service, "data-kind": n.kind, "data-health": n.health,
      "transform": "translate(" + n.x + "," + n.y + ")", "tabindex": "0", "role": "button"
    }, nodeLayer);
    el("title", {}, g).textContent = n.title;
    el("rect", { "width": n.w, "height": n.h, "rx": 9, "ry": 9, "stroke": n.colour }, g);
    text(g, { "class": "name", "x": n.w / 2, "y": 23, "text-anchor": "middle" }, n.service);
    text(g, { "class": "stats", "x": n.w / 2, "y": 42, "text-anchor": "middle" }, n.stats);
    g.addEventListener("click", function () { select(n.service, g); });
    g.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { select(n.service, g); } });
  });
  document.body.setAttribute("data-rendered", String(data.nodes.length));
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{
        SpanKind, TraceId,
        trace::tests::{TRACE, span, with_attr},
    };

    fn trace() -> Trace {
        use SpanKind::*;
        let spans = vec![
            with_attr(
                span(1, None, "sre.investigation", Server, 0, 100),
                "sre.query",
                "</script><b>why?</b>",
            ),
            with_attr(
                span(2, Some(1), "agent.k.execute", Server, 10, 90),
                "aws.local.service",
                "kubernetes-agent",
            ),
            with_attr(
                with_attr(
                    span(3, Some(2), "tools/call x", Client, 20, 30),
                    "peer.service",
                    "k8s-backend",
                ),
                "error.type",
                "connection_refused",
            ),
        ];
        Trace::new(TraceId::from_hex(TRACE).unwrap(), spans)
    }

    #[test]
    fn page_is_self_contained_and_escapes_span_text() {
        let trace = trace();
        let map = ServiceMap::build([&trace], None);
        let html = render_html(&map, Some(&trace), &ReadStats::default()).unwrap();
        assert!(html.starts_with("<!doctype html>"));
        for forbidden in ["http://", "https://", "src=", "<link", "@import"] {
            let outside_svg_ns = html.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !outside_svg_ns.contains(forbidden),
                "{forbidden} would load a resource"
            );
        }
        assert!(html.contains("&lt;/script&gt;&lt;b&gt;why?&lt;/b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "span text cannot close a script"
        );
        assert!(html.contains("\"service\":\"k8s-backend\""));
        assert!(html.contains("data-outcome=\"fault\""));
        assert!(
            html.contains("data-span-service=\"kubernetes-agent\" data-remote=\"k8s-backend\"")
        );
        assert!(html.contains("<b>Failures:</b>"));
    }

    #[test]
    fn an_empty_map_says_so() {
        let html = render_html(&ServiceMap::default(), None, &ReadStats::default()).unwrap();
        assert!(html.contains("No spans in this window."));
        assert!(html.contains("No trace in this window."));
    }
}
