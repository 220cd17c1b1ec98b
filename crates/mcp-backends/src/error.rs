//! Errors of the crate, one enum per operation family: loading a dataset, running a tool, serving a backend.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::domain::Domain;

/// A scenario could not be loaded; nothing of it is kept.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A scenario file could not be read from disk.
    #[error("cannot read scenario file {}: {source}", path.display())]
    Read {
        /// The file that was read.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The scenario directory does not exist or is not a directory.
    #[error("scenario directory {} does not exist or is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A file is not valid JSON or does not have the documented shape.
    #[error("{file} at {json_path}: {message}")]
    Parse {
        /// The scenario file name (`k8s.json`, ...).
        file: &'static str,
        /// Where in the document the problem is (`pods[0].phase`; `.` for the document itself).
        json_path: String,
        /// What was found and what was expected, with the line and column.
        message: String,
    },
    /// The files parse but contradict each other or the documented rules.
    #[error("{}", Violations(violations))]
    Invalid {
        /// Every problem found, in file order.
        violations: Vec<Violation>,
    },
    /// No bundled scenario has that name.
    #[error("unknown scenario `{name}`; bundled scenarios: {}", available.join(", "))]
    UnknownScenario {
        /// The requested name.
        name: String,
        /// The bundled scenario names.
        available: Vec<&'static str>,
    },
}

/// One semantic problem of a scenario: where it is and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The scenario file name (`k8s.json`, ...).
    pub file: &'static str,
    /// JSON path of the offending value (`pods[2].node`).
    pub json_path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.file, self.json_path, self.message)
    }
}

/// A tool call that cannot be answered as asked. The message is read by the model, so it names the parameter,
/// the value and what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    /// A parameter value is malformed or out of range.
    #[error("invalid {param} {value:?}: expected {expected}")]
    InvalidParam {
        /// Parameter name as in the tool schema.
        param: &'static str,
        /// The value received.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// An id or name that must exist does not.
    #[error("{param} {value:?} not found{scope}; {existing}")]
    NotFound {
        /// Parameter name as in the tool schema.
        param: &'static str,
        /// The value received.
        value: String,
        /// Narrowing context such as ` in namespace "staging"`, or empty.
        scope: String,
        /// What exists, phrased for the reader (`existing pods: a, b`).
        existing: String,
    },
    /// The answer could not be encoded as JSON (a defect, not a caller mistake).
    #[error("cannot encode the answer: {message}")]
    Encode {
        /// The encoder's message.
        message: String,
    },
}

impl ToolError {
    /// An [`ToolError::InvalidParam`] for `param`.
    pub fn invalid(
        param: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ToolError::InvalidParam {
            param,
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// A [`ToolError::NotFound`] for `param`, listing `existing` items of `what` (`pods`, `playbooks`).
    pub fn not_found<I, S>(
        param: &'static str,
        value: impl Into<String>,
        scope: String,
        what: &str,
        existing: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let names: Vec<String> = existing
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect();
        let existing = if names.is_empty() {
            format!("there are no {what}")
        } else {
            format!("existing {what}: {}", names.join(", "))
        };
        ToolError::NotFound {
            param,
            value: value.into(),
            scope,
            existing,
        }
    }
}

/// A backend could not be started or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be bound.
    #[error(
        "cannot bind the {domain} backend to {addr}: {source}; free the port or choose another address"
    )]
    Bind {
        /// The backend.
        domain: Domain,
        /// The requested address.
        addr: SocketAddr,
        /// The socket failure.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no local address (the OS refused to tell).
    #[error("cannot read the local address of the {domain} backend socket: {source}")]
    LocalAddr {
        /// The backend.
        domain: Domain,
        /// The socket failure.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an I/O error.
    #[error("the {domain} backend at {addr} stopped: {source}")]
    Serve {
        /// The backend.
        domain: Domain,
        /// Where it listened.
        addr: SocketAddr,
        /// The server failure.
        #[source]
        source: std::io::Error,
    },
    /// The serving task of a backend panicked or was cancelled.
    #[error("the {domain} backend task failed: {message}")]
    Task {
        /// The backend.
        domain: Domain,
        /// What the runtime reported.
        message: String,
    },
    /// The options do not describe a servable set of backends.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The scenario to serve could not be loaded.
    #[error("cannot load the scenario to serve: {0}")]
    Dataset(#[from] DatasetError),
    /// The handler for SIGTERM/SIGINT could not be installed.
    #[error("cannot install the {signal} handler: {source}")]
    Signal {
        /// The signal (`SIGTERM`, `SIGINT`).
        signal: &'static str,
        /// The OS failure.
        #[source]
        source: std::io::Error,
    },
}

/// Serving options that cannot work; each message names the option and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An API key or bearer token is empty or cannot travel in an HTTP header.
    #[error(
        "invalid {what}: expected 1 to 4096 visible ASCII characters without spaces, found {found}"
    )]
    Secret {
        /// `API key` or `bearer token`.
        what: &'static str,
        /// A description of what was given (never the secret itself).
        found: String,
    },
    /// An allowed host is not a host name, an IP address or `host:port`.
    #[error(
        "invalid allowed host {value:?}: expected a host name, an IP address or host:port (e.g. \"backends.internal\", \"10.0.0.5:8011\"), or \"*\" for any host"
    )]
    AllowedHost {
        /// The entry as given.
        value: String,
    },
    /// No backend was selected.
    #[error("no backend selected; choose at least one of k8s, logs, metrics, runbooks")]
    NoDomain,
    /// The same backend was selected twice.
    #[error("the {domain} backend is selected twice")]
    DuplicateDomain {
        /// The repeated backend.
        domain: Domain,
    },
    /// The port base leaves no room for a backend's port.
    #[error(
        "port base {port_base} puts the {domain} backend beyond port 65535; choose a port base of at most 65532, or 0 for ephemeral ports"
    )]
    PortRange {
        /// The requested first port.
        port_base: u16,
        /// The backend without a port.
        domain: Domain,
    },
    /// The request body limit is zero.
    #[error("the request body limit must be at least 1 byte")]
    BodyLimit,
}

/// A string that names no [`Domain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend domain `{value}`; expected one of k8s, logs, metrics, runbooks")]
pub struct UnknownDomain {
    /// The string that was parsed.
    pub value: String,
}

struct Violations<'a>(&'a [Violation]);

impl fmt::Display for Violations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [single] => write!(f, "invalid scenario: {single}"),
            many => {
                write!(f, "invalid scenario ({} problems):", many.len())?;
                many.iter().try_for_each(|v| write!(f, "\n  - {v}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(path: &str) -> Violation {
        Violation {
            file: "k8s.json",
            json_path: path.to_owned(),
            message: "expected a node name".to_owned(),
        }
    }

    #[test]
    fn one_violation_reads_as_one_line() {
        let err = DatasetError::Invalid {
            violations: vec![violation("pods[0].node")],
        };
        assert_eq!(
            err.to_string(),
            "invalid scenario: k8s.json at pods[0].node: expected a node name"
        );
    }

    #[test]
    fn several_violations_are_listed() {
        let err = DatasetError::Invalid {
            violations: vec![violation("pods[0].node"), violation("pods[1].node")],
        };
        assert_eq!(
            err.to_string(),
            "invalid scenario (2 problems):\n  - k8s.json at pods[0].node: expected a node name\n  - k8s.json at pods[1].node: expected a node name"
        );
    }

    #[test]
    fn not_found_lists_what_exists() {
        let err = ToolError::not_found(
            "pod_name",
            "web-1",
            " in namespace \"staging\"".into(),
            "pods",
            ["a", "b"],
        );
        assert_eq!(
            err.to_string(),
            "pod_name \"web-1\" not found in namespace \"staging\"; existing pods: a, b"
        );
        let none = ToolError::not_found(
            "playbook_id",
            "X",
            String::new(),
            "playbooks",
            Vec::<String>::new(),
        );
        assert_eq!(
            none.to_string(),
            "playbook_id \"X\" not found; there are no playbooks"
        );
    }
}
