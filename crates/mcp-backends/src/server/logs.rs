//! The logs backend: search, error listing, pattern analysis, recent entries and counts over the scenario's
//! log entries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::parameters::Parameters;
use chrono::{DurationRound, TimeDelta};
use regex::{Regex, RegexBuilder};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::template::template;
use super::window::{Window, lookback, range};
use super::{ToolResult, respond, to_json};
use crate::dataset::Dataset;
use crate::dataset::logs::{LogEntry, LogLevel};
use crate::dataset::time::{Timestamp, rfc3339};
use crate::domain::Domain;
use crate::error::ToolError;

/// Most entries listed by `search_logs` and `get_error_logs`; `total` still counts every match.
pub const MAX_LISTED_ENTRIES: usize = 100;
/// Default `limit` of `get_recent_logs`.
pub const DEFAULT_RECENT_LIMIT: i64 = 50;
/// Largest `limit` of `get_recent_logs`.
pub const MAX_RECENT_LIMIT: i64 = 1000;
/// Largest compiled size of a `search_logs` pattern, so a pathological expression cannot exhaust memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// Largest `min_occurrences` of `analyze_log_patterns`.
const MAX_MIN_OCCURRENCES: i64 = 100_000;

/// The MCP server of the logs domain.
#[derive(Debug, Clone)]
pub struct LogsServer {
    dataset: Arc<Dataset>,
    tool_router: ToolRouter<Self>,
}

/// Parameters of `search_logs`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchLogsParams {
    /// Case-insensitive regular expression matched against the message, e.g. "timeout|refused".
    pub pattern: String,
    /// Window start: RFC 3339 timestamp, or a duration such as "2h" meaning that long ago. Default: one hour before
    /// `end_time`.
    pub start_time: Option<String>,
    /// Window end: RFC 3339 timestamp, or a duration meaning that long ago. Default: now.
    pub end_time: Option<String>,
    /// Minimum level: DEBUG, INFO, WARN, ERROR or FATAL ("WARN" returns WARN, ERROR and FATAL). Every level when
    /// omitted.
    pub log_level: Option<String>,
}

/// Parameters of `get_error_logs`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorLogsParams {
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub since: Option<String>,
    /// Exact service name, e.g. "web-service"; every service when omitted.
    pub service: Option<String>,
}

/// Parameters of `analyze_log_patterns`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogPatternsParams {
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub time_window: Option<String>,
    /// Smallest count for a pattern to be listed; default 2.
    pub min_occurrences: Option<i64>,
}

/// Parameters of `get_recent_logs`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecentLogsParams {
    /// How many entries to return, 1 to 1000; default 50.
    pub limit: Option<i64>,
    /// Exact service name, e.g. "api-service"; every service when omitted.
    pub service: Option<String>,
}

/// Parameters of `count_log_events`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountLogEventsParams {
    /// A level (DEBUG, INFO, WARN, ERROR, FATAL: counts that level and above) or else a case-insensitive substring
    /// of the message, e.g. "connection refused".
    pub event_type: String,
    /// How far back to look, e.g. "30m", "1h", "24h"; default "1h".
    pub time_window: Option<String>,
    /// How to group the counts: "service" (default), "level" or "hour".
    pub group_by: Option<String>,
}

#[tool_router(vis = "pub(crate)")]
impl LogsServer {
    #[tool(
        description = "Search log messages with a case-insensitive regular expression within a time range (default: the \
                       last hour), optionally from a minimum level up. Newest first.",
        annotations(read_only_hint = true)
    )]
    async fn search_logs(
        &self,
        Parameters(params): Parameters<SearchLogsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(search_logs(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "ERROR and FATAL log entries over a lookback window (default 1h), with counts per service. \
                       Optionally one service. Newest first.",
        annotations(read_only_hint = true)
    )]
    async fn get_error_logs(
        &self,
        Parameters(params): Parameters<ErrorLogsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(error_logs(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "Group WARN, ERROR and FATAL messages of a lookback window (default 1h) into templates (numbers, \
                       ids, addresses and quoted strings replaced by placeholders), most frequent first, with levels, \
                       services, first/last seen and an example.",
        annotations(read_only_hint = true)
    )]
    async fn analyze_log_patterns(
        &self,
        Parameters(params): Parameters<LogPatternsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(log_patterns(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }

    #[tool(
        description = "The most recent log entries of every level, newest first; optionally one service.",
        annotations(read_only_hint = true)
    )]
    async fn get_recent_logs(
        &self,
        Parameters(params): Parameters<RecentLogsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(recent_logs(&self.dataset, &params)))
    }

    #[tool(
        description = "Count log entries of a level and above, or whose message contains a text, over a lookback \
                       window (default 1h), grouped by service, level or hour.",
        annotations(read_only_hint = true)
    )]
    async fn count_log_events(
        &self,
        Parameters(params): Parameters<CountLogEventsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(count_log_events(
            &self.dataset,
            &params,
            self.dataset.loaded_at(),
        )))
    }
}

impl LogsServer {
    /// A server answering from `dataset`.
    pub fn new(dataset: Arc<Dataset>) -> Self {
        Self {
            dataset,
            tool_router: Self::tool_router(),
        }
    }
}

super::backend_handler!(
    LogsServer,
    Domain::Logs,
    "application logs of every service (search, errors, message patterns, recent entries, counts)."
);

/// `search_logs`: entries whose message matches `pattern` inside the time range, newest first.
pub fn search_logs(ds: &Dataset, params: &SearchLogsParams, now: Timestamp) -> ToolResult {
    let regex = compile(&params.pattern)?;
    let window = range(
        params.start_time.as_deref(),
        params.end_time.as_deref(),
        Duration::from_secs(3600),
        now,
    )?;
    let min_level = match present(params.log_level.as_deref()) {
        None => LogLevel::Debug,
        Some(text) => level_param("log_level", text)?,
    };
    let matches: Vec<&LogEntry> = ds
        .logs()
        .entries
        .iter()
        .filter(|e| window.contains(e.at) && e.level >= min_level && regex.is_match(&e.message))
        .collect();
    to_json(&SearchAnswer {
        pattern: &params.pattern,
        total: matches.len(),
        entries: listed(&matches),
    })
}

/// `get_error_logs`: ERROR and FATAL entries of the lookback window, newest first, counted per service.
pub fn error_logs(ds: &Dataset, params: &ErrorLogsParams, now: Timestamp) -> ToolResult {
    let (window, _) = lookback("since", params.since.as_deref(), "1h", now)?;
    let service = present(params.service.as_deref());
    let errors: Vec<&LogEntry> = entries_in(ds, &window)
        .filter(|e| e.level >= LogLevel::Error)
        .filter(|e| service.is_none_or(|s| e.service == s))
        .collect();
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in &errors {
        *by_service.entry(entry.service.as_str()).or_default() += 1;
    }
    to_json(&ErrorLogsAnswer {
        since: rfc3339(window.start),
        total: errors.len(),
        by_service,
        entries: listed(&errors),
    })
}

/// `analyze_log_patterns`: WARN-and-above messages of the window grouped by template, most frequent first.
pub fn log_patterns(ds: &Dataset, params: &LogPatternsParams, now: Timestamp) -> ToolResult {
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "1h", now)?;
    let min_occurrences = bounded(
        "min_occurrences",
        params.min_occurrences,
        2,
        MAX_MIN_OCCURRENCES,
    )?;
    let mut groups: HashMap<String, PatternGroup<'_>> = HashMap::new();
    // Entries are newest first, so the first entry of a group is its latest.
    for entry in entries_in(ds, &window).filter(|e| e.level >= LogLevel::Warn) {
        groups
            .entry(template(&entry.message))
            .or_insert_with(|| PatternGroup::new(entry))
            .add(entry);
    }
    let mut patterns: Vec<PatternOut<'_>> = groups
        .into_iter()
        .filter(|(_, group)| group.count >= min_occurrences)
        .map(|(template, group)| group.into_out(template))
        .collect();
    patterns.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.last_seen.cmp(&a.last_seen))
            .then_with(|| a.template.cmp(&b.template))
    });
    to_json(&PatternsAnswer {
        time_window,
        patterns,
    })
}

/// `get_recent_logs`: the newest `limit` entries.
pub fn recent_logs(ds: &Dataset, params: &RecentLogsParams) -> ToolResult {
    let limit = bounded(
        "limit",
        params.limit,
        DEFAULT_RECENT_LIMIT,
        MAX_RECENT_LIMIT,
    )?;
    let service = present(params.service.as_deref());
    let entries: Vec<EntryOut<'_>> = ds
        .logs()
        .entries
        .iter()
        .filter(|e| service.is_none_or(|s| e.service == s))
        .take(limit)
        .map(EntryOut::new)
        .collect();
    to_json(&RecentAnswer {
        total: entries.len(),
        entries,
    })
}

/// `count_log_events`: entries of a level and above, or containing a text, grouped.
pub fn count_log_events(ds: &Dataset, params: &CountLogEventsParams, now: Timestamp) -> ToolResult {
    let event_type = params.event_type.trim();
    if event_type.is_empty() {
        return Err(ToolError::invalid(
            "event_type",
            &params.event_type,
            "a level (DEBUG, INFO, WARN, ERROR, FATAL) or a text contained in the message",
        ));
    }
    let (window, time_window) = lookback("time_window", params.time_window.as_deref(), "1h", now)?;
    let group_by = match present(params.group_by.as_deref()) {
        None => GroupBy::Service,
        Some(text) => GroupBy::parse(text)
            .ok_or_else(|| ToolError::invalid("group_by", text, "one of service, level, hour"))?,
    };
    let matcher = EventMatcher::new(event_type);
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for entry in entries_in(ds, &window).filter(|e| matcher.matches(e)) {
        total += 1;
        *groups.entry(group_by.key(entry)).or_default() += 1;
    }
    to_json(&CountAnswer {
        event_type,
        time_window,
        group_by: group_by.as_str(),
        total,
        groups,
    })
}

/// A log entry as every logs tool prints it.
#[derive(Serialize)]
struct EntryOut<'a> {
    timestamp: String,
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pod: Option<&'a str>,
    level: LogLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    logger: Option<&'a str>,
    message: &'a str,
}

impl<'a> EntryOut<'a> {
    fn new(entry: &'a LogEntry) -> Self {
        Self {
            timestamp: rfc3339(entry.at),
            service: &entry.service,
            pod: entry.pod.as_deref(),
            level: entry.level,
            logger: entry.logger.as_deref(),
            message: &entry.message,
        }
    }
}

#[derive(Serialize)]
struct SearchAnswer<'a> {
    pattern: &'a str,
    total: usize,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct ErrorLogsAnswer<'a> {
    since: String,
    total: usize,
    by_service: BTreeMap<&'a str, usize>,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct PatternsAnswer<'a> {
    time_window: String,
    patterns: Vec<PatternOut<'a>>,
}

#[derive(Serialize)]
struct PatternOut<'a> {
    template: String,
    count: usize,
    levels: Vec<LogLevel>,
    services: Vec<&'a str>,
    first_seen: String,
    last_seen: String,
    example: &'a str,
}

/// Occurrences of one template, accumulated newest first.
struct PatternGroup<'a> {
    count: usize,
    levels: BTreeSet<LogLevel>,
    services: BTreeSet<&'a str>,
    first_seen: Timestamp,
    last_seen: Timestamp,
    example: &'a str,
}

impl<'a> PatternGroup<'a> {
    fn new(latest: &'a LogEntry) -> Self {
        Self {
            count: 0,
            levels: BTreeSet::new(),
            services: BTreeSet::new(),
            first_seen: latest.at,
            last_seen: latest.at,
            example: &latest.message,
        }
    }

    fn add(&mut self, entry: &'a LogEntry) {
        self.count += 1;
        self.levels.insert(entry.level);
        self.services.insert(&entry.service);
        self.first_seen = self.first_seen.min(entry.at);
        self.last_seen = self.last_seen.max(entry.at);
    }

    fn into_out(self, template: String) -> PatternOut<'a> {
        PatternOut {
            template,
            count: self.count,
            levels: self.levels.into_iter().collect(),
            services: self.services.into_iter().collect(),
            first_seen: rfc3339(self.first_seen),
            last_seen: rfc3339(self.last_seen),
            example: self.example,
        }
    }
}

#[derive(Serialize)]
struct RecentAnswer<'a> {
    total: usize,
    entries: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct CountAnswer<'a> {
    event_type: &'a str,
    time_window: String,
    group_by: &'static str,
    total: usize,
    groups: BTreeMap<String, usize>,
}

/// What `count_log_events` counts.
enum EventMatcher {
    /// Entries of this level and above.
    Level(LogLevel),
    /// Entries whose lowercased message contains this lowercased text.
    Text(String),
}

impl EventMatcher {
    fn new(event_type: &str) -> Self {
        LogLevel::parse(event_type).map_or_else(
            || EventMatcher::Text(event_type.to_lowercase()),
            EventMatcher::Level,
        )
    }

    fn matches(&self, entry: &LogEntry) -> bool {
        match self {
            EventMatcher::Level(level) => entry.level >= *level,
            EventMatcher::Text(text) => entry.message.to_lowercase().contains(text.as_str()),
        }
    }
}

/// The `group_by` of `count_log_events`.
#[derive(Debug, Clone, Copy)]
enum GroupBy {
    Service,
    Level,
    Hour,
}

impl GroupBy {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "service" => Some(GroupBy::Service),
            "level" => Some(GroupBy::Level),
            "hour" => Some(GroupBy::Hour),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Service => "service",
            GroupBy::Level => "level",
            GroupBy::Hour => "hour",
        }
    }

    fn key(self, entry: &LogEntry) -> String {
        match self {
            GroupBy::Service => entry.service.clone(),
            GroupBy::Level => entry.level.as_str().to_owned(),
            GroupBy::Hour => rfc3339(
                entry
                    .at
                    .duration_trunc(TimeDelta::hours(1))
                    .unwrap_or(entry.at),
            ),
        }
    }
}

fn compile(pattern: &str) -> Result<Regex, ToolError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let reason = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            ToolError::invalid(
                "pattern",
                pattern,
                format!("a regular expression such as \"timeout|refused\" ({reason})"),
            )
        })
}

fn level_param(param: &'static str, text: &str) -> Result<LogLevel, ToolError> {
    LogLevel::parse(text).ok_or_else(|| {
        ToolError::invalid(
            param,
            text,
            "one of DEBUG, INFO, WARN, ERROR, FATAL (case-insensitive)",
        )
    })
}

/// An integer parameter in `1..=max`, `default` when absent.
fn bounded(
    param: &'static str,
    value: Option<i64>,
    default: i64,
    max: i64,
) -> Result<usize, ToolError> {
    let value = value.unwrap_or(default);
    if !(1..=max).contains(&value) {
        return Err(ToolError::invalid(
            param,
            value.to_string(),
            format!("an integer from 1 to {max}"),
        ));
    }
    usize::try_from(value).map_err(|_| {
        ToolError::invalid(
            param,
            value.to_string(),
            format!("an integer from 1 to {max}"),
        )
    })
}

fn entries_in<'a>(ds: &'a Dataset, window: &Window) -> impl Iterator<Item = &'a LogEntry> {
    let window = *window;
    ds.logs()
        .entries
        .iter()
        .filter(move |e| window.contains(e.at))
}

fn listed<'a>(entries: &[&'a LogEntry]) -> Vec<EntryOut<'a>> {
    entries
        .iter()
        .take(MAX_LISTED_ENTRIES)
        .map(|e| EntryOut::new(e))
        .collect()
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::{dataset, now};
    use serde_json::{Value, json};

    fn messages(answer: &Value) -> Vec<String> {
        answer["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    }

    fn search(pattern: &str, start: Option<&str>, level: Option<&str>) -> Result<Value, ToolError> {
        let params = SearchLogsParams {
            pattern: pattern.into(),
            start_time: start.map(Into::into),
            end_time: None,
            log_level: level.map(Into::into),
        };
        search_logs(&dataset(), &params, now())
    }

    #[test]
    fn search_is_case_insensitive_and_windowed() {
        let answer = search("CONNECTION timeout", None, None).unwrap();
        assert_eq!(answer["total"], 3);
        assert_eq!(answer["pattern"], "CONNECTION timeout");
        assert_eq!(
            answer["entries"][0],
            json!({"timestamp": "2026-11-21T11:59:00Z", "service": "web", "pod": "web-0", "level": "ERROR",
                   "logger": "pool", "message": "Connection timeout after 5000ms to db-service:5432"})
        );
        assert_eq!(
            search("failure", None, None).unwrap()["total"],
            0,
            "3h-old entry is outside the last hour"
        );
        assert_eq!(search("failure", Some("4h"), None).unwrap()["total"], 1);
        let api = search("refused", None, None).unwrap();
        assert!(
            api["entries"][0].get("pod").is_none() && api["entries"][0].get("logger").is_none()
        );
    }

    #[test]
    fn search_level_is_a_minimum() {
        let warn_up = search(".", None, Some("warn")).unwrap();
        assert_eq!(warn_up["total"], 6);
        let fatal = search(".", None, Some("FATAL")).unwrap();
        assert_eq!(
            messages(&fatal),
            ["FATAL: could not open configuration file \"/etc/postgresql/postgresql.conf\""]
        );
        assert_eq!(
            search(".", None, Some("loud")).unwrap_err().to_string(),
            "invalid log_level \"loud\": expected one of DEBUG, INFO, WARN, ERROR, FATAL (case-insensitive)"
        );
    }

    #[test]
    fn invalid_regex_is_a_tool_error() {
        let err = search("(unclosed", None, None).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid pattern \"(unclosed\": expected a regular expression"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn error_logs_count_per_service_within_window() {
        let ds = dataset();
        let answer = error_logs(&ds, &ErrorLogsParams::default(), now()).unwrap();
        assert_eq!(answer["since"], "2026-11-21T11:00:00Z");
        assert_eq!(answer["total"], 5);
        assert_eq!(answer["by_service"], json!({"api": 1, "db": 1, "web": 3}));

        let web_day = ErrorLogsParams {
            since: Some("24h".into()),
            service: Some("web".into()),
        };
        let answer = error_logs(&ds, &web_day, now()).unwrap();
        assert_eq!(answer["by_service"], json!({"web": 4}));
        let nobody = ErrorLogsParams {
            since: None,
            service: Some("billing".into()),
        };
        assert_eq!(error_logs(&ds, &nobody, now()).unwrap()["total"], 0);
    }

    #[test]
    fn patterns_group_by_template() {
        let ds = dataset();
        let answer = log_patterns(&ds, &LogPatternsParams::default(), now()).unwrap();
        assert_eq!(answer["time_window"], "1h");
        assert_eq!(
            answer["patterns"],
            json!([{"template": "Connection timeout after <num>ms to <host>", "count": 3, "levels": ["ERROR"],
                    "services": ["web"], "first_seen": "2026-11-21T11:30:00Z", "last_seen": "2026-11-21T11:59:00Z",
                    "example": "Connection timeout after 5000ms to db-service:5432"}])
        );
        let singles = LogPatternsParams {
            time_window: Some("45m".into()),
            min_occurrences: Some(1),
        };
        let answer = log_patterns(&ds, &singles, now()).unwrap();
        assert_eq!(answer["patterns"].as_array().unwrap().len(), 4);
        let zero = LogPatternsParams {
            time_window: None,
            min_occurrences: Some(0),
        };
        assert_eq!(
            log_patterns(&ds, &zero, now()).unwrap_err().to_string(),
            "invalid min_occurrences \"0\": expected an integer from 1 to 100000"
        );
    }

    #[test]
    fn recent_logs_honour_limit_and_service() {
        let ds = dataset();
        let answer = recent_logs(&ds, &RecentLogsParams::default()).unwrap();
        assert_eq!(
            answer["total"], 9,
            "everything, fewer than the default limit"
        );
        let two = RecentLogsParams {
            limit: Some(2),
            service: Some("web".into()),
        };
        let answer = recent_logs(&ds, &two).unwrap();
        assert_eq!(answer["total"], 2);
        assert_eq!(
            messages(&answer),
            [
                "Connection timeout after 5000ms to db-service:5432",
                "Connection timeout after 5012ms to db-service:5432"
            ]
        );
        for limit in [0, 1001, -5] {
            let params = RecentLogsParams {
                limit: Some(limit),
                service: None,
            };
            assert_eq!(
                recent_logs(&ds, &params).unwrap_err().to_string(),
                format!("invalid limit \"{limit}\": expected an integer from 1 to 1000")
            );
        }
    }

    #[test]
    fn count_by_level_threshold_or_text() {
        let ds = dataset();
        let count = |event_type: &str, group_by: Option<&str>| {
            let params = CountLogEventsParams {
                event_type: event_type.into(),
                time_window: Some("2h".into()),
                group_by: group_by.map(Into::into),
            };
            count_log_events(&ds, &params, now())
        };
        let errors = count("error", None).unwrap();
        assert_eq!(errors["total"], 5);
        assert_eq!(errors["group_by"], "service");
        assert_eq!(errors["groups"], json!({"api": 1, "db": 1, "web": 3}));
        let by_level = count("WARN", Some("level")).unwrap();
        assert_eq!(
            by_level["groups"],
            json!({"ERROR": 4, "FATAL": 1, "WARN": 1})
        );
        let refused = count("Connection Refused", Some("hour")).unwrap();
        assert_eq!(refused["groups"], json!({"2026-11-21T11:00:00Z": 1}));
        assert_eq!(
            count("error", Some("pod")).unwrap_err().to_string(),
            "invalid group_by \"pod\": expected one of service, level, hour"
        );
        assert!(
            count(" ", None)
                .unwrap_err()
                .to_string()
                .starts_with("invalid event_type \" \"")
        );
    }
}
