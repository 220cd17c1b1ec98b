//! `--dataset-dir`: a user's scenario directory loads whole, or is refused with the file, the JSON path and what
//! was expected — one test per kind of bad input, each starting from a valid bundled scenario written to disk.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use sre_mcp_backends::dataset::time::Timestamp;
use sre_mcp_backends::scenario::bundled_files;
use sre_mcp_backends::{Dataset, DatasetError};
use tempfile::TempDir;

const SCENARIO: &str = "api-latency-regression";

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A valid scenario directory, and a way to change one file of it.
struct Dir(TempDir);

impl Dir {
    fn new() -> Result<Self> {
        let dir = TempDir::new()?;
        let Some(files) = bundled_files(SCENARIO) else {
            bail!("no bundled scenario {SCENARIO}");
        };
        for (name, text) in [
            ("scenario.json", files.scenario),
            ("k8s.json", files.k8s),
            ("logs.json", files.logs),
            ("metrics.json", files.metrics),
            ("runbooks.json", files.runbooks),
            ("expected.json", files.expected.unwrap_or_default()),
        ] {
            std::fs::write(dir.path().join(name), text)?;
        }
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, file: &str, text: &str) -> Result<()> {
        Ok(std::fs::write(self.path().join(file), text)?)
    }

    /// Parses `file`, lets `change` edit it, and writes it back pretty-printed.
    fn edit(&self, file: &str, change: impl FnOnce(&mut Value) -> Result<()>) -> Result<()> {
        let text = std::fs::read_to_string(self.path().join(file))?;
        let mut value: Value = serde_json::from_str(&text)?;
        change(&mut value)?;
        self.write(file, &serde_json::to_string_pretty(&value)?)
    }

    fn error(&self) -> Result<String> {
        match Dataset::load_dir(self.path(), now()) {
            Ok(_) => bail!("the directory loaded although it is broken"),
            Err(error) => Ok(error.to_string()),
        }
    }
}

/// The message without its trailing ` at line L column C`.
fn without_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

fn first_index(list: &Value, pred: impl Fn(&Value) -> bool) -> Result<usize> {
    list.as_array()
        .and_then(|items| items.iter().position(pred))
        .context("no matching item")
}

#[test]
fn a_valid_directory_loads_whole() -> Result<()> {
    let dir = Dir::new()?;
    let ds = Dataset::load_dir(dir.path(), now())?;
    assert_eq!(ds.scenario().name, SCENARIO);
    assert!(ds.expected().is_some());
    std::fs::remove_file(dir.path().join("expected.json"))?;
    let ds = Dataset::load_dir(dir.path(), now())?;
    assert!(ds.expected().is_none(), "expected.json is optional");
    Ok(())
}

#[test]
fn bad_json_names_the_file_and_the_position() -> Result<()> {
    let dir = Dir::new()?;
    dir.write(
        "metrics.json",
        "{\"services\": [\n  {\"service\": \"web\",\n",
    )?;
    assert_eq!(
        dir.error()?,
        "metrics.json at services[0]: EOF while parsing a value at line 3 column 0"
    );
    dir.write("metrics.json", "")?;
    assert_eq!(
        dir.error()?,
        "metrics.json at .: EOF while parsing a value at line 1 column 0"
    );
    Ok(())
}

#[test]
fn trailing_text_after_the_document_is_refused() -> Result<()> {
    let dir = Dir::new()?;
    dir.write(
        "expected.json",
        r#"{"root_cause_entities": [], "impacted_services": [], "severity": "info"} {}"#,
    )?;
    assert_eq!(
        dir.error()?,
        "expected.json at .: trailing characters at line 1 column 74"
    );
    Ok(())
}

#[test]
fn a_wrong_type_names_the_path_and_the_expected_type() -> Result<()> {
    let dir = Dir::new()?;
    let mut index = 0;
    dir.edit("k8s.json", |k8s| {
        index = first_index(&k8s["pods"], |p| p["namespace"] == "production")?;
        k8s["pods"][index]["restarts"] = json!("three");
        Ok(())
    })?;
    let error = dir.error()?;
    assert_eq!(
        without_position(&error),
        format!("k8s.json at pods[{index}].restarts: invalid type: string \"three\", expected u32")
    );
    assert!(error.contains(" at line "), "{error}");
    Ok(())
}

#[test]
fn an_unknown_field_is_named_with_the_accepted_ones() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("k8s.json", |k8s| {
        k8s["deployments"][0]["replica"] = json!(2);
        Ok(())
    })?;
    let error = dir.error()?;
    assert!(
        error.starts_with(
            "k8s.json at deployments[0].replica: unknown field `replica`, expected one of `name`, `namespace`, `app`, `replicas`"
        ),
        "{error}"
    );
    Ok(())
}

#[test]
fn an_unknown_value_lists_the_accepted_ones() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("logs.json", |logs| {
        logs["entries"][3]["level"] = json!("NOTICE");
        Ok(())
    })?;
    assert_eq!(
        without_position(&dir.error()?),
        "logs.json at entries[3].level: unknown variant `NOTICE`, expected one of `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`"
    );
    Ok(())
}

#[test]
fn a_missing_field_names_where_it_is_missing() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("scenario.json", |scenario| {
        scenario
            .as_object_mut()
            .context("an object")?
            .remove("title");
        Ok(())
    })?;
    assert_eq!(
        without_position(&dir.error()?),
        "scenario.json at .: missing field `title`"
    );
    Ok(())
}

#[test]
fn a_bad_relative_time_shows_the_syntax() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("k8s.json", |k8s| {
        k8s["events"][0]["ago"] = json!("yesterday");
        Ok(())
    })?;
    assert_eq!(
        without_position(&dir.error()?),
        "k8s.json at events[0].ago: invalid value: string \"yesterday\", expected a duration such as \"90s\", \"12m\", \"2h\", \"1h 30m\" or \"3d\", at most 36500d"
    );
    Ok(())
}

#[test]
fn a_broken_reference_names_what_exists() -> Result<()> {
    let dir = Dir::new()?;
    let mut index = 0;
    dir.edit("k8s.json", |k8s| {
        index = first_index(&k8s["pods"], |p| p["namespace"] == "staging")?;
        k8s["pods"][index]["owner"] = json!("api");
        Ok(())
    })?;
    assert_eq!(
        dir.error()?,
        format!(
            "invalid scenario: k8s.json at pods[{index}].owner: expected the name of a deployment in namespace \"staging\" (api-service, database-deployment), found \"api\""
        )
    );
    Ok(())
}

#[test]
fn an_answer_key_must_name_what_the_scenario_contains() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("expected.json", |expected| {
        expected["root_cause_entities"][1] = json!("registry.example.com/shop/api-service:3.9.1");
        expected["impacted_services"] = json!(["web-service", "frontend"]);
        Ok(())
    })?;
    assert_eq!(
        dir.error()?,
        "invalid scenario (2 problems):\n  \
         - expected.json at root_cause_entities[1]: expected the exact name of something in the scenario (a node, pod, deployment, container image, event object or service, or a name quoted in an event, log or termination message), found \"registry.example.com/shop/api-service:3.9.1\"\n  \
         - expected.json at impacted_services[1]: expected a service named in logs.json or metrics.json (api-service, coredns, database, product-catalog-service, web-service), found \"frontend\""
    );
    Ok(())
}

#[test]
fn every_broken_rule_is_reported_at_once() -> Result<()> {
    let dir = Dir::new()?;
    dir.edit("metrics.json", |metrics| {
        metrics["services"][0]["series"]["error_rate_pct"][0]["value"] = json!(140.0);
        Ok(())
    })?;
    dir.edit("runbooks.json", |runbooks| {
        runbooks["playbooks"][1]["id"] = runbooks["playbooks"][0]["id"].clone();
        Ok(())
    })?;
    let error = dir.error()?;
    assert_eq!(
        error,
        "invalid scenario (2 problems):\n  \
         - metrics.json at services[0].series.error_rate_pct[0].value: expected a percentage between 0 and 100, found 140\n  \
         - runbooks.json at playbooks[1].id: expected a unique playbook id, found \"PB-DB-CRASHLOOP\" again (first at playbooks[0].id)"
    );
    Ok(())
}

#[test]
fn a_missing_file_or_directory_is_named() -> Result<()> {
    let dir = Dir::new()?;
    std::fs::remove_file(dir.path().join("logs.json"))?;
    let error = Dataset::load_dir(dir.path(), now())
        .err()
        .context("logs.json is required")?;
    assert!(matches!(error, DatasetError::Read { .. }));
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read scenario file {}: ",
            dir.path().join("logs.json").display()
        )),
        "{error}"
    );
    let missing = dir.path().join("nope");
    assert_eq!(
        Dataset::load_dir(&missing, now())
            .err()
            .context("a missing directory")?
            .to_string(),
        format!(
            "scenario directory {} does not exist or is not a directory",
            missing.display()
        )
    );
    Ok(())
}

#[test]
fn a_file_that_is_not_text_is_refused() -> Result<()> {
    let dir = Dir::new()?;
    std::fs::write(dir.path().join("runbooks.json"), [0xff, 0xfe, 0x00, 0x7b])?;
    let error = dir.error()?;
    assert!(
        error.starts_with(&format!(
            "cannot read scenario file {}: stream did not contain valid UTF-8",
            dir.path().join("runbooks.json").display()
        )),
        "{error}"
    );
    Ok(())
}
