//! The scenarios bundled into the binary, embedded from `scenarios/<name>/*.json`, and [`DatasetSource`]: a
//! bundled scenario by name or a user's scenario directory.

use std::path::PathBuf;

use crate::dataset::time::Timestamp;
use crate::dataset::{Dataset, ScenarioFiles};
use crate::error::DatasetError;

/// The scenario the backends serve when none is chosen.
pub const DEFAULT_SCENARIO: &str = "database-crashloop";

/// A bundled scenario, as `sre-agent backends scenarios` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledScenario {
    /// The name to select it by (`database-crashloop`).
    pub name: &'static str,
    /// Its one-line title (the `title` of its `scenario.json`).
    pub title: &'static str,
}

/// Where the scenario to serve comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetSource {
    /// A bundled scenario, by name.
    Bundled(String),
    /// A directory in the documented format (`--dataset-dir`).
    Dir(PathBuf),
}

/// A bundled scenario: its directory name, title and file contents.
struct Bundled {
    name: &'static str,
    title: &'static str,
    files: ScenarioFiles<'static>,
}

/// Embeds the files of `scenarios/<name>/`.
macro_rules! bundled {
    ($name:literal, $title:literal) => {
        Bundled {
            name: $name,
            title: $title,
            files: ScenarioFiles {
                scenario: include_str!(concat!("../scenarios/", $name, "/scenario.json")),
                k8s: include_str!(concat!("../scenarios/", $name, "/k8s.json")),
                logs: include_str!(concat!("../scenarios/", $name, "/logs.json")),
                metrics: include_str!(concat!("../scenarios/", $name, "/metrics.json")),
                runbooks: include_str!(concat!("../scenarios/", $name, "/runbooks.json")),
                expected: Some(include_str!(concat!(
                    "../scenarios/",
                    $name,
                    "/expected.json"
                ))),
            },
        }
    };
}

const BUNDLED: &[Bundled] = &[
    bundled!(
        "database-crashloop",
        "Database crash loop cascades to the web and API tiers"
    ),
    bundled!(
        "api-latency-regression",
        "API response times tripled after the api-service 3.9.0 rollout"
    ),
    bundled!(
        "memory-leak-oom",
        "Memory leak in checkout-service 4.2.0: OOMKilled restart loop"
    ),
    bundled!(
        "node-disk-pressure",
        "Disk pressure on node-3 evicts pods: search-indexer fills the node's disk"
    ),
    bundled!(
        "healthy-baseline",
        "Healthy baseline: production is working normally"
    ),
];

/// Names of the bundled scenarios.
pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|b| b.name).collect()
}

/// The bundled scenarios with their titles, in a fixed order (the default first).
pub fn bundled_scenarios() -> Vec<BundledScenario> {
    BUNDLED
        .iter()
        .map(|b| BundledScenario {
            name: b.name,
            title: b.title,
        })
        .collect()
}

/// The file contents of a bundled scenario, e.g. to write it out as a starting point for a custom one.
pub fn bundled_files(name: &str) -> Option<ScenarioFiles<'static>> {
    BUNDLED.iter().find(|b| b.name == name).map(|b| b.files)
}

/// Loads a bundled scenario as of `now`; an unknown name is an error listing the bundled ones.
pub fn load_bundled(name: &str, now: Timestamp) -> Result<Dataset, DatasetError> {
    let files = bundled_files(name).ok_or_else(|| DatasetError::UnknownScenario {
        name: name.to_owned(),
        available: bundled_names(),
    })?;
    Dataset::from_files(&files, now)
}

impl DatasetSource {
    /// Loads the scenario as of `now`.
    pub fn load(&self, now: Timestamp) -> Result<Dataset, DatasetError> {
        match self {
            DatasetSource::Bundled(name) => load_bundled(name, now),
            DatasetSource::Dir(dir) => Dataset::load_dir(dir, now),
        }
    }
}

impl Default for DatasetSource {
    /// The default bundled scenario.
    fn default() -> Self {
        DatasetSource::Bundled(DEFAULT_SCENARIO.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::now;

    #[test]
    fn every_bundled_scenario_loads_under_its_own_name_and_title() {
        for bundled in bundled_scenarios() {
            let ds = load_bundled(bundled.name, now())
                .unwrap_or_else(|e| panic!("{}: {e}", bundled.name));
            assert_eq!(ds.scenario().name, bundled.name);
            assert_eq!(ds.scenario().title, bundled.title, "{}", bundled.name);
            assert!(
                ds.expected().is_some(),
                "{} has expected.json",
                bundled.name
            );
        }
        assert_eq!(bundled_names().first().copied(), Some(DEFAULT_SCENARIO));
        assert!(bundled_names().len() >= 5);
    }

    #[test]
    fn unknown_scenario_lists_the_bundled_ones() {
        let err = load_bundled("disk-full", now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "unknown scenario `disk-full`; bundled scenarios: {}",
                bundled_names().join(", ")
            )
        );
        let err = DatasetSource::Bundled("disk-full".into())
            .load(now())
            .unwrap_err();
        assert!(err.to_string().starts_with("unknown scenario `disk-full`"));
    }
}
