//! Checks a model's tool calls before they are made: the tool must exist and the arguments must be a JSON
//! object that fits the tool's input schema (from MCP `tools/list`). A problem is told to the model as a tool
//! error naming the field, so it can correct the call.

use std::collections::HashMap;

use serde_json::Value;

use super::{ToolCall, ToolSpec};

/// Most schema violations listed in one tool error.
const MAX_LISTED_VIOLATIONS: usize = 5;
/// Longest schema quoted back to the model.
const MAX_QUOTED_SCHEMA_CHARS: usize = 1500;

/// Compiled input schemas of a tool list.
#[derive(Debug)]
pub struct ToolSchemas {
    tools: HashMap<String, Option<jsonschema::Validator>>,
    schemas: HashMap<String, Value>,
    names: Vec<String>,
}

/// Why a tool call cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallProblem {
    /// No tool of that name is offered.
    #[error("there is no tool named {tool:?}; available tools: {available}")]
    UnknownTool { tool: String, available: String },
    /// The arguments are not a JSON object (for example text that failed to parse as JSON).
    #[error(
        "the arguments of {tool} are not a JSON object (got {got}); send them as one JSON object"
    )]
    NotAnObject { tool: String, got: String },
    /// The arguments violate the tool's input schema.
    #[error(
        "the arguments of {tool} do not fit its input schema: {violations}. Expected schema: {schema}"
    )]
    SchemaViolation {
        tool: String,
        /// `field: problem` entries, `;`-separated.
        violations: String,
        schema: String,
    },
}

impl CallProblem {
    /// Low-cardinality `error.type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            CallProblem::UnknownTool { .. } => "tool_not_found",
            CallProblem::NotAnObject { .. } | CallProblem::SchemaViolation { .. } => {
                "invalid_arguments"
            }
        }
    }
}

impl ToolSchemas {
    /// Compiles every tool's schema. A schema that does not compile (an unresolvable `$ref`, say) disables
    /// checking for that tool only; the server still validates.
    pub fn compile(specs: &[ToolSpec]) -> Self {
        let mut tools = HashMap::new();
        let mut schemas = HashMap::new();
        for spec in specs {
            let validator = match jsonschema::validator_for(&spec.input_schema) {
                Ok(validator) => Some(validator),
                Err(e) => {
                    tracing::warn!(
                        tool = spec.name.as_str(),
                        "the tool's input schema does not compile, its arguments are not checked: {e}"
                    );
                    None
                }
            };
            tools.insert(spec.name.clone(), validator);
            schemas.insert(spec.name.clone(), spec.input_schema.clone());
        }
        Self {
            tools,
            schemas,
            names: specs.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// True when a tool of that name is offered.
    pub fn knows(&self, tool: &str) -> bool {
        self.tools.contains_key(tool)
    }

    /// Checks one call.
    pub fn check(&self, call: &ToolCall) -> Result<(), CallProblem> {
        let Some(validator) = self.tools.get(&call.name) else {
            return Err(CallProblem::UnknownTool {
                tool: call.name.clone(),
                available: self.names.join(", "),
            });
        };
        if !call.arguments.is_object() {
            return Err(CallProblem::NotAnObject {
                tool: call.name.clone(),
                got: sre_telemetry::redact::truncate_chars(&call.arguments.to_string(), 200),
            });
        }
        let Some(validator) = validator else {
            return Ok(());
        };
        let violations: Vec<String> = validator
            .iter_errors(&call.arguments)
            .take(MAX_LISTED_VIOLATIONS)
            .map(|error| {
                let path = error.instance_path().to_string();
                let field = if path.is_empty() {
                    "(arguments)".to_owned()
                } else {
                    path.trim_start_matches('/').replace('/', ".")
                };
                format!("{field}: {error}")
            })
            .collect();
        if violations.is_empty() {
            return Ok(());
        }
        let schema = self
            .schemas
            .get(&call.name)
            .map(|s| sre_telemetry::redact::truncate_chars(&s.to_string(), MAX_QUOTED_SCHEMA_CHARS))
            .unwrap_or_default();
        Err(CallProblem::SchemaViolation {
            tool: call.name.clone(),
            violations: violations.join("; "),
            schema,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schemas() -> ToolSchemas {
        ToolSchemas::compile(&[
            ToolSpec {
                name: "get_pod_status".into(),
                description: String::new(),
                input_schema: json!({
                    "type": "object",
                    "properties": {"namespace": {"type": ["string", "null"]}, "limit": {"type": "integer", "minimum": 1}},
                    "required": ["namespace"]
                }),
            },
            ToolSpec {
                name: "odd".into(),
                description: String::new(),
                input_schema: json!({"$ref": "https://example.invalid/schema.json"}),
            },
        ])
    }

    fn call(name: &str, arguments: Value) -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments,
        }
    }

    #[test]
    fn valid_arguments_pass() {
        let s = schemas();
        assert_eq!(
            s.check(&call("get_pod_status", json!({"namespace": "production"}))),
            Ok(())
        );
    }

    #[test]
    fn violations_name_the_field() {
        let s = schemas();
        let problem = s
            .check(&call("get_pod_status", json!({"namespace": 5, "limit": 0})))
            .expect_err("invalid");
        let text = problem.to_string();
        assert!(text.contains("namespace: 5 is not of type"), "{text}");
        assert!(text.contains("limit: 0 is less than the minimum"), "{text}");
        assert!(text.contains("Expected schema"), "{text}");
        let missing = s
            .check(&call("get_pod_status", json!({})))
            .expect_err("missing field")
            .to_string();
        assert!(
            missing.contains("\"namespace\" is a required property"),
            "{missing}"
        );
    }

    #[test]
    fn unknown_tools_and_non_objects_are_reported() {
        let s = schemas();
        let unknown = s.check(&call("get_pods", json!({}))).expect_err("unknown");
        assert_eq!(unknown.error_type(), "tool_not_found");
        assert!(unknown.to_string().contains("get_pod_status, odd"));
        let text = s
            .check(&call("get_pod_status", json!("{\"namespace\": ")))
            .expect_err("not an object");
        assert!(matches!(text, CallProblem::NotAnObject { .. }));
    }

    #[test]
    fn a_schema_that_does_not_compile_disables_checking_for_that_tool() {
        assert_eq!(schemas().check(&call("odd", json!({"x": 1}))), Ok(()));
    }
}
