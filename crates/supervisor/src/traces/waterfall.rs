//! `traces show`: one trace as a waterfall — every span as a tree row with its offset from the trace
//! start, duration, kind, outcome and a bar scaled to the trace — with the critical path marked, the slowest
//! agent named, and retries and error types in plain sight.

use std::{collections::BTreeMap, fmt::Write as _};

use sre_telemetry::convention::attr;

use crate::traces::{CriticalPath, Outcome, SpanKind, Trace, ansi::Ansi, summary::shorten};

/// Marks rows on the critical path.
pub const CRITICAL_MARK: &str = "◆";
/// Deepest indentation drawn; deeper spans keep this indentation.
const MAX_INDENT: usize = 32;
/// Critical-path spans named in the summary line.
const PATH_NAMES: usize = 8;

/// How `traces show` draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterfallOptions {
    /// ANSI colours (errors red, the critical path yellow).
    pub color: bool,
    /// Characters of the timeline bar.
    pub bar_width: usize,
    /// Longest span-name column (tree lines included); longer names are cut.
    pub name_width: usize,
    /// Print the attributes of the spans whose name contains this text (`""`: every span) under their row.
    pub attributes_of: Option<String>,
}

/// One row of the waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterfallRow {
    /// Index of the span in [`Trace::spans`].
    pub span: usize,
    /// Depth in the tree (roots are 0).
    pub depth: usize,
    /// Tree lines drawn before the name (`├─ `, `│  └─ `, …).
    pub tree: String,
    /// Start relative to the trace start, nanoseconds.
    pub offset_ns: u64,
    /// True for spans on the critical path.
    pub critical: bool,
    /// True for a root whose parent is not in the file.
    pub orphan: bool,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        Self {
            color: false,
            bar_width: 40,
            name_width: 64,
            attributes_of: None,
        }
    }
}

/// The rows of `trace` in tree order (depth first, children by start time); the main root comes first,
/// then spans whose parent is missing.
pub fn waterfall_rows(trace: &Trace, path: &CriticalPath) -> Vec<WaterfallRow> {
    let start = trace.start_ns();
    let main = trace.root();
    let mut roots: Vec<usize> = main.into_iter().collect();
    roots.extend(trace.roots().iter().copied().filter(|r| Some(*r) != main));
    let mut rows = Vec::with_capacity(trace.spans().len());
    // (span, depth, tree drawn before it, prefix its children continue)
    let mut stack: Vec<(usize, usize, String, String)> = roots
        .into_iter()
        .rev()
        .map(|r| (r, 0, String::new(), String::new()))
        .collect();
    while let Some((i, depth, tree, prefix)) = stack.pop() {
        let span = &trace.spans()[i];
        rows.push(WaterfallRow {
            span: i,
            depth,
            tree,
            offset_ns: span.start_ns.saturating_sub(start),
            critical: path.contains(i),
            orphan: depth == 0 && span.parent_id.is_some(),
        });
        let children = trace.children(i);
        for (n, &child) in children.iter().enumerate().rev() {
            let last = n + 1 == children.len();
            let (tree, next) = if depth >= MAX_INDENT {
                (prefix.clone(), prefix.clone())
            } else {
                (
                    format!("{prefix}{}", if last { "└─ " } else { "├─ " }),
                    format!("{prefix}{}", if last { "   " } else { "│  " }),
                )
            };
            stack.push((child, depth + 1, tree, next));
        }
    }
    rows
}

/// The waterfall of `trace` as terminal text.
pub fn render_waterfall(trace: &Trace, options: &WaterfallOptions) -> String {
    let ansi = Ansi::new(options.color);
    let path = trace.critical_path();
    let rows = waterfall_rows(trace, &path);
    let total = trace.duration_ns();
    let mut out = String::new();
    write_header(&mut out, trace, &ansi);

    let names: Vec<String> = rows
        .iter()
        .map(|row| {
            let span = &trace.spans()[row.span];
            let orphan = if row.orphan {
                " (parent not in file)"
            } else {
                ""
            };
            shorten(
                &format!("{}{}{orphan}", row.tree, span.name),
                options.name_width,
            )
        })
        .collect();
    let name_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let header = format!(
        "   {:>9}  {:>9}  {:<8}  {:<6}  {:<name_width$}  TIMELINE ({})",
        "OFFSET",
        "DURATION",
        "KIND",
        "STATUS",
        "SPAN",
        format_ns(total)
    );
    let _ = writeln!(out, "{}", ansi.bold(header.trim_end()));
    for (row, name) in rows.iter().zip(&names) {
        let span = &trace.spans()[row.span];
        let outcome = span.outcome();
        let mark = if row.critical {
            ansi.yellow(CRITICAL_MARK)
        } else {
            " ".to_owned()
        };
        let status = format!("{:<6}", outcome.as_str());
        let name = format!("{name:<name_width$}");
        let (status, name) = if outcome.is_failure() {
            (ansi.red(&status), ansi.red(&name))
        } else {
            (status, name)
        };
        let bar = bar(row.offset_ns, span.duration_ns(), total, options.bar_width);
        let bar = if outcome.is_failure() {
            ansi.red(&bar)
        } else {
            bar
        };
        let notes = notes(trace, row.span);
        let line = format!(
            "{mark}  {:>9}  {:>9}  {:<8}  {status}  {name}  |{bar}|  {notes}",
            format_ns(row.offset_ns),
            format_ns(span.duration_ns()),
            span.kind.as_str(),
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if let Some(pattern) = &options.attributes_of
            && span.name.contains(pattern.as_str())
        {
            let attributes: Vec<String> = span
                .attributes
                .iter()
                .filter(|(key, _)| !BAGGAGE_COPIES.contains(&key.as_str()))
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            if !attributes.is_empty() {
                let _ = writeln!(
                    out,
                    "{}",
                    ansi.dim(&format!("{:>25}{}", "", attributes.join(" ")))
                );
            }
        }
    }
    write_summary(&mut out, trace, &path, &ansi);
    out
}

/// Attributes every span carries from the W3C baggage: left out of attribute listings.
const BAGGAGE_COPIES: &[&str] = &["session.id", "user.id", "gen_ai.conversation.id"];

/// A duration in a unit a person reads at a glance: `0.42 ms`, `12.3 ms`, `1.52 s`.
pub fn format_ns(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn write_header(out: &mut String, trace: &Trace, ansi: &Ansi) {
    let id = trace.id();
    let _ = writeln!(
        out,
        "{} {} (X-Ray {})",
        ansi.bold("Trace"),
        ansi.bold(&id.to_hex()),
        id.to_xray()
    );
    let root = trace.root_span();
    let mut facts = vec![
        root.map(|r| r.name.clone()).unwrap_or_default(),
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
    let _ = writeln!(out, "{}", facts.join(" · "));
    if let Some(question) = root.and_then(|r| r.attr_str(attr::SRE_QUERY)) {
        let _ = writeln!(out, "Question: {}", shorten(question, 200));
    }
    let _ = writeln!(out);
}

/// Where a span runs or what it calls, its retry attempt and how it failed.
pub(crate) fn notes(trace: &Trace, i: usize) -> String {
    let span = &trace.spans()[i];
    let mut notes = Vec::new();
    if span.kind.is_entry() {
        if let Some(service) = span.local_service() {
            notes.push(format!("[{service}]"));
        }
    } else if let Some(remote) = span.remote() {
        notes.push(format!("→ {}", remote.name));
    }
    if let Some(attempt) = span.retry_attempt() {
        let retried = attempt > 1
            || trace.parent(i).is_some_and(|p| {
                trace.children(p).iter().any(|&c| {
                    let sibling = &trace.spans()[c];
                    sibling.name == span.name && sibling.retry_attempt().is_some_and(|a| a > 1)
                })
            });
        if retried {
            notes.push(format!("attempt {attempt}"));
        }
    }
    if span.outcome().is_failure() {
        let error_type = span.error_type().unwrap_or("error");
        match &span.message {
            Some(message) => notes.push(format!("✗ {error_type}: {}", shorten(message, 90))),
            None => notes.push(format!("✗ {error_type}")),
        }
    }
    notes.join("  ")
}

fn bar(offset_ns: u64, duration_ns: u64, total_ns: u64, width: usize) -> String {
    let width = width.max(1);
    let total = u128::from(total_ns.max(1));
    let w = width as u128;
    let start = u128::from(offset_ns);
    let end = start + u128::from(duration_ns);
    let from = (start * w / total).min(w - 1);
    let to = (end * w).div_ceil(total).clamp(from + 1, w);
    // Both are at most `width`, so the conversions cannot fail.
    let from = usize::try_from(from).unwrap_or(0);
    let to = usize::try_from(to).unwrap_or(width);
    let mut text = String::with_capacity(width * 3);
    text.extend(std::iter::repeat_n(' ', from));
    text.extend(std::iter::repeat_n('█', to - from));
    text.extend(std::iter::repeat_n(' ', width - to));
    text
}

/// A line under the waterfall: what it is about, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SummaryLine {
    /// `Critical path`, `Bottleneck`, `Failures` or `Retries`.
    pub label: &'static str,
    /// The line's text.
    pub text: String,
    /// True when the line reports failures.
    pub failure: bool,
}

/// The critical path, the slowest agent, the failures by `error.type`, and every retried call.
pub(crate) fn summary_lines(trace: &Trace, path: &CriticalPath) -> Vec<SummaryLine> {
    let spans = trace.spans();
    let mut lines = Vec::new();
    let on_path = path.spans();
    if !on_path.is_empty() {
        let mut names: Vec<&str> = on_path
            .iter()
            .take(PATH_NAMES)
            .map(|&i| spans[i].name.as_str())
            .collect();
        if on_path.len() > PATH_NAMES {
            names.push("…");
        }
        lines.push(SummaryLine {
            label: "Critical path",
            text: format!(
                "({CRITICAL_MARK}, {} spans) {}",
                on_path.len(),
                names.join(" → ")
            ),
            failure: false,
        });
    }
    if let Some(i) = trace.slowest_agent() {
        let agent = &spans[i];
        let share = 100.0 * agent.duration_ns() as f64 / trace.duration_ns().max(1) as f64;
        let service = agent
            .local_service()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        lines.push(SummaryLine {
            label: "Bottleneck",
            text: format!(
                "{}{service} took {}, {share:.0}% of the trace{}",
                agent.name,
                format_ns(agent.duration_ns()),
                if path.contains(i) {
                    ", on the critical path"
                } else {
                    ""
                }
            ),
            failure: false,
        });
    }
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut errors, mut faults) = (0, 0);
    for span in spans {
        match span.outcome() {
            Outcome::Ok => continue,
            Outcome::Error => errors += 1,
            Outcome::Fault => faults += 1,
        }
        *by_type
            .entry(span.error_type().unwrap_or("error"))
            .or_default() += 1;
    }
    if errors + faults > 0 {
        let types: Vec<String> = by_type.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        lines.push(SummaryLine {
            label: "Failures",
            text: format!(
                "{faults} fault{}, {errors} error{}: {}",
                if faults == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                types.join(", ")
            ),
            failure: true,
        });
    }
    for text in retry_lines(trace) {
        lines.push(SummaryLine {
            label: "Retries",
            text,
            failure: false,
        });
    }
    lines
}

fn write_summary(out: &mut String, trace: &Trace, path: &CriticalPath, ansi: &Ansi) {
    let _ = writeln!(out);
    for line in summary_lines(trace, path) {
        let label = format!("{}:", line.label);
        let label = if line.failure {
            ansi.red(&label)
        } else {
            ansi.bold(&label)
        };
        let _ = writeln!(out, "{label} {}", line.text);
    }
}

/// `tools/call get_pod_status → k8s-backend: 3 attempts, 3 failed` for every call that was retried.
fn retry_lines(trace: &Trace) -> Vec<String> {
    let spans = trace.spans();
    let mut groups: BTreeMap<(Option<usize>, &str), (i64, usize, usize)> = BTreeMap::new();
    for (i, span) in spans.iter().enumerate() {
        if span.kind != SpanKind::Client && span.kind != SpanKind::Producer {
            continue;
        }
        let Some(attempt) = span.retry_attempt() else {
            continue;
        };
        let group = groups
            .entry((trace.parent(i), span.name.as_str()))
            .or_default();
        group.0 = group.0.max(attempt);
        group.1 += 1;
        if span.outcome().is_failure() {
            group.2 += 1;
        }
    }
    groups
        .into_iter()
        .filter(|(_, (max, _, _))| *max > 1)
        .map(|((parent, name), (_, attempts, failed))| {
            let remote = spans
                .iter()
                .enumerate()
                .find(|(i, s)| s.name == name && trace.parent(*i) == parent)
                .and_then(|(_, s)| s.remote())
                .map(|r| format!(" → {}", r.name))
                .unwrap_or_default();
            format!("{name}{remote}: {attempts} attempts, {failed} failed")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::{
        TraceId,
        trace::tests::{TRACE, span, with_attr},
    };

    fn retried_trace() -> Trace {
        use SpanKind::*;
        let mut spans = vec![
            with_attr(
                span(1, None, "sre.investigation", Server, 0, 200),
                "sre.query",
                "Why?",
            ),
            with_attr(
                span(2, Some(1), "agent.kubernetes.execute", Server, 10, 190),
                "aws.local.service",
                "kubernetes-agent",
            ),
            span(3, Some(2), "tool.get_pod_status", Internal, 20, 180),
        ];
        for (n, (a, z)) in [(20u8, 30u64), (60, 70), (160, 170)]
            .into_iter()
            .enumerate()
        {
            let attempt = n + 1;
            let mut call = with_attr(
                with_attr(
                    span(
                        4 + n as u8,
                        Some(3),
                        "tools/call get_pod_status",
                        Client,
                        u64::from(a),
                        z,
                    ),
                    "peer.service",
                    "k8s-backend",
                ),
                "error.type",
                "connection_refused",
            );
            call.attributes.push((
                "retry.attempt".into(),
                crate::traces::AttrValue::Int(attempt as i64),
            ));
            call.message = Some("connection refused".into());
            spans.push(call);
        }
        Trace::new(TraceId::from_hex(TRACE).unwrap(), spans)
    }

    #[test]
    fn every_span_appears_with_offset_tree_and_failure() {
        let trace = retried_trace();
        let text = render_waterfall(&trace, &WaterfallOptions::default());
        for name in [
            "sre.investigation",
            "└─ agent.kubernetes.execute",
            "   └─ tool.get_pod_status",
            "      ├─ tools/call get_pod_status",
            "      └─ tools/call get_pod_status",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
        assert_eq!(
            text.matches("tools/call get_pod_status  ").count(),
            3,
            "{text}"
        );
        assert!(
            text.contains("160.0 ms"),
            "offset of the third attempt:\n{text}"
        );
        assert!(text.contains("attempt 1"), "{text}");
        assert!(text.contains("attempt 3"), "{text}");
        assert!(
            text.contains("✗ connection_refused: connection refused"),
            "{text}"
        );
        assert!(text.contains("→ k8s-backend"), "{text}");
        assert!(
            text.contains("Retries: tools/call get_pod_status → k8s-backend: 3 attempts, 3 failed"),
            "{text}"
        );
        assert!(
            text.contains("Bottleneck: agent.kubernetes.execute (kubernetes-agent) took 180.0 ms, 90% of the trace"),
            "{text}"
        );
        assert!(
            text.contains("Failures: 3 faults, 0 errors: connection_refused ×3"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour unless asked");
        let colored = render_waterfall(
            &trace,
            &WaterfallOptions {
                color: true,
                ..WaterfallOptions::default()
            },
        );
        assert!(colored.contains("\x1b[31m"), "failures are red");
    }

    #[test]
    fn critical_rows_are_marked_and_bars_scale_to_the_trace() {
        let trace = retried_trace();
        let text = render_waterfall(&trace, &WaterfallOptions::default());
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(CRITICAL_MARK))
            .collect();
        // root, agent, tool and the three attempts, which ran one after the other
        assert_eq!(marked.len(), 6, "{text}");
        assert!(marked.iter().any(|l| l.contains("attempt 3")));
        assert!(
            text.contains(
                "Critical path: (◆, 6 spans) sre.investigation → agent.kubernetes.execute"
            ),
            "{text}"
        );
        assert_eq!(bar(0, 100, 100, 10), "██████████");
        assert_eq!(bar(50, 10, 100, 10), "     █    ");
        assert_eq!(bar(99, 0, 100, 10), "         █");
        assert_eq!(bar(0, 0, 0, 4), "█   ");
        assert_eq!(format_ns(420_000), "0.42 ms");
        assert_eq!(format_ns(12_340_000), "12.3 ms");
        assert_eq!(format_ns(1_520_000_000), "1.52 s");
    }
}
