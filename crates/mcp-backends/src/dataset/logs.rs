//! `logs.json`: application log entries.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::time::{Ago, Timestamp};

/// The log entries of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsData<T = Timestamp> {
    /// Entries; newest first once loaded.
    pub entries: Vec<LogEntry<T>>,
}

/// One log line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry<T = Timestamp> {
    /// When it was written (`ago` in the file).
    #[serde(rename = "ago")]
    pub at: T,
    /// The service that wrote it.
    pub service: String,
    /// The pod that wrote it, when known.
    pub pod: Option<String>,
    /// Severity.
    pub level: LogLevel,
    /// Logger or component name, when known.
    pub logger: Option<String>,
    /// The message.
    pub message: String,
}

/// Log severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Diagnostic detail.
    Debug,
    /// Routine operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failed operation.
    Error,
    /// The process cannot continue.
    Fatal,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// The name as written in files and answers (`ERROR`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// Parses a level name, case-insensitively; `WARNING` and `CRITICAL` stand for `WARN` and `FATAL`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "WARNING" => Some(LogLevel::Warn),
            "CRITICAL" => Some(LogLevel::Fatal),
            upper => Self::ALL.into_iter().find(|level| level.as_str() == upper),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LogsData<Ago> {
    /// Turns every `ago` into a timestamp relative to `now`, keeping file order.
    pub(crate) fn resolve(self, now: Timestamp) -> LogsData {
        let entries = self
            .entries
            .into_iter()
            .map(|e| LogEntry {
                at: e.at.before(now),
                service: e.service,
                pod: e.pod,
                level: e.level,
                logger: e.logger,
                message: e.message,
            })
            .collect();
        LogsData { entries }
    }
}

impl LogsData {
    /// Orders entries newest first (stable, so equal times keep file order).
    pub(crate) fn sort(&mut self) {
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    }
}
