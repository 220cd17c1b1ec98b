//! [`Dataset`]: one incident scenario loaded from its JSON files (five required, `expected.json` optional), with
//! every relative time resolved and every cross-reference checked. A dataset is loaded whole or not at all.

pub mod expected;
pub mod k8s;
pub mod logs;
pub mod metrics;
pub mod runbooks;
pub mod scenario;
pub mod time;
mod validate;

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::DatasetError;
use expected::Expected;
use k8s::K8sData;
use logs::LogsData;
use metrics::MetricsData;
use runbooks::RunbooksData;
use scenario::Scenario;
use time::Timestamp;

/// The files of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScenarioFile {
    /// `scenario.json`
    Scenario,
    /// `k8s.json`
    K8s,
    /// `logs.json`
    Logs,
    /// `metrics.json`
    Metrics,
    /// `runbooks.json`
    Runbooks,
    /// `expected.json` (optional)
    Expected,
}

impl ScenarioFile {
    /// Every file, in load order.
    pub const ALL: [ScenarioFile; 6] = [
        ScenarioFile::Scenario,
        ScenarioFile::K8s,
        ScenarioFile::Logs,
        ScenarioFile::Metrics,
        ScenarioFile::Runbooks,
        ScenarioFile::Expected,
    ];

    /// The file name inside a scenario directory.
    pub const fn file_name(self) -> &'static str {
        match self {
            ScenarioFile::Scenario => "scenario.json",
            ScenarioFile::K8s => "k8s.json",
            ScenarioFile::Logs => "logs.json",
            ScenarioFile::Metrics => "metrics.json",
            ScenarioFile::Runbooks => "runbooks.json",
            ScenarioFile::Expected => "expected.json",
        }
    }

    /// Whether a scenario must have the file.
    pub const fn required(self) -> bool {
        !matches!(self, ScenarioFile::Expected)
    }
}

/// The text of the files of a scenario, however it was obtained.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioFiles<'a> {
    /// `scenario.json`
    pub scenario: &'a str,
    /// `k8s.json`
    pub k8s: &'a str,
    /// `logs.json`
    pub logs: &'a str,
    /// `metrics.json`
    pub metrics: &'a str,
    /// `runbooks.json`
    pub runbooks: &'a str,
    /// `expected.json`, when the scenario has an answer key.
    pub expected: Option<&'a str>,
}

/// A loaded scenario: what the four backends serve.
#[derive(Debug, Clone)]
pub struct Dataset {
    loaded_at: Timestamp,
    scenario: Scenario,
    k8s: K8sData,
    logs: LogsData,
    metrics: MetricsData,
    runbooks: RunbooksData,
    expected: Option<Expected>,
}

impl Dataset {
    /// Parses and validates the files; every `ago` is resolved against `now`.
    pub fn from_files(files: &ScenarioFiles<'_>, now: Timestamp) -> Result<Self, DatasetError> {
        let scenario: Scenario = parse(ScenarioFile::Scenario, files.scenario)?;
        let k8s: K8sData<time::Ago> = parse(ScenarioFile::K8s, files.k8s)?;
        let logs: LogsData<time::Ago> = parse(ScenarioFile::Logs, files.logs)?;
        let metrics: MetricsData<time::Ago> = parse(ScenarioFile::Metrics, files.metrics)?;
        let runbooks: RunbooksData = parse(ScenarioFile::Runbooks, files.runbooks)?;
        let expected: Option<Expected> = files
            .expected
            .map(|text| parse(ScenarioFile::Expected, text))
            .transpose()?;
        let mut dataset = Self {
            loaded_at: now,
            scenario,
            k8s: k8s.resolve(now),
            logs: logs.resolve(now),
            metrics: metrics.resolve(now),
            runbooks,
            expected,
        };
        // Validate before sorting, so JSON paths in violations index the file as written.
        let violations = validate::check(&dataset);
        if !violations.is_empty() {
            return Err(DatasetError::Invalid { violations });
        }
        dataset.k8s.sort();
        dataset.logs.sort();
        dataset.metrics.sort();
        Ok(dataset)
    }

    /// Reads a scenario directory (the files of [`ScenarioFile`]; `expected.json` may be absent) and loads it
    /// as of `now`.
    pub fn load_dir(dir: &Path, now: Timestamp) -> Result<Self, DatasetError> {
        if !dir.is_dir() {
            return Err(DatasetError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let read = |file: ScenarioFile| {
            let path = dir.join(file.file_name());
            std::fs::read_to_string(&path).map_err(|source| DatasetError::Read { path, source })
        };
        let scenario = read(ScenarioFile::Scenario)?;
        let k8s = read(ScenarioFile::K8s)?;
        let logs = read(ScenarioFile::Logs)?;
        let metrics = read(ScenarioFile::Metrics)?;
        let runbooks = read(ScenarioFile::Runbooks)?;
        let expected = match read(ScenarioFile::Expected) {
            Ok(text) => Some(text),
            Err(DatasetError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                None
            }
            Err(other) => return Err(other),
        };
        let files = ScenarioFiles {
            scenario: &scenario,
            k8s: &k8s,
            logs: &logs,
            metrics: &metrics,
            runbooks: &runbooks,
            expected: expected.as_deref(),
        };
        Self::from_files(&files, now)
    }

    /// The moment the relative times were resolved against; the backends answer as of this moment.
    pub fn loaded_at(&self) -> Timestamp {
        self.loaded_at
    }

    /// Name, title and questions.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Nodes, pods, deployments and events (newest first).
    pub fn k8s(&self) -> &K8sData {
        &self.k8s
    }

    /// Log entries, newest first.
    pub fn logs(&self) -> &LogsData {
        &self.logs
    }

    /// Service series, points oldest first.
    pub fn metrics(&self) -> &MetricsData {
        &self.metrics
    }

    /// Playbooks, guides, escalation procedures and resolutions.
    pub fn runbooks(&self) -> &RunbooksData {
        &self.runbooks
    }

    /// The answer key, when the scenario has one.
    pub fn expected(&self) -> Option<&Expected> {
        self.expected.as_ref()
    }
}

/// Deserialises one file, naming the file, the JSON path and the expectation on failure.
fn parse<T: DeserializeOwned>(file: ScenarioFile, text: &str) -> Result<T, DatasetError> {
    let parse_error = |json_path: String, error: serde_json::Error| DatasetError::Parse {
        file: file.file_name(),
        json_path,
        message: error.to_string(),
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| parse_error(json_path(e.path()), e.into_inner()))?;
    deserializer
        .end()
        .map_err(|e| parse_error(".".to_owned(), e))?;
    Ok(value)
}

/// The path as the documentation writes it: `pods[0].phase`, `.` for the document itself. A map key the parser
/// had not read yet (`?`) is left out, so the path names the last complete place.
fn json_path(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    let trimmed = text.trim_end_matches(".?");
    if trimmed.is_empty() || trimmed == "?" {
        ".".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Utc;

    pub(crate) fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    pub(crate) const SCENARIO: &str = r#"{"name": "tiny", "title": "Tiny", "description": "A test scenario.",
        "questions": ["What broke?"]}"#;

    pub(crate) const K8S: &str = r#"{
      "nodes": [
        {"name": "node-1", "roles": ["worker"], "kubelet_version": "v1.29.4",
         "conditions": {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"},
         "capacity": {"cpu_millicores": 4000, "memory_mib": 16384, "pods": 110},
         "usage": {"cpu_millicores": 1000, "memory_mib": 4096, "pods": 3}},
        {"name": "node-2", "roles": ["worker"], "kubelet_version": "v1.29.4",
         "conditions": {"Ready": "False", "MemoryPressure": "True", "DiskPressure": "False", "PIDPressure": "False"},
         "capacity": {"cpu_millicores": 2000, "memory_mib": 8192, "pods": 110},
         "usage": {"cpu_millicores": 1900, "memory_mib": 8000, "pods": 1}}
      ],
      "pods": [
        {"name": "db-0", "namespace": "production", "app": "db", "owner": "db", "node": "node-1",
         "phase": "Running", "status": "CrashLoopBackOff", "ready": false, "restarts": 7, "started": "30m",
         "containers": [{"name": "postgres", "image": "postgres:15.4", "state": "waiting", "reason": "CrashLoopBackOff",
            "last_termination": {"reason": "Error", "exit_code": 1, "ago": "2m", "message": "boom"}}],
         "usage": {"cpu_millicores": 5, "memory_mib": 12}, "limits": {"cpu_millicores": 1000, "memory_mib": 2048}},
        {"name": "web-0", "namespace": "production", "app": "web", "owner": "web", "node": "node-1",
         "phase": "Running", "status": "Running", "ready": true, "restarts": 0, "started": "2d",
         "containers": [{"name": "web", "image": "web:1.0", "state": "running"}],
         "usage": {"cpu_millicores": 800, "memory_mib": 900}, "limits": {"cpu_millicores": 1000, "memory_mib": 1024}},
        {"name": "web-s", "namespace": "staging", "app": "web", "owner": "web", "node": "node-2",
         "phase": "Running", "status": "Running", "ready": true, "restarts": 1, "started": "3h",
         "containers": [{"name": "web", "image": "web:1.1", "state": "running"}],
         "usage": {"cpu_millicores": 100, "memory_mib": 300}}
      ],
      "deployments": [
        {"name": "db", "namespace": "production", "app": "db", "replicas": 1, "ready_replicas": 0,
         "available_replicas": 0, "updated_replicas": 1, "image": "postgres:15.4", "revision": 3, "updated": "30m",
         "strategy": "Recreate",
         "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                         "message": "Deployment does not have minimum availability."}],
         "history": [{"revision": 2, "image": "postgres:15.3", "ago": "9d"}]},
        {"name": "web", "namespace": "production", "app": "web", "replicas": 1, "ready_replicas": 1,
         "available_replicas": 1, "updated_replicas": 1, "image": "web:1.0", "revision": 1, "updated": "2d",
         "strategy": "RollingUpdate", "conditions": []},
        {"name": "web", "namespace": "staging", "app": "web", "replicas": 1, "ready_replicas": 1,
         "available_replicas": 1, "updated_replicas": 1, "image": "web:1.1", "revision": 2, "updated": "3h",
         "strategy": "RollingUpdate", "conditions": []}
      ],
      "events": [
        {"ago": "2h", "type": "Normal", "reason": "Scheduled", "namespace": "staging",
         "object": {"kind": "Pod", "name": "web-s"}, "message": "Successfully assigned staging/web-s to node-2"},
        {"ago": "2m", "type": "Warning", "reason": "BackOff", "namespace": "production",
         "object": {"kind": "Pod", "name": "db-0"}, "message": "Back-off restarting failed container postgres", "count": 7},
        {"ago": "20m", "type": "Error", "reason": "BackupFailed", "namespace": "production",
         "object": {"kind": "CronJob", "name": "db-backup"}, "message": "could not connect"},
        {"ago": "25m", "type": "Normal", "reason": "Pulled", "namespace": "production",
         "object": {"kind": "Pod", "name": "db-0"}, "message": "Container image already present", "count": 8}
      ]
    }"#;

    pub(crate) const LOGS: &str = r#"{"entries": [
        {"ago": "3h", "service": "web", "pod": "web-0", "level": "ERROR", "logger": "app", "message": "Old failure id 42"},
        {"ago": "50m", "service": "web", "pod": "web-0", "level": "INFO", "message": "GET /users 200 in 140ms"},
        {"ago": "40m", "service": "web", "pod": "web-0", "level": "WARN", "logger": "pool", "message": "Connection pool usage high: 45/50"},
        {"ago": "30m", "service": "web", "pod": "web-0", "level": "ERROR", "logger": "pool", "message": "Connection timeout after 5000ms to db-service:5432"},
        {"ago": "20m", "service": "web", "pod": "web-0", "level": "ERROR", "logger": "pool", "message": "Connection timeout after 5012ms to db-service:5432"},
        {"ago": "10m", "service": "db", "pod": "db-0", "level": "FATAL", "message": "FATAL: could not open configuration file \"/etc/postgresql/postgresql.conf\""},
        {"ago": "5m", "service": "api", "level": "ERROR", "message": "Database connection refused: db-service:5432"},
        {"ago": "4m", "service": "api", "level": "DEBUG", "message": "retrying in 250ms"},
        {"ago": "1m", "service": "web", "pod": "web-0", "level": "ERROR", "logger": "pool", "message": "Connection timeout after 5000ms to db-service:5432"}
    ]}"#;

    pub(crate) const METRICS: &str = r#"{"services": [
        {"service": "web", "namespace": "production", "series": {
            "response_time_ms": [
                {"ago": "0m", "value": 5000}, {"ago": "2h", "value": 150}, {"ago": "1h 45m", "value": 148},
                {"ago": "1h 30m", "value": 152}, {"ago": "1h 15m", "value": 150}, {"ago": "1h", "value": 151},
                {"ago": "45m", "value": 900}, {"ago": "30m", "value": 2500}, {"ago": "15m", "value": 4000}],
            "error_rate_pct": [
                {"ago": "1h", "value": 0.5}, {"ago": "45m", "value": 0.5}, {"ago": "30m", "value": 20},
                {"ago": "15m", "value": 50}, {"ago": "0m", "value": 75}],
            "availability_pct": [
                {"ago": "1h", "value": 99.95}, {"ago": "30m", "value": 80}, {"ago": "0m", "value": 25}],
            "memory_pct": [{"ago": "1h", "value": 50}, {"ago": "0m", "value": 100}],
            "cpu_pct": [{"ago": "1h", "value": 30}, {"ago": "0m", "value": 31}]
        }},
        {"service": "catalog", "namespace": "production", "series": {
            "response_time_ms": [{"ago": "1h", "value": 20}, {"ago": "30m", "value": 21}, {"ago": "0m", "value": 20}],
            "error_rate_pct": [{"ago": "1h", "value": 0.01}, {"ago": "0m", "value": 0.01}],
            "availability_pct": [{"ago": "1h", "value": 99.99}, {"ago": "0m", "value": 99.99}],
            "throughput_rps": [{"ago": "1h", "value": 180}, {"ago": "0m", "value": 182}]
        }}
    ]}"#;

    pub(crate) const RUNBOOKS: &str = r##"{
      "playbooks": [
        {"id": "PB-DB-CRASHLOOP", "title": "Database pod in CrashLoopBackOff", "incident_type": "database",
         "severity": "critical", "keywords": ["crashloopbackoff", "postgres", "configmap"],
         "symptoms": ["Database pod restarting repeatedly", "Applications report connection refused"],
         "steps": [{"title": "Inspect the failing pod", "commands": ["kubectl describe pod <pod> -n <namespace>"],
                    "expected": "Events show the reason for the restarts"}],
         "escalation": "Page the database on-call"},
        {"id": "PB-HIGH-LATENCY", "title": "High response time", "incident_type": "performance",
         "severity": "high", "keywords": ["latency", "slow"], "symptoms": ["Response times above SLO"],
         "steps": [{"title": "Check dependencies"}]},
        {"id": "PB-NODE-PRESSURE", "title": "Node under memory pressure", "incident_type": "infrastructure",
         "severity": "medium", "keywords": ["node", "memory", "eviction"], "symptoms": ["Pods evicted"],
         "steps": [{"title": "Find the hungry pods", "commands": ["kubectl top pods -A --sort-by=memory"]}]}
      ],
      "troubleshooting_guides": [
        {"id": "TG-K8S-CRASHLOOP", "category": "kubernetes", "issue_type": "crashloop",
         "title": "Troubleshooting CrashLoopBackOff", "symptoms": ["Restarts"], "diagnostic_steps": ["Read logs"],
         "solutions": ["Fix config"]},
        {"id": "TG-DB-CONNECTIVITY", "category": "database", "issue_type": "connectivity",
         "title": "Database connection failures", "symptoms": ["Connection refused"], "diagnostic_steps": [],
         "solutions": []}
      ],
      "escalation_procedures": [
        {"severity": "critical", "incident_type": "database", "response_time": "15m",
         "levels": [{"level": 1, "contact": "dba-oncall@company.com", "channel": "#db-oncall", "after": "0m"}]},
        {"severity": "critical", "incident_type": "*", "response_time": "15m",
         "levels": [{"level": 1, "contact": "sre-oncall@company.com", "channel": "#incidents", "after": "0m"}],
         "notes": "Open an incident channel."},
        {"severity": "high", "incident_type": "*", "response_time": "30m",
         "levels": [{"level": 1, "contact": "sre-oncall@company.com", "channel": "#incidents", "after": "0m"}]}
      ],
      "common_resolutions": [
        {"issue": "Database connection pool exhausted", "services": ["web"], "keywords": ["connection pool", "timeout"],
         "resolution": "Restore the database, then recycle the pool", "steps": ["Fix the database"]},
        {"issue": "Java heap exhausted (OutOfMemoryError)", "services": [], "keywords": ["oom", "heap", "memory"],
         "resolution": "Bound the query and raise the heap", "steps": ["Add pagination"]},
        {"issue": "503 from upstream", "services": ["api"], "keywords": ["503", "upstream"],
         "resolution": "Fix the upstream", "steps": []}
      ]
    }"##;

    pub(crate) const EXPECTED: &str = r#"{"root_cause_entities": ["db-0", "db"],
        "impacted_services": ["web", "api"], "severity": "critical"}"#;

    pub(crate) fn files() -> ScenarioFiles<'static> {
        ScenarioFiles {
            scenario: SCENARIO,
            k8s: K8S,
            logs: LOGS,
            metrics: METRICS,
            runbooks: RUNBOOKS,
            expected: Some(EXPECTED),
        }
    }

    /// The small test dataset the tool tests run against.
    pub(crate) fn dataset() -> Dataset {
        Dataset::from_files(&files(), now()).unwrap()
    }

    fn load_with(file: ScenarioFile, text: &str) -> DatasetError {
        let mut files = files();
        match file {
            ScenarioFile::Scenario => files.scenario = text,
            ScenarioFile::K8s => files.k8s = text,
            ScenarioFile::Logs => files.logs = text,
            ScenarioFile::Metrics => files.metrics = text,
            ScenarioFile::Runbooks => files.runbooks = text,
            ScenarioFile::Expected => files.expected = Some(text),
        }
        Dataset::from_files(&files, now()).unwrap_err()
    }

    fn replaced(original: &str, from: &str, to: &str) -> String {
        assert!(original.contains(from), "fixture does not contain {from:?}");
        original.replacen(from, to, 1)
    }

    #[test]
    fn resolves_relative_times_and_orders_collections() {
        let ds = dataset();
        assert_eq!(ds.loaded_at(), now());
        let db = &ds.k8s().pods[0];
        assert_eq!(time::rfc3339(db.started), "2026-11-21T11:30:00Z");
        let termination = db.containers[0].last_termination.as_ref().unwrap();
        assert_eq!(time::rfc3339(termination.finished), "2026-11-21T11:58:00Z");
        let event_times: Vec<_> = ds
            .k8s()
            .events
            .iter()
            .map(|e| time::rfc3339(e.at))
            .collect();
        assert_eq!(
            event_times,
            [
                "2026-11-21T11:58:00Z",
                "2026-11-21T11:40:00Z",
                "2026-11-21T11:35:00Z",
                "2026-11-21T10:00:00Z"
            ]
        );
        assert!(ds.logs().entries.windows(2).all(|w| w[0].at >= w[1].at));
        let web = &ds.metrics().services[0];
        let points = web.points(metrics::MetricSeries::ResponseTimeMs);
        assert!(points.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(points.last().map(|p| p.value), Some(5000.0));
        assert_eq!(ds.k8s().events[1].count, 1, "count defaults to 1");
    }

    #[test]
    fn malformed_json_names_file_and_position() {
        let err = load_with(ScenarioFile::Logs, r#"{"entries": [}"#);
        assert_eq!(
            err.to_string(),
            "logs.json at entries[0]: expected value at line 1 column 14"
        );
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        let err = load_with(ScenarioFile::Scenario, &format!("{SCENARIO} x"));
        assert!(
            err.to_string()
                .starts_with("scenario.json at .: trailing characters"),
            "{err}"
        );
    }

    #[test]
    fn unknown_enum_value_lists_accepted_values() {
        let k8s = replaced(
            K8S,
            r#""phase": "Running", "status": "CrashLoopBackOff""#,
            r#""phase": "Runing", "status": "CrashLoopBackOff""#,
        );
        let err = load_with(ScenarioFile::K8s, &k8s);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "k8s.json at pods[0].phase: unknown variant `Runing`, expected one of `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`"
            ),
            "{text}"
        );
    }

    #[test]
    fn unknown_field_is_an_error_not_ignored() {
        let logs = replaced(LOGS, r#""logger": "app""#, r#""loger": "app""#);
        let err = load_with(ScenarioFile::Logs, &logs);
        assert!(
            err.to_string().starts_with(
                "logs.json at entries[0].loger: unknown field `loger`, expected one of"
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_field_names_the_parent_path() {
        let runbooks = replaced(RUNBOOKS, r#""title": "High response time", "#, "");
        let err = load_with(ScenarioFile::Runbooks, &runbooks);
        assert!(
            err.to_string()
                .starts_with("runbooks.json at playbooks[1]: missing field `title`"),
            "{err}"
        );
    }

    #[test]
    fn bad_relative_time_shows_the_syntax() {
        let metrics = replaced(
            METRICS,
            r#"{"ago": "2h", "value": 150}"#,
            r#"{"ago": "two hours", "value": 150}"#,
        );
        let err = load_with(ScenarioFile::Metrics, &metrics);
        assert!(
            err.to_string().starts_with(
                "metrics.json at services[0].series.response_time_ms[1].ago: invalid value: string \"two hours\", expected a duration such as"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_series_name_is_rejected() {
        let metrics = replaced(METRICS, r#""memory_pct""#, r#""mem_pct""#);
        let err = load_with(ScenarioFile::Metrics, &metrics);
        assert!(
            err.to_string().starts_with("metrics.json at services[0].series.mem_pct: unknown field `mem_pct`, expected one of `response_time_ms`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_expectation() {
        let k8s = replaced(K8S, r#""restarts": 7"#, r#""restarts": "seven""#);
        let err = load_with(ScenarioFile::K8s, &k8s);
        assert!(
            err.to_string().starts_with(
                "k8s.json at pods[0].restarts: invalid type: string \"seven\", expected u32"
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = Dataset::load_dir(dir.path(), now()).unwrap_err();
        let expected = format!(
            "cannot read scenario file {}",
            dir.path().join("scenario.json").display()
        );
        assert!(err.to_string().starts_with(&expected), "{err}");
    }

    #[test]
    fn loads_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let files = files();
        for (file, text) in [
            (ScenarioFile::Scenario, files.scenario),
            (ScenarioFile::K8s, files.k8s),
            (ScenarioFile::Logs, files.logs),
            (ScenarioFile::Metrics, files.metrics),
            (ScenarioFile::Runbooks, files.runbooks),
        ] {
            std::fs::write(dir.path().join(file.file_name()), text).unwrap();
        }
        let ds = Dataset::load_dir(dir.path(), now()).unwrap();
        assert_eq!(ds.scenario().name, "tiny");
        assert_eq!(ds.k8s().pods.len(), 3);
        assert!(ds.expected().is_none(), "expected.json is optional");

        std::fs::write(dir.path().join("expected.json"), EXPECTED).unwrap();
        let ds = Dataset::load_dir(dir.path(), now()).unwrap();
        let expected = ds.expected().unwrap();
        assert_eq!(expected.severity, expected::IncidentSeverity::Critical);
        assert_eq!(expected.impacted_services, ["web", "api"]);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-scenario");
        let err = Dataset::load_dir(&missing, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "scenario directory {} does not exist or is not a directory",
                missing.display()
            )
        );
    }

    #[test]
    fn expected_severity_is_one_of_the_scale() {
        let text = replaced(EXPECTED, r#""critical""#, r#""severe""#);
        let err = load_with(ScenarioFile::Expected, &text);
        assert!(
            err.to_string().starts_with(
                "expected.json at severity: unknown variant `severe`, expected one of `info`, `low`, `medium`, `high`, `critical`"
            ),
            "{err}"
        );
    }

    pub(crate) fn load_err(file: ScenarioFile, text: &str) -> String {
        load_with(file, text).to_string()
    }

    pub(crate) fn replace(original: &str, from: &str, to: &str) -> String {
        replaced(original, from, to)
    }
}
