//! The runbooks backend: playbook search and retrieval, troubleshooting guides, escalation procedures and common
//! resolutions of the scenario.

use std::cmp::Reverse;
use std::sync::Arc;

use super::parameters::Parameters;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::{ErrorData, schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::search::Query;
use super::{ToolResult, respond, to_json};
use crate::dataset::Dataset;
use crate::dataset::runbooks::{
    CommonResolution, EscalationProcedure, Playbook, Severity, TroubleshootingGuide,
};
use crate::domain::Domain;
use crate::error::ToolError;

/// The MCP server of the runbooks domain.
#[derive(Debug, Clone)]
pub struct RunbooksServer {
    dataset: Arc<Dataset>,
    tool_router: ToolRouter<Self>,
}

/// Parameters of `search_runbooks`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRunbooksParams {
    /// Incident category, e.g. "database", "performance", "memory", "infrastructure" (case-insensitive).
    pub incident_type: Option<String>,
    /// One or more words matched against title, keywords and symptoms, e.g. "crashloop configmap".
    pub keyword: Option<String>,
    /// Keep playbooks of this severity: "low", "medium", "high" or "critical".
    pub severity: Option<String>,
}

/// Parameters of `get_incident_playbook`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookParams {
    /// Playbook id as listed by search_runbooks, e.g. "PB-DB-CRASHLOOP" (case-insensitive).
    pub playbook_id: String,
}

/// Parameters of `get_troubleshooting_guide`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuideParams {
    /// Guide category, e.g. "kubernetes", "database", "performance" (case-insensitive).
    pub category: Option<String>,
    /// Issue type such as "crashloop" or "connectivity", or words of the guide title.
    pub issue_type: Option<String>,
}

/// Parameters of `get_escalation_procedures`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationParams {
    /// "low", "medium", "high" or "critical"; every severity when omitted.
    pub severity: Option<String>,
    /// Incident type, e.g. "database"; procedures for every type ("*") also match.
    pub incident_type: Option<String>,
}

/// Parameters of `get_common_resolutions`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionsParams {
    /// The issue in a few words, e.g. "connection pool exhausted".
    pub issue: String,
    /// Keep resolutions for this service (or for any service).
    pub service: Option<String>,
}

#[tool_router(vis = "pub(crate)")]
impl RunbooksServer {
    #[tool(
        description = "Find incident playbooks by incident type, severity and/or keywords. Keyword words are matched \
                       against title, keywords and symptoms; results are scored, best first, with their symptoms.",
        annotations(read_only_hint = true)
    )]
    async fn search_runbooks(
        &self,
        Parameters(params): Parameters<SearchRunbooksParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(search_runbooks(&self.dataset, &params)))
    }

    #[tool(
        description = "The full playbook for an id from search_runbooks: symptoms, ordered steps with commands and \
                       expected results, and escalation.",
        annotations(read_only_hint = true)
    )]
    async fn get_incident_playbook(
        &self,
        Parameters(params): Parameters<PlaybookParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(incident_playbook(&self.dataset, &params)))
    }

    #[tool(
        description = "Troubleshooting guides (symptoms, diagnostic steps, solutions) by category and/or issue type.",
        annotations(read_only_hint = true)
    )]
    async fn get_troubleshooting_guide(
        &self,
        Parameters(params): Parameters<GuideParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(troubleshooting_guide(&self.dataset, &params)))
    }

    #[tool(
        description = "Escalation procedures (response time, contacts and channels per level) by severity and \
                       incident type.",
        annotations(read_only_hint = true)
    )]
    async fn get_escalation_procedures(
        &self,
        Parameters(params): Parameters<EscalationParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(escalation_procedures(&self.dataset, &params)))
    }

    #[tool(
        description = "Known resolutions of recurring issues matching an issue description, optionally for one \
                       service; scored, best first, with steps.",
        annotations(read_only_hint = true)
    )]
    async fn get_common_resolutions(
        &self,
        Parameters(params): Parameters<ResolutionsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(respond(common_resolutions(&self.dataset, &params)))
    }
}

impl RunbooksServer {
    /// A server answering from `dataset`.
    pub fn new(dataset: Arc<Dataset>) -> Self {
        Self {
            dataset,
            tool_router: Self::tool_router(),
        }
    }
}

super::backend_handler!(
    RunbooksServer,
    Domain::Runbooks,
    "operational runbooks (incident playbooks, troubleshooting guides, escalation procedures, known fixes)."
);

/// `search_runbooks`: playbooks matching the filters, scored by keyword, best first.
pub fn search_runbooks(ds: &Dataset, params: &SearchRunbooksParams) -> ToolResult {
    let incident_type = present(params.incident_type.as_deref());
    let severity = severity_param(params.severity.as_deref())?;
    let query = params.keyword.as_deref().and_then(Query::parse);
    let mut found: Vec<RunbookHit<'_>> = ds
        .runbooks()
        .playbooks
        .iter()
        .filter(|p| incident_type.is_none_or(|t| p.incident_type.eq_ignore_ascii_case(t)))
        .filter(|p| severity.is_none_or(|s| p.severity == s))
        .filter_map(|p| {
            let score = query.as_ref().map_or(0, |q| q.score(playbook_fields(p)));
            (query.is_none() || score > 0).then_some(RunbookHit::new(p, score))
        })
        .collect();
    found.sort_by_key(|hit| (Reverse(hit.score), Reverse(hit.severity), hit.id));
    to_json(&SearchRunbooksAnswer { runbooks: found })
}

/// `get_incident_playbook`: one playbook as stored.
pub fn incident_playbook(ds: &Dataset, params: &PlaybookParams) -> ToolResult {
    let id = params.playbook_id.trim();
    let playbooks = &ds.runbooks().playbooks;
    playbooks
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id))
        .map_or_else(
            || {
                let existing = playbooks.iter().map(|p| p.id.as_str());
                Err(ToolError::not_found(
                    "playbook_id",
                    id,
                    String::new(),
                    "playbooks",
                    existing,
                ))
            },
            to_json,
        )
}

/// `get_troubleshooting_guide`: guides of a category and/or issue type, as stored.
pub fn troubleshooting_guide(ds: &Dataset, params: &GuideParams) -> ToolResult {
    let category = present(params.category.as_deref());
    let issue = present(params.issue_type.as_deref());
    let issue_words = issue.and_then(Query::parse);
    let guides: Vec<&TroubleshootingGuide> = ds
        .runbooks()
        .troubleshooting_guides
        .iter()
        .filter(|g| category.is_none_or(|c| g.category.eq_ignore_ascii_case(c)))
        .filter(|g| match issue {
            None => true,
            Some(issue) => {
                g.issue_type.eq_ignore_ascii_case(issue)
                    || issue_words
                        .as_ref()
                        .is_some_and(|q| q.all_in([g.title.as_str()]))
            }
        })
        .collect();
    to_json(&GuidesAnswer { guides })
}

/// `get_escalation_procedures`: procedures of a severity and incident type (`*` matches every type), specific
/// ones first.
pub fn escalation_procedures(ds: &Dataset, params: &EscalationParams) -> ToolResult {
    let severity = severity_param(params.severity.as_deref())?;
    let incident_type = present(params.incident_type.as_deref());
    let mut procedures: Vec<&EscalationProcedure> = ds
        .runbooks()
        .escalation_procedures
        .iter()
        .filter(|p| severity.is_none_or(|s| p.severity == s))
        .filter(|p| {
            incident_type.is_none_or(|t| {
                p.incident_type == EscalationProcedure::ANY_INCIDENT_TYPE
                    || p.incident_type.eq_ignore_ascii_case(t)
            })
        })
        .collect();
    procedures.sort_by_key(|p| p.incident_type == EscalationProcedure::ANY_INCIDENT_TYPE);
    to_json(&EscalationAnswer { procedures })
}

/// `get_common_resolutions`: resolutions scored against the issue, best first.
pub fn common_resolutions(ds: &Dataset, params: &ResolutionsParams) -> ToolResult {
    let query = Query::parse(&params.issue).ok_or_else(|| {
        ToolError::invalid(
            "issue",
            &params.issue,
            "a few words describing the issue, e.g. \"connection pool exhausted\"",
        )
    })?;
    let service = present(params.service.as_deref());
    let mut resolutions: Vec<ResolutionOut<'_>> = ds
        .runbooks()
        .common_resolutions
        .iter()
        .filter(|r| {
            service.is_none_or(|s| r.services.is_empty() || r.services.iter().any(|rs| rs == s))
        })
        .filter_map(|r| {
            let score = query.score(resolution_fields(r));
            (score > 0).then_some(ResolutionOut::new(r, score))
        })
        .collect();
    resolutions.sort_by_key(|r| Reverse(r.score));
    to_json(&ResolutionsAnswer {
        issue: &params.issue,
        resolutions,
    })
}

#[derive(Serialize)]
struct SearchRunbooksAnswer<'a> {
    runbooks: Vec<RunbookHit<'a>>,
}

#[derive(Serialize)]
struct RunbookHit<'a> {
    id: &'a str,
    title: &'a str,
    incident_type: &'a str,
    severity: Severity,
    score: u32,
    symptoms: &'a [String],
}

impl<'a> RunbookHit<'a> {
    fn new(p: &'a Playbook, score: u32) -> Self {
        Self {
            id: &p.id,
            title: &p.title,
            incident_type: &p.incident_type,
            severity: p.severity,
            score,
            symptoms: &p.symptoms,
        }
    }
}

#[derive(Serialize)]
struct GuidesAnswer<'a> {
    guides: Vec<&'a TroubleshootingGuide>,
}

#[derive(Serialize)]
struct EscalationAnswer<'a> {
    procedures: Vec<&'a EscalationProcedure>,
}

#[derive(Serialize)]
struct ResolutionsAnswer<'a> {
    issue: &'a str,
    resolutions: Vec<ResolutionOut<'a>>,
}

#[derive(Serialize)]
struct ResolutionOut<'a> {
    issue: &'a str,
    services: &'a [String],
    resolution: &'a str,
    steps: &'a [String],
    score: u32,
}

impl<'a> ResolutionOut<'a> {
    fn new(r: &'a CommonResolution, score: u32) -> Self {
        Self {
            issue: &r.issue,
            services: &r.services,
            resolution: &r.resolution,
            steps: &r.steps,
            score,
        }
    }
}

fn playbook_fields(p: &Playbook) -> impl Iterator<Item = &str> {
    std::iter::once(p.title.as_str())
        .chain(p.keywords.iter().map(String::as_str))
        .chain(p.symptoms.iter().map(String::as_str))
}

fn resolution_fields(r: &CommonResolution) -> impl Iterator<Item = &str> {
    [r.issue.as_str(), r.resolution.as_str()]
        .into_iter()
        .chain(r.keywords.iter().map(String::as_str))
}

fn severity_param(value: Option<&str>) -> Result<Option<Severity>, ToolError> {
    match present(value) {
        None => Ok(None),
        Some(text) => Severity::parse(text).map(Some).ok_or_else(|| {
            ToolError::invalid("severity", text, "one of low, medium, high, critical")
        }),
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::dataset;
    use serde_json::{Value, json};

    fn ids(answer: &Value, list: &str, field: &str) -> Vec<String> {
        answer[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[field].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn search_scores_keywords_best_first() {
        let ds = dataset();
        let params = SearchRunbooksParams {
            keyword: Some("database pod crashing postgres".into()),
            ..SearchRunbooksParams::default()
        };
        let answer = search_runbooks(&ds, &params).unwrap();
        assert_eq!(
            answer["runbooks"][0],
            json!({"id": "PB-DB-CRASHLOOP", "title": "Database pod in CrashLoopBackOff", "incident_type": "database",
                   "severity": "critical", "score": 4,
                   "symptoms": ["Database pod restarting repeatedly", "Applications report connection refused"]})
        );
        assert_eq!(
            ids(&answer, "runbooks", "id"),
            ["PB-DB-CRASHLOOP", "PB-NODE-PRESSURE"],
            "\"pods evicted\" scores 1"
        );
        assert_eq!(answer["runbooks"][1]["score"], 1);
        let memory = SearchRunbooksParams {
            keyword: Some("memory pods".into()),
            ..SearchRunbooksParams::default()
        };
        assert_eq!(
            ids(&search_runbooks(&ds, &memory).unwrap(), "runbooks", "id"),
            ["PB-NODE-PRESSURE", "PB-DB-CRASHLOOP"]
        );
    }

    #[test]
    fn search_without_keyword_lists_by_filters() {
        let ds = dataset();
        let all = search_runbooks(&ds, &SearchRunbooksParams::default()).unwrap();
        assert_eq!(
            ids(&all, "runbooks", "id"),
            ["PB-DB-CRASHLOOP", "PB-HIGH-LATENCY", "PB-NODE-PRESSURE"]
        );
        let high = SearchRunbooksParams {
            severity: Some("HIGH".into()),
            ..SearchRunbooksParams::default()
        };
        assert_eq!(
            ids(&search_runbooks(&ds, &high).unwrap(), "runbooks", "id"),
            ["PB-HIGH-LATENCY"]
        );
        let infra = SearchRunbooksParams {
            incident_type: Some("Infrastructure".into()),
            ..SearchRunbooksParams::default()
        };
        assert_eq!(
            ids(&search_runbooks(&ds, &infra).unwrap(), "runbooks", "id"),
            ["PB-NODE-PRESSURE"]
        );
        let bad = SearchRunbooksParams {
            severity: Some("urgent".into()),
            ..SearchRunbooksParams::default()
        };
        assert_eq!(
            search_runbooks(&ds, &bad).unwrap_err().to_string(),
            "invalid severity \"urgent\": expected one of low, medium, high, critical"
        );
    }

    #[test]
    fn playbook_is_returned_as_stored() {
        let ds = dataset();
        let params = PlaybookParams {
            playbook_id: "pb-db-crashloop".into(),
        };
        let answer = incident_playbook(&ds, &params).unwrap();
        assert_eq!(answer["id"], "PB-DB-CRASHLOOP");
        assert_eq!(
            answer["steps"],
            json!([{"title": "Inspect the failing pod", "commands": ["kubectl describe pod <pod> -n <namespace>"],
                    "expected": "Events show the reason for the restarts"}])
        );
        assert_eq!(answer["escalation"], "Page the database on-call");

        let unknown = PlaybookParams {
            playbook_id: "PB-NOPE".into(),
        };
        assert_eq!(
            incident_playbook(&ds, &unknown).unwrap_err().to_string(),
            "playbook_id \"PB-NOPE\" not found; existing playbooks: PB-DB-CRASHLOOP, PB-HIGH-LATENCY, PB-NODE-PRESSURE"
        );
    }

    #[test]
    fn guides_match_category_issue_type_or_title_words() {
        let ds = dataset();
        let guide_ids = |category: Option<&str>, issue: Option<&str>| {
            let params = GuideParams {
                category: category.map(Into::into),
                issue_type: issue.map(Into::into),
            };
            ids(
                &troubleshooting_guide(&ds, &params).unwrap(),
                "guides",
                "id",
            )
        };
        assert_eq!(
            guide_ids(None, None),
            ["TG-K8S-CRASHLOOP", "TG-DB-CONNECTIVITY"]
        );
        assert_eq!(guide_ids(Some("Database"), None), ["TG-DB-CONNECTIVITY"]);
        assert_eq!(guide_ids(None, Some("crashloop")), ["TG-K8S-CRASHLOOP"]);
        assert_eq!(
            guide_ids(None, Some("connection failures")),
            ["TG-DB-CONNECTIVITY"]
        );
        assert!(guide_ids(Some("kubernetes"), Some("connectivity")).is_empty());
    }

    #[test]
    fn escalation_includes_wildcards_after_specific_procedures() {
        let ds = dataset();
        let params = EscalationParams {
            severity: Some("critical".into()),
            incident_type: Some("database".into()),
        };
        let answer = escalation_procedures(&ds, &params).unwrap();
        assert_eq!(
            ids(&answer, "procedures", "incident_type"),
            ["database", "*"]
        );
        assert_eq!(answer["procedures"][0]["response_time"], "15m");
        assert_eq!(answer["procedures"][0]["levels"][0]["after"], "0m");

        let network = EscalationParams {
            severity: None,
            incident_type: Some("network".into()),
        };
        assert_eq!(
            ids(
                &escalation_procedures(&ds, &network).unwrap(),
                "procedures",
                "severity"
            ),
            ["critical", "high"]
        );
    }

    #[test]
    fn resolutions_are_scored_and_filtered_by_service() {
        let ds = dataset();
        let resolutions = |issue: &str, service: Option<&str>| {
            let params = ResolutionsParams {
                issue: issue.into(),
                service: service.map(Into::into),
            };
            common_resolutions(&ds, &params)
        };
        let answer = resolutions("connection pool exhausted timeout", None).unwrap();
        assert_eq!(answer["issue"], "connection pool exhausted timeout");
        assert_eq!(
            answer["resolutions"][0]["issue"],
            "Database connection pool exhausted"
        );
        assert_eq!(answer["resolutions"][0]["score"], 4);
        assert_eq!(
            ids(
                &resolutions("heap memory upstream 503", Some("api")).unwrap(),
                "resolutions",
                "issue"
            ),
            [
                "Java heap exhausted (OutOfMemoryError)",
                "503 from upstream"
            ]
        );
        assert_eq!(
            ids(
                &resolutions("upstream 503", Some("web")).unwrap(),
                "resolutions",
                "issue"
            ),
            Vec::<String>::new()
        );
        assert!(
            resolutions("the", None)
                .unwrap_err()
                .to_string()
                .starts_with("invalid issue \"the\"")
        );
    }
}
