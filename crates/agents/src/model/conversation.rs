//! The shape Bedrock Converse and the Anthropic Messages API both want: system text apart, then turns that
//! alternate between the user and the assistant, tool results inside user turns.
//!
//! Both APIs reject tool-use and tool-result blocks in a request that offers no tools. A request without tools
//! means "answer now, no more tool calls", so earlier calls and results are then sent as plain text.

use serde_json::Value;

use super::{ChatMessage, ToolCall, ToolResult};

/// Who speaks a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
}

/// One content block of a turn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Text(String),
    ToolUse(ToolCall),
    ToolResult(ToolResult),
}

/// A run of blocks from one speaker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Turn {
    pub role: Role,
    pub blocks: Vec<Block>,
}

/// A conversation in provider shape.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Conversation {
    /// System messages, in order.
    pub system: Vec<String>,
    /// Alternating turns; consecutive messages of one speaker are merged, empty text is dropped.
    pub turns: Vec<Turn>,
}

impl Conversation {
    /// Shapes `messages`; with `tools_offered` false, tool calls and results become text.
    pub fn from_messages(messages: &[ChatMessage], tools_offered: bool) -> Self {
        let mut conversation = Conversation::default();
        for message in messages {
            match message {
                ChatMessage::System { text } => {
                    if !text.trim().is_empty() {
                        conversation.system.push(text.clone());
                    }
                }
                ChatMessage::User { text } => {
                    conversation.push(Role::User, text_block(text));
                }
                ChatMessage::Assistant { text, tool_calls } => {
                    if let Some(text) = text {
                        conversation.push(Role::Assistant, text_block(text));
                    }
                    for call in tool_calls {
                        let block = if tools_offered {
                            Some(Block::ToolUse(call.clone()))
                        } else {
                            text_block(&call_as_text(call))
                        };
                        conversation.push(Role::Assistant, block);
                    }
                }
                ChatMessage::Tool { result } => {
                    let block = if tools_offered {
                        Some(Block::ToolResult(result.clone()))
                    } else {
                        text_block(&result_as_text(result))
                    };
                    conversation.push(Role::User, block);
                }
            }
        }
        conversation
    }

    fn push(&mut self, role: Role, block: Option<Block>) {
        let Some(block) = block else { return };
        match self.turns.last_mut() {
            Some(turn) if turn.role == role => turn.blocks.push(block),
            _ => self.turns.push(Turn {
                role,
                blocks: vec![block],
            }),
        }
    }
}

/// Tool arguments as the providers require them: a JSON object. Arguments that are not one (the model sent
/// something unparsable; the agent loop answered with a tool error) are replayed as an empty object.
pub(crate) fn arguments_object(arguments: &Value) -> Value {
    if arguments.is_object() {
        arguments.clone()
    } else {
        Value::Object(serde_json::Map::new())
    }
}

fn text_block(text: &str) -> Option<Block> {
    (!text.trim().is_empty()).then(|| Block::Text(text.to_owned()))
}

fn call_as_text(call: &ToolCall) -> String {
    format!(
        "[called tool {} (call {}) with arguments {}]",
        call.name, call.id, call.arguments
    )
}

fn result_as_text(result: &ToolResult) -> String {
    let what = if result.is_error {
        "error from"
    } else {
        "result of"
    };
    format!(
        "[{what} tool {} (call {})]\n{}",
        result.tool, result.call_id, result.content
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn history() -> Vec<ChatMessage> {
        vec![
            ChatMessage::System {
                text: "be brief".into(),
            },
            ChatMessage::User {
                text: "why?".into(),
            },
            ChatMessage::Assistant {
                text: Some(String::new()),
                tool_calls: vec![ToolCall {
                    id: "t1".into(),
                    name: "get_pod_status".into(),
                    arguments: json!({"namespace": "production"}),
                }],
            },
            ChatMessage::Tool {
                result: ToolResult {
                    call_id: "t1".into(),
                    tool: "get_pod_status".into(),
                    content: "{\"pods\": []}".into(),
                    is_error: false,
                },
            },
            ChatMessage::User {
                text: "Stop: answer now".into(),
            },
        ]
    }

    #[test]
    fn turns_alternate_and_tool_results_lead_the_user_turn() {
        let c = Conversation::from_messages(&history(), true);
        assert_eq!(c.system, vec!["be brief".to_owned()]);
        let roles: Vec<Role> = c.turns.iter().map(|t| t.role).collect();
        assert_eq!(roles, vec![Role::User, Role::Assistant, Role::User]);
        assert!(matches!(c.turns[1].blocks.as_slice(), [Block::ToolUse(_)]));
        assert!(matches!(
            c.turns[2].blocks.as_slice(),
            [Block::ToolResult(_), Block::Text(_)]
        ));
    }

    #[test]
    fn without_tools_the_history_is_text() {
        let c = Conversation::from_messages(&history(), false);
        let all: Vec<&Block> = c.turns.iter().flat_map(|t| &t.blocks).collect();
        assert!(all.iter().all(|b| matches!(b, Block::Text(_))));
        let Block::Text(call) = &c.turns[1].blocks[0] else {
            panic!("the call is text");
        };
        assert!(call.contains("get_pod_status") && call.contains("production"));
    }

    #[test]
    fn non_object_arguments_replay_as_an_empty_object() {
        assert_eq!(arguments_object(&json!("{broken")), json!({}));
        assert_eq!(arguments_object(&json!({"a": 1})), json!({"a": 1}));
    }
}
