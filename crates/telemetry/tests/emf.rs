//! EMF lines follow the CloudWatch embedded metric format specification (checked by a validator written from
//! the spec) and carry back exactly the values that were recorded, to a file and to a CloudWatch agent socket.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, HashMap},
    io::{BufRead, BufReader},
    net::TcpListener,
    time::Duration,
};

use serde_json::Value;
use sre_telemetry::{
    config::EmfTarget,
    metric::{
        MetricId, Recorder,
        emf::{EmfOptions, EmfSink},
    },
};

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Validates one EMF line against the specification; returns the errors found.
fn validate(line: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if line.len() > 1_000_000 {
        errors.push(format!("event of {} bytes exceeds 1 MB", line.len()));
    }
    let root: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let Some(root) = root.as_object() else {
        return vec!["root is not an object".into()];
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return vec!["missing _aws metadata object".into()];
    };
    for key in aws.keys() {
        if ![
            "Timestamp",
            "CloudWatchMetrics",
            "LogGroupName",
            "LogStreamName",
        ]
        .contains(&key.as_str())
        {
            errors.push(format!("_aws has unknown member {key}"));
        }
    }
    if aws.get("Timestamp").is_none_or(|t| t.as_u64().is_none()) {
        errors.push("_aws.Timestamp must be a non-negative integer (ms since epoch)".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        errors.push("_aws.CloudWatchMetrics must be an array".into());
        return errors;
    };
    if directives.is_empty() {
        errors.push("CloudWatchMetrics is empty".into());
    }
    for directive in directives {
        let Some(directive) = directive.as_object() else {
            errors.push("a MetricDirective is not an object".into());
            continue;
        };
        for key in directive.keys() {
            if !["Namespace", "Dimensions", "Metrics"].contains(&key.as_str()) {
                errors.push(format!("MetricDirective has unknown member {key}"));
            }
        }
        match directive.get("Namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns.len() <= 255 => {}
            _ => errors.push("Namespace must be a 1-255 character string".into()),
        }
        match directive.get("Dimensions").and_then(Value::as_array) {
            None => errors.push("Dimensions must be an array of DimensionSets".into()),
            Some(sets) => {
                for set in sets {
                    let Some(set) = set.as_array() else {
                        errors.push("a DimensionSet is not an array".into());
                        continue;
                    };
                    if set.len() > 30 {
                        errors.push(format!("DimensionSet of {} keys exceeds 30", set.len()));
                    }
                    for key in set {
                        let Some(key) = key.as_str() else {
                            errors.push("a dimension key is not a string".into());
                            continue;
                        };
                        match root.get(key).and_then(Value::as_str) {
                            Some(v) if !v.trim().is_empty() && v.len() <= 1024 => {}
                            _ => errors.push(format!(
                                "dimension {key} must reference a root string member of 1-1024 characters"
                            )),
                        }
                        if ["investigation_id", "trace_id"].contains(&key) {
                            errors.push(format!(
                                "{key} is high-cardinality and must not be a dimension"
                            ));
                        }
                    }
                }
            }
        }
        let Some(metrics) = directive.get("Metrics").and_then(Value::as_array) else {
            errors.push("Metrics must be an array".into());
            continue;
        };
        if metrics.is_empty() || metrics.len() > 100 {
            errors.push(format!(
                "Metrics has {} definitions (1-100 allowed)",
                metrics.len()
            ));
        }
        let mut names = Vec::new();
        for def in metrics {
            let Some(def) = def.as_object() else {
                errors.push("a MetricDefinition is not an object".into());
                continue;
            };
            for key in def.keys() {
                if !["Name", "Unit", "StorageResolution"].contains(&key.as_str()) {
                    errors.push(format!("MetricDefinition has unknown member {key}"));
                }
            }
            let Some(name) = def
                .get("Name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.len() <= 255)
            else {
                errors.push("MetricDefinition.Name must be a 1-255 character string".into());
                continue;
            };
            if names.contains(&name) {
                errors.push(format!("metric {name} defined twice in one directive"));
            }
            names.push(name);
            if let Some(unit) = def.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                errors.push(format!("metric {name} has an invalid Unit {unit}"));
            }
            if let Some(res) = def.get("StorageResolution")
                && !matches!(res.as_u64(), Some(1 | 60))
            {
                errors.push(format!("metric {name} has StorageResolution {res}"));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    if values.is_empty() || values.len() > 100 {
                        errors.push(format!(
                            "metric {name} has {} values (1-100 allowed)",
                            values.len()
                        ));
                    }
                    if !values.iter().all(Value::is_number) {
                        errors.push(format!("metric {name} has a non-numeric value"));
                    }
                }
                _ => errors.push(format!(
                    "metric {name} must reference a root number or number array"
                )),
            }
        }
    }
    errors
}

/// Values per (metric, sorted dimension pairs), read back from EMF lines.
/// A metric name with its sorted dimension pairs.
type SeriesKey = (String, Vec<(String, String)>);

fn read_back(lines: &[String]) -> BTreeMap<SeriesKey, Vec<f64>> {
    let mut out: BTreeMap<SeriesKey, Vec<f64>> = BTreeMap::new();
    for line in lines {
        let root: Value = serde_json::from_str(line).unwrap();
        for directive in root["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            let mut dims: Vec<(String, String)> = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    let k = k.as_str().unwrap();
                    (k.to_owned(), root[k].as_str().unwrap().to_owned())
                })
                .collect();
            dims.sort();
            for def in directive["Metrics"].as_array().unwrap() {
                let name = def["Name"].as_str().unwrap().to_owned();
                let values = match &root[&name] {
                    Value::Array(vs) => vs.iter().map(|v| v.as_f64().unwrap()).collect(),
                    v => vec![v.as_f64().unwrap()],
                };
                out.entry((name, dims.clone())).or_default().extend(values);
            }
        }
    }
    out
}

fn key(name: &str, dims: &[(&str, &str)]) -> SeriesKey {
    let mut dims: Vec<(String, String)> = dims
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    dims.sort();
    (name.to_owned(), dims)
}

fn options() -> EmfOptions {
    EmfOptions {
        namespace: "SREAgent/Test".into(),
        log_group: Some("sre-agent-metrics".into()),
        log_stream: None,
    }
}

#[test]
fn file_lines_validate_and_round_trip_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics/emf.jsonl");
    let sink = EmfSink::new(
        &EmfTarget::File(path.clone()),
        options(),
        Duration::from_secs(5),
    )
    .unwrap();
    let recorder = Recorder::builder().sink(Box::new(sink)).build().unwrap();

    let agent = [("AgentName", "kubernetes"), ("UserID", "alice")];
    let durations: Vec<f64> = (0..250).map(|i| f64::from(i) * 1.5 + 0.25).collect();
    for d in &durations {
        recorder.record(
            MetricId::AgentInvocation,
            *d,
            &[agent[0], agent[1], ("investigation_id", "inv-42")],
        );
    }
    for _ in 0..3 {
        recorder.record(
            MetricId::EscalationTriggered,
            1.0,
            &[
                ("UserID", "alice"),
                ("EscalationType", "sev1"),
                ("investigation_id", "inv-42"),
            ],
        );
    }
    let llm = [("Provider", "bedrock"), ("Model", "claude")];
    recorder.record(MetricId::LlmRequests, 1.0, &llm);
    recorder.record(MetricId::LlmRequests, 1.0, &llm);
    recorder.record(MetricId::LlmDuration, 812.0, &llm);
    recorder.record(MetricId::LlmCost, 0.0125, &llm);
    recorder.record(
        MetricId::CircuitBreakerState,
        2.0,
        &[("Backend", "k8s-backend")],
    );
    recorder.record(
        MetricId::GenAiClientTokenUsage,
        1500.0,
        &[
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "aws.bedrock"),
            ("gen_ai.request.model", "claude"),
            ("gen_ai.token.type", "input"),
        ],
    );
    assert!(recorder.flush(Duration::from_secs(10)));
    // Read before shutdown: its final flush repeats the gauges' current values.
    let text = std::fs::read_to_string(&path).unwrap();
    recorder.shutdown(Duration::from_secs(5));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(
        lines.len() >= 3,
        "250 values need at least three lines: {}",
        lines.len()
    );
    for line in &lines {
        let errors = validate(line);
        assert!(errors.is_empty(), "{errors:?} in {line}");
        let root: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "SREAgent/Test"
        );
        assert_eq!(root["_aws"]["LogGroupName"], "sre-agent-metrics");
    }

    let back = read_back(&lines);
    let mut got = back[&key("AgentInvocation", &agent)].clone();
    got.sort_by(f64::total_cmp);
    assert_eq!(got, durations);
    assert_eq!(
        back[&key(
            "EscalationTriggered",
            &[("UserID", "alice"), ("EscalationType", "sev1")]
        )],
        [3.0]
    );
    assert_eq!(back[&key("LlmRequests", &llm)], [2.0]);
    assert_eq!(back[&key("LlmDuration", &llm)], [812.0]);
    assert_eq!(back[&key("LlmCost", &llm)], [0.0125]);
    assert_eq!(
        back[&key("CircuitBreakerState", &[("Backend", "k8s-backend")])],
        [2.0]
    );
    assert_eq!(
        back[&key(
            "gen_ai.client.token.usage",
            &[
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.provider.name", "aws.bedrock"),
                ("gen_ai.request.model", "claude"),
                ("gen_ai.token.type", "input"),
            ]
        )],
        [1500.0]
    );
    assert_eq!(back.len(), 7, "{:?}", back.keys().collect::<Vec<_>>());

    // The investigation id rides along as a root field, never as a dimension.
    let escalation = lines
        .iter()
        .find(|l| l.contains("EscalationTriggered"))
        .unwrap();
    let root: Value = serde_json::from_str(escalation).unwrap();
    assert_eq!(root["investigation_id"], "inv-42");
    // Metrics sharing dimensions share one directive.
    let llm_line = lines.iter().find(|l| l.contains("LlmRequests")).unwrap();
    assert!(llm_line.contains("LlmDuration") && llm_line.contains("LlmCost"));
}

#[test]
fn validator_rejects_what_the_spec_forbids() {
    let ok = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["A"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"A":"a","M":1}"#;
    assert!(validate(ok).is_empty(), "{:?}", validate(ok));
    let too_many_values = format!(
        r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{{"Namespace":"N","Dimensions":[["A"]],"Metrics":[{{"Name":"M"}}]}}]}},"A":"a","M":[{}]}}"#,
        vec!["1"; 101].join(",")
    );
    assert!(!validate(&too_many_values).is_empty());
    let missing_dimension = ok.replace(r#","A":"a""#, "");
    assert!(!validate(&missing_dimension).is_empty());
    let bad_unit = ok.replace("\"Count\"", "\"Parsecs\"");
    assert!(!validate(&bad_unit).is_empty());
    let id_dimension = ok
        .replace(r#"[["A"]]"#, r#"[["investigation_id"]]"#)
        .replace(r#""A":"a""#, r#""investigation_id":"i""#);
    assert!(!validate(&id_dimension).is_empty());
}

#[test]
fn agent_endpoint_receives_valid_lines_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let sink = EmfSink::new(&EmfTarget::Tcp(address), options(), Duration::from_secs(5)).unwrap();
    let recorder = Recorder::builder().sink(Box::new(sink)).build().unwrap();
    recorder.record(
        MetricId::ToolCalls,
        1.0,
        &[("ToolName", "get_pod_status"), ("AgentName", "kubernetes")],
    );
    recorder.record(MetricId::CacheHits, 4.0, &[("Cache", "tool")]);

    let reader = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
            if lines.len() == 2 {
                break;
            }
        }
        lines
    });
    assert!(recorder.flush(Duration::from_secs(10)));
    let lines = reader.join().unwrap();
    assert_eq!(lines.len(), 2);
    let mut seen = HashMap::new();
    for line in &lines {
        assert!(validate(line).is_empty(), "{line}");
        let root: Value = serde_json::from_str(line).unwrap();
        for def in root["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
        {
            let name = def["Name"].as_str().unwrap().to_owned();
            seen.insert(name.clone(), root[&name].as_f64().unwrap());
        }
    }
    assert_eq!(seen.get("ToolCalls"), Some(&1.0));
    assert_eq!(seen.get("CacheHits"), Some(&4.0));
    recorder.shutdown(Duration::from_secs(5));
}
