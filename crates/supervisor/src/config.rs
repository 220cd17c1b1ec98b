//! Configuration: every environment variable the binary reads is a named constant here, and the command
//! line is turned into one [`AppConfig`] before anything starts.

use std::{collections::HashMap, io::Read, path::PathBuf, time::Duration};

use sre_agents::{
    model::provider::{ProviderConfig, ProviderError, ProviderKind},
    tool_client::{BackendAuth, ClientCredentials},
};
use sre_mcp_backends::{DatasetSource, domain::Domain};

use sre_memory::{SessionId, UserId};

use crate::{
    cli::{Cli, GlobalArgs, MemoryBackend},
    error::AppError,
    investigation::{MAX_QUESTION_BYTES, validate_question},
};

/// Directory for traces and other local state (default: the per-user data directory).
pub const ENV_SRE_DATA_DIR: &str = "SRE_DATA_DIR";
/// User the investigation runs as (as in the reference system).
pub const ENV_USER_ID: &str = "USER_ID";
/// Reasoning provider (as in the reference system).
pub const ENV_LLM_PROVIDER: &str = sre_agents::model::provider::ENV_LLM_PROVIDER;
/// Print every finished span on stderr.
pub const ENV_OTEL_DEBUG: &str = "OTEL_DEBUG";
/// Bundled scenario to serve in-process.
pub const ENV_SCENARIO: &str = "SRE_SCENARIO";
/// A scenario directory to serve in-process.
pub const ENV_DATASET_DIR: &str = "SRE_DATASET_DIR";
/// Remote tool servers, `DOMAIN=URL` pairs separated by commas.
pub const ENV_BACKEND_URLS: &str = "SRE_BACKEND_URLS";
/// API key for the remote tool servers.
pub const ENV_BACKEND_API_KEY: &str = "SRE_BACKEND_API_KEY";
/// Bearer token for the remote tool servers.
pub const ENV_BACKEND_TOKEN: &str = "SRE_BACKEND_TOKEN";
/// OAuth2 client-credentials token endpoint for a remote tool gateway.
pub const ENV_GATEWAY_TOKEN_URL: &str = "SRE_GATEWAY_TOKEN_URL";
/// OAuth2 client id for the gateway.
pub const ENV_GATEWAY_CLIENT_ID: &str = "SRE_GATEWAY_CLIENT_ID";
/// OAuth2 client secret for the gateway.
pub const ENV_GATEWAY_CLIENT_SECRET: &str = "SRE_GATEWAY_CLIENT_SECRET";
/// OAuth2 scope to request (optional).
pub const ENV_GATEWAY_SCOPE: &str = "SRE_GATEWAY_SCOPE";
/// Where memory lives: sqlite, agentcore or off.
pub const ENV_MEMORY: &str = "SRE_MEMORY";
/// AgentCore Memory id.
pub const ENV_MEMORY_ID: &str = "SRE_MEMORY_ID";
/// How long memory keeps records.
pub const ENV_MEMORY_RETENTION: &str = "SRE_MEMORY_RETENTION";

/// Most bytes read from stdin for `--prompt -` (anything larger is refused without being held in memory).
pub const MAX_STDIN_PROMPT: u64 = 8 * 1024 * 1024;

/// User id when none is given.
pub const DEFAULT_USER_ID: &str = "default";

/// `--max-tokens` when none is given: room for a planner, four specialists of several tool rounds each and
/// the summary on a Claude-sized context, while stopping a runaway loop long before it gets expensive.
pub const DEFAULT_MAX_TOKENS: u64 = 200_000;

/// Everything the application needs to know, validated.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub data_dir: PathBuf,
    pub output_dir: PathBuf,
    pub save_report: bool,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub debug: bool,
    pub timeout: Duration,
    pub prompt: Option<String>,
    pub interactive: bool,
    pub data: DatasetSource,
    /// `--scenario` or `--dataset-dir` was given (else `data` is the default scenario).
    pub scenario_chosen: bool,
    pub remote: HashMap<Domain, String>,
    pub backend_auth: Option<BackendAuth>,
    pub memory: MemorySelection,
    pub memory_retention: Duration,
    /// `--provider`.
    pub provider: ProviderKind,
    /// `--model`; `None` is the provider's default.
    pub model: Option<String>,
    /// Token budget of one investigation (`--max-tokens`); `None` is unlimited.
    pub max_tokens: Option<u64>,
    /// Tokens one user may use per UTC day (`--daily-token-budget`); `None` is unlimited.
    pub daily_token_budget: Option<u64>,
}

/// Which memory to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemorySelection {
    Off,
    /// A SQLite file in the data directory.
    Sqlite,
    /// AgentCore Memory with this id.
    AgentCore(String),
}

impl AppConfig {
    /// Validates the command line. Usage problems become [`AppError::Usage`] (exit code 2). `--prompt -`
    /// reads the question from `stdin`. A question (or `--interactive`) is required only without a subcommand.
    pub fn from_cli(cli: &Cli, stdin: impl Read) -> Result<Self, AppError> {
        let g = &cli.global;
        if cli.command.is_some() && (cli.prompt.is_some() || cli.interactive) {
            return Err(AppError::Usage(
                "--prompt and --interactive start an investigation; they cannot be combined with a subcommand".into(),
            ));
        }
        if cli.command.is_none() && cli.prompt.is_none() && !cli.interactive {
            return Err(AppError::Usage(
                "nothing to investigate: give --prompt \"<question>\" or start a session with --interactive (see --help)".into(),
            ));
        }
        let prompt = match cli.prompt.as_deref() {
            Some("-") => Some(read_prompt(stdin)?),
            other => other.map(str::to_owned),
        };
        if let Some(prompt) = &prompt {
            validate_question(prompt).map_err(|e| AppError::Usage(format!("--prompt: {e}")))?;
        }
        let user_id =
            UserId::parse(&g.user_id).map_err(|e| AppError::Usage(format!("--user-id: {e}")))?;
        let session_id = match &g.session_id {
            Some(s) => {
                SessionId::parse(s).map_err(|e| AppError::Usage(format!("--session-id: {e}")))?
            }
            None => SessionId::parse(&format!(
                "session-{}",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            ))
            .map_err(|e| AppError::Usage(e.to_string()))?,
        };
        if g.timeout.is_zero() {
            return Err(AppError::Usage("--timeout must be longer than zero".into()));
        }
        let data = match (&g.scenario, &g.dataset_dir) {
            (_, Some(dir)) if !dir.is_dir() => {
                return Err(AppError::Usage(format!(
                    "--dataset-dir {}: no such directory",
                    dir.display()
                )));
            }
            (_, Some(dir)) => DatasetSource::Dir(dir.clone()),
            (Some(name), None)
                if !sre_mcp_backends::scenario::bundled_names().contains(&name.as_str()) =>
            {
                return Err(AppError::Usage(format!(
                    "--scenario {name}: no such bundled scenario; available: {} (or use --dataset-dir)",
                    sre_mcp_backends::scenario::bundled_names().join(", ")
                )));
            }
            (Some(name), None) => DatasetSource::Bundled(name.clone()),
            (None, None) => DatasetSource::default(),
        };
        let remote: HashMap<Domain, String> = g.backend_urls.iter().cloned().collect();
        let backend_auth = backend_auth(g, |key| std::env::var(key).ok())?;
        let memory = match (g.memory, &g.memory_id) {
            (Some(MemoryBackend::Off), _) => MemorySelection::Off,
            (Some(MemoryBackend::Sqlite), Some(_)) => {
                return Err(AppError::Usage(
                    "--memory-id is for --memory agentcore, not sqlite".into(),
                ));
            }
            (Some(MemoryBackend::Sqlite), None) | (None, None) => MemorySelection::Sqlite,
            (Some(MemoryBackend::Agentcore) | None, Some(id)) => {
                MemorySelection::AgentCore(id.clone())
            }
            (Some(MemoryBackend::Agentcore), None) => {
                return Err(AppError::Usage(format!(
                    "--memory agentcore needs the memory id: --memory-id ID or {ENV_MEMORY_ID}"
                )));
            }
        };
        Ok(Self {
            data,
            remote,
            backend_auth,
            memory,
            memory_retention: g.memory_retention,
            scenario_chosen: g.scenario.is_some() || g.dataset_dir.is_some(),
            data_dir: g.data_dir.clone().unwrap_or_else(default_data_dir),
            output_dir: g.output_dir.clone(),
            save_report: !g.no_markdown,
            user_id,
            session_id,
            debug: g.debug,
            timeout: g.timeout,
            prompt,
            interactive: cli.interactive,
            provider: g.provider.into(),
            model: g.model.clone(),
            max_tokens: (g.max_tokens > 0).then_some(g.max_tokens),
            daily_token_budget: (g.daily_token_budget > 0).then_some(g.daily_token_budget),
        })
    }

    /// The model provider's settings, read from `env` (the process environment in the binary). Nothing is
    /// contacted; [`ProviderConfig::preflight`] does that.
    pub fn provider_config(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProviderConfig, AppError> {
        ProviderConfig::from_env(self.provider, self.model.clone(), env).map_err(provider_error)
    }

    /// The OTLP-JSON lines file every process of this data directory appends spans to.
    pub fn trace_file(&self) -> PathBuf {
        self.data_dir.join("traces").join("traces.jsonl")
    }
}

/// A provider that cannot be used: a setting that cannot work (e.g. `--model` with the offline engine, an
/// endpoint that is not a URL) is a usage error (exit code 2); a missing credential, an unreachable endpoint
/// or an unreadable price table is a start-up failure (exit code 1). Either way one line.
pub fn provider_error(error: ProviderError) -> AppError {
    match error {
        ProviderError::Invalid { .. } => AppError::Usage(error.to_string()),
        other => AppError::Startup {
            what: "model provider".into(),
            message: other.to_string(),
        },
    }
}

/// Credentials for remote tool servers: an API key, a bearer token, or OAuth2 client credentials from the
/// `SRE_GATEWAY_*` variables (secrets stay out of the command line).
fn backend_auth(
    g: &GlobalArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<BackendAuth>, AppError> {
    if let Some(key) = &g.backend_api_key {
        return Ok(Some(BackendAuth::ApiKey(key.clone())));
    }
    if let Some(token) = &g.backend_token {
        return Ok(Some(BackendAuth::Bearer(token.clone())));
    }
    let Some(token_url) = env(ENV_GATEWAY_TOKEN_URL) else {
        return Ok(None);
    };
    let require = |key: &str| {
        env(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            AppError::Usage(format!(
                "{ENV_GATEWAY_TOKEN_URL} is set, so {key} is needed too"
            ))
        })
    };
    Ok(Some(BackendAuth::ClientCredentials(ClientCredentials {
        token_url,
        client_id: require(ENV_GATEWAY_CLIENT_ID)?,
        client_secret: require(ENV_GATEWAY_CLIENT_SECRET)?,
        scope: env(ENV_GATEWAY_SCOPE),
    })))
}

/// Reads a question from stdin, at most [`MAX_STDIN_PROMPT`] bytes plus one so oversize is reported, not cut.
fn read_prompt(stdin: impl Read) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_STDIN_PROMPT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            AppError::Usage(format!(
                "--prompt -: cannot read the question from stdin: {e}"
            ))
        })?;
    if bytes.len() as u64 > MAX_STDIN_PROMPT {
        return Err(AppError::Usage(format!(
            "--prompt -: stdin holds more than {MAX_STDIN_PROMPT} bytes; the limit for a question is {MAX_QUESTION_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| AppError::Usage("--prompt -: the question on stdin is not UTF-8 text".into()))
}

/// `$XDG_DATA_HOME/sre-agent` (or the platform's equivalent), else `./.sre-agent`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_local_dir()
        .map(|d| d.join("sre-agent"))
        .unwrap_or_else(|| PathBuf::from(".sre-agent"))
}
