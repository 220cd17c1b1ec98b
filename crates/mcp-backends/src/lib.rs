//! The four MCP backends of sre-agent (Kubernetes, logs, metrics, runbooks) and the incident scenarios they
//! serve.
//!
//! A [`Dataset`] is one scenario loaded from its JSON files ([`scenario`] bundles the built-in ones). Each
//! [`Domain`] has an rmcp server in [`server`] whose tools answer from the dataset; [`host`] serves them over
//! streamable HTTP: all four in-process on loopback ([`BackendSet`]), or a chosen set as a standalone service
//! ([`serve_standalone`]) with optional authentication, a `Host` allow-list and graceful shutdown.

#![warn(missing_docs)]

pub mod dataset;
pub mod domain;
pub mod error;
pub mod host;
pub mod scenario;
pub mod server;

pub use dataset::{Dataset, ScenarioFile, ScenarioFiles};
pub use domain::{Domain, tool_catalog};
pub use error::{ConfigError, DatasetError, ServeError, ToolError, UnknownDomain, Violation};
pub use host::{
    AllowedHosts, Auth, BackendSet, DEFAULT_PORT_BASE, HttpOptions, MCP_PATH, ServeOptions,
    Standalone, serve, serve_standalone, shutdown_on_signal,
};
pub use scenario::{
    BundledScenario, DEFAULT_SCENARIO, DatasetSource, bundled_names, bundled_scenarios,
    load_bundled,
};
