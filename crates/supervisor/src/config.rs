//! Configuration: every environment variable the binary reads is a named constant here, and the command
//! line is turned into one [`AppConfig`] before anything starts.

use std::{collections::HashMap, io::Read, path::PathBuf, time::Duration};

use sre_agents::tool_client::{BackendAuth, ClientCredentials};
use sre_mcp_backends::domain::Domain;

use sre_memory::{SessionId, UserId};

use crate::{
    cli::{Cli, Provider},
    error::AppError,
    investigation::{MAX_QUESTION_BYTES, validate_question},
    system::DataSource,
};

/// Directory for traces and other local state (default: the per-user data directory).
pub const ENV_SRE_DATA_DIR: &str = "SRE_DATA_DIR";
/// User the investigation runs as (as in the reference system).
pub const ENV_USER_ID: &str = "USER_ID";
/// Reasoning provider (as in the reference system).
pub const ENV_LLM_PROVIDER: &str = "LLM_PROVIDER";
/// Print every finished span on stderr.
pub const ENV_OTEL_DEBUG: &str = "OTEL_DEBUG";
/// `deployment.environment` of the telemetry resource.
pub const ENV_ENVIRONMENT: &str = "ENVIRONMENT";
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

/// Most bytes read from stdin for `--prompt -` (anything larger is refused without being held in memory).
pub const MAX_STDIN_PROMPT: u64 = 8 * 1024 * 1024;

/// User id when none is given.
pub const DEFAULT_USER_ID: &str = "default";

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
    pub environment: String,
    pub prompt: Option<String>,
    pub interactive: bool,
    pub data: DataSource,
    pub remote: HashMap<Domain, String>,
    pub backend_auth: Option<BackendAuth>,
}

impl AppConfig {
    /// Validates the command line. Usage problems become [`AppError::Usage`] (exit code 2). `--prompt -`
    /// reads the question from `stdin`.
    pub fn from_cli(cli: &Cli, stdin: impl Read) -> Result<Self, AppError> {
        match cli.provider {
            Provider::Offline => {}
            other => {
                return Err(AppError::Usage(format!(
                    "--provider {} is not available yet in this build; only `offline` (the built-in reasoning engine) works. \
                     Run without --provider, or with --provider offline.",
                    other.as_str()
                )));
            }
        }
        if cli.prompt.is_none() && !cli.interactive {
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
            UserId::parse(&cli.user_id).map_err(|e| AppError::Usage(format!("--user-id: {e}")))?;
        let session_id = match &cli.session_id {
            Some(s) => {
                SessionId::parse(s).map_err(|e| AppError::Usage(format!("--session-id: {e}")))?
            }
            None => SessionId::parse(&format!(
                "session-{}",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            ))
            .map_err(|e| AppError::Usage(e.to_string()))?,
        };
        if cli.timeout.is_zero() {
            return Err(AppError::Usage("--timeout must be longer than zero".into()));
        }
        let data = match (&cli.scenario, &cli.dataset_dir) {
            (_, Some(dir)) if !dir.is_dir() => {
                return Err(AppError::Usage(format!(
                    "--dataset-dir {}: no such directory",
                    dir.display()
                )));
            }
            (_, Some(dir)) => DataSource::Dir(dir.clone()),
            (Some(name), None)
                if !sre_mcp_backends::scenario::bundled_names().contains(&name.as_str()) =>
            {
                return Err(AppError::Usage(format!(
                    "--scenario {name}: no such bundled scenario; available: {} (or use --dataset-dir)",
                    sre_mcp_backends::scenario::bundled_names().join(", ")
                )));
            }
            (Some(name), None) => DataSource::Bundled(name.clone()),
            (None, None) => DataSource::default(),
        };
        let remote: HashMap<Domain, String> = cli.backend_urls.iter().cloned().collect();
        let backend_auth = backend_auth(cli, |key| std::env::var(key).ok())?;
        Ok(Self {
            data,
            remote,
            backend_auth,
            data_dir: cli.data_dir.clone().unwrap_or_else(default_data_dir),
            output_dir: cli.output_dir.clone(),
            save_report: !cli.no_markdown,
            user_id,
            session_id,
            debug: cli.debug,
            timeout: cli.timeout,
            environment: std::env::var(ENV_ENVIRONMENT).unwrap_or_else(|_| "local".to_owned()),
            prompt,
            interactive: cli.interactive,
        })
    }

    /// The OTLP-JSON lines file every process of this data directory appends spans to.
    pub fn trace_file(&self) -> PathBuf {
        self.data_dir.join("traces").join("traces.jsonl")
    }
}

/// Credentials for remote tool servers: an API key, a bearer token, or OAuth2 client credentials from the
/// `SRE_GATEWAY_*` variables (secrets stay out of the command line).
fn backend_auth(
    cli: &Cli,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<BackendAuth>, AppError> {
    if let Some(key) = &cli.backend_api_key {
        return Ok(Some(BackendAuth::ApiKey(key.clone())));
    }
    if let Some(token) = &cli.backend_token {
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
