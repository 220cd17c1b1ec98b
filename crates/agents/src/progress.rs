//! Progress of a running investigation, streamed to whoever watches (the CLI prints it as it happens).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::protocol::AgentKind;

/// Something that just happened in an investigation.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// The supervisor chose its specialists.
    Routed {
        agents: Vec<AgentKind>,
        reason: String,
    },
    AgentStarted {
        agent: AgentKind,
    },
    ToolStarted {
        agent: AgentKind,
        tool: String,
        arguments: serde_json::Value,
    },
    ToolFinished {
        agent: AgentKind,
        tool: String,
        arguments: serde_json::Value,
        duration: Duration,
        error: Option<String>,
    },
    AgentFinished {
        agent: AgentKind,
        duration: Duration,
        findings: usize,
        tool_calls: usize,
        error: Option<String>,
    },
    /// A specialist crashed and the supervisor started a new one.
    AgentRestarted {
        agent: AgentKind,
    },
    /// All specialists answered; the report is being written.
    Aggregating,
}

/// A non-blocking, cloneable destination for [`ProgressEvent`]s. Sending never waits; with no receiver the
/// events are dropped.
#[derive(Debug, Clone, Default)]
pub struct ProgressSink(Option<mpsc::UnboundedSender<ProgressEvent>>);

impl ProgressSink {
    /// A sink that discards everything.
    pub fn none() -> Self {
        Self(None)
    }

    /// A sink and the receiving end.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<ProgressEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(Some(tx)), rx)
    }

    /// Emits `event` if anyone listens.
    pub fn emit(&self, event: ProgressEvent) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(event);
        }
    }
}
