//! Choosing the reasoning provider of a run: [`ProviderKind`], its settings read once from the environment
//! ([`ProviderConfig::from_env`]), a factory that builds the [`ChatModel`], and a preflight check that reports a
//! missing credential or an unreachable endpoint in one line within two seconds.

use std::{
    fmt,
    path::PathBuf,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use aws_config::{BehaviorVersion, Region, meta::region::RegionProviderChain};
use aws_credential_types::{Credentials, provider::ProvideCredentials};

use super::{
    ChatModel,
    anthropic::{self, AnthropicModel},
    bedrock::{self, BedrockModel},
    offline::{self, OfflineModel},
    openai::{self, OpenAiModel},
    pricing::{PriceTable, PricingError},
    retry::RetryPolicy,
    transport::{error_chain, root_cause},
};

/// `LLM_PROVIDER`: the provider when `--provider` is not given (read by the CLI).
pub const ENV_LLM_PROVIDER: &str = "LLM_PROVIDER";
/// `AWS_REGION`: Bedrock's region (the AWS SDK's standard chain also reads profiles and instance metadata).
pub const ENV_AWS_REGION: &str = "AWS_REGION";
/// `AWS_DEFAULT_REGION`: the older name of `AWS_REGION`.
pub const ENV_AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// `AWS_PROFILE`: the named profile for credentials and region.
pub const ENV_AWS_PROFILE: &str = "AWS_PROFILE";
/// `AWS_ACCESS_KEY_ID`: static credentials, with `AWS_SECRET_ACCESS_KEY`.
pub const ENV_AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// `AWS_SECRET_ACCESS_KEY`: static credentials, with `AWS_ACCESS_KEY_ID`.
pub const ENV_AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// `AWS_SESSION_TOKEN`: the session token of temporary static credentials.
pub const ENV_AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`: Bedrock Runtime endpoint override (the SDK's service-specific name).
pub const ENV_AWS_ENDPOINT_URL_BEDROCK_RUNTIME: &str = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME";
/// `AWS_ENDPOINT_URL`: endpoint override for every AWS service.
pub const ENV_AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`: `true` ignores both endpoint overrides.
pub const ENV_AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";
/// `ANTHROPIC_API_KEY`: the Anthropic API key (required for `anthropic`).
pub const ENV_ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
/// `ANTHROPIC_BASE_URL`: the Anthropic API base URL, as in Anthropic's SDKs.
pub const ENV_ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
/// `OPENAI_API_KEY`: bearer token for OpenAI-compatible servers (optional; local servers need none).
pub const ENV_OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// `OPENAI_BASE_URL`: the OpenAI-compatible base URL including `/v1`, as in OpenAI's SDKs.
pub const ENV_OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
/// `SRE_PRICING_FILE`: a price table replacing the built-in `config/pricing.yaml`.
pub const ENV_SRE_PRICING_FILE: &str = "SRE_PRICING_FILE";

/// Region used when the AWS chain finds none (the reference system's region).
pub const DEFAULT_AWS_REGION: &str = "us-east-1";
/// The longest a [`ProviderConfig::preflight`] takes.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_millis(1800);

/// The reasoning providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProviderKind {
    /// The built-in deterministic engine.
    #[default]
    Offline,
    /// Amazon Bedrock Converse.
    Bedrock,
    /// The Anthropic Messages API.
    Anthropic,
    /// OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, ...).
    OpenAi,
}

impl ProviderKind {
    /// Every provider, in the order the CLI lists them.
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Offline,
        ProviderKind::Bedrock,
        ProviderKind::Anthropic,
        ProviderKind::OpenAi,
    ];

    /// The name on the command line and in `LLM_PROVIDER`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Offline => "offline",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
        }
    }

    /// `gen_ai.provider.name` of the provider's calls.
    pub fn gen_ai_name(self) -> &'static str {
        match self {
            ProviderKind::Offline => offline::PROVIDER,
            ProviderKind::Bedrock => bedrock::PROVIDER,
            ProviderKind::Anthropic => anthropic::PROVIDER,
            ProviderKind::OpenAi => openai::PROVIDER,
        }
    }

    /// The model used when none is given.
    pub fn default_model(self) -> &'static str {
        match self {
            ProviderKind::Offline => offline::MODEL,
            ProviderKind::Bedrock => bedrock::DEFAULT_MODEL,
            ProviderKind::Anthropic => anthropic::DEFAULT_MODEL,
            ProviderKind::OpenAi => openai::DEFAULT_MODEL,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "offline" => Ok(ProviderKind::Offline),
            "bedrock" => Ok(ProviderKind::Bedrock),
            "anthropic" => Ok(ProviderKind::Anthropic),
            "openai" => Ok(ProviderKind::OpenAi),
            other => Err(format!(
                "unknown provider {other:?}; expected offline, bedrock, anthropic or openai"
            )),
        }
    }
}

/// A secret value whose `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Options shared by the remote providers.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Longest wait for one attempt of a model call.
    pub request_timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Retries of throttling, 5xx and dropped connections.
    pub retry: RetryPolicy,
    /// Mark the system prompt and the agent conversation as prompt-cache breakpoints (Claude and Nova).
    pub prompt_caching: bool,
    /// Prices for [`super::TokenUsage::cost`].
    pub prices: Arc<PriceTable>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            prompt_caching: true,
            prices: PriceTable::embedded(),
        }
    }
}

impl ModelOptions {
    /// The HTTP client of a provider.
    pub(crate) fn http_client(
        &self,
        provider: ProviderKind,
    ) -> Result<reqwest::Client, ProviderError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ProviderError::Invalid {
                provider,
                message: format!("the HTTP client could not be built: {}", error_chain(&e)),
            })
    }
}

/// Static AWS credentials from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
}

/// Bedrock settings. What is `None` comes from the AWS SDK's standard chain (profile files, SSO, web
/// identity, container and instance credentials).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BedrockSettings {
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`; else the chain, else [`DEFAULT_AWS_REGION`].
    pub region: Option<String>,
    /// `AWS_PROFILE`.
    pub profile: Option<String>,
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, else `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Static keys from the environment.
    pub credentials: Option<StaticCredentials>,
}

/// Anthropic settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicSettings {
    /// `ANTHROPIC_BASE_URL` (without `/v1`).
    pub base_url: String,
    /// `ANTHROPIC_API_KEY`; required to build or preflight.
    pub api_key: Option<Secret>,
}

/// OpenAI-compatible settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiSettings {
    /// `OPENAI_BASE_URL` (including `/v1`).
    pub base_url: String,
    /// `OPENAI_API_KEY`, sent as a bearer token when set.
    pub api_key: Option<Secret>,
}

/// Provider-specific settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderSettings {
    /// The offline engine needs none.
    Offline,
    /// Amazon Bedrock.
    Bedrock(BedrockSettings),
    /// The Anthropic API.
    Anthropic(AnthropicSettings),
    /// An OpenAI-compatible server.
    OpenAi(OpenAiSettings),
}

/// Everything needed to build the model of a run.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Which provider.
    pub kind: ProviderKind,
    /// The model id sent to the provider.
    pub model: String,
    /// Where it is and how to authenticate.
    pub settings: ProviderSettings,
    /// Timeouts, retries, caching and prices.
    pub options: ModelOptions,
}

/// Why a provider cannot be set up. Each message is one line that starts with the `--provider` it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A credential the provider needs is missing or cannot be loaded.
    #[error("--provider {provider}: {message}")]
    MissingCredential {
        provider: ProviderKind,
        message: String,
    },
    /// The provider's endpoint does not answer.
    #[error("--provider {provider}: cannot reach {url} ({reason}); {hint}")]
    Unreachable {
        provider: ProviderKind,
        url: String,
        reason: String,
        hint: String,
    },
    /// A setting is not usable.
    #[error("--provider {provider}: {message}")]
    Invalid {
        provider: ProviderKind,
        message: String,
    },
    /// The price table could not be read.
    #[error("--provider {provider}: {source}")]
    Pricing {
        provider: ProviderKind,
        #[source]
        source: PricingError,
    },
}

impl ProviderConfig {
    /// Reads the settings of `provider` through `lookup` (an environment, e.g.
    /// `|k| std::env::var(k).ok()`); `model_override` is `--model`. Nothing is contacted here.
    pub fn from_env(
        provider: ProviderKind,
        model_override: Option<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ProviderError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let model_override = model_override
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty());
        let model = match (provider, model_override) {
            (ProviderKind::Offline, Some(model)) if model != offline::MODEL => {
                return Err(ProviderError::Invalid {
                    provider,
                    message: format!(
                        "--model {model} needs a model provider (bedrock, anthropic or openai); the offline engine has one model, {}",
                        offline::MODEL
                    ),
                });
            }
            (_, Some(model)) => model,
            (kind, None) => kind.default_model().to_owned(),
        };
        let mut options = ModelOptions::default();
        if let Some(path) = get(ENV_SRE_PRICING_FILE) {
            let table = PriceTable::load(&PathBuf::from(path))
                .map_err(|source| ProviderError::Pricing { provider, source })?;
            options.prices = Arc::new(table);
        }
        let settings = match provider {
            ProviderKind::Offline => ProviderSettings::Offline,
            ProviderKind::Bedrock => {
                let ignore_endpoints = get(ENV_AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let endpoint_url = if ignore_endpoints {
                    None
                } else {
                    get(ENV_AWS_ENDPOINT_URL_BEDROCK_RUNTIME).or_else(|| get(ENV_AWS_ENDPOINT_URL))
                };
                if let Some(url) = &endpoint_url {
                    check_url(provider, ENV_AWS_ENDPOINT_URL_BEDROCK_RUNTIME, url)?;
                }
                let credentials = match (get(ENV_AWS_ACCESS_KEY_ID), get(ENV_AWS_SECRET_ACCESS_KEY))
                {
                    (Some(access_key_id), Some(secret)) => Some(StaticCredentials {
                        access_key_id,
                        secret_access_key: Secret::new(secret),
                        session_token: get(ENV_AWS_SESSION_TOKEN).map(Secret::new),
                    }),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(ProviderError::MissingCredential {
                            provider,
                            message: format!(
                                "{ENV_AWS_ACCESS_KEY_ID} is set but {ENV_AWS_SECRET_ACCESS_KEY} is not; set both, or neither and use AWS_PROFILE"
                            ),
                        });
                    }
                    (None, Some(_)) => {
                        return Err(ProviderError::MissingCredential {
                            provider,
                            message: format!(
                                "{ENV_AWS_SECRET_ACCESS_KEY} is set but {ENV_AWS_ACCESS_KEY_ID} is not; set both, or neither and use AWS_PROFILE"
                            ),
                        });
                    }
                };
                ProviderSettings::Bedrock(BedrockSettings {
                    region: get(ENV_AWS_REGION).or_else(|| get(ENV_AWS_DEFAULT_REGION)),
                    profile: get(ENV_AWS_PROFILE),
                    endpoint_url,
                    credentials,
                })
            }
            ProviderKind::Anthropic => {
                let base_url = get(ENV_ANTHROPIC_BASE_URL)
                    .unwrap_or_else(|| anthropic::DEFAULT_BASE_URL.into());
                check_url(provider, ENV_ANTHROPIC_BASE_URL, &base_url)?;
                ProviderSettings::Anthropic(AnthropicSettings {
                    base_url,
                    api_key: get(ENV_ANTHROPIC_API_KEY).map(Secret::new),
                })
            }
            ProviderKind::OpenAi => {
                let base_url =
                    get(ENV_OPENAI_BASE_URL).unwrap_or_else(|| openai::DEFAULT_BASE_URL.into());
                check_url(provider, ENV_OPENAI_BASE_URL, &base_url)?;
                ProviderSettings::OpenAi(OpenAiSettings {
                    base_url,
                    api_key: get(ENV_OPENAI_API_KEY).map(Secret::new),
                })
            }
        };
        Ok(Self {
            kind: provider,
            model,
            settings,
            options,
        })
    }

    /// Builds the model. Fails only on settings that cannot work (a missing API key); an unreachable
    /// endpoint shows on the first call, or earlier through [`ProviderConfig::preflight`].
    pub async fn build(&self) -> Result<Arc<dyn ChatModel>, ProviderError> {
        let provider = self.kind;
        Ok(match &self.settings {
            ProviderSettings::Offline => Arc::new(OfflineModel::new()),
            ProviderSettings::Bedrock(settings) => {
                let sdk_config = sdk_config(settings).await;
                Arc::new(BedrockModel::new(
                    &sdk_config,
                    self.model.clone(),
                    self.options.clone(),
                ))
            }
            ProviderSettings::Anthropic(settings) => {
                let key = settings
                    .api_key
                    .as_ref()
                    .ok_or_else(|| missing_anthropic_key(provider))?;
                Arc::new(AnthropicModel::new(
                    &settings.base_url,
                    key.expose(),
                    self.model.clone(),
                    self.options.clone(),
                )?)
            }
            ProviderSettings::OpenAi(settings) => Arc::new(OpenAiModel::new(
                &settings.base_url,
                settings.api_key.as_ref().map(Secret::expose),
                self.model.clone(),
                self.options.clone(),
            )?),
        })
    }

    /// Checks, within [`PREFLIGHT_TIMEOUT`], that the provider has its credentials and that its endpoint
    /// answers (any HTTP answer counts; no model is called). The offline engine always passes.
    pub async fn preflight(&self) -> Result<(), ProviderError> {
        let deadline = Instant::now() + PREFLIGHT_TIMEOUT;
        let provider = self.kind;
        match &self.settings {
            ProviderSettings::Offline => Ok(()),
            ProviderSettings::Bedrock(settings) => {
                // Keep a slice of the time for the endpoint probe.
                let credentials_deadline = deadline - Duration::from_millis(400);
                let loaded =
                    tokio::time::timeout_at(credentials_deadline.into(), sdk_config(settings))
                        .await;
                let Ok(sdk_config) = loaded else {
                    return Err(missing_aws_credentials(settings, None));
                };
                let Some(credentials) = sdk_config.credentials_provider() else {
                    return Err(missing_aws_credentials(settings, None));
                };
                match tokio::time::timeout_at(
                    credentials_deadline.into(),
                    credentials.provide_credentials(),
                )
                .await
                {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        return Err(missing_aws_credentials(settings, Some(error_chain(&e))));
                    }
                    Err(_) => return Err(missing_aws_credentials(settings, None)),
                }
                let url = match (sdk_config.endpoint_url(), sdk_config.region()) {
                    (Some(url), _) => url.to_owned(),
                    (None, Some(region)) => {
                        format!("https://bedrock-runtime.{region}.amazonaws.com")
                    }
                    (None, None) => {
                        format!("https://bedrock-runtime.{DEFAULT_AWS_REGION}.amazonaws.com")
                    }
                };
                probe(
                    provider,
                    &url,
                    deadline,
                    "check AWS_REGION, AWS_ENDPOINT_URL_BEDROCK_RUNTIME and the network",
                )
                .await
            }
            ProviderSettings::Anthropic(settings) => {
                if settings.api_key.is_none() {
                    return Err(missing_anthropic_key(provider));
                }
                probe(
                    provider,
                    &settings.base_url,
                    deadline,
                    "check ANTHROPIC_BASE_URL and the network",
                )
                .await
            }
            ProviderSettings::OpenAi(settings) => {
                if settings.api_key.is_none()
                    && host_of(&settings.base_url).as_deref() == Some("api.openai.com")
                {
                    return Err(ProviderError::MissingCredential {
                        provider,
                        message: format!(
                            "{ENV_OPENAI_API_KEY} is not set; api.openai.com needs one (local servers such as Ollama do not: set {ENV_OPENAI_BASE_URL})"
                        ),
                    });
                }
                probe(
                    provider,
                    &settings.base_url,
                    deadline,
                    "start the server (e.g. `ollama serve`) or set OPENAI_BASE_URL",
                )
                .await
            }
        }
    }
}

/// The host of `url`, for `server.address`.
pub(crate) fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
}

/// The AWS SDK configuration: explicit settings first, then the SDK's standard chain.
async fn sdk_config(settings: &BedrockSettings) -> aws_config::SdkConfig {
    let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(Region::from_static(DEFAULT_AWS_REGION));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(c) = &settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.expose().to_owned(),
            c.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "sre-agent-environment",
        ));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

fn check_url(provider: ProviderKind, key: &str, url: &str) -> Result<(), ProviderError> {
    match reqwest::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() =>
        {
            Ok(())
        }
        _ => Err(ProviderError::Invalid {
            provider,
            message: format!("{key}={url:?} is not an http(s) URL"),
        }),
    }
}

fn missing_anthropic_key(provider: ProviderKind) -> ProviderError {
    ProviderError::MissingCredential {
        provider,
        message: format!(
            "{ENV_ANTHROPIC_API_KEY} is not set (create a key in the Anthropic Console and export it)"
        ),
    }
}

fn missing_aws_credentials(settings: &BedrockSettings, detail: Option<String>) -> ProviderError {
    let message = match (&settings.profile, detail) {
        (Some(profile), Some(detail)) => {
            format!("no AWS credentials could be loaded for profile {profile} ({detail})")
        }
        (Some(profile), None) => format!(
            "no AWS credentials found for profile {profile} within {:.1} s (check `aws configure list --profile {profile}`, or log in with `aws sso login`)",
            PREFLIGHT_TIMEOUT.as_secs_f32()
        ),
        (None, _) => format!(
            "no AWS credentials found (set {ENV_AWS_PROFILE} or {ENV_AWS_ACCESS_KEY_ID}/{ENV_AWS_SECRET_ACCESS_KEY})"
        ),
    };
    ProviderError::MissingCredential {
        provider: ProviderKind::Bedrock,
        message,
    }
}

/// Any HTTP answer from `url` before `deadline` counts as reachable.
async fn probe(
    provider: ProviderKind,
    url: &str,
    deadline: Instant,
    hint: &str,
) -> Result<(), ProviderError> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let unreachable = |reason: String| ProviderError::Unreachable {
        provider,
        url: url.to_owned(),
        reason,
        hint: hint.to_owned(),
    };
    let client = reqwest::Client::builder()
        .connect_timeout(left)
        .timeout(left)
        .build()
        .map_err(|e| unreachable(error_chain(&e)))?;
    match client.get(url).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.is_timeout() => Err(unreachable(format!(
            "no answer within {:.1} s",
            left.as_secs_f32()
        ))),
        Err(e) => Err(unreachable(root_cause(&e))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn provider_names_parse() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
        assert!(
            "gemini"
                .parse::<ProviderKind>()
                .unwrap_err()
                .contains("expected offline, bedrock")
        );
    }

    #[test]
    fn defaults_and_overrides_come_from_the_environment() {
        let bedrock = ProviderConfig::from_env(ProviderKind::Bedrock, None, env(&[])).expect("ok");
        assert_eq!(bedrock.model, bedrock::DEFAULT_MODEL);
        assert_eq!(
            bedrock.settings,
            ProviderSettings::Bedrock(BedrockSettings::default())
        );

        let bedrock = ProviderConfig::from_env(
            ProviderKind::Bedrock,
            Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0".into()),
            env(&[
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:2"),
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENG"),
            ]),
        )
        .expect("ok");
        assert_eq!(
            bedrock.model,
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        );
        let ProviderSettings::Bedrock(settings) = &bedrock.settings else {
            panic!("bedrock settings");
        };
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://127.0.0.1:2"));
        assert!(
            !format!("{bedrock:?}").contains("wJalrXUtnFEMIK7MDENG"),
            "secrets stay out of Debug"
        );

        let openai = ProviderConfig::from_env(
            ProviderKind::OpenAi,
            Some("llama3.1:8b".into()),
            env(&[("OPENAI_BASE_URL", "http://localhost:11434/v1")]),
        )
        .expect("ok");
        assert_eq!(
            openai.settings,
            ProviderSettings::OpenAi(OpenAiSettings {
                base_url: "http://localhost:11434/v1".into(),
                api_key: None
            })
        );
    }

    #[test]
    fn unusable_settings_are_reported_in_one_line() {
        let half = ProviderConfig::from_env(
            ProviderKind::Bedrock,
            None,
            env(&[("AWS_ACCESS_KEY_ID", "AKID")]),
        )
        .expect_err("half credentials");
        assert!(
            half.to_string()
                .starts_with("--provider bedrock: AWS_ACCESS_KEY_ID is set")
        );
        let url = ProviderConfig::from_env(
            ProviderKind::Anthropic,
            None,
            env(&[("ANTHROPIC_BASE_URL", "api.anthropic.com")]),
        )
        .expect_err("no scheme");
        assert!(url.to_string().contains("ANTHROPIC_BASE_URL"));
        let offline =
            ProviderConfig::from_env(ProviderKind::Offline, Some("gpt-4o".into()), env(&[]))
                .expect_err("offline has one model");
        assert!(offline.to_string().contains("needs a model provider"));
        let pricing = ProviderConfig::from_env(
            ProviderKind::OpenAi,
            None,
            env(&[("SRE_PRICING_FILE", "/nonexistent/prices.yaml")]),
        )
        .expect_err("missing price table");
        assert!(pricing.to_string().contains("/nonexistent/prices.yaml"));
        for error in [half, url, offline, pricing] {
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn hosts_are_extracted_for_server_address() {
        assert_eq!(
            host_of("https://api.anthropic.com").as_deref(),
            Some("api.anthropic.com")
        );
        assert_eq!(host_of("http://[::1]:8080/v1").as_deref(), Some("::1"));
        assert_eq!(host_of("not a url"), None);
    }
}
