//! Aggregation: the summary model concludes over every specialist's findings. Its conclusion is held to the
//! findings — entity names it invents are dropped — and a failed summary, or one the investigation's token
//! budget no longer covers, falls back to what the findings alone support.

use std::collections::BTreeSet;

use sre_agents::{
    finding::{AgentResult, Assessment, FindingKind, Severity, SummaryInput},
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, TokenUsage, budget::TokenBudget,
        parse_json_answer, traced_chat,
    },
    prompt,
    protocol::AgentOutcome,
};

use crate::report::AgentSection;

/// The assessment of an investigation, and the tokens the summary used. When `budget` is used up the model
/// is not called.
pub async fn assess(
    model: &dyn ChatModel,
    question: &str,
    sections: &[AgentSection],
    budget: &TokenBudget,
) -> (Assessment, TokenUsage) {
    if budget.is_exhausted() {
        let limit = budget.limit().unwrap_or_default();
        let used = budget.used();
        sre_telemetry::span::add_event(
            &tracing::Span::current(),
            "token_budget.exhausted",
            &[("limit", limit.to_string()), ("used", used.to_string())],
        );
        let problem = format!(
            "the investigation's token budget ({limit} tokens) was used up before the summary ({used} used)"
        );
        return (fallback(sections, &problem), TokenUsage::default());
    }
    let input = SummaryInput {
        question: question.to_owned(),
        reports: sections.iter().map(agent_result).collect(),
    };
    let payload = match serde_json::to_string(&input) {
        Ok(payload) => payload,
        Err(e) => {
            let problem = format!("the findings could not be serialised: {e}");
            return (fallback(sections, &problem), TokenUsage::default());
        }
    };
    let request = ChatRequest {
        purpose: ChatPurpose::Summarize,
        messages: vec![
            ChatMessage::System {
                text: prompt::summary(),
            },
            ChatMessage::User { text: payload },
        ],
        tools: Vec::new(),
        max_output_tokens: 2048,
    };
    let mut usage = TokenUsage::default();
    let answer = match traced_chat(model, request).await {
        Ok(response) => {
            usage = response.usage;
            parse_json_answer::<Assessment>(response.text.as_deref().unwrap_or_default())
        }
        Err(e) => Err(e.to_string()),
    };
    let assessment = match answer {
        Ok(assessment) => ground(assessment, sections),
        Err(problem) => {
            tracing::warn!("the summary model failed: {problem}");
            fallback(sections, &problem)
        }
    };
    (assessment, usage)
}

fn agent_result(section: &AgentSection) -> AgentResult {
    match &section.result {
        Ok(report) => AgentResult {
            agent: section.kind,
            status: match report.outcome {
                AgentOutcome::Complete => "complete".into(),
                AgentOutcome::Partial => "partial".into(),
            },
            summary: report.summary.clone(),
            findings: report.findings.clone(),
            unavailable: report.unavailable.clone(),
            error: None,
        },
        Err(e) => AgentResult {
            agent: section.kind,
            status: "failed".into(),
            summary: String::new(),
            findings: Vec::new(),
            unavailable: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

/// Names the findings mention (subjects and related entities).
fn known_entities(sections: &[AgentSection]) -> BTreeSet<String> {
    sections
        .iter()
        .filter_map(|s| s.result.as_ref().ok())
        .flat_map(|r| r.findings.iter())
        .flat_map(|f| std::iter::once(&f.subject).chain(f.related.iter().map(|r| &r.entity)))
        .map(|e| e.name.clone())
        .collect()
}

/// Drops entity names that no finding mentions.
fn ground(mut assessment: Assessment, sections: &[AgentSection]) -> Assessment {
    let known = known_entities(sections);
    assessment.root_cause_entities.retain(|e| known.contains(e));
    assessment.impacted_services.retain(|e| known.contains(e));
    assessment.confidence = assessment.confidence.clamp(0.0, 1.0);
    assessment
}

/// What the findings alone support when the summary model cannot conclude.
fn fallback(sections: &[AgentSection], problem: &str) -> Assessment {
    let findings: Vec<_> = sections
        .iter()
        .filter_map(|s| s.result.as_ref().ok())
        .flat_map(|r| r.findings.iter())
        .collect();
    let severity = findings
        .iter()
        .filter(|f| f.kind.is_problem())
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    let next_steps = findings
        .iter()
        .filter(|f| f.kind == FindingKind::RunbookMatch)
        .flat_map(|f| f.actions.iter().cloned())
        .take(6)
        .collect();
    Assessment {
        root_cause: format!("Not determined automatically: {problem}. Review the findings below."),
        root_cause_entities: Vec::new(),
        impacted_services: Vec::new(),
        severity,
        summary: format!(
            "{} findings from {} specialists; no conclusion could be drawn.",
            findings.len(),
            sections.len()
        ),
        next_steps,
        confidence: 0.0,
    }
}
