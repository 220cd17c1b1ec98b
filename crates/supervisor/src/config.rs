//! Configuration: every environment variable the binary reads is a named constant here, and the command
//! line is turned into one [`AppConfig`] before anything starts.

use std::{io::Read, path::PathBuf, time::Duration};

use sre_memory::{SessionId, UserId};

use crate::{
    cli::{Cli, Provider},
    error::AppError,
    investigation::{MAX_QUESTION_BYTES, validate_question},
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
        Ok(Self {
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
