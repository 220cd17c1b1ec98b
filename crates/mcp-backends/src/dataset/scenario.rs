//! `scenario.json`: what the scenario is about.

use serde::{Deserialize, Serialize};

/// Name, title and example questions of a scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Lowercase letters, digits and `-`.
    pub name: String,
    /// One-line title.
    pub title: String,
    /// Free text for humans.
    pub description: String,
    /// Questions the scenario is built to answer.
    #[serde(default)]
    pub questions: Vec<String>,
}
