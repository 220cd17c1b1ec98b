//! Traces and the service map without AWS: reads the local OTLP-JSON lines trace file (written by the agent
//! and by backends running as separate processes) and answers `sre-agent traces list`, `traces show
//! TRACE_ID` (a waterfall with the critical path) and `traces service-map` (computed the way X-Ray computes
//! its map, printed as text, Mermaid, DOT, JSON or a self-contained HTML page).
//!
//! The entry points for the command line are [`list_traces`], [`load_trace`] with [`render_waterfall`], and
//! [`service_map`] with [`ServiceMapReport::render`]; each returns the [`ReadStats`] of the file read, whose
//! [`ReadStats::warning`] belongs on stderr.

mod ansi;
mod error;
mod html;
mod id;
mod layout;
mod outcome;
mod reader;
mod render;
mod service_map;
mod span;
mod summary;
mod trace;
mod waterfall;

use std::{path::Path, time::Duration};

use chrono::{DateTime, Utc};

pub use error::TraceError;
pub use html::render_html;
pub use id::{SpanId, TraceId, TraceQuery};
pub use layout::{EdgeRoute, Layout, NodeBox, layout};
pub use outcome::{CLIENT_ERROR_TYPES, Outcome};
pub use reader::{ReadStats, read_spans, read_spans_from};
pub use render::{MapFormat, ServiceMapReport, edge_label, node_label};
pub use service_map::{CallStats, NodeKind, ServiceEdge, ServiceMap, ServiceNode, UNKNOWN_SERVICE};
pub use span::{AttrValue, Remote, SpanKind, SpanRecord, SpanStatus};
pub use summary::{
    DEFAULT_LIST_LIMIT, ListOptions, TraceListing, TraceStatus, TraceSummary, list_traces,
};
pub use trace::{CriticalPath, CriticalSegment, Trace, TraceSet, load_trace};
pub use waterfall::{
    CRITICAL_MARK, WaterfallOptions, WaterfallRow, format_ns, render_waterfall, waterfall_rows,
};

/// The service map of the trace file at `path`, counting spans that started at or after `since` (all when
/// `None`), with the most recent trace of that window for the HTML waterfall.
pub fn service_map(
    path: &Path,
    since: Option<DateTime<Utc>>,
) -> Result<ServiceMapReport, TraceError> {
    let (set, stats) = TraceSet::load_active_since(path, since)?;
    let map = ServiceMap::build(set.traces(), since);
    let cutoff = since.map(span::unix_ns_of).unwrap_or(0);
    let latest = set
        .into_traces()
        .into_iter()
        .find(|t| t.start_ns() >= cutoff);
    Ok(ServiceMapReport { map, latest, stats })
}

/// The time `ago` before now (`--since 1h` → one hour ago); the earliest representable time when `ago`
/// reaches further back than that.
pub fn since_cutoff(ago: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_cutoff_is_in_the_past_and_saturates() {
        let hour_ago = since_cutoff(Duration::from_secs(3600));
        let delta = Utc::now() - hour_ago;
        assert!(
            delta >= chrono::Duration::seconds(3599) && delta <= chrono::Duration::seconds(3700)
        );
        assert_eq!(since_cutoff(Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
