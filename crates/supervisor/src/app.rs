//! The application: turn a validated command line into what it asks for — an investigation (one question or
//! an interactive session), standalone tool servers, an evaluation, or memory management — and flush
//! telemetry before exit.

mod backends;
mod eval;
mod investigate;
mod memory;
mod serve;
mod traces;

use std::sync::Arc;

use sre_agents::model::ChatModel;
use sre_memory::{Memory, MemoryConfig};
use sre_telemetry::{TelemetryConfig, TelemetryGuard, convention::AGENT_SERVICE_NAME};

use crate::{
    cli::{BackendsCommand, Cli, Command},
    config::{AppConfig, MemorySelection, provider_error},
    error::AppError,
    system::{System, SystemOptions},
};

/// Runs `sre-agent` as the command line asks.
pub async fn run(cli: Cli) -> Result<(), AppError> {
    let config = AppConfig::from_cli(&cli, std::io::stdin().lock())?;
    match &cli.command {
        None => {
            let model = start_model(&config).await?;
            let telemetry = install_telemetry(&config, AGENT_SERVICE_NAME)?;
            let result = investigate_with_system(&config, &telemetry, model).await;
            flush(telemetry).await;
            result
        }
        Some(Command::Backends(BackendsCommand::Scenarios)) => {
            backends::scenarios();
            Ok(())
        }
        Some(Command::Backends(BackendsCommand::Serve(args))) => {
            backends::serve(&config, args).await
        }
        Some(Command::Eval(args)) => {
            eval::check_args(args)?;
            let model = start_model(&config).await?;
            let telemetry = install_telemetry(&config, AGENT_SERVICE_NAME)?;
            let result = eval::run(&config, args, model).await;
            flush(telemetry).await;
            result
        }
        Some(Command::Memory(command)) => {
            // Memory operations are traced like the investigation's (memory.load_preferences, memory.save, …).
            let telemetry = install_telemetry(&config, AGENT_SERVICE_NAME)?;
            let result = memory::run(&config, command).await;
            flush(telemetry).await;
            result
        }
        Some(Command::Traces(command)) => traces::run(&config, command),
        Some(Command::Serve(args)) => {
            let model = start_model(&config).await?;
            let telemetry = install_telemetry(&config, AGENT_SERVICE_NAME)?;
            let result = async {
                let system = start_system(&config, model).await?;
                serve::run(system, &config, args).await
            }
            .await;
            flush(telemetry).await;
            result
        }
    }
}

/// The model the command line asks for, checked before anything else starts: a missing credential or an
/// unreachable endpoint ends the run here, in one line and within two seconds, instead of failing every agent
/// of an investigation. The AWS SDK's instance-metadata lookups are bounded by the same preflight deadline.
async fn start_model(config: &AppConfig) -> Result<Arc<dyn ChatModel>, AppError> {
    let provider = config.provider_config(|key| std::env::var(key).ok())?;
    provider.preflight().await.map_err(provider_error)?;
    provider.build().await.map_err(provider_error)
}

async fn investigate_with_system(
    config: &AppConfig,
    telemetry: &TelemetryGuard,
    model: Arc<dyn ChatModel>,
) -> Result<(), AppError> {
    let system = start_system(config, model).await?;
    let result = investigate::run(&system, config, telemetry).await;
    system.shutdown().await;
    result
}

/// The system the command line describes around `model`, with its memory, started.
async fn start_system(config: &AppConfig, model: Arc<dyn ChatModel>) -> Result<System, AppError> {
    let mut options = system_options(config, model);
    options.memory = open_memory(config).await?;
    System::start(options).await
}

/// The system the command line describes around `model` (memory is opened separately).
fn system_options(config: &AppConfig, model: Arc<dyn ChatModel>) -> SystemOptions {
    let mut options = SystemOptions::new(model);
    options.investigation_timeout = config.timeout;
    options.max_tokens = config.max_tokens;
    options.data = config.data.clone();
    options.remote = config.remote.clone();
    options.tools.auth = config.backend_auth.clone();
    options
}

/// Opens the configured memory, seeding the bundled user preferences into an empty store.
async fn open_memory(config: &AppConfig) -> Result<Option<Arc<Memory>>, AppError> {
    let mut memory_config = match &config.memory {
        MemorySelection::Off => return Ok(None),
        MemorySelection::Sqlite => MemoryConfig::sqlite_in(&config.data_dir),
        MemorySelection::AgentCore(id) => MemoryConfig::agentcore(id.clone()),
    };
    memory_config.retention = config.memory_retention;
    let aws = match &config.memory {
        MemorySelection::AgentCore(_) => Some(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await,
        ),
        _ => None,
    };
    let memory = Memory::open(&memory_config, aws.as_ref())
        .await
        .map_err(|e| AppError::Startup {
            what: "memory".into(),
            message: e.to_string(),
        })?
        .with_observer(record_memory_operation);
    if let Err(e) = memory.seed_bundled_users().await {
        tracing::warn!("could not seed the bundled user preferences: {e}");
    }
    Ok(Some(Arc::new(memory)))
}

fn install_telemetry(config: &AppConfig, service_name: &str) -> Result<TelemetryGuard, AppError> {
    // The standard OTEL_* variables (and ours: OTEL_ENABLED, OTEL_DEBUG, CLOUDWATCH_METRICS_NAMESPACE, ...)
    // decide the exporters; nothing set means the trace and EMF files in the data directory.
    let mut telemetry = TelemetryConfig::from_env(service_name, &config.data_dir)?;
    telemetry.console |= config.debug;
    if std::env::var_os(sre_telemetry::config::env::RUST_LOG).is_none() {
        // rmcp logs every stateless request at info; our own crates are the interesting part. Its client
        // worker logs each failed connection as an ERROR with the raw transport error: the tool client
        // reports those failures itself (span, metric, a classified WARN, the report's gaps).
        telemetry.log_filter = if config.debug {
            "info,rmcp=warn,rmcp::transport::worker=off"
        } else {
            "warn,rmcp::transport::worker=off"
        }
        .to_owned();
    }
    Ok(sre_telemetry::install(&telemetry)?)
}

/// `MemoryOperation` [Operation, Strategy] for every memory operation, the `preferences` cache's hits and
/// misses, and `Errors` [Component=memory] for failed ones.
pub fn record_memory_operation(timing: &sre_memory::OperationTiming) {
    use sre_telemetry::metric::{MetricId, dim, record};
    record(
        MetricId::MemoryOperation,
        timing.duration.as_secs_f64() * 1000.0,
        &[
            (dim::OPERATION, timing.operation.as_str()),
            (dim::STRATEGY, timing.strategy_dimension()),
        ],
    );
    match timing.cache_hit {
        Some(true) => record(MetricId::CacheHits, 1.0, &[(dim::CACHE, "preferences")]),
        Some(false) => record(MetricId::CacheMisses, 1.0, &[(dim::CACHE, "preferences")]),
        None => {}
    }
    if let Some(error_type) = timing.error_type {
        record(
            MetricId::Errors,
            1.0,
            &[(dim::COMPONENT, "memory"), (dim::ERROR_TYPE, error_type)],
        );
    }
}

/// Exports every pending span; the exporters block, so this runs off the async workers.
async fn flush(telemetry: TelemetryGuard) {
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
}

/// Writes `text` to stdout. A reader that went away (`sre-agent traces list | head`) ends the output
/// quietly instead of a panic; any other write error is reported once on stderr.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write to stdout: {e}");
    }
}
