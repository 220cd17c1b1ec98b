//! [`Domain`]: the four tool domains, with their service names, default ports, tool names and the tool
//! catalog each backend serves.

use std::fmt;
use std::str::FromStr;

use rmcp::model::Tool;

use crate::error::UnknownDomain;
use crate::server::{K8sServer, LogsServer, MetricsServer, RunbooksServer};

/// Tool names, one constant per MCP tool.
pub mod tool {
    /// k8s: pods with status, restarts, containers and usage.
    pub const GET_POD_STATUS: &str = "get_pod_status";
    /// k8s: deployments with replica counts, conditions and rollout history.
    pub const GET_DEPLOYMENT_STATUS: &str = "get_deployment_status";
    /// k8s: cluster events, newest first.
    pub const GET_CLUSTER_EVENTS: &str = "get_cluster_events";
    /// k8s: per-pod CPU and memory usage against limits.
    pub const GET_RESOURCE_USAGE: &str = "get_resource_usage";
    /// k8s: node conditions, capacity and usage.
    pub const GET_NODE_STATUS: &str = "get_node_status";

    /// logs: regular-expression search.
    pub const SEARCH_LOGS: &str = "search_logs";
    /// logs: ERROR and FATAL entries.
    pub const GET_ERROR_LOGS: &str = "get_error_logs";
    /// logs: WARN and above grouped by message template.
    pub const ANALYZE_LOG_PATTERNS: &str = "analyze_log_patterns";
    /// logs: the newest entries.
    pub const GET_RECENT_LOGS: &str = "get_recent_logs";
    /// logs: counts of a level or message substring, grouped.
    pub const COUNT_LOG_EVENTS: &str = "count_log_events";

    /// metrics: response time, throughput, CPU or memory series.
    pub const GET_PERFORMANCE_METRICS: &str = "get_performance_metrics";
    /// metrics: error-rate series with baseline and peak.
    pub const GET_ERROR_RATES: &str = "get_error_rates";
    /// metrics: CPU, memory, disk or network series.
    pub const GET_RESOURCE_METRICS: &str = "get_resource_metrics";
    /// metrics: availability against the SLO.
    pub const GET_AVAILABILITY_METRICS: &str = "get_availability_metrics";
    /// metrics: trend and anomaly detection on one metric.
    pub const ANALYZE_TRENDS: &str = "analyze_trends";

    /// runbooks: scored playbook search.
    pub const SEARCH_RUNBOOKS: &str = "search_runbooks";
    /// runbooks: one playbook by id.
    pub const GET_INCIDENT_PLAYBOOK: &str = "get_incident_playbook";
    /// runbooks: troubleshooting guides by category or issue type.
    pub const GET_TROUBLESHOOTING_GUIDE: &str = "get_troubleshooting_guide";
    /// runbooks: escalation procedures by severity and incident type.
    pub const GET_ESCALATION_PROCEDURES: &str = "get_escalation_procedures";
    /// runbooks: scored known resolutions.
    pub const GET_COMMON_RESOLUTIONS: &str = "get_common_resolutions";
}

/// One of the four tool domains; each is served by its own MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// Kubernetes cluster state.
    K8s,
    /// Application logs.
    Logs,
    /// Service metrics.
    Metrics,
    /// Operational runbooks.
    Runbooks,
}

impl Domain {
    /// Every domain, in port order.
    pub const ALL: [Domain; 4] = [Domain::K8s, Domain::Logs, Domain::Metrics, Domain::Runbooks];

    /// The short name: `k8s`, `logs`, `metrics`, `runbooks`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Domain::K8s => "k8s",
            Domain::Logs => "logs",
            Domain::Metrics => "metrics",
            Domain::Runbooks => "runbooks",
        }
    }

    /// The service name of the backend (`k8s-backend`, ...), used as `aws.local.service` on its spans.
    pub const fn service_name(self) -> &'static str {
        match self {
            Domain::K8s => "k8s-backend",
            Domain::Logs => "logs-backend",
            Domain::Metrics => "metrics-backend",
            Domain::Runbooks => "runbooks-backend",
        }
    }

    /// The port the backend listens on when served standalone.
    pub const fn default_port(self) -> u16 {
        match self {
            Domain::K8s => 8011,
            Domain::Logs => 8012,
            Domain::Metrics => 8013,
            Domain::Runbooks => 8014,
        }
    }

    /// The five tools of the domain.
    pub const fn tool_names(self) -> &'static [&'static str] {
        match self {
            Domain::K8s => &[
                tool::GET_POD_STATUS,
                tool::GET_DEPLOYMENT_STATUS,
                tool::GET_CLUSTER_EVENTS,
                tool::GET_RESOURCE_USAGE,
                tool::GET_NODE_STATUS,
            ],
            Domain::Logs => &[
                tool::SEARCH_LOGS,
                tool::GET_ERROR_LOGS,
                tool::ANALYZE_LOG_PATTERNS,
                tool::GET_RECENT_LOGS,
                tool::COUNT_LOG_EVENTS,
            ],
            Domain::Metrics => &[
                tool::GET_PERFORMANCE_METRICS,
                tool::GET_ERROR_RATES,
                tool::GET_RESOURCE_METRICS,
                tool::GET_AVAILABILITY_METRICS,
                tool::ANALYZE_TRENDS,
            ],
            Domain::Runbooks => &[
                tool::SEARCH_RUNBOOKS,
                tool::GET_INCIDENT_PLAYBOOK,
                tool::GET_TROUBLESHOOTING_GUIDE,
                tool::GET_ESCALATION_PROCEDURES,
                tool::GET_COMMON_RESOLUTIONS,
            ],
        }
    }

    /// The domain that owns `tool_name`, if any.
    pub fn of_tool(tool_name: &str) -> Option<Domain> {
        Self::ALL
            .into_iter()
            .find(|domain| domain.tool_names().contains(&tool_name))
    }
}

/// The tools the backend of `domain` serves, exactly as its `tools/list` answers (names, descriptions, input
/// schemas and annotations), without a dataset or a running server. Clients use it to know a backend's tools
/// when the backend cannot be asked.
pub fn tool_catalog(domain: Domain) -> Vec<Tool> {
    match domain {
        Domain::K8s => K8sServer::tool_router().list_all(),
        Domain::Logs => LogsServer::tool_router().list_all(),
        Domain::Metrics => MetricsServer::tool_router().list_all(),
        Domain::Runbooks => RunbooksServer::tool_router().list_all(),
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Domain {
    type Err = UnknownDomain;

    /// Parses the short name (`k8s`, `logs`, `metrics`, `runbooks`, case-insensitive); `kubernetes` is
    /// accepted for `k8s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "kubernetes" {
            return Ok(Domain::K8s);
        }
        Self::ALL
            .into_iter()
            .find(|domain| domain.as_str() == lower)
            .ok_or_else(|| UnknownDomain {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_services_line_up() {
        let rows: Vec<_> = Domain::ALL
            .iter()
            .map(|d| (d.as_str(), d.service_name(), d.default_port()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("k8s", "k8s-backend", 8011),
                ("logs", "logs-backend", 8012),
                ("metrics", "metrics-backend", 8013),
                ("runbooks", "runbooks-backend", 8014),
            ]
        );
    }

    #[test]
    fn parses_short_names_case_insensitively() {
        for domain in Domain::ALL {
            assert_eq!(
                domain.as_str().to_uppercase().parse::<Domain>().unwrap(),
                domain
            );
        }
        assert_eq!("kubernetes".parse::<Domain>().unwrap(), Domain::K8s);
    }

    #[test]
    fn unknown_domain_lists_the_accepted_names() {
        let err = "traces".parse::<Domain>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown backend domain `traces`; expected one of k8s, logs, metrics, runbooks"
        );
    }

    #[test]
    fn every_domain_has_five_distinct_tools() {
        let mut all: Vec<&str> = Domain::ALL
            .iter()
            .flat_map(|d| d.tool_names().iter().copied())
            .collect();
        assert_eq!(all.len(), 20);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 20);
        assert_eq!(Domain::of_tool("analyze_trends"), Some(Domain::Metrics));
        assert_eq!(Domain::of_tool("nope"), None);
    }

    #[test]
    fn every_catalog_lists_exactly_the_domain_tools_all_read_only() {
        for domain in Domain::ALL {
            let catalog = tool_catalog(domain);
            let mut listed: Vec<&str> = catalog.iter().map(|t| t.name.as_ref()).collect();
            listed.sort_unstable();
            let mut expected = domain.tool_names().to_vec();
            expected.sort_unstable();
            assert_eq!(listed, expected, "{domain}");
            for tool in &catalog {
                assert_eq!(
                    tool.annotations.as_ref().and_then(|a| a.read_only_hint),
                    Some(true),
                    "{domain}: {} is not marked read-only",
                    tool.name
                );
                assert!(
                    tool.description.as_deref().is_some_and(|d| !d.is_empty()),
                    "{domain}: {} has no description",
                    tool.name
                );
                assert_eq!(
                    tool.input_schema.get("type").and_then(|t| t.as_str()),
                    Some("object"),
                    "{domain}: {} input schema",
                    tool.name
                );
            }
        }
    }
}
