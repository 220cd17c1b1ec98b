//! The investigation report: its data and its Markdown rendering.

use std::{fmt::Write as _, time::Duration};

use chrono::{DateTime, Utc};
use sre_agents::{
    finding::{Assessment, Finding, FindingKind, RoutePlan},
    model::TokenUsage,
    protocol::{AgentError, AgentKind, AgentOutcome, AgentReport, InvestigationId},
};

/// One specialist's part of the report.
#[derive(Debug, Clone)]
pub struct AgentSection {
    pub kind: AgentKind,
    pub result: Result<AgentReport, AgentError>,
}

/// Everything an investigation produced.
#[derive(Debug, Clone)]
pub struct InvestigationReport {
    pub id: InvestigationId,
    pub question: String,
    pub user_id: String,
    pub session_id: String,
    /// Hex trace id of the investigation, when tracing is on.
    pub trace_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// `provider/model` that reasoned.
    pub provider: String,
    pub plan: RoutePlan,
    pub assessment: Assessment,
    pub agents: Vec<AgentSection>,
    /// True when some specialist failed or could not get all its data.
    pub partial: bool,
    /// Tokens of the supervisor's own model calls (routing and the assessment).
    pub supervisor_usage: TokenUsage,
}

impl InvestigationReport {
    /// The trace id in X-Ray form (`1-xxxxxxxx-...`).
    pub fn xray_trace_id(&self) -> Option<String> {
        sre_telemetry::convention::xray_trace_id(self.trace_id.as_deref()?)
    }

    /// Token usage over every model call of the investigation.
    pub fn usage(&self) -> TokenUsage {
        let mut total = self.supervisor_usage;
        for report in self.agents.iter().filter_map(|s| s.result.as_ref().ok()) {
            total += report.usage;
        }
        total
    }

    /// Lines of what could not be checked (failed agents and unavailable data).
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        for section in &self.agents {
            match &section.result {
                Ok(report) => gaps.extend(report.unavailable.iter().cloned()),
                Err(e) => gaps.push(e.to_string()),
            }
        }
        gaps
    }

    /// A file name for the report: `YYYYmmdd_HHMMSS_<question-slug>_<id>.md`.
    pub fn file_name(&self) -> String {
        let slug: String = self
            .question
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
            .split('_')
            .filter(|w| !w.is_empty())
            .take(8)
            .collect::<Vec<_>>()
            .join("_");
        format!(
            "{}_{}_{}.md",
            self.started_at.format("%Y%m%d_%H%M%S"),
            slug,
            self.id
        )
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let a = &self.assessment;
        let _ = writeln!(md, "# SRE Investigation Report\n");
        let _ = writeln!(md, "**Question:** {}\n", one_line(&self.question));
        let _ = writeln!(
            md,
            "**Investigation:** `{}` · **User:** {} · **Session:** {} · **Date:** {}\n",
            self.id,
            self.user_id,
            self.session_id,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if let (Some(hex), Some(xray)) = (&self.trace_id, self.xray_trace_id()) {
            let _ = writeln!(md, "**Trace ID:** `{hex}` (X-Ray `{xray}`)\n");
        }
        if self.partial {
            let _ = writeln!(
                md,
                "> **Partial investigation:** some data could not be checked (see below).\n"
            );
        }

        let _ = writeln!(md, "## Executive summary\n");
        let _ = writeln!(md, "- **Severity:** {}", a.severity.as_str().to_uppercase());
        let _ = writeln!(md, "- **Root cause:** {}", one_line(&a.root_cause));
        if !a.root_cause_entities.is_empty() {
            let _ = writeln!(
                md,
                "- **Root cause entities:** {}",
                code_list(&a.root_cause_entities)
            );
        }
        let impact = if a.impacted_services.is_empty() {
            "no other service impact found".to_owned()
        } else {
            code_list(&a.impacted_services)
        };
        let _ = writeln!(md, "- **Impacted services:** {impact}");
        let _ = writeln!(md, "- **Summary:** {}\n", one_line(&a.summary));
        if !a.next_steps.is_empty() {
            let _ = writeln!(md, "### Next steps\n");
            for (i, step) in a.next_steps.iter().enumerate() {
                let _ = writeln!(md, "{}. {}", i + 1, one_line(step));
            }
            md.push('\n');
        }

        let _ = writeln!(md, "## Key findings\n");
        for section in &self.agents {
            render_agent(&mut md, section);
        }

        let runbook_steps: Vec<&Finding> = self
            .agents
            .iter()
            .filter_map(|s| s.result.as_ref().ok())
            .flat_map(|r| r.findings.iter())
            .filter(|f| f.kind == FindingKind::RunbookMatch && !f.actions.is_empty())
            .collect();
        if !runbook_steps.is_empty() {
            let _ = writeln!(md, "## Runbook steps\n");
            for finding in runbook_steps {
                let _ = writeln!(md, "### {}\n", one_line(&finding.summary));
                for (i, step) in finding.actions.iter().enumerate() {
                    let _ = writeln!(md, "{}. {}", i + 1, one_line(step));
                }
                md.push('\n');
            }
        }

        let gaps = self.gaps();
        if !gaps.is_empty() {
            let _ = writeln!(md, "## What could not be checked\n");
            for gap in gaps {
                let _ = writeln!(md, "- {}", one_line(&gap));
            }
            md.push('\n');
        }

        let _ = writeln!(md, "## Investigation details\n");
        let _ = writeln!(
            md,
            "- **Routing:** {} — {}",
            self.plan
                .agents
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            one_line(&self.plan.reason)
        );
        let usage = self.usage();
        let _ = writeln!(
            md,
            "- **Model:** `{}` · {} input / {} output tokens",
            self.provider, usage.input_tokens, usage.output_tokens
        );
        let _ = writeln!(md, "- **Duration:** {}\n", human(self.duration));
        let _ = writeln!(md, "| Agent | Status | Duration | Tool calls | Findings |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for section in &self.agents {
            let (status, duration, calls, findings) = match &section.result {
                Ok(r) => (
                    match r.outcome {
                        AgentOutcome::Complete => "complete".to_owned(),
                        AgentOutcome::Partial => "partial".to_owned(),
                    },
                    human(r.duration),
                    r.tool_calls.len().to_string(),
                    r.findings.len().to_string(),
                ),
                Err(e) => (
                    format!("failed ({})", e.error_type()),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ),
            };
            let _ = writeln!(
                md,
                "| {} | {status} | {duration} | {calls} | {findings} |",
                section.kind.title()
            );
        }
        md
    }
}

fn render_agent(md: &mut String, section: &AgentSection) {
    let _ = writeln!(md, "### {} agent\n", section.kind.title());
    let report = match &section.result {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(md, "_No report: {e}_\n");
            return;
        }
    };
    if !report.summary.trim().is_empty() {
        let _ = writeln!(md, "{}\n", one_line(&report.summary));
    }
    let mut problems: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::RunbookMatch || f.actions.is_empty())
        .collect();
    problems.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if problems.is_empty() && report.findings.is_empty() {
        let _ = writeln!(md, "- No findings.\n");
        return;
    }
    for finding in problems {
        let _ = writeln!(
            md,
            "- **[{}]** {}",
            finding.severity,
            one_line(&finding.summary)
        );
        for evidence in &finding.evidence {
            let _ = writeln!(
                md,
                "  - _Evidence_ (`{}`): {}",
                evidence.tool,
                one_line(&evidence.detail)
            );
        }
    }
    md.push('\n');
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `1.23 s` or `450 ms`.
pub fn human(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
