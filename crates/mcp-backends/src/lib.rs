//! The four MCP backends of sre-agent (Kubernetes, logs, metrics, runbooks) and the incident scenarios they
//! serve.
//!
//! A [`Dataset`] is one scenario loaded from five JSON files ([`scenario`] bundles the built-in ones). Each
//! [`Domain`] has an rmcp server in [`server`] whose tools answer from the dataset; [`host`] serves them over
//! streamable HTTP, either on fixed ports or all four in-process on loopback ([`BackendSet`]).

#![warn(missing_docs)]

pub mod dataset;
pub mod domain;
pub mod error;
pub mod host;
pub mod scenario;
pub mod server;

pub use dataset::{Dataset, ScenarioFile, ScenarioFiles};
pub use domain::Domain;
pub use error::{DatasetError, ServeError, ToolError, UnknownDomain, Violation};
pub use host::{BackendSet, MCP_PATH, serve};
pub use scenario::{DEFAULT_SCENARIO, bundled_names, load_bundled};
