//! The investigation report: its data and its Markdown rendering.

use std::{fmt::Write as _, time::Duration};

use crate::personalization::Personalization;
use chrono::{DateTime, Utc};
use sre_agents::{
    finding::{Assessment, Finding, FindingKind, RoutePlan},
    model::{TokenUsage, budget::TokenBudget},
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
    /// The investigation's token budget: its limit and every token charged to it, including the calls of
    /// specialists that failed.
    pub budget: TokenBudget,
    /// The reader's preferences, the escalation, and what memory recalled.
    pub personalization: Personalization,
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

    /// The report as Markdown, shaped for its reader: a business-impact brief for executive readers, the
    /// technical report with evidence and troubleshooting steps for everyone else. Both rest on the same
    /// findings.
    pub fn to_markdown(&self) -> String {
        if self.personalization.is_executive() {
            self.executive_brief()
        } else {
            self.technical_report()
        }
    }

    /// The executive brief: severity, business impact, what happened, what happens next, escalation.
    fn executive_brief(&self) -> String {
        let mut md = String::new();
        let a = &self.assessment;
        let p = &self.personalization;
        let local = self.started_at.with_timezone(&p.preferences.timezone);
        let _ = writeln!(md, "# Incident brief\n");
        let _ = writeln!(md, "**Question:** {}\n", one_line(&self.question));
        let _ = writeln!(
            md,
            "**For:** {} · **Date:** {} · **Investigation:** `{}`\n",
            self.user_id,
            local.format("%Y-%m-%d %H:%M %Z"),
            self.id
        );
        if let Some(note) = &p.note {
            let _ = writeln!(md, "> {}\n", one_line(note));
        }
        let _ = writeln!(md, "## Business impact\n");
        let _ = writeln!(md, "- **Severity:** {}", a.severity.as_str().to_uppercase());
        if a.impacted_services.is_empty() {
            let _ = writeln!(
                md,
                "- **Services affected:** none beyond the failing component"
            );
        } else {
            let _ = writeln!(
                md,
                "- **Services affected:** {}",
                a.impacted_services.join(", ")
            );
            for effect in self.effects_on_impacted() {
                let _ = writeln!(md, "  - {effect}");
            }
        }
        if self.partial {
            let _ = writeln!(
                md,
                "- **Confidence:** partial — some systems could not be checked"
            );
        }
        let _ = writeln!(md, "\n## What happened\n");
        let _ = writeln!(md, "{}\n", one_line(first_sentence(&a.root_cause)));
        let _ = writeln!(md, "{}\n", one_line(&a.summary));
        if !a.next_steps.is_empty() {
            let _ = writeln!(md, "## What happens next\n");
            for (i, step) in a.next_steps.iter().take(3).enumerate() {
                let _ = writeln!(md, "{}. {}", i + 1, one_line(step));
            }
            md.push('\n');
        }
        self.render_escalation(&mut md);
        let _ = writeln!(md, "---");
        if let Some(hex) = &self.trace_id {
            let _ = writeln!(
                md,
                "_Technical details: trace `{hex}`, {} findings from {} specialists._\n",
                self.finding_count(),
                self.agents.len()
            );
        }
        let _ = writeln!(md, "{}", self.footer());
        md
    }

    /// The last line of both reports: the model, the tokens of the whole investigation (supervisor and every
    /// specialist) and their estimated cost.
    pub fn footer(&self) -> String {
        let usage = self.usage();
        let budget = self
            .budget
            .limit()
            .map(|limit| format!(" of a {}-token budget", thousands(limit)))
            .unwrap_or_default();
        let cost = match usage.cost.known() {
            Some(usd) => format!("**Estimated cost:** {}", dollars(usd)),
            None => format!(
                "**Estimated cost:** cost unknown ({} of the model calls have no price in the price table; \
                 SRE_PRICING_FILE adds one)",
                usage.cost.unpriced_calls
            ),
        };
        format!(
            "**Model:** `{}` · **Tokens:** {}{budget} ({} input · {} output · {} cache read · {} cache write) · {cost}",
            self.provider,
            thousands(usage.total()),
            thousands(usage.input_tokens),
            thousands(usage.output_tokens),
            thousands(usage.cache_read_tokens),
            thousands(usage.cache_write_tokens),
        )
    }

    fn finding_count(&self) -> usize {
        self.agents
            .iter()
            .filter_map(|s| s.result.as_ref().ok())
            .map(|r| r.findings.len())
            .sum()
    }

    /// The clearest measured effect on each impacted service, one clause each.
    fn effects_on_impacted(&self) -> Vec<String> {
        let findings: Vec<&Finding> = self
            .agents
            .iter()
            .filter_map(|s| s.result.as_ref().ok())
            .flat_map(|r| r.findings.iter())
            .collect();
        self.assessment
            .impacted_services
            .iter()
            .filter_map(|service| {
                findings
                    .iter()
                    .filter(|f| &f.subject.name == service && f.kind.is_problem())
                    .max_by_key(|f| (f.severity, is_measured(f.kind)))
                    .map(|f| first_clause(&f.summary))
            })
            .collect()
    }

    fn render_escalation(&self, md: &mut String) {
        let e = &self.personalization.escalation;
        let zone = self.personalization.preferences.timezone;
        let at = e
            .escalate_at
            .map(|t| t.with_timezone(&zone).format("%H:%M %Z").to_string());
        let _ = writeln!(md, "## Escalation\n");
        if e.escalate {
            let _ = writeln!(
                md,
                "- **Escalated** to {}{} — {}.",
                e.contacts.join(", "),
                at.map(|at| format!(", to be engaged by {at}"))
                    .unwrap_or_default(),
                e.reason
            );
        } else if !e.contacts.is_empty() {
            let _ = writeln!(
                md,
                "- **Scheduled:** if still unresolved{}, escalate to {}.",
                at.map(|at| format!(" at {at}")).unwrap_or_default(),
                e.contacts.join(", ")
            );
        } else {
            let _ = writeln!(md, "- Not escalated: {}.", e.reason);
        }
        if !e.channels.is_empty() {
            let _ = writeln!(md, "- **Notify:** {}", e.channels.join(", "));
        }
        md.push('\n');
    }

    /// The technical report: every finding with its evidence, runbook and troubleshooting steps, gaps, memory
    /// and timings.
    fn technical_report(&self) -> String {
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
        if let Some(note) = &self.personalization.note {
            let _ = writeln!(md, "> {}\n", one_line(note));
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

        self.render_escalation(&mut md);

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

        if !self.personalization.recalled.is_empty() {
            let _ = writeln!(md, "## Memory\n");
            for line in &self.personalization.recalled {
                let _ = writeln!(md, "- {}", one_line(line));
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
        let _ = writeln!(md, "\n---\n{}", self.footer());
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

/// Measured effects (metrics) rank above log volume when choosing what to show an executive.
fn is_measured(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::ErrorRateAnomaly
            | FindingKind::AvailabilityDrop
            | FindingKind::LatencyAnomaly
            | FindingKind::ResourceSaturation
            | FindingKind::TrafficAnomaly
    )
}

/// Text up to the end of its first sentence.
fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// Text up to the first `;` or sentence end, without the final period.
fn first_clause(text: &str) -> String {
    let end = [text.find("; "), text.find(". ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(text.len());
    text[..end].trim().trim_end_matches('.').to_owned()
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` on one line: runs of whitespace (newlines copied from a log line included) become one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$0.0123`; amounts too small to show at four decimals say so instead of `$0.0000`.
fn dollars(usd: f64) -> String {
    if usd == 0.0 {
        "$0.00".to_owned()
    } else if usd < 0.0001 {
        "< $0.0001".to_owned()
    } else if usd < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// `1.23 s` or `450 ms`.
pub fn human(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{:.2} s", duration.as_secs_f64())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use sre_agents::model::Cost;

    use super::*;

    fn report(usage: TokenUsage, budget: TokenBudget) -> InvestigationReport {
        InvestigationReport {
            id: InvestigationId::new(),
            question: "Why are the database pods crash looping?".into(),
            user_id: "alice".into(),
            session_id: "s-1".into(),
            trace_id: Some("0123456789abcdef0123456789abcdef".into()),
            started_at: Utc::now(),
            duration: Duration::from_millis(1500),
            provider: "aws.bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0".into(),
            plan: RoutePlan {
                agents: Vec::new(),
                reason: "test".into(),
            },
            assessment: Assessment {
                root_cause: "ConfigMap database-config is missing.".into(),
                root_cause_entities: Vec::new(),
                impacted_services: Vec::new(),
                severity: sre_agents::finding::Severity::High,
                summary: "The database is down.".into(),
                next_steps: Vec::new(),
                confidence: 0.5,
            },
            agents: Vec::new(),
            partial: false,
            supervisor_usage: usage,
            budget,
            personalization: Personalization::decide(
                None,
                sre_agents::finding::Severity::High,
                Utc::now(),
            ),
        }
    }

    #[test]
    fn both_reports_end_with_model_tokens_and_cost() {
        let usage = TokenUsage {
            input_tokens: 12_000,
            output_tokens: 1_500,
            cache_read_tokens: 300,
            cache_write_tokens: 45,
            cost: Cost::usd(0.019_56),
        };
        let report = report(usage, TokenBudget::new(200_000));
        let expected = "**Model:** `aws.bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0` · **Tokens:** 13,845 \
                        of a 200,000-token budget (12,000 input · 1,500 output · 300 cache read · 45 cache write) · \
                        **Estimated cost:** $0.0196";
        assert_eq!(report.footer(), expected);
        let technical = report.technical_report();
        let executive = report.executive_brief();
        for md in [&technical, &executive] {
            assert_eq!(md.trim_end().lines().last(), Some(expected), "{md}");
        }
    }

    #[test]
    fn unpriced_calls_make_the_cost_unknown_not_zero() {
        let mut usage = TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            ..TokenUsage::default()
        };
        usage.cost += Cost::usd(0.5);
        usage.cost += Cost::unknown();
        let footer = report(usage, TokenBudget::unlimited()).footer();
        assert!(footer.contains("**Tokens:** 15 (10 input"), "{footer}");
        assert!(
            footer.ends_with(
                "**Estimated cost:** cost unknown (1 of the model calls have no price in the price table; \
                 SRE_PRICING_FILE adds one)"
            ),
            "{footer}"
        );
        assert!(!footer.contains("$0.50"));
    }

    #[test]
    fn numbers_are_grouped_and_small_costs_stay_visible() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(0.000_01), "< $0.0001");
        assert_eq!(dollars(0.012_34), "$0.0123");
        assert_eq!(dollars(12.5), "$12.50");
    }
}
