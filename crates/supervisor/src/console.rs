//! What the terminal shows while an investigation runs: routing, each agent's tool calls with timings, and
//! completion — on stderr, so stdout carries only the report.

use std::{
    io::{IsTerminal, Write},
    time::Instant,
};

use sre_agents::progress::ProgressEvent;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::report::human;

/// Renders progress events until the sender side closes.
pub async fn render_progress(mut events: UnboundedReceiver<ProgressEvent>) {
    let style = Style::detect();
    let started = Instant::now();
    while let Some(event) = events.recv().await {
        let Some(line) = format_event(&event, &style) else {
            continue;
        };
        let elapsed = started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{}",
            style.dim(&format!("[{elapsed:6.2}s]")) + " " + &line
        );
    }
}

/// Terminal styling, only when stderr is a terminal and `NO_COLOR` is unset.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn detect() -> Self {
        Self {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn cyan(&self, text: &str) -> String {
        self.paint("36", text)
    }
}

fn format_event(event: &ProgressEvent, style: &Style) -> Option<String> {
    let line = match event {
        ProgressEvent::Routed { agents, reason } => format!(
            "{} {}  {}",
            style.bold("routing →"),
            agents
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            style.dim(&format!("({reason})"))
        ),
        ProgressEvent::AgentStarted { agent } => {
            format!("{:<11} started", style.cyan(agent.as_str()))
        }
        ProgressEvent::ToolStarted { .. } => return None,
        ProgressEvent::ToolFinished {
            agent,
            tool,
            arguments,
            duration,
            error,
        } => {
            let outcome = match error {
                None => style.dim(&human(*duration)),
                Some(e) => style.red(&format!("{} — {e}", human(*duration))),
            };
            format!(
                "{:<11} ↳ {} {outcome}",
                style.cyan(agent.as_str()),
                call_text(tool, arguments)
            )
        }
        ProgressEvent::AgentFinished {
            agent,
            duration,
            findings,
            tool_calls,
            error,
        } => match error {
            None => format!(
                "{:<11} {} {findings} findings from {tool_calls} tool calls in {}",
                style.cyan(agent.as_str()),
                style.green("✓"),
                human(*duration)
            ),
            Some(e) => format!("{:<11} {} {e}", style.cyan(agent.as_str()), style.red("✗")),
        },
        ProgressEvent::AgentRestarted { agent } => {
            format!("{:<11} restarted after a crash", style.cyan(agent.as_str()))
        }
        ProgressEvent::Aggregating => style.bold("aggregating findings…"),
    };
    Some(line)
}

/// `get_pod_status(namespace=production)`
fn call_text(tool: &str, arguments: &serde_json::Value) -> String {
    let args = arguments
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!("{tool}({args})")
}
