//! The application: turn a validated command line into a running system, run the prompt or the interactive
//! session, write reports, and flush telemetry before exit.

use std::{io::Write, path::PathBuf, sync::Arc};

use sre_agents::{model::offline::OfflineModel, progress::ProgressSink};
use sre_telemetry::{TelemetryConfig, TelemetryGuard, convention::AGENT_SERVICE_NAME};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    cli::Cli,
    config::AppConfig,
    console::{Style, render_progress},
    error::AppError,
    investigation::{InvestigationRequest, validate_question},
    report::InvestigationReport,
    system::{System, SystemOptions},
};

/// Runs `sre-agent` as the command line asks.
pub async fn run(cli: Cli) -> Result<(), AppError> {
    let config = AppConfig::from_cli(&cli, std::io::stdin().lock())?;
    let telemetry = install_telemetry(&config)?;
    let mut options = SystemOptions::new(Arc::new(OfflineModel::new()));
    options.investigation_timeout = config.timeout;
    options.data = config.data.clone();
    options.remote = config.remote.clone();
    options.tools.auth = config.backend_auth.clone();
    let result = match System::start(options).await {
        Ok(system) => {
            let result = if config.interactive {
                interactive(&system, &config, &telemetry).await
            } else {
                let question = config.prompt.clone().unwrap_or_default();
                investigate(&system, &config, &telemetry, &question, Vec::new())
                    .await
                    .map(|_| ())
            };
            system.shutdown().await;
            result
        }
        Err(e) => Err(e),
    };
    flush(telemetry).await;
    result
}

fn install_telemetry(config: &AppConfig) -> Result<TelemetryGuard, AppError> {
    let mut telemetry = TelemetryConfig::new(AGENT_SERVICE_NAME, Some(config.trace_file()));
    telemetry.environment = config.environment.clone();
    telemetry.console = config.debug;
    // rmcp logs every stateless request at info; our own crates are the interesting part.
    telemetry.log_filter = if config.debug {
        "info,rmcp=warn"
    } else {
        "warn"
    }
    .to_owned();
    Ok(sre_telemetry::install(&telemetry)?)
}

/// Exports every pending span; the exporters block, so this runs off the async workers.
async fn flush(telemetry: TelemetryGuard) {
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
}

/// One investigation with live progress; prints and saves the report.
async fn investigate(
    system: &System,
    config: &AppConfig,
    telemetry: &TelemetryGuard,
    question: &str,
    history: Vec<String>,
) -> Result<InvestigationReport, AppError> {
    let style = Style::detect();
    eprintln!("{} {}", style.bold("Investigating:"), question.trim());
    let (progress, events) = ProgressSink::channel();
    let renderer = tokio::spawn(render_progress(events));
    let request = InvestigationRequest {
        question: question.to_owned(),
        user_id: config.user_id.clone(),
        session_id: config.session_id.clone(),
        history,
        progress,
    };
    let result = system.investigate(request).await;
    // The sink is dropped with the request, which ends the renderer.
    let _ = renderer.await;
    let report = result?;

    let markdown = report.to_markdown();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{markdown}");
    }
    if config.save_report {
        let path = save(&config.output_dir, &report.file_name(), &markdown)?;
        eprintln!("{} {}", style.bold("Report saved to"), path.display());
    }
    // Spans of this investigation are exported before we point at them.
    let flushed = {
        let guard_flush = tokio::task::block_in_place(|| telemetry.flush());
        guard_flush.is_ok()
    };
    if let (Some(hex), Some(xray)) = (&report.trace_id, report.xray_trace_id()) {
        eprintln!("{} {hex} (X-Ray {xray})", style.bold("Trace ID:"));
    }
    if let Some(file) = telemetry.trace_file() {
        let note = if flushed { "" } else { " (flush pending)" };
        eprintln!(
            "{} {}{note}",
            style.bold("Spans written to"),
            file.display()
        );
    }
    Ok(report)
}

fn save(dir: &std::path::Path, name: &str, markdown: &str) -> Result<PathBuf, AppError> {
    let write_err = |path: &std::path::Path, source| AppError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let path = dir.join(name);
    std::fs::write(&path, markdown).map_err(|e| write_err(&path, e))?;
    Ok(path)
}

const HELP: &str = "\
Ask a question about the incident, or use a command:
  /help      show this help
  /agents    list the specialist agents
  /history   show the questions of this session and their root causes
  /clear     forget the session history
  /exit      leave (also /quit or Ctrl-D)";

/// A multi-turn session: each question is an investigation that sees the earlier turns.
async fn interactive(
    system: &System,
    config: &AppConfig,
    telemetry: &TelemetryGuard,
) -> Result<(), AppError> {
    let style = Style::detect();
    eprintln!(
        "{} session {} as {}. Type /help for commands.",
        style.bold("sre-agent"),
        config.session_id,
        config.user_id
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut history: Vec<String> = Vec::new();
    loop {
        eprint!("{} ", style.bold("sre>"));
        let _ = std::io::stderr().flush();
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                return Err(AppError::Usage(format!(
                    "cannot read the next question from stdin: {e}"
                )));
            }
        };
        let input = line.trim();
        match input {
            "" => continue,
            "/exit" | "/quit" => break,
            "/help" => eprintln!("{HELP}"),
            "/agents" => {
                for kind in sre_agents::protocol::AgentKind::ALL {
                    eprintln!(
                        "  {:<11} tools from {}",
                        kind.as_str(),
                        crate::system::domain_of(kind).service_name()
                    );
                }
            }
            "/history" if history.is_empty() => eprintln!("  (no questions yet)"),
            "/history" => {
                for (i, turn) in history.iter().enumerate() {
                    eprintln!("  {}. {turn}", i + 1);
                }
            }
            "/clear" => {
                history.clear();
                eprintln!("  history cleared");
            }
            command if command.starts_with('/') => {
                eprintln!("unknown command {command}; type /help")
            }
            question => {
                if let Err(e) = validate_question(question) {
                    eprintln!("{} {e}", style.red("error:"));
                    continue;
                }
                match investigate(system, config, telemetry, question, history.clone()).await {
                    Ok(report) => {
                        history.push(format!("{} → {}", question, report.assessment.root_cause))
                    }
                    Err(e) => eprintln!("{} {e}", style.red("error:")),
                }
            }
        }
    }
    Ok(())
}
