//! The scenarios bundled into the binary, embedded from `scenarios/<name>/*.json`.

use crate::dataset::time::Timestamp;
use crate::dataset::{Dataset, ScenarioFiles};
use crate::error::DatasetError;

/// The scenario the backends serve when none is chosen.
pub const DEFAULT_SCENARIO: &str = "database-crashloop";

/// A bundled scenario: its directory name and file contents.
struct Bundled {
    name: &'static str,
    files: ScenarioFiles<'static>,
}

const BUNDLED: &[Bundled] = &[Bundled {
    name: "database-crashloop",
    files: ScenarioFiles {
        scenario: include_str!("../scenarios/database-crashloop/scenario.json"),
        k8s: include_str!("../scenarios/database-crashloop/k8s.json"),
        logs: include_str!("../scenarios/database-crashloop/logs.json"),
        metrics: include_str!("../scenarios/database-crashloop/metrics.json"),
        runbooks: include_str!("../scenarios/database-crashloop/runbooks.json"),
    },
}];

/// Names of the bundled scenarios.
pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|b| b.name).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::now;

    #[test]
    fn every_bundled_scenario_loads_under_its_own_name() {
        for name in bundled_names() {
            let ds = load_bundled(name, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ds.scenario().name, name);
        }
        assert!(bundled_names().contains(&DEFAULT_SCENARIO));
    }

    #[test]
    fn unknown_scenario_lists_the_bundled_ones() {
        let err = load_bundled("disk-full", now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown scenario `disk-full`; bundled scenarios: database-crashloop"
        );
    }
}
