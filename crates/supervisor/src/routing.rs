//! Routing: the planner model chooses the specialists; its answer is validated, and a failed or unusable
//! plan falls back to every specialist so an investigation never stalls on routing.

use sre_agents::{
    finding::RoutePlan,
    model::{
        ChatMessage, ChatModel, ChatPurpose, ChatRequest, TokenUsage, parse_json_answer,
        task_prompt, traced_chat,
    },
    prompt,
    protocol::AgentKind,
};

/// Chooses the specialists for `question`; also returns the tokens the planner used.
pub async fn route(
    model: &dyn ChatModel,
    question: &str,
    context: &[String],
) -> (RoutePlan, TokenUsage) {
    let request = ChatRequest {
        purpose: ChatPurpose::Plan,
        messages: vec![
            ChatMessage::System {
                text: prompt::planner(),
            },
            ChatMessage::User {
                text: task_prompt(question, context),
            },
        ],
        tools: Vec::new(),
        max_output_tokens: 512,
    };
    let mut usage = TokenUsage::default();
    let plan = match traced_chat(model, request).await {
        Ok(response) => {
            usage = response.usage;
            parse_json_answer::<RoutePlan>(response.text.as_deref().unwrap_or_default())
        }
        Err(e) => Err(e.to_string()),
    };
    let plan = match plan.map(normalise) {
        Ok(plan) if !plan.agents.is_empty() => plan,
        Ok(_) => everyone("the planner chose no specialist"),
        Err(problem) => {
            tracing::warn!("routing fell back to every specialist: {problem}");
            everyone(&format!("the planner's answer was unusable ({problem})"))
        }
    };
    (plan, usage)
}

/// Deduplicates and orders the chosen agents.
fn normalise(mut plan: RoutePlan) -> RoutePlan {
    plan.agents.sort();
    plan.agents.dedup();
    plan
}

fn everyone(why: &str) -> RoutePlan {
    RoutePlan {
        agents: AgentKind::ALL.to_vec(),
        reason: format!("{why}; consulting every specialist"),
    }
}
