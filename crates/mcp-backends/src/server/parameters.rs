//! [`Parameters`]: how every tool reads its arguments. A malformed argument is a protocol error
//! (`invalid_params`) that names the tool and the field, e.g. `invalid params for get_pod_status: namespace:
//! invalid type: integer `5`, expected a string`; an argument the tool does not have is named the same way.
//!
//! rmcp's own `Parameters` reports `failed to deserialize parameters: invalid type: ...` without the field, and
//! as a tool result rather than a protocol error. rmcp's `#[tool]` macro derives a tool's input schema from an
//! argument whose type is named `Parameters`, which is why this wrapper carries the same name.

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::JsonObject;
use rmcp::schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The arguments of a tool call, deserialised into `P` (a struct that denies unknown fields).
#[derive(Debug, Clone)]
pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse(&context.name, arguments).map(Parameters)
    }
}

/// Deserialises the `arguments` of a call to `tool`; the error names the tool, the JSON path of the bad value
/// (the field, or `field[2]` inside a list) and what was expected.
pub fn parse<P: DeserializeOwned>(tool: &str, arguments: JsonObject) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize(Value::Object(arguments)).map_err(|error| {
        let path = error.path().to_string();
        let cause = error.into_inner();
        let message = if path == "." {
            format!("invalid params for {tool}: {cause}")
        } else {
            format!("invalid params for {tool}: {path}: {cause}")
        };
        ErrorData::invalid_params(message, None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::k8s::PodStatusParams;
    use crate::server::logs::SearchLogsParams;
    use crate::server::metrics::TrendsParams;
    use rmcp::model::ErrorCode;
    use serde_json::json;

    fn args(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn error<P: DeserializeOwned + std::fmt::Debug>(tool: &str, value: Value) -> ErrorData {
        let err = parse::<P>(tool, args(value)).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        err
    }

    #[test]
    fn a_wrong_type_names_the_tool_and_the_field() {
        let err = error::<PodStatusParams>("get_pod_status", json!({"namespace": 5}));
        assert_eq!(
            err.message,
            "invalid params for get_pod_status: namespace: invalid type: integer `5`, expected a string"
        );
    }

    #[test]
    fn an_unknown_argument_is_named_with_the_accepted_ones() {
        let err = error::<PodStatusParams>("get_pod_status", json!({"pod": "web-1"}));
        assert_eq!(
            err.message,
            "invalid params for get_pod_status: pod: unknown field `pod`, expected `namespace` or `pod_name`"
        );
    }

    #[test]
    fn a_missing_argument_is_named() {
        let err = error::<SearchLogsParams>("search_logs", json!({"log_level": "ERROR"}));
        assert_eq!(
            err.message,
            "invalid params for search_logs: missing field `pattern`"
        );
    }

    #[test]
    fn a_number_out_of_range_names_the_field() {
        let err = error::<TrendsParams>(
            "analyze_trends",
            json!({"metric_name": "response_time", "anomaly_threshold": "high"}),
        );
        assert_eq!(
            err.message,
            "invalid params for analyze_trends: anomaly_threshold: invalid type: string \"high\", expected f64"
        );
    }

    #[test]
    fn valid_arguments_parse() {
        let params: PodStatusParams = parse(
            "get_pod_status",
            args(json!({"namespace": "production", "pod_name": null})),
        )
        .unwrap();
        assert_eq!(params.namespace.as_deref(), Some("production"));
        assert_eq!(params.pod_name, None);
    }
}
