//! Everything under `dashboards/` uses only names sre-agent emits: CloudWatch metrics with their exact EMF
//! dimension sets and units, Prometheus series and labels exactly as the exporter writes them (`_bucket`, `_sum`,
//! `_count`, `_total`, `le`), the root fields of EMF lines and JSON log lines, and X-Ray annotation keys — also
//! inside SEARCH, Metrics Insights, metric math, Logs Insights and PromQL expressions. Every file parses, the
//! Prometheus rules (and the Grafana queries) pass `promtool check rules`, and the setup script's dry run renders
//! every template.
//!
//! The names are not copied from the catalog: they are read back from a real EMF file, a real Prometheus
//! exposition and a real JSON log line, so a dashboard cannot drift from what the exporters write.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Value, json};
use sre_telemetry::{
    TraceCarrier,
    config::{EmfTarget, LogFormat},
    convention::XRAY_ANNOTATION_KEYS,
    log,
    metric::{
        CATALOG, Recorder,
        emf::{EmfOptions, EmfSink},
        property,
    },
    span,
};
use tracing_subscriber::layer::SubscriberExt;

/// Placeholders the templates may use; `scripts/setup_cloudwatch_dashboard.sh` fills each one.
const PLACEHOLDERS: [&str; 7] = [
    "NAMESPACE",
    "REGION",
    "DASHBOARD_NAME",
    "EMF_LOG_GROUP",
    "LOG_GROUP",
    "ACCOUNT_ID",
    "PARTITION",
];
const NAMESPACE: &str = "${NAMESPACE}";
const REGION: &str = "${REGION}";
const EMF_LOG_GROUP: &str = "${EMF_LOG_GROUP}";
const LOG_GROUP: &str = "${LOG_GROUP}";
/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

const CLOUDWATCH_DASHBOARD: &str = "cloudwatch-dashboard.json";
const CLOUDWATCH_ALARMS: &str = "cloudwatch-alarms.json";
const INSIGHTS_QUERIES: &str = "insights-queries.json";
const GRAFANA_DASHBOARD: &str = "grafana-dashboard.json";
const PROMETHEUS_RULES: &str = "prometheus-rules.yaml";

// ---------------------------------------------------------------------------------------------------------------
// What the exporters really emit.

/// Names read back from real exporter output.
struct Emitted {
    /// CloudWatch metric name → (dimension set, unit), from EMF lines.
    cloudwatch: BTreeMap<String, (BTreeSet<String>, String)>,
    /// Every root member of an EMF line (metrics, dimensions, properties, `_aws`).
    emf_fields: BTreeSet<String>,
    /// Prometheus series name → label names, from the text exposition.
    prometheus: BTreeMap<String, BTreeSet<String>>,
    /// Top-level members of a JSON log line written inside an investigation.
    log_fields: BTreeSet<String>,
}

fn emitted() -> &'static Emitted {
    static EMITTED: OnceLock<Emitted> = OnceLock::new();
    EMITTED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emf.jsonl");
        let options = EmfOptions {
            namespace: "Test/Dashboards".to_owned(),
            log_group: None,
            log_stream: None,
        };
        let sink = EmfSink::new(
            &EmfTarget::File(path.clone()),
            options,
            Duration::from_secs(5),
        )
        .unwrap();
        let recorder = Recorder::builder().sink(Box::new(sink)).build().unwrap();
        for def in CATALOG {
            let mut pairs: Vec<(&str, &str)> = def.dimensions.iter().map(|d| (*d, "x")).collect();
            pairs.push((property::INVESTIGATION_ID, "inv-1"));
            pairs.push((property::TRACE_ID, "0af7651916cd43dd8448eb211c80319c"));
            recorder.record(def.id, 1.0, &pairs);
        }
        assert!(
            recorder.flush(Duration::from_secs(10)),
            "EMF flush timed out"
        );

        let mut cloudwatch = BTreeMap::new();
        let mut emf_fields = BTreeSet::new();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let root: Value = serde_json::from_str(line).unwrap();
            let root = root.as_object().unwrap();
            emf_fields.extend(root.keys().cloned());
            let directive = &root["_aws"]["CloudWatchMetrics"][0];
            let dims: BTreeSet<String> = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            for key in property::ALL {
                assert!(
                    !dims.contains(key),
                    "{key} must never be a dimension: {line}"
                );
            }
            for m in directive["Metrics"].as_array().unwrap() {
                let name = m["Name"].as_str().unwrap().to_owned();
                let unit = m["Unit"].as_str().unwrap().to_owned();
                cloudwatch.insert(name, (dims.clone(), unit));
            }
        }
        assert_eq!(
            cloudwatch.len(),
            CATALOG.len(),
            "every catalog metric reached EMF"
        );
        for key in property::ALL {
            assert!(
                emf_fields.contains(key),
                "EMF lines carry {key} as a root field"
            );
        }

        let mut prometheus: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in recorder.prometheus_text().lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap();
            let labels = prometheus.entry(line[..end].to_owned()).or_default();
            if line[end..].starts_with('{') {
                let body = &line[end + 1..line.rfind('}').unwrap()];
                for pair in split_label_pairs(body) {
                    labels.insert(pair.split('=').next().unwrap().to_owned());
                }
            }
        }
        for def in CATALOG {
            assert!(
                prometheus
                    .keys()
                    .any(|n| n.starts_with(def.prometheus_name)),
                "{} missing from the exposition",
                def.prometheus_name
            );
        }

        Emitted {
            cloudwatch,
            emf_fields,
            prometheus,
            log_fields: json_log_fields(),
        }
    })
}

/// `a="1",b="x,y"` → `["a=\"1\"", "b=\"x,y\""]`.
fn split_label_pairs(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_str = false;
    let mut esc = false;
    for c in body.chars() {
        if in_str {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
        } else {
            in_str |= c == '"';
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The members of a real JSON log line written inside an investigation span.
fn json_log_fields() -> BTreeSet<String> {
    let provider = SdkTracerProvider::builder().build();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let (correlation, format) = log::layers(LogFormat::Json, false);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("dashboards-test")))
        .with(correlation)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .event_format(format),
        );
    tracing::subscriber::with_default(subscriber, || {
        let root = span::investigation(&TraceCarrier::default(), "inv-1", "alice", "s-1", "why?");
        root.in_scope(|| tracing::warn!(agent = "logs", "backend slow"));
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let fields: BTreeSet<String> = line.as_object().unwrap().keys().cloned().collect();
    for key in [log::TRACE_ID, log::XRAY_TRACE_ID, log::INVESTIGATION_ID] {
        assert!(fields.contains(key), "{key} missing from {line}");
    }
    fields
}

// ---------------------------------------------------------------------------------------------------------------
// Files.

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dashboards_dir() -> PathBuf {
    repo_root().join("dashboards")
}

/// Every file under `dashboards/`: name → text.
fn dashboard_files() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dashboards_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    files
}

fn parse(name: &str, text: &str) -> Result<Value, String> {
    if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| format!("{name}: invalid JSON: {e}"))
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        serde_norway::from_str(text).map_err(|e| format!("{name}: invalid YAML: {e}"))
    } else {
        Ok(Value::Null)
    }
}

/// Every problem found in `files`; empty when every name is one the exporters emit.
fn problems_in(files: &BTreeMap<String, String>) -> Vec<String> {
    let t = emitted();
    let mut out = Vec::new();
    let mut docs = BTreeMap::new();
    for (name, text) in files {
        match parse(name, text) {
            Ok(doc) => {
                docs.insert(name.as_str(), doc);
            }
            Err(e) => out.push(e),
        }
    }
    for required in [
        CLOUDWATCH_DASHBOARD,
        CLOUDWATCH_ALARMS,
        INSIGHTS_QUERIES,
        GRAFANA_DASHBOARD,
        PROMETHEUS_RULES,
        "README.md",
    ] {
        if !files.contains_key(required) {
            out.push(format!("dashboards/{required} is missing"));
        }
    }
    if let Some(doc) = docs.get(CLOUDWATCH_DASHBOARD) {
        check_cloudwatch(CLOUDWATCH_DASHBOARD, doc, t, &mut out);
        check_cloudwatch_layout(doc, &mut out);
    }
    if let Some(doc) = docs.get(CLOUDWATCH_ALARMS) {
        check_cloudwatch(CLOUDWATCH_ALARMS, doc, t, &mut out);
    }
    if let Some(doc) = docs.get(INSIGHTS_QUERIES) {
        check_insights_queries(doc, t, &mut out);
    }
    let rules = docs
        .get(PROMETHEUS_RULES)
        .map(|doc| check_prometheus_rules(doc, t, &mut out))
        .unwrap_or_default();
    if let Some(doc) = docs.get(GRAFANA_DASHBOARD) {
        check_grafana(doc, t, &rules, &mut out);
    }
    for (name, text) in files {
        check_placeholders(name, text, &mut out);
        check_xray_annotations(name, text, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// CloudWatch: explicit metrics, SEARCH, Metrics Insights, metric math, log widgets.

fn check_cloudwatch(file: &str, doc: &Value, t: &Emitted, out: &mut Vec<String>) {
    walk(doc, "", &mut |path, value| {
        let at = format!("{file} {path}");
        match value {
            Value::String(s) => {
                if s.contains("SEARCH(") {
                    check_search(&at, s, t, out);
                } else if s.trim_start().to_ascii_uppercase().starts_with("SELECT ") {
                    check_metrics_insights(&at, s, t, out);
                }
            }
            Value::Object(map) => {
                if let (Some(ns), Some(name)) = (map.get("Namespace"), map.get("MetricName")) {
                    let dims: Vec<String> = map
                        .get("Dimensions")
                        .and_then(Value::as_array)
                        .map(|d| {
                            d.iter()
                                .map(|d| d["Name"].as_str().unwrap_or_default().to_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    let unit = map
                        .get("Unit")
                        .or_else(|| map.get("unit"))
                        .and_then(Value::as_str);
                    check_metric(
                        &at,
                        ns.as_str().unwrap_or_default(),
                        name.as_str().unwrap_or_default(),
                        &dims,
                        unit,
                        t,
                        out,
                    );
                }
                if let Some(stat) = map.get("MetricStat") {
                    let name = stat["Metric"]["MetricName"].as_str().unwrap_or_default();
                    if let (Some(unit), Some((_, emitted_unit))) =
                        (stat["Unit"].as_str(), t.cloudwatch.get(name))
                        && unit != emitted_unit
                    {
                        out.push(format!(
                            "{at}: '{name}' has unit {emitted_unit}, not {unit}"
                        ));
                    }
                }
                for key in ["stat", "Stat", "Statistic", "ExtendedStatistic"] {
                    if let Some(stat) = map.get(key).and_then(Value::as_str)
                        && !valid_statistic(stat)
                    {
                        out.push(format!("{at}: '{stat}' is not a CloudWatch statistic"));
                    }
                }
                if let Some(region) = map.get("region")
                    && region != REGION
                {
                    out.push(format!("{at}: region is {region}, not {REGION}"));
                }
                if let Some(list) = map.get("metrics").or_else(|| map.get("Metrics")) {
                    check_metric_list(&at, list, t, out);
                }
                if let Some(Value::String(query)) = map.get("query") {
                    check_log_widget_query(&at, query, t, out);
                }
            }
            _ => {}
        }
    });
}

/// A dashboard `metrics` array or an alarm `Metrics` array: explicit metrics, and math whose ids exist.
fn check_metric_list(at: &str, list: &Value, t: &Emitted, out: &mut Vec<String>) {
    let Some(items) = list.as_array() else {
        out.push(format!("{at}: metrics is not an array"));
        return;
    };
    let mut ids = BTreeSet::new();
    let mut math = Vec::new();
    for item in items {
        // Dashboard rows are arrays: [namespace, metric, dim, value, ..., {options}] or [{expression}].
        let (object, explicit) = match item {
            Value::Array(row) => match row.first() {
                Some(Value::String(first)) => {
                    if first == "." || first == "..." {
                        out.push(format!(
                            "{at}: metric row {row:?} uses the '.'/'...' shorthand; spell it out"
                        ));
                        continue;
                    }
                    let (strings, options): (Vec<&Value>, Vec<&Value>) =
                        row.iter().partition(|v| v.is_string());
                    let strings: Vec<&str> = strings.iter().filter_map(|v| v.as_str()).collect();
                    if strings.len() < 2 || !strings.len().is_multiple_of(2) {
                        out.push(format!("{at}: metric row {row:?} is not [namespace, name, dimension, value, ...]"));
                        continue;
                    }
                    let dims: Vec<String> =
                        strings[2..].chunks(2).map(|kv| kv[0].to_owned()).collect();
                    check_metric(at, strings[0], strings[1], &dims, None, t, out);
                    (options.first().copied(), true)
                }
                Some(v @ Value::Object(_)) => (Some(v), false),
                _ => {
                    out.push(format!("{at}: empty or malformed metric row {row:?}"));
                    continue;
                }
            },
            v @ Value::Object(_) => (Some(v), false),
            other => {
                out.push(format!("{at}: unexpected metric entry {other}"));
                continue;
            }
        };
        let Some(object) = object else { continue };
        if let Some(id) = object
            .get("id")
            .or_else(|| object.get("Id"))
            .and_then(Value::as_str)
        {
            if !id.starts_with(|c: char| c.is_ascii_lowercase())
                || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                out.push(format!(
                    "{at}: id '{id}' must start with a lowercase letter and use letters, digits, '_'"
                ));
            }
            if !ids.insert(id.to_owned()) {
                out.push(format!("{at}: id '{id}' is used twice"));
            }
        }
        if explicit {
            continue;
        }
        if let Some(e) = object
            .get("expression")
            .or_else(|| object.get("Expression"))
            .and_then(Value::as_str)
            && !e.contains("SEARCH(")
            && !e.trim_start().to_ascii_uppercase().starts_with("SELECT ")
        {
            math.push(e.to_owned());
        }
    }
    for e in math {
        check_metric_math(at, &e, &ids, out);
    }
}

fn check_metric(
    at: &str,
    namespace: &str,
    name: &str,
    dims: &[String],
    unit: Option<&str>,
    t: &Emitted,
    out: &mut Vec<String>,
) {
    if namespace != NAMESPACE {
        out.push(format!("{at}: namespace '{namespace}' is not {NAMESPACE}"));
    }
    let Some((emitted_dims, emitted_unit)) = t.cloudwatch.get(name) else {
        out.push(format!(
            "{at}: CloudWatch metric '{name}' is not in the catalog"
        ));
        return;
    };
    let used: BTreeSet<String> = dims.iter().cloned().collect();
    if &used != emitted_dims {
        out.push(format!(
            "{at}: '{name}' with dimensions {used:?} matches no series: EMF emits it with exactly {emitted_dims:?}"
        ));
    }
    if let Some(unit) = unit
        && unit != emitted_unit
    {
        out.push(format!(
            "{at}: '{name}' has unit {emitted_unit}, not {unit}"
        ));
    }
}

fn check_search(at: &str, text: &str, t: &Emitted, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("SEARCH(") {
        rest = &rest[start + "SEARCH(".len()..];
        let Some((query, after)) = single_quoted(rest) else {
            out.push(format!("{at}: SEARCH without a quoted query: {text}"));
            return;
        };
        rest = after;
        let stat = after
            .trim_start()
            .strip_prefix(',')
            .and_then(|a| single_quoted(a.trim_start()))
            .map(|(s, _)| s);
        match stat {
            Some(stat) if valid_statistic(stat) => {}
            other => out.push(format!(
                "{at}: SEARCH statistic {other:?} is not a CloudWatch statistic"
            )),
        }
        let query = query.trim();
        let (Some(open), Some(close)) = (find_unquoted(query, '{'), find_unquoted(query, '}'))
        else {
            out.push(format!(
                "{at}: SEARCH '{query}' has no {{namespace,dimensions}} schema; without one it matches any dimension set"
            ));
            continue;
        };
        let schema: Vec<String> = split_unquoted(&query[open + 1..close], ',')
            .into_iter()
            .map(|s| unquote(s.trim()).to_owned())
            .collect();
        let namespace = schema.first().cloned().unwrap_or_default();
        let dims = &schema[1.min(schema.len())..];
        let mut metric = None;
        let mut keys = Vec::new();
        for term in split_unquoted(&query[close + 1..], ' ') {
            let term = term.trim();
            if term.is_empty() || ["AND", "OR", "NOT"].contains(&term) {
                continue;
            }
            let Some((key, value)) = term.split_once('=') else {
                out.push(format!(
                    "{at}: SEARCH term '{term}' is free text; use MetricName=\"...\" or Dimension=\"...\""
                ));
                continue;
            };
            let key = unquote(key);
            if key == "MetricName" {
                metric = Some(unquote(value).to_owned());
            } else {
                keys.push(key.to_owned());
            }
        }
        let Some(metric) = metric else {
            out.push(format!("{at}: SEARCH '{query}' names no MetricName"));
            continue;
        };
        check_metric(at, &namespace, &metric, dims, None, t, out);
        check_keys(at, &metric, &keys, t, out);
    }
}

fn check_keys(at: &str, metric: &str, keys: &[String], t: &Emitted, out: &mut Vec<String>) {
    if let Some((dims, _)) = t.cloudwatch.get(metric) {
        for key in keys {
            if !dims.contains(key) {
                out.push(format!(
                    "{at}: '{key}' is not a dimension of '{metric}' (it has {dims:?})"
                ));
            }
        }
    }
}

fn valid_statistic(stat: &str) -> bool {
    const NAMED: [&str; 6] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum", "IQM"];
    NAMED.contains(&stat)
        || ["p", "tm", "wm", "tc", "ts", "pr"].iter().any(|prefix| {
            stat.strip_prefix(prefix).is_some_and(|n| {
                !n.is_empty() && n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v))
            })
        })
}

/// The text up to the closing quote of `s`, which starts with `'`; and what follows it.
fn single_quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('\'')?;
    let end = s.find('\'')?;
    Some((&s[..end], &s[end + 1..]))
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// Byte index of the first `c` outside double quotes.
fn find_unquoted(s: &str, c: char) -> Option<usize> {
    let mut in_str = false;
    s.char_indices().find_map(|(i, x)| {
        in_str ^= x == '"';
        (x == c && !in_str).then_some(i)
    })
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_str = false;
    for (i, c) in s.char_indices() {
        if c == '"' {
            in_str = !in_str;
        } else if c == sep && !in_str {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A double-quoted string (an identifier in Metrics Insights, a string elsewhere).
    Quoted(String),
    /// A single-quoted string.
    Single(String),
    Regex(String),
    Number,
    Punct(String),
}

impl Tok {
    fn is(&self, punct: &str) -> bool {
        matches!(self, Tok::Punct(p) if p == punct)
    }
    fn word(&self) -> Option<&str> {
        match self {
            Tok::Ident(w) => Some(w),
            _ => None,
        }
    }
}

/// Tokens of SQL-like, metric math, PromQL and Logs Insights text. `ident_extra` are the characters besides
/// `[A-Za-z0-9_]` an identifier may hold; `regex_after` are the tokens after which `/` opens a regex literal.
fn lex(text: &str, ident_extra: &str, regex_after: &[&str]) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || ident_extra.contains(c);
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' || c == '/' && regex_follows(&out, regex_after)
        {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unterminated {c} in: {text}")),
                    Some('\\') => {
                        s.push('\\');
                        if let Some(n) = chars.get(j + 1) {
                            s.push(*n);
                        }
                        j += 2;
                    }
                    Some(q) if *q == c => break,
                    Some(q) => {
                        s.push(*q);
                        j += 1;
                    }
                }
            }
            out.push(match c {
                '"' => Tok::Quoted(s),
                '\'' => Tok::Single(s),
                '`' => Tok::Ident(s),
                _ => Tok::Regex(s),
            });
            i = j + 1;
        } else if c.is_ascii_digit()
            || c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Number);
        } else if is_ident(c) && !c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["=~", "!~", "!=", "==", ">=", "<="].contains(&two.as_str()) {
                out.push(Tok::Punct(two));
                i += 2;
            } else if "(){}[],+-*/%^=<>|!:".contains(c) {
                out.push(Tok::Punct(c.to_string()));
                i += 1;
            } else {
                return Err(format!("unexpected '{c}' in: {text}"));
            }
        }
    }
    Ok(out)
}

fn regex_follows(out: &[Tok], regex_after: &[&str]) -> bool {
    match out.last() {
        Some(Tok::Ident(w)) => regex_after.contains(&w.to_ascii_lowercase().as_str()),
        Some(Tok::Punct(p)) => regex_after.contains(&p.as_str()),
        _ => false,
    }
}

/// `SELECT FUNC(metric) FROM SCHEMA("ns", dims...) [WHERE ...] [GROUP BY ...] [ORDER BY FUNC() ...] [LIMIT n]`.
fn check_metrics_insights(at: &str, sql: &str, t: &Emitted, out: &mut Vec<String>) {
    let toks = match lex(sql, "", &[]) {
        Ok(t) => t,
        Err(e) => return out.push(format!("{at}: {e}")),
    };
    let upper = |i: usize| {
        toks.get(i)
            .and_then(Tok::word)
            .map(str::to_ascii_uppercase)
            .unwrap_or_default()
    };
    let name_at = |i: usize| match toks.get(i) {
        Some(Tok::Ident(w) | Tok::Quoted(w)) => Some(w.clone()),
        _ => None,
    };
    const FUNCTIONS: [&str; 5] = ["AVG", "COUNT", "MAX", "MIN", "SUM"];
    if upper(0) != "SELECT" || !FUNCTIONS.contains(&upper(1).as_str()) || !toks[2].is("(") {
        return out.push(format!(
            "{at}: not SELECT AVG|COUNT|MAX|MIN|SUM(metric): {sql}"
        ));
    }
    let Some(metric) = name_at(3) else {
        return out.push(format!("{at}: no metric name in: {sql}"));
    };
    if !toks.get(4).is_some_and(|t| t.is(")")) || upper(5) != "FROM" {
        return out.push(format!("{at}: expected ) FROM after the metric: {sql}"));
    }
    let mut i = 6;
    let (namespace, dims) = if upper(i) == "SCHEMA" && toks.get(i + 1).is_some_and(|t| t.is("(")) {
        let mut names = Vec::new();
        i += 2;
        while let Some(tok) = toks.get(i) {
            match tok {
                Tok::Ident(w) | Tok::Quoted(w) => names.push(w.clone()),
                Tok::Punct(p) if p == "," => {}
                Tok::Punct(p) if p == ")" => break,
                other => out.push(format!("{at}: unexpected {other:?} in SCHEMA(...)")),
            }
            i += 1;
        }
        i += 1;
        let namespace = names.first().cloned().unwrap_or_default();
        (namespace, Some(names.split_off(1.min(names.len()))))
    } else {
        let ns = name_at(i).unwrap_or_default();
        i += 1;
        (ns, None)
    };
    match dims {
        Some(dims) => check_metric(at, &namespace, &metric, &dims, None, t, out),
        None => {
            if namespace != NAMESPACE {
                out.push(format!("{at}: namespace '{namespace}' is not {NAMESPACE}"));
            }
            if !t.cloudwatch.contains_key(&metric) {
                out.push(format!(
                    "{at}: CloudWatch metric '{metric}' is not in the catalog"
                ));
            }
        }
    }
    // WHERE and GROUP BY name dimensions; ORDER BY names a function; LIMIT a number.
    const KEYWORDS: [&str; 12] = [
        "WHERE", "AND", "OR", "NOT", "LIKE", "IN", "GROUP", "BY", "ORDER", "ASC", "DESC", "LIMIT",
    ];
    let mut keys = Vec::new();
    let mut section = String::new();
    while let Some(tok) = toks.get(i) {
        let word = upper(i);
        if ["WHERE", "GROUP", "ORDER", "LIMIT"].contains(&word.as_str()) {
            section = word;
        } else if section == "ORDER" {
            if !(KEYWORDS.contains(&word.as_str())
                || FUNCTIONS.contains(&word.as_str())
                || tok.is("(")
                || tok.is(")"))
            {
                out.push(format!(
                    "{at}: ORDER BY takes FUNCTION() ASC|DESC, not {tok:?}"
                ));
            }
        } else if section == "WHERE" || section == "GROUP" {
            match tok {
                Tok::Ident(w) if !KEYWORDS.contains(&word.as_str()) => keys.push(w.clone()),
                Tok::Quoted(w) => keys.push(w.clone()),
                _ => {}
            }
        } else if section.is_empty() {
            out.push(format!("{at}: unexpected {tok:?} after FROM: {sql}"));
        }
        i += 1;
    }
    check_keys(at, &metric, &keys, t, out);
}

/// Metric math: lowercase identifiers are ids of the same metrics list; uppercase ones are functions.
fn check_metric_math(at: &str, expr: &str, ids: &BTreeSet<String>, out: &mut Vec<String>) {
    const FUNCTIONS: [&str; 36] = [
        "ABS",
        "ANOMALY_DETECTION_BAND",
        "AVG",
        "CEIL",
        "DATAPOINT_COUNT",
        "DAY",
        "DIFF",
        "DIFF_TIME",
        "FILL",
        "FIRST",
        "FLOOR",
        "HOUR",
        "IF",
        "INSIGHT_RULE_METRIC",
        "LAST",
        "LINEAR",
        "LOG",
        "LOG10",
        "MAX",
        "METRIC_COUNT",
        "METRICS",
        "MIN",
        "MINUTE",
        "PERIOD",
        "RATE",
        "REMOVE_EMPTY",
        "REPEAT",
        "RUNNING_SUM",
        "SLICE",
        "SORT",
        "STDDEV",
        "SUM",
        "TIME_SERIES",
        "AND",
        "OR",
        "NOT",
    ];
    let toks = match lex(expr, "", &[]) {
        Ok(t) => t,
        Err(e) => return out.push(format!("{at}: {e}")),
    };
    for tok in &toks {
        if let Tok::Ident(w) = tok {
            if w.starts_with(|c: char| c.is_ascii_lowercase()) {
                if !ids.contains(w) {
                    out.push(format!(
                        "{at}: metric math '{expr}' uses '{w}', which no metric of the list has as id ({ids:?})"
                    ));
                }
            } else if !FUNCTIONS.contains(&w.as_str()) {
                out.push(format!(
                    "{at}: metric math '{expr}' uses unknown function '{w}'"
                ));
            }
        }
    }
}

fn check_log_widget_query(at: &str, query: &str, t: &Emitted, out: &mut Vec<String>) {
    let Some(rest) = query.trim_start().strip_prefix("SOURCE ") else {
        return out.push(format!(
            "{at}: a log widget query starts with SOURCE '<log group>'"
        ));
    };
    let Some((group, rest)) = single_quoted(rest.trim_start()) else {
        return out.push(format!("{at}: SOURCE needs a quoted log group"));
    };
    let Some(body) = rest.trim_start().strip_prefix('|') else {
        return out.push(format!("{at}: SOURCE '{group}' must be followed by |"));
    };
    match group {
        EMF_LOG_GROUP => check_logs_query(at, body, LogSource::Emf, t, out),
        LOG_GROUP => check_logs_query(at, body, LogSource::Logs, t, out),
        other => out.push(format!(
            "{at}: log group '{other}' is neither {EMF_LOG_GROUP} nor {LOG_GROUP}"
        )),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Logs Insights.

#[derive(Debug, Clone, Copy, PartialEq)]
enum LogSource {
    /// EMF lines: metric values, dimensions and properties as root fields.
    Emf,
    /// The sre-agent JSON logs.
    Logs,
}

fn check_insights_queries(doc: &Value, t: &Emitted, out: &mut Vec<String>) {
    let Some(queries) = doc.as_array() else {
        return out.push(format!(
            "{INSIGHTS_QUERIES}: not an array of put-query-definition inputs"
        ));
    };
    for (i, q) in queries.iter().enumerate() {
        let at = format!("{INSIGHTS_QUERIES} [{i}]");
        if let Some(extra) = q.as_object().and_then(|o| {
            o.keys()
                .find(|k| !["name", "logGroupNames", "queryString"].contains(&k.as_str()))
        }) {
            out.push(format!(
                "{at}: '{extra}' is not a put-query-definition input"
            ));
        }
        let name = q["name"].as_str().unwrap_or_default();
        if !name.starts_with("${DASHBOARD_NAME}/") {
            out.push(format!(
                "{at}: name '{name}' should start with ${{DASHBOARD_NAME}}/"
            ));
        }
        let groups: Vec<&str> = q["logGroupNames"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let query = q["queryString"].as_str().unwrap_or_default();
        match groups.as_slice() {
            [EMF_LOG_GROUP] => check_logs_query(&at, query, LogSource::Emf, t, out),
            [LOG_GROUP] => check_logs_query(&at, query, LogSource::Logs, t, out),
            other => out.push(format!(
                "{at}: logGroupNames {other:?} must be [{EMF_LOG_GROUP}] or [{LOG_GROUP}]"
            )),
        }
    }
}

const LOGS_COMMANDS: [&str; 15] = [
    "fields", "filter", "stats", "sort", "limit", "display", "parse", "dedup", "unnest", "into",
    "as", "by", "asc", "desc", "source",
];
const LOGS_OPERATORS: [&str; 5] = ["and", "or", "not", "like", "in"];
const LOGS_FUNCTIONS: [&str; 36] = [
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "pct",
    "stddev",
    "earliest",
    "latest",
    "sortsfirst",
    "sortslast",
    "bin",
    "datefloor",
    "dateceil",
    "frommillis",
    "tomillis",
    "concat",
    "strlen",
    "tolower",
    "toupper",
    "trim",
    "ltrim",
    "rtrim",
    "substr",
    "replace",
    "strcontains",
    "coalesce",
    "abs",
    "ceil",
    "floor",
    "greatest",
    "least",
    "jsonparse",
    "ispresent",
    "isempty",
];
const LOGS_SYSTEM_FIELDS: [&str; 5] = [
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
];

fn check_logs_query(at: &str, query: &str, source: LogSource, t: &Emitted, out: &mut Vec<String>) {
    let body: String = query
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let toks = match lex(&body, ".@", &["like", "=~"]) {
        Ok(t) => t,
        Err(e) => return out.push(format!("{at}: {e}")),
    };
    // Names the query itself defines (`as x`, `into x`); `jsonParse(...) as x` makes `x.field` a root field.
    let mut aliases = BTreeSet::new();
    let mut json_aliases = BTreeSet::new();
    let mut clause_has_json_parse = false;
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Punct(p) if p == "|" || p == "," => clause_has_json_parse = false,
            Tok::Ident(w) if w.eq_ignore_ascii_case("jsonParse") => clause_has_json_parse = true,
            Tok::Ident(w) if w.eq_ignore_ascii_case("as") || w.eq_ignore_ascii_case("into") => {
                if let Some(Tok::Ident(alias)) = toks.get(i + 1) {
                    aliases.insert(alias.clone());
                    if clause_has_json_parse {
                        json_aliases.insert(alias.clone());
                    }
                }
            }
            _ => {}
        }
    }
    let mut uses_metric = false;
    let mut check_field = |name: &str, out: &mut Vec<String>| {
        if name.starts_with('@') {
            if !LOGS_SYSTEM_FIELDS.contains(&name) {
                out.push(format!(
                    "{at}: '{name}' is not a Logs Insights system field"
                ));
            }
            return;
        }
        let mut parts = name.splitn(2, '.');
        let mut first = parts.next().unwrap_or_default();
        let mut rest = parts.next();
        if json_aliases.contains(first) {
            let Some(field) = rest else { return };
            let mut parts = field.splitn(2, '.');
            first = parts.next().unwrap_or_default();
            rest = parts.next();
        }
        match source {
            LogSource::Emf => {
                if !t.emf_fields.contains(first) {
                    out.push(format!(
                        "{at}: '{name}' is not a root field of EMF lines (metric, dimension or property)"
                    ));
                }
                uses_metric |= t.cloudwatch.contains_key(first);
            }
            LogSource::Logs => {
                if !t.log_fields.contains(first) {
                    out.push(format!(
                        "{at}: '{name}' is not a field of the JSON logs ({:?})",
                        t.log_fields
                    ));
                } else if first == "fields" && rest.is_none() {
                    out.push(format!("{at}: name an event field: fields.<name>"));
                }
            }
        }
    };
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Ident(w) => {
                let lower = w.to_ascii_lowercase();
                let is_call = toks.get(i + 1).is_some_and(|t| t.is("("));
                let after_alias = i > 0
                    && toks[i - 1].word().is_some_and(|p| {
                        p.eq_ignore_ascii_case("as") || p.eq_ignore_ascii_case("into")
                    });
                if is_call {
                    if !LOGS_FUNCTIONS.contains(&lower.as_str()) {
                        out.push(format!("{at}: unknown Logs Insights function '{w}'"));
                    }
                } else if LOGS_COMMANDS.contains(&lower.as_str())
                    || LOGS_OPERATORS.contains(&lower.as_str())
                    || after_alias
                    || aliases.contains(w)
                {
                } else {
                    check_field(w, out);
                }
            }
            Tok::Regex(re) if source == LogSource::Emf => {
                // `/"ToolExecution"/` selects the EMF lines holding that member.
                for (j, part) in re.split('"').enumerate() {
                    if j % 2 == 1 {
                        check_field(part, out);
                    }
                }
            }
            _ => {}
        }
    }
    if source == LogSource::Emf && !uses_metric {
        out.push(format!(
            "{at}: an EMF query should name at least one catalog metric"
        ));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PromQL: Prometheus rules and Grafana.

const PROM_AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const PROM_GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const PROM_KEYWORDS: [&str; 8] = [
    "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan",
];
const PROM_FUNCTIONS: [&str; 62] = [
    "abs",
    "absent",
    "absent_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "ln",
    "log2",
    "log10",
    "minute",
    "month",
    "predict_linear",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sort_by_label",
    "sort_by_label_desc",
    "sqrt",
    "time",
    "timestamp",
    "vector",
    "year",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "mad_over_time",
    "label_values",
    "query_result",
];

/// Series, labels and `by` labels found in one PromQL expression.
#[derive(Debug, Default)]
struct PromUse {
    series: Vec<String>,
    /// (series the matcher belongs to, label).
    matchers: Vec<(Option<String>, String)>,
    grouping: Vec<String>,
    by: Vec<String>,
}

fn analyse_promql(expr: &str) -> Result<PromUse, String> {
    let toks = lex_promql(expr)?;
    let mut u = PromUse::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(w) => {
                let call = toks.get(i + 1).is_some_and(|t| t.is("("));
                if PROM_GROUPING.contains(&w.as_str()) {
                    i += 1;
                    if call {
                        i += 1;
                        while let Some(tok) = toks.get(i) {
                            match tok {
                                Tok::Ident(label) => {
                                    u.grouping.push(label.clone());
                                    if w == "by" {
                                        u.by.push(label.clone());
                                    }
                                }
                                Tok::Punct(p) if p == "," => {}
                                Tok::Punct(p) if p == ")" => break,
                                other => return Err(format!("unexpected {other:?} in {w}(...)")),
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    continue;
                }
                if call {
                    if !PROM_FUNCTIONS.contains(&w.as_str())
                        && !PROM_AGGREGATIONS.contains(&w.as_str())
                    {
                        return Err(format!("unknown PromQL function '{w}'"));
                    }
                    i += 1;
                    continue;
                }
                if PROM_AGGREGATIONS.contains(&w.as_str()) || PROM_KEYWORDS.contains(&w.as_str()) {
                    i += 1;
                    continue;
                }
                u.series.push(w.clone());
                i += 1;
                if toks.get(i).is_some_and(|t| t.is("{")) {
                    i = matchers(&toks, i + 1, Some(w), &mut u)?;
                }
            }
            Tok::Punct(p) if p == "{" => i = matchers(&toks, i + 1, None, &mut u)?,
            _ => i += 1,
        }
    }
    Ok(u)
}

/// Reads `label op "value", ...}` from `i`; returns the index after `}`.
fn matchers(
    toks: &[Tok],
    mut i: usize,
    series: Option<&String>,
    u: &mut PromUse,
) -> Result<usize, String> {
    loop {
        match toks.get(i) {
            Some(t) if t.is("}") => return Ok(i + 1),
            Some(t) if t.is(",") => i += 1,
            Some(Tok::Ident(label)) => {
                let op_ok = toks
                    .get(i + 1)
                    .is_some_and(|t| ["=", "!=", "=~", "!~"].iter().any(|op| t.is(op)));
                let value_ok = matches!(toks.get(i + 2), Some(Tok::Quoted(_) | Tok::Single(_)));
                if !op_ok || !value_ok {
                    return Err(format!("malformed matcher after '{label}'"));
                }
                u.matchers.push((series.cloned(), label.clone()));
                i += 3;
            }
            other => return Err(format!("unexpected {other:?} in a label matcher")),
        }
    }
}

/// PromQL tokens; range selectors (`[5m]`, `[1h:1m]`) and Grafana variables outside strings are skipped.
fn lex_promql(expr: &str) -> Result<Vec<Tok>, String> {
    let mut cleaned = String::with_capacity(expr.len());
    let mut depth = 0;
    let mut in_str: Option<char> = None;
    for c in expr.chars() {
        match (in_str, c) {
            (Some(q), c) if c == q => {
                in_str = None;
                cleaned.push(c);
            }
            (Some(_), c) => cleaned.push(c),
            (None, '"' | '\'' | '`') if depth == 0 => {
                in_str = Some(c);
                cleaned.push(c);
            }
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            (None, c) if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced [ ] in: {expr}"));
    }
    // `offset 5m` and `$__range` outside brackets become numbers.
    let cleaned = cleaned.replace('$', "0");
    lex(&cleaned, ":", &[])
}

/// Label names a series carries: the exporter's labels plus the scrape target's, or a recording rule's output.
fn series_labels(
    name: &str,
    t: &Emitted,
    recorded: &BTreeMap<String, BTreeSet<String>>,
) -> Option<BTreeSet<String>> {
    let labels = t.prometheus.get(name).or_else(|| recorded.get(name))?;
    let mut labels = labels.clone();
    labels.extend(TARGET_LABELS.iter().map(|l| (*l).to_owned()));
    Some(labels)
}

/// Checks `expr`; returns the labels its result may carry.
fn check_promql(
    at: &str,
    expr: &str,
    t: &Emitted,
    recorded: &BTreeMap<String, BTreeSet<String>>,
    out: &mut Vec<String>,
) -> BTreeSet<String> {
    let u = match analyse_promql(expr) {
        Ok(u) => u,
        Err(e) => {
            out.push(format!("{at}: {e} in: {expr}"));
            return BTreeSet::new();
        }
    };
    let mut allowed: BTreeSet<String> = TARGET_LABELS.iter().map(|l| (*l).to_owned()).collect();
    for series in &u.series {
        match series_labels(series, t, recorded) {
            Some(labels) => allowed.extend(labels),
            None => out.push(format!(
                "{at}: '{series}' is neither a series the exporter writes nor a recording rule"
            )),
        }
    }
    for (series, label) in &u.matchers {
        let own = series.as_ref().and_then(|s| series_labels(s, t, recorded));
        let ok = match own {
            Some(own) => own.contains(label),
            None => allowed.contains(label) || label == "__name__",
        };
        if !ok {
            out.push(format!(
                "{at}: label '{label}' is not on {} in: {expr}",
                series.as_deref().unwrap_or("these series")
            ));
        }
    }
    for label in &u.grouping {
        if !allowed.contains(label) {
            out.push(format!(
                "{at}: grouping label '{label}' is on none of the series in: {expr}"
            ));
        }
    }
    allowed
}

/// Checks the rules; returns each recording rule's name with the labels its result carries.
fn check_prometheus_rules(
    doc: &Value,
    t: &Emitted,
    out: &mut Vec<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut recorded = BTreeMap::new();
    let groups = doc["groups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        out.push(format!("{PROMETHEUS_RULES}: no rule groups"));
    }
    // Recording rules first (in order, as Prometheus evaluates them), then alerts that may use them.
    for pass in ["record", "alert"] {
        for group in &groups {
            for rule in group["rules"].as_array().cloned().unwrap_or_default() {
                let Some(name) = rule[pass].as_str() else {
                    continue;
                };
                let at = format!("{PROMETHEUS_RULES} {pass} {name}");
                let expr = rule["expr"].as_str().unwrap_or_default();
                let allowed = check_promql(&at, expr, t, &recorded, out);
                if pass == "record" {
                    let mut labels: BTreeSet<String> = match analyse_promql(expr) {
                        Ok(u) if !u.by.is_empty() => u.by.into_iter().collect(),
                        _ => allowed,
                    };
                    if expr.contains("histogram_quantile") {
                        labels.remove("le");
                    }
                    recorded.insert(name.to_owned(), labels);
                } else {
                    let text = serde_json::to_string(&rule["annotations"]).unwrap()
                        + &serde_json::to_string(&rule["labels"]).unwrap();
                    for label in template_labels(&text) {
                        if !allowed.contains(&label) {
                            out.push(format!(
                                "{at}: $labels.{label} is not a label of its expression"
                            ));
                        }
                    }
                }
            }
        }
    }
    recorded
}

/// `$labels.x` references in alert templates.
fn template_labels(text: &str) -> Vec<String> {
    text.match_indices("$labels.")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn check_grafana(
    doc: &Value,
    t: &Emitted,
    recorded: &BTreeMap<String, BTreeSet<String>>,
    out: &mut Vec<String>,
) {
    let vars = doc["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !vars.iter().any(|v| {
        v["type"] == "datasource" && v["query"] == "prometheus" && v["name"] == "datasource"
    }) {
        out.push(format!(
            "{GRAFANA_DASHBOARD}: needs a Prometheus datasource variable named 'datasource'"
        ));
    }
    for var in &vars {
        let query = var["query"]["query"]
            .as_str()
            .or_else(|| var["query"].as_str())
            .unwrap_or_default();
        if let Some(args) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
        {
            let at = format!("{GRAFANA_DASHBOARD} variable {}", var["name"]);
            let (series, label) = args.split_once(',').unwrap_or((args, ""));
            check_promql(
                &at,
                &format!("{}{{{}=\"\"}}", series.trim(), label.trim()),
                t,
                recorded,
                out,
            );
        }
    }
    walk(doc, "", &mut |path, value| {
        let Value::Object(map) = value else { return };
        if let Some(ds) = map.get("datasource")
            && ds.get("type") == Some(&json!("prometheus"))
            && ds.get("uid") != Some(&json!("${datasource}"))
        {
            out.push(format!(
                "{GRAFANA_DASHBOARD} {path}: datasource uid must be ${{datasource}}"
            ));
        }
        if map.contains_key("gridPos") && map.get("type") != Some(&json!("row")) {
            let title = map.get("title").and_then(Value::as_str).unwrap_or_default();
            if map
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                out.push(format!(
                    "{GRAFANA_DASHBOARD}: panel '{title}' has no description"
                ));
            }
            if map
                .get("targets")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                out.push(format!("{GRAFANA_DASHBOARD}: panel '{title}' has no query"));
            }
        }
        if let Some(Value::String(expr)) = map.get("expr") {
            let at = format!("{GRAFANA_DASHBOARD} {path}");
            let allowed = check_promql(&at, expr, t, recorded, out);
            let legend = map
                .get("legendFormat")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for label in legend
                .split("{{")
                .skip(1)
                .filter_map(|s| s.split_once("}}"))
            {
                let label = label.0.trim();
                if !allowed.contains(label) {
                    out.push(format!(
                        "{at}: legend uses '{label}', not a label of: {expr}"
                    ));
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Layout, placeholders, X-Ray annotations.

/// Every graph, log table and alarm list has a text widget describing it directly above, across its width.
fn check_cloudwatch_layout(doc: &Value, out: &mut Vec<String>) {
    let widgets = doc["widgets"].as_array().cloned().unwrap_or_default();
    let num = |w: &Value, k: &str| w[k].as_i64().unwrap_or(-1);
    for w in &widgets {
        if w["type"] == "text" {
            continue;
        }
        let title = w["properties"]["title"].as_str().unwrap_or_default();
        if title.is_empty() {
            out.push(format!(
                "{CLOUDWATCH_DASHBOARD}: a {} widget has no title",
                w["type"]
            ));
        }
        let described = widgets.iter().any(|d| {
            d["type"] == "text"
                && num(d, "x") == num(w, "x")
                && num(d, "width") == num(w, "width")
                && num(d, "y") + num(d, "height") == num(w, "y")
                && d["properties"]["markdown"]
                    .as_str()
                    .is_some_and(|m| m.len() > 20)
        });
        if !described {
            out.push(format!(
                "{CLOUDWATCH_DASHBOARD}: widget '{title}' has no description (a text widget right above it)"
            ));
        }
    }
    for (i, a) in widgets.iter().enumerate() {
        for b in &widgets[i + 1..] {
            let overlap = |p: &str, s: &str| {
                num(a, p) < num(b, p) + num(b, s) && num(b, p) < num(a, p) + num(a, s)
            };
            if overlap("x", "width") && overlap("y", "height") {
                out.push(format!(
                    "{CLOUDWATCH_DASHBOARD}: widgets '{}' and '{}' overlap",
                    a["properties"]["title"], b["properties"]["title"]
                ));
            }
        }
    }
}

fn check_placeholders(name: &str, text: &str, out: &mut Vec<String>) {
    if !name.starts_with("cloudwatch-") && name != INSIGHTS_QUERIES {
        return;
    }
    for (i, _) in text.match_indices("${") {
        let inner: String = text[i + 2..].chars().take_while(|c| *c != '}').collect();
        if !PLACEHOLDERS.contains(&inner.as_str()) {
            out.push(format!(
                "{name}: ${{{inner}}} is not a placeholder the setup script fills ({PLACEHOLDERS:?})"
            ));
        }
    }
}

/// `annotation.<key>` in X-Ray filter expressions names an indexed attribute (dots become underscores).
fn check_xray_annotations(name: &str, text: &str, out: &mut Vec<String>) {
    let keys: Vec<String> = XRAY_ANNOTATION_KEYS
        .iter()
        .map(|k| k.replace('.', "_"))
        .collect();
    for (i, m) in text.match_indices("annotation.") {
        let key: String = text[i + m.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !keys.contains(&key) {
            out.push(format!(
                "{name}: annotation.{key} is not an indexed X-Ray annotation ({keys:?})"
            ));
        }
    }
}

/// Visits every value with its JSON path.
fn walk(value: &Value, path: &str, f: &mut dyn FnMut(&str, &Value)) {
    f(path, value);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, &format!("{path}.{k}"), f);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), f);
            }
        }
        _ => {}
    }
}

fn strings(value: &Value) -> String {
    let mut all = String::new();
    walk(value, "", &mut |_, v| {
        if let Value::String(s) = v {
            all.push_str(s);
            all.push('\n');
        }
    });
    all
}

// ---------------------------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_name_in_dashboards_is_emitted() {
    let problems = problems_in(&dashboard_files());
    assert!(
        problems.is_empty(),
        "{} problem(s) in dashboards/:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_file_parses() {
    let files = dashboard_files();
    for (name, text) in &files {
        parse(name, text).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(files.len() >= 6, "{:?}", files.keys());
}

#[test]
fn required_panels_alarms_and_queries_exist() {
    let files = dashboard_files();
    let doc = |name: &str| parse(name, &files[name]).unwrap();
    let cw = strings(&doc(CLOUDWATCH_DASHBOARD));
    for metric in [
        "AgentInvocation",
        "ToolExecution",
        "MemoryOperation",
        "Errors",
        "InvestigationRequests",
        "InvestigationDuration",
        "CacheHits",
        "CacheMisses",
        "LlmTokens",
        "LlmCost",
        "EscalationTriggered",
    ] {
        assert!(
            cw.contains(metric),
            "the CloudWatch dashboard has no {metric} panel"
        );
    }
    for title in [
        "Agent routing heatmap",
        "Tool execution waterfall",
        "Memory operation latency by strategy",
        "Error rate by component",
        "Investigation timeline",
        "Request volume and errors",
        "Investigation latency p50 / p95 / p99",
        "Agent invocations by user",
        "Cache hits vs misses",
        "LLM tokens by type",
        "LLM cost by model",
    ] {
        assert!(cw.contains(title), "CloudWatch panel '{title}' missing");
        let grafana = strings(&doc(GRAFANA_DASHBOARD));
        assert!(grafana.contains(title), "Grafana panel '{title}' missing");
    }
    let alarms = doc(CLOUDWATCH_ALARMS);
    let alarm_text = |suffix: &str| {
        alarms
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["AlarmName"].as_str().is_some_and(|n| n.ends_with(suffix)))
            .map(strings)
            .unwrap_or_else(|| panic!("no alarm *{suffix}"))
    };
    let error_rate = alarm_text("-high-error-rate");
    assert!(
        error_rate.contains("SUM(Errors)") && error_rate.contains("SUM(InvestigationRequests)")
    );
    assert!(alarm_text("-investigation-latency-p95").contains("InvestigationDuration"));
    let cache = alarm_text("-low-cache-hit-rate");
    assert!(cache.contains("CacheHits") && cache.contains("CacheMisses"));
    assert!(alarm_text("-escalation-spike").contains("EscalationTriggered"));

    let rules = strings(&doc(PROMETHEUS_RULES));
    for alert in [
        "SREAgentHighErrorRate",
        "SREAgentInvestigationLatencyP95High",
        "SREAgentLowCacheHitRate",
        "SREAgentEscalationSpike",
    ] {
        assert!(rules.contains(alert), "alert {alert} missing");
    }
    let queries = strings(&doc(INSIGHTS_QUERIES));
    for query in [
        "Investigations by user",
        "Slowest tool executions",
        "Errors across agents by trace id",
        "Memory cache hit rate",
        "Tool usage patterns",
    ] {
        assert!(
            queries.contains(&format!("${{DASHBOARD_NAME}}/{query}")),
            "query '{query}' missing"
        );
    }
}

/// The checker is not vacuous: one wrong name in any file is reported.
#[test]
fn bogus_names_are_reported() {
    let files = dashboard_files();
    // (file, text, replacement, what a problem must say)
    let cases = [
        (
            CLOUDWATCH_DASHBOARD,
            "ToolExecution",
            "ToolExecutions",
            "'ToolExecutions' is not in the catalog",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "UserID",
            "UserId",
            "\"UserId\"} matches no series",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "GROUP BY Component",
            "GROUP BY Module",
            "'Module' is not a dimension",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "Operation,Strategy}",
            "Strategy}",
            "'MemoryOperation' with dimensions {\"Strategy\"} matches no series",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "'p95', 300)",
            "'p95th', 300)",
            "SEARCH statistic Some(\"p95th\")",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "FILL(errors, 0) / requests",
            "FILL(errorz, 0) / requests",
            "uses 'errorz'",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "\"stat\": \"p99\"",
            "\"stat\": \"p999\"",
            "'p999' is not a CloudWatch statistic",
        ),
        (
            CLOUDWATCH_DASHBOARD,
            "ispresent(trace_id)",
            "ispresent(traceId)",
            "'traceId' is not a field of the JSON logs",
        ),
        (
            CLOUDWATCH_ALARMS,
            "\"Name\": \"Outcome\"",
            "\"Name\": \"Result\"",
            "\"Result\"} matches no series",
        ),
        (
            CLOUDWATCH_ALARMS,
            "\"Unit\": \"Milliseconds\"",
            "\"Unit\": \"Seconds\"",
            "has unit Milliseconds, not Seconds",
        ),
        (
            PROMETHEUS_RULES,
            "sre_escalations_total",
            "sre_escalation_total",
            "'sre_escalation_total' is neither",
        ),
        (
            PROMETHEUS_RULES,
            "$labels.backend ",
            "$labels.backend_name ",
            "$labels.backend_name is not a label",
        ),
        (
            GRAFANA_DASHBOARD,
            "sre_tool_execution_duration_seconds_bucket",
            "sre_tool_execution_duration_bucket",
            "'sre_tool_execution_duration_bucket' is neither",
        ),
        (
            GRAFANA_DASHBOARD,
            "sum by (agent_name)",
            "sum by (agent)",
            "grouping label 'agent'",
        ),
        (
            GRAFANA_DASHBOARD,
            "sre_investigation_requests_total",
            "sre_investigation_requests",
            "'sre_investigation_requests' is neither",
        ),
        (
            GRAFANA_DASHBOARD,
            "{{tool_name}}",
            "{{tool}}",
            "legend uses 'tool'",
        ),
        (
            INSIGHTS_QUERIES,
            "investigation_id",
            "investigationId",
            "'investigationId' is not a root field of EMF lines",
        ),
        (
            INSIGHTS_QUERIES,
            "/\\\"ToolCalls\\\"/",
            "/\\\"ToolCall\\\"/",
            "'ToolCall' is not a root field",
        ),
        (
            INSIGHTS_QUERIES,
            "level in",
            "severity in",
            "'severity' is not a field of the JSON logs",
        ),
        (
            "README.md",
            "annotation.user_id",
            "annotation.userid",
            "annotation.userid is not an indexed X-Ray annotation",
        ),
    ];
    for (file, from, to, expect) in cases {
        assert!(
            files[file].contains(from),
            "{file} no longer contains {from}"
        );
        let mut mutated = files.clone();
        mutated.insert(file.to_owned(), files[file].replace(from, to));
        let problems = problems_in(&mutated);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "replacing {from} by {to} in {file} went unnoticed (expected '{expect}'): {problems:#?}"
        );
    }
}

#[test]
fn prometheus_rules_and_grafana_queries_pass_promtool() {
    let Some(promtool) = find_on_path("promtool") else {
        panic!(
            "promtool not found on PATH: install it with `apt-get install -y prometheus` (Debian/Ubuntu; \
             scripts/test.sh does this)"
        );
    };
    let rules = dashboards_dir().join(PROMETHEUS_RULES);
    run_promtool(&promtool, &rules);

    // Grafana's queries, with its variables replaced, as recording rules: promtool parses each one.
    let grafana: Value = serde_json::from_str(
        &std::fs::read_to_string(dashboards_dir().join(GRAFANA_DASHBOARD)).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    walk(&grafana, "", &mut |_, v| {
        if let Some(Value::String(e)) = v.get("expr") {
            let e = e
                .replace("$__rate_interval", "5m")
                .replace("$__range", "1h")
                .replace("$__interval", "1m")
                .replace("$job", ".*")
                .replace("$agent", ".*");
            exprs.push(e);
        }
    });
    assert!(!exprs.is_empty());
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("grafana:query_{i}"), "expr": e}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grafana-rules.yaml");
    // JSON is YAML.
    std::fs::write(
        &file,
        json!({"groups": [{"name": "grafana", "rules": rules}]}).to_string(),
    )
    .unwrap();
    run_promtool(&promtool, &file);
}

fn run_promtool(promtool: &Path, rules: &Path) {
    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(rules)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool check rules {} failed:\n{}{}",
        rules.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[test]
fn setup_script_dry_run_renders_every_template() {
    let script = repo_root().join("scripts/setup_cloudwatch_dashboard.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    for placeholder in PLACEHOLDERS {
        assert!(
            text.contains(&format!("'${{{placeholder}}}'")),
            "the setup script does not fill ${{{placeholder}}}"
        );
    }
    let output = Command::new("bash")
        .arg(&script)
        .args([
            "--dry-run",
            "--alarm-topic",
            "arn:aws:sns:eu-west-1:123456789012:oncall",
        ])
        .env("CLOUDWATCH_METRICS_NAMESPACE", "Test & Co/Agent")
        .env("AWS_REGION", "eu-west-1")
        .env("SRE_DASHBOARD_NAME", "SRE-Test")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_EMF_LOG_GROUP_NAME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dry run failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# rendered files kept in "))
        .and_then(|l| l.split(' ').next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no rendered directory in:\n{stdout}"));
    let files = dashboard_files();
    let count = |name: &str| parse(name, &files[name]).unwrap().as_array().unwrap().len();
    let commands = |prefix: &str| stdout.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        commands("aws cloudwatch put-dashboard --region eu-west-1 --dashboard-name SRE-Test"),
        1,
        "{stdout}"
    );
    assert_eq!(
        commands("aws cloudwatch put-metric-alarm --region eu-west-1"),
        count(CLOUDWATCH_ALARMS),
        "{stdout}"
    );
    assert_eq!(
        commands("aws logs put-query-definition --region eu-west-1"),
        count(INSIGHTS_QUERIES),
        "{stdout}"
    );
    assert!(stdout.contains("--alarm-actions arn:aws:sns:eu-west-1:123456789012:oncall"));
    for name in ["dashboard.json", "alarms.json", "queries.json"] {
        let rendered = std::fs::read_to_string(dir.join(name)).unwrap();
        let doc: Value = serde_json::from_str(&rendered).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!rendered.contains("${"), "{name} keeps a placeholder");
        if name != "queries.json" {
            assert!(
                strings(&doc).contains("Test & Co/Agent"),
                "{name} lacks the namespace"
            );
        }
    }
    for i in 0..count(CLOUDWATCH_ALARMS) {
        let alarm: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("alarm-{i:02}.json"))).unwrap(),
        )
        .unwrap();
        assert!(
            alarm["AlarmName"]
                .as_str()
                .unwrap()
                .starts_with("SRE-Test-"),
            "{alarm}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
