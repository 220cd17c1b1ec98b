//! `sre-agent --prompt` and `--interactive`: investigations with live progress, printed and saved reports.

use std::{io::Write, path::PathBuf};

use sre_agents::progress::ProgressSink;
use sre_telemetry::TelemetryGuard;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    budget::{DailyBudgetError, DailyTokenBudget},
    config::AppConfig,
    console::{Style, render_progress},
    error::AppError,
    investigation::{InvestigationRequest, validate_question},
    report::{InvestigationReport, thousands},
    system::System,
};

/// Runs the question, or the interactive session, the command line asks for.
pub async fn run(
    system: &System,
    config: &AppConfig,
    telemetry: &TelemetryGuard,
) -> Result<(), AppError> {
    if config.interactive {
        interactive(system, config, telemetry).await
    } else {
        let question = config.prompt.clone().unwrap_or_default();
        investigate(system, config, telemetry, &question, Vec::new())
            .await
            .map(|_| ())
    }
}

/// One investigation with live progress; prints and saves the report. The user's daily token budget is
/// checked before it starts and charged with its tokens after it ends.
async fn investigate(
    system: &System,
    config: &AppConfig,
    telemetry: &TelemetryGuard,
    question: &str,
    history: Vec<String>,
) -> Result<InvestigationReport, AppError> {
    let style = Style::detect();
    let daily = DailyTokenBudget::new(&config.data_dir, config.daily_token_budget);
    daily
        .check(&config.user_id, chrono::Utc::now())
        .await
        .map_err(budget_error)?;
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
    // The investigation's spans are all finished: their export overlaps printing and saving the report and
    // charging the budget, and is waited for before the trace is pointed at.
    let spans = telemetry.span_flusher();
    let span_flush = tokio::task::spawn_blocking(move || spans.flush());
    // Its metrics too, so the exit has only what came after them to write.
    let metrics = telemetry.recorder().clone();
    let metric_flush = tokio::task::spawn_blocking(move || {
        metrics.flush(sre_telemetry::pipeline::SHUTDOWN_TIMEOUT)
    });
    // The sink is dropped with the request, which ends the renderer.
    let _ = renderer.await;
    let report = result?;

    let markdown = report.to_markdown();
    super::out(&format!("\n{markdown}\n"));
    if config.save_report {
        let path = save(&config.output_dir, &report.file_name(), &markdown)?;
        eprintln!("{} {}", style.bold("Report saved to"), path.display());
    }
    charge_daily_budget(&daily, config, &report, style).await;
    // Spans of this investigation are exported before we point at them.
    let flushed = matches!(span_flush.await, Ok(Ok(())));
    let _ = metric_flush.await;
    if let (Some(hex), Some(xray)) = (&report.trace_id, report.xray_trace_id()) {
        eprintln!("{} {hex} (X-Ray {xray})", style.bold("Trace ID:"));
    }
    if report.trace_id.is_none() {
        eprintln!(
            "{} tracing is off (OTEL_SDK_DISABLED) or the sampler did not record this investigation (OTEL_TRACES_SAMPLER)",
            style.bold("No trace:")
        );
    } else if let Some(file) = telemetry.trace_file() {
        let note = if flushed { "" } else { " (flush pending)" };
        eprintln!(
            "{} {}{note}",
            style.bold("Spans written to"),
            file.display()
        );
    }
    Ok(report)
}

/// Charges every token the investigation used (supervisor and specialists, failed ones included) to the
/// user's day. The report is already out, so a count that cannot be written is a warning; with a daily limit
/// the next check reports the same store problem and refuses to start.
async fn charge_daily_budget(
    daily: &DailyTokenBudget,
    config: &AppConfig,
    report: &InvestigationReport,
    style: Style,
) {
    match daily
        .charge(&config.user_id, report.budget.used(), chrono::Utc::now())
        .await
    {
        Ok(usage) => {
            if let (Some(limit), Some(remaining)) = (usage.limit, usage.remaining()) {
                eprintln!(
                    "{} {} of {} tokens used today (UTC) by {}, {} left",
                    style.bold("Daily token budget:"),
                    thousands(usage.used),
                    thousands(limit),
                    config.user_id,
                    thousands(remaining)
                );
            }
        }
        Err(e) => eprintln!("{} {e}", style.red("warning:")),
    }
}

fn budget_error(error: DailyBudgetError) -> AppError {
    AppError::Startup {
        what: "investigation".into(),
        message: error.to_string(),
    }
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
                    Ok(report) => history.push(format!(
                        "{} → {}",
                        question,
                        crate::report::one_line(&report.assessment.root_cause)
                    )),
                    Err(e) => eprintln!("{} {e}", style.red("error:")),
                }
            }
        }
    }
    Ok(())
}
