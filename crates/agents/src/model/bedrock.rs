//! Amazon Bedrock Converse (`aws-sdk-bedrockruntime`) as a [`ChatModel`]: system prompt, multi-turn
//! messages, tool specs from the MCP tool schemas, tool-use / tool-result rounds, stop reasons, and usage with
//! prompt-cache reads and writes. The SDK's own retries are off: [`super::retry`] retries throttling and 5xx
//! the same way for every provider, honouring `Retry-After`.

pub mod document;

use aws_sdk_bedrockruntime::{
    Client,
    config::{retry::RetryConfig, timeout::TimeoutConfig},
    error::{ProvideErrorMetadata, SdkError},
    operation::converse::{ConverseError, ConverseOutput, builders::ConverseFluentBuilder},
    types::{
        CachePointBlock, CachePointType, ContentBlock, ConversationRole, InferenceConfiguration,
        Message, StopReason, SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema,
        ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification, ToolUseBlock,
    },
};

use self::document::{document_to_json, json_to_document};
use super::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, ModelError, TokenUsage, ToolCall,
    conversation::{Block, Conversation, Role, arguments_object},
    provider::ModelOptions,
    record_response_model,
    retry::{AttemptError, parse_retry_after, with_retry},
    transport::{error_chain, root_cause},
};

/// `gen_ai.provider.name` of Bedrock.
pub const PROVIDER: &str = "aws.bedrock";
/// Model used when none is given: Claude Haiku 4.5 through its global inference profile.
pub const DEFAULT_MODEL: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

/// A model behind Bedrock Converse.
#[derive(Debug, Clone)]
pub struct BedrockModel {
    client: Client,
    model: String,
    options: ModelOptions,
    address: Option<String>,
}

impl BedrockModel {
    /// A model using the region, credentials and endpoint of `sdk_config`. The SDK's retries are turned off
    /// (ours apply); its connect timeout is `options.connect_timeout`. Prompt caching applies to the models
    /// whose Converse accepts cache points (Anthropic Claude, Amazon Nova).
    pub fn new(
        sdk_config: &aws_config::SdkConfig,
        model: impl Into<String>,
        mut options: ModelOptions,
    ) -> Self {
        let model = model.into();
        options.prompt_caching &=
            model.contains("anthropic.claude") || model.contains("amazon.nova");
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(options.connect_timeout)
                    .build(),
            )
            .build();
        let address = match sdk_config.endpoint_url() {
            Some(url) => super::provider::host_of(url),
            None => sdk_config
                .region()
                .map(|r| format!("bedrock-runtime.{r}.amazonaws.com")),
        };
        Self {
            client: Client::from_conf(config),
            model,
            options,
            address,
        }
    }

    /// The Converse call for `request`, ready to send (and to clone for a retry).
    fn converse(&self, request: &ChatRequest) -> Result<ConverseFluentBuilder, ModelError> {
        let tools_offered = !request.tools.is_empty();
        let conversation = Conversation::from_messages(&request.messages, tools_offered);
        let caching = self.options.prompt_caching;
        let invalid = |e: aws_smithy_types::error::operation::BuildError| {
            ModelError::InvalidRequest(format!("building the Converse request: {e}"))
        };

        let mut system: Vec<SystemContentBlock> = conversation
            .system
            .iter()
            .map(|text| SystemContentBlock::Text(text.clone()))
            .collect();
        if caching && !system.is_empty() {
            system.push(SystemContentBlock::CachePoint(
                cache_point().map_err(invalid)?,
            ));
        }

        let mut messages = Vec::with_capacity(conversation.turns.len());
        for turn in &conversation.turns {
            let mut content = Vec::with_capacity(turn.blocks.len());
            for block in &turn.blocks {
                content.push(content_block(block).map_err(invalid)?);
            }
            let role = match turn.role {
                Role::User => ConversationRole::User,
                Role::Assistant => ConversationRole::Assistant,
            };
            messages.push(
                Message::builder()
                    .role(role)
                    .set_content(Some(content))
                    .build()
                    .map_err(invalid)?,
            );
        }
        if caching && tools_offered {
            // A breakpoint at the end of an agent's conversation lets its next step read the history from
            // the cache; one-shot calls would only pay for the write.
            if let Some(last) = messages.pop() {
                let mut content = last.content().to_vec();
                content.push(ContentBlock::CachePoint(cache_point().map_err(invalid)?));
                messages.push(
                    Message::builder()
                        .role(last.role().clone())
                        .set_content(Some(content))
                        .build()
                        .map_err(invalid)?,
                );
            }
        }

        let mut call = self
            .client
            .converse()
            .model_id(&self.model)
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(i32::try_from(request.max_output_tokens).unwrap_or(i32::MAX))
                    .build(),
            );
        if !system.is_empty() {
            call = call.set_system(Some(system));
        }
        if tools_offered {
            let mut tools = Vec::with_capacity(request.tools.len());
            for spec in &request.tools {
                let mut builder = ToolSpecification::builder()
                    .name(&spec.name)
                    .input_schema(ToolInputSchema::Json(json_to_document(&spec.input_schema)));
                if !spec.description.trim().is_empty() {
                    builder = builder.description(&spec.description);
                }
                tools.push(Tool::ToolSpec(builder.build().map_err(invalid)?));
            }
            call = call.tool_config(
                ToolConfiguration::builder()
                    .set_tools(Some(tools))
                    .build()
                    .map_err(invalid)?,
            );
        }
        Ok(call)
    }

    /// Maps a Converse output to a [`ChatResponse`].
    fn response(&self, output: ConverseOutput) -> Result<ChatResponse, ModelError> {
        let message = output
            .output()
            .and_then(|o| o.as_message().ok())
            .ok_or_else(|| ModelError::MalformedReply {
                provider: PROVIDER.to_owned(),
                message: "the Converse reply has no output message".into(),
            })?;
        // Converse answers with exactly the model (or inference profile) it was asked for.
        record_response_model(&self.model);
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in message.content() {
            match block {
                ContentBlock::Text(text) => texts.push(text.clone()),
                ContentBlock::ToolUse(call) => tool_calls.push(ToolCall {
                    id: call.tool_use_id().to_owned(),
                    name: call.name().to_owned(),
                    arguments: document_to_json(call.input()),
                }),
                _ => {}
            }
        }
        let finish_reason = match output.stop_reason() {
            StopReason::EndTurn | StopReason::StopSequence => FinishReason::Stop,
            StopReason::ToolUse => FinishReason::ToolUse,
            StopReason::MaxTokens => FinishReason::MaxTokens,
            other => FinishReason::Other(other.as_str().to_owned()),
        };
        let count = |n: i32| u64::try_from(n).unwrap_or(0);
        let mut usage = output
            .usage()
            .map_or_else(TokenUsage::default, |u| TokenUsage {
                input_tokens: count(u.input_tokens()),
                output_tokens: count(u.output_tokens()),
                cache_read_tokens: u.cache_read_input_tokens().map_or(0, count),
                cache_write_tokens: u.cache_write_input_tokens().map_or(0, count),
                ..TokenUsage::default()
            });
        usage.cost = self
            .options
            .prices
            .cost(PROVIDER, &self.model, None, &usage);
        let text = texts.join("\n");
        Ok(ChatResponse {
            text: (!text.is_empty()).then_some(text),
            tool_calls,
            usage,
            finish_reason,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for BedrockModel {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn server_address(&self) -> Option<String> {
        self.address.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, ModelError> {
        let call = self.converse(&request)?;
        let output = with_retry(
            &self.options.retry,
            self.options.request_timeout,
            PROVIDER,
            |_| {
                let call = call.clone();
                async move { call.send().await.map_err(classify) }
            },
        )
        .await?;
        self.response(output)
    }
}

fn cache_point() -> Result<CachePointBlock, aws_smithy_types::error::operation::BuildError> {
    CachePointBlock::builder()
        .r#type(CachePointType::Default)
        .build()
}

fn content_block(
    block: &Block,
) -> Result<ContentBlock, aws_smithy_types::error::operation::BuildError> {
    Ok(match block {
        Block::Text(text) => ContentBlock::Text(text.clone()),
        Block::ToolUse(call) => ContentBlock::ToolUse(
            ToolUseBlock::builder()
                .tool_use_id(&call.id)
                .name(&call.name)
                .input(json_to_document(&arguments_object(&call.arguments)))
                .build()?,
        ),
        Block::ToolResult(result) => {
            // Converse rejects blank text blocks.
            let text = if result.content.trim().is_empty() {
                "(empty)".to_owned()
            } else {
                result.content.clone()
            };
            let mut builder = ToolResultBlock::builder()
                .tool_use_id(&result.call_id)
                .content(ToolResultContentBlock::Text(text));
            if result.is_error {
                builder = builder.status(ToolResultStatus::Error);
            }
            ContentBlock::ToolResult(builder.build()?)
        }
    })
}

/// Sorts a failed Converse attempt into retryable and final failures.
fn classify(error: SdkError<ConverseError>) -> AttemptError {
    let provider = PROVIDER.to_owned();
    match &error {
        SdkError::ServiceError(context) => {
            let raw = context.raw();
            let status = raw.status().as_u16();
            let header = |name: &str| raw.headers().get(name);
            let retry_after = parse_retry_after(header("retry-after-ms"), header("retry-after"));
            let service_error = context.err();
            let code = service_error.code().unwrap_or("UnknownError");
            let message = format!(
                "{code} (HTTP {status}): {}",
                service_error.message().unwrap_or("no message")
            );
            if (200..300).contains(&status) {
                return AttemptError::Fatal(ModelError::MalformedReply {
                    provider,
                    message: format!(
                        "the body is not a Converse reply: {}",
                        root_cause(service_error)
                    ),
                });
            }
            match service_error {
                ConverseError::ThrottlingException(_) => AttemptError::Retryable {
                    error: ModelError::Throttled { provider, message },
                    retry_after,
                },
                ConverseError::ServiceUnavailableException(_)
                | ConverseError::InternalServerException(_)
                | ConverseError::ModelNotReadyException(_)
                | ConverseError::ModelTimeoutException(_) => AttemptError::Retryable {
                    error: ModelError::Unavailable { provider, message },
                    retry_after,
                },
                _ if status == 429 => AttemptError::Retryable {
                    error: ModelError::Throttled { provider, message },
                    retry_after,
                },
                _ if status >= 500 || status == 408 => AttemptError::Retryable {
                    error: ModelError::Unavailable { provider, message },
                    retry_after,
                },
                _ => AttemptError::Fatal(ModelError::Rejected { provider, message }),
            }
        }
        SdkError::ResponseError(_) => AttemptError::Fatal(ModelError::MalformedReply {
            provider,
            message: format!("the reply could not be read: {}", error_chain(&error)),
        }),
        SdkError::TimeoutError(_) => AttemptError::Retryable {
            error: ModelError::Unavailable {
                provider,
                message: format!("the request timed out: {}", error_chain(&error)),
            },
            retry_after: None,
        },
        SdkError::DispatchFailure(failure) if !failure.is_user() => AttemptError::Retryable {
            error: ModelError::Unavailable {
                provider,
                message: format!("the request could not be sent: {}", error_chain(&error)),
            },
            retry_after: None,
        },
        _ => AttemptError::Fatal(ModelError::Rejected {
            provider,
            message: format!("the request could not be made: {}", error_chain(&error)),
        }),
    }
}
