//! The command line of `sre-agent`.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use sre_agents::model::provider::ProviderKind;
use sre_mcp_backends::domain::Domain;

use crate::config::{
    DEFAULT_MAX_TOKENS, DEFAULT_USER_ID, ENV_BACKEND_API_KEY, ENV_BACKEND_TOKEN, ENV_BACKEND_URLS,
    ENV_DATASET_DIR, ENV_LLM_PROVIDER, ENV_MEMORY, ENV_MEMORY_ID, ENV_MEMORY_RETENTION,
    ENV_OTEL_DEBUG, ENV_SCENARIO, ENV_SRE_DATA_DIR, ENV_USER_ID,
};

/// Investigate production incidents with a team of AI agents, observable end to end.
///
/// A supervisor routes the question to Kubernetes, logs, metrics and runbook specialists that run in
/// parallel against MCP tool servers, then writes a Markdown report. With nothing configured it starts the
/// four tool servers in-process on loopback with a bundled incident dataset and reasons with the offline
/// engine; every investigation is one trace, written to the data directory.
#[derive(Debug, Parser)]
#[command(name = "sre-agent", version, about, long_about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The question to investigate, e.g. "Why are the database pods crash looping in production?"; `-` reads it
    /// from stdin.
    #[arg(short, long, visible_alias = "query", value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Start a multi-turn session (commands: /help, /agents, /history, /clear, /exit).
    #[arg(short, long, conflicts_with = "prompt")]
    pub interactive: bool,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// User the investigation runs as.
    #[arg(long, env = ENV_USER_ID, default_value = DEFAULT_USER_ID, value_name = "ID", global = true)]
    pub user_id: String,

    /// Session id (default: a new one per run, shared by the turns of an interactive session).
    #[arg(long, value_name = "ID", global = true)]
    pub session_id: Option<String>,

    /// Directory the Markdown reports are written to.
    #[arg(long, default_value = "./reports", value_name = "DIR", global = true)]
    pub output_dir: PathBuf,

    /// Print the report but do not write it to --output-dir.
    #[arg(long, global = true)]
    pub no_markdown: bool,

    /// Reasoning provider: the built-in offline engine, or a model on Amazon Bedrock, the Anthropic API or an
    /// OpenAI-compatible server (credentials and endpoints from the standard environment; see the README).
    #[arg(long, env = ENV_LLM_PROVIDER, value_enum, ignore_case = true, default_value_t = Provider::Offline,
          global = true)]
    pub provider: Provider,

    /// Model id sent to the provider (default per provider; --help lists them).
    #[arg(long, value_name = "ID", global = true, long_help = model_help())]
    pub model: Option<String>,

    /// Most model tokens (input, output and cache) one investigation may use, over the supervisor and every
    /// specialist; when they are used up the agents stop and the report is partial. 0 means no limit.
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS, value_name = "N", global = true)]
    pub max_tokens: u64,

    /// Most model tokens one user may use per UTC day, counted in the data directory; an investigation does
    /// not start once they are used up. 0 means no limit.
    #[arg(long, default_value_t = 0, value_name = "N", global = true)]
    pub daily_token_budget: u64,

    /// Also print every finished span on stderr, and log at info level.
    #[arg(long, env = ENV_OTEL_DEBUG, global = true)]
    pub debug: bool,

    /// Directory for traces, memory and other local state [default: the per-user data directory, e.g.
    /// ~/.local/share/sre-agent].
    #[arg(long, env = ENV_SRE_DATA_DIR, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// Longest time one investigation may take (e.g. 90s, 2m).
    #[arg(long, default_value = "2m", value_parser = humantime_duration, value_name = "DURATION", global = true)]
    pub timeout: Duration,

    /// Bundled incident scenario the tool servers serve (`sre-agent backends scenarios` lists them).
    #[arg(long, env = ENV_SCENARIO, value_name = "NAME", global = true, conflicts_with = "dataset_dir")]
    pub scenario: Option<String>,

    /// Serve your own scenario from this directory instead (format: docs/scenario-format.md).
    #[arg(long, env = ENV_DATASET_DIR, value_name = "DIR", global = true)]
    pub dataset_dir: Option<PathBuf>,

    /// Use a running tool server for one domain, e.g. `k8s=http://127.0.0.1:8011/mcp`; repeat per domain
    /// (k8s, logs, metrics, runbooks). Domains without one are served in-process.
    #[arg(long = "backend-url", env = ENV_BACKEND_URLS, value_delimiter = ',', value_parser = backend_url,
          value_name = "DOMAIN=URL", global = true)]
    pub backend_urls: Vec<(Domain, String)>,

    /// API key (`X-API-Key`) the tool servers require: sent to --backend-url servers, and demanded by
    /// `backends serve`.
    #[arg(long, env = ENV_BACKEND_API_KEY, value_name = "KEY", global = true, hide_env_values = true,
          conflicts_with = "backend_token")]
    pub backend_api_key: Option<String>,

    /// Bearer token the tool servers require: sent to --backend-url servers, and demanded by `backends serve`
    /// (for OAuth2 client credentials see the README).
    #[arg(long, env = ENV_BACKEND_TOKEN, value_name = "TOKEN", global = true, hide_env_values = true)]
    pub backend_token: Option<String>,

    /// Where memory lives: a SQLite file in the data directory, AgentCore Memory, or nowhere.
    #[arg(long, env = ENV_MEMORY, value_enum, global = true)]
    pub memory: Option<MemoryBackend>,

    /// AgentCore Memory id (implies --memory agentcore).
    #[arg(long, env = ENV_MEMORY_ID, value_name = "ID", global = true)]
    pub memory_id: Option<String>,

    /// How long memory keeps investigation history and infrastructure knowledge (e.g. 90d); older records are
    /// deleted when memory opens. User preferences do not expire.
    #[arg(long, env = ENV_MEMORY_RETENTION, default_value = "90d", value_parser = retention_duration,
          value_name = "DURATION", global = true)]
    pub memory_retention: Duration,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP tool servers as their own processes, or list the bundled scenarios.
    #[command(subcommand)]
    Backends(BackendsCommand),
    /// Investigate every question of scenarios and score the reports against their expected.json.
    Eval(EvalArgs),
    /// Manage memory: load user preferences, list and delete records.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Read the local trace file: list traces, show one as a waterfall, draw the service map (no AWS needed).
    #[command(subcommand)]
    Traces(TracesCommand),
    /// Serve investigations over HTTP with the Amazon Bedrock AgentCore Runtime contract: POST /invocations
    /// {"prompt": "..."} answers with the report; GET /ping reports health.
    Serve(AgentServeArgs),
}

/// `sre-agent serve`
#[derive(Debug, Args)]
pub struct AgentServeArgs {
    /// Address to listen on (AgentCore Runtime: 0.0.0.0).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (AgentCore Runtime: 8080).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

/// `sre-agent traces …`
#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// The most recent traces, newest first: id, start, duration, spans, services, status, question.
    List {
        /// Most traces shown.
        #[arg(long, default_value_t = crate::traces::DEFAULT_LIST_LIMIT)]
        limit: usize,
        /// Only traces that started this long ago or later (e.g. 30m, 2h).
        #[arg(long, value_parser = humantime_duration, value_name = "DURATION")]
        since: Option<Duration>,
        #[command(flatten)]
        file: TraceFileArg,
    },
    /// One trace as a waterfall: every span with its offset, duration and status; the critical path and the
    /// slowest agent highlighted, errors in red.
    Show {
        /// Trace id: 32 hex digits, the X-Ray form (1-xxxxxxxx-…), a unique prefix of at least 8 digits, or
        /// `latest` for the most recent investigation.
        trace_id: String,
        /// Also print the attributes of the spans whose name contains TEXT (e.g. `memory.retrieve`,
        /// `tools/call`); without TEXT, of every span.
        #[arg(long, value_name = "TEXT", num_args = 0..=1, default_missing_value = "")]
        attributes: Option<String>,
        #[command(flatten)]
        file: TraceFileArg,
    },
    /// The service map, computed the way X-Ray computes it: nodes from SERVER spans and remote CLIENT spans,
    /// edges with request count, error and fault rates, p50/p95 latency.
    ServiceMap {
        /// Only spans that started this long ago or later (e.g. 15m, 1h).
        #[arg(long, value_parser = humantime_duration, value_name = "DURATION")]
        since: Option<Duration>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::traces::MapFormat::Text)]
        format: crate::traces::MapFormat,
        /// Write to this file instead of stdout (useful for html).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        file: TraceFileArg,
    },
}

/// Which trace file `traces` reads.
#[derive(Debug, Args)]
pub struct TraceFileArg {
    /// The OTLP-JSON lines trace file [default: <data dir>/traces/traces.jsonl].
    #[arg(long, value_name = "FILE")]
    pub trace_file: Option<PathBuf>,
}

/// `sre-agent backends …`
#[derive(Debug, Subcommand)]
pub enum BackendsCommand {
    /// Serve tool servers until SIGTERM or Ctrl-C (k8s on --port-base, logs +1, metrics +2, runbooks +3).
    Serve(ServeArgs),
    /// List the bundled scenarios.
    Scenarios,
}

/// `sre-agent backends serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which tool server to run.
    #[arg(long, value_enum, default_value_t = DomainChoice::All)]
    pub domain: DomainChoice,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the k8s server; logs, metrics and runbooks take the next three.
    #[arg(long, default_value_t = 8011)]
    pub port_base: u16,
    /// Host name clients may use besides loopback names (repeatable; `*` allows any) — needed behind a
    /// gateway or when listening on a non-loopback address.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
}

/// A domain or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DomainChoice {
    K8s,
    Logs,
    Metrics,
    Runbooks,
    All,
}

impl DomainChoice {
    /// The domains chosen.
    pub fn domains(self) -> Vec<Domain> {
        match self {
            DomainChoice::K8s => vec![Domain::K8s],
            DomainChoice::Logs => vec![Domain::Logs],
            DomainChoice::Metrics => vec![Domain::Metrics],
            DomainChoice::Runbooks => vec![Domain::Runbooks],
            DomainChoice::All => Domain::ALL.to_vec(),
        }
    }
}

/// `sre-agent eval`
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Exit non-zero when any question scores below this (0..=1; each of root-cause recall, impact recall,
    /// severity match and no fabricated names counts a quarter).
    #[arg(long, default_value_t = 1.0)]
    pub min_score: f64,
}

/// `sre-agent memory …`
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Store user preferences from a YAML file (default: the personas bundled in the binary, as in
    /// config/users.yaml).
    LoadPreferences {
        /// The file (schema in config/users.yaml).
        file: Option<PathBuf>,
    },
    /// List records, newest first.
    List {
        /// Only this strategy.
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
        /// Only this user's records.
        #[arg(long = "user", value_name = "ID")]
        user: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Delete one record (--id) or a user's records (--user, optionally one --strategy).
    Delete {
        #[arg(long, value_name = "RECORD_ID", required_unless_present = "user")]
        id: Option<String>,
        #[arg(long = "user", value_name = "ID")]
        user: Option<String>,
        #[arg(long, value_enum, requires = "user")]
        strategy: Option<StrategyArg>,
    },
}

/// A memory strategy on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    Preferences,
    Knowledge,
    Investigations,
}

/// Where memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemoryBackend {
    /// A SQLite file in the data directory (default).
    Sqlite,
    /// Amazon Bedrock AgentCore Memory (needs --memory-id and AWS credentials).
    Agentcore,
    /// No memory: neutral reports, no escalation, nothing remembered.
    Off,
}

/// Reasoning providers on the command line (the names of [`ProviderKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// The built-in deterministic reasoning engine (no network, no credentials).
    Offline,
    /// Amazon Bedrock Converse.
    Bedrock,
    /// The Anthropic Messages API.
    Anthropic,
    /// An OpenAI-compatible chat completions endpoint.
    #[value(name = "openai")]
    OpenAi,
}

impl From<Provider> for ProviderKind {
    fn from(provider: Provider) -> Self {
        match provider {
            Provider::Offline => ProviderKind::Offline,
            Provider::Bedrock => ProviderKind::Bedrock,
            Provider::Anthropic => ProviderKind::Anthropic,
            Provider::OpenAi => ProviderKind::OpenAi,
        }
    }
}

/// `--model`'s long help, with each provider's default taken from the provider library.
fn model_help() -> String {
    let mut help = "Model id sent to the provider: a Bedrock model or inference-profile id, an Anthropic model \
                    name, or the model name an OpenAI-compatible server knows (e.g. llama3.1:8b on Ollama). The \
                    offline engine has one model. Defaults:"
        .to_owned();
    for kind in ProviderKind::ALL {
        help.push_str(&format!(
            "\n  {:<10} {}",
            kind.as_str(),
            kind.default_model()
        ));
    }
    help
}

/// `k8s=http://127.0.0.1:8011/mcp`
fn backend_url(text: &str) -> Result<(Domain, String), String> {
    let (domain, url) = text.split_once('=').ok_or_else(|| {
        format!("expected DOMAIN=URL (e.g. k8s=http://127.0.0.1:8011/mcp), got {text:?}")
    })?;
    let domain: Domain = domain.trim().parse().map_err(|e| format!("{e}"))?;
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "the URL for {domain} must start with http:// or https://, got {url:?}"
        ));
    }
    Ok((domain, url.to_owned()))
}

/// A retention period: zero would delete every record the moment memory opens.
fn retention_duration(text: &str) -> Result<Duration, String> {
    let retention = humantime_duration(text)?;
    if retention.is_zero() {
        return Err(
            "a retention of zero would delete all history and knowledge; give a period such as 90d"
                .into(),
        );
    }
    Ok(retention)
}

fn humantime_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 90s, 2m, 1h, 90d)"))
}

const EXAMPLES: &str = "\
Examples:
  sre-agent --prompt \"Why are the database pods crash looping in production?\"
  USER_ID=Carol sre-agent --scenario api-latency-regression --prompt \"API response times have degraded 3x in the last hour\"
  sre-agent --interactive
  sre-agent --provider bedrock --prompt \"Check cluster health\"
  OPENAI_BASE_URL=http://localhost:11434/v1 sre-agent --provider openai --model llama3.1:8b --prompt \"...\"
  sre-agent backends serve --domain k8s            # one tool server on 127.0.0.1:8011
  sre-agent --backend-url k8s=http://127.0.0.1:8011/mcp --prompt \"Check cluster health\"
  sre-agent eval                                   # score every bundled scenario
  sre-agent memory list --user Alice
  sre-agent traces list                            # recent investigations in the local trace file
  sre-agent traces show latest                     # the last investigation as a waterfall (or an id/prefix)
  sre-agent traces service-map --since 1h          # the X-Ray-style service map, without AWS";
