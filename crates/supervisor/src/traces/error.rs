//! Why a trace command could not answer: the trace file is missing or unreadable, a trace id is malformed,
//! unknown or ambiguous, or an output could not be encoded.

use std::path::PathBuf;

/// Errors of the trace commands (`traces list`, `traces show`, `traces service-map`).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// There is no trace file yet.
    #[error(
        "no trace file at {}: run an investigation first (sre-agent --prompt \"…\"), or point --data-dir at the \
         directory that holds traces/traces.jsonl",
        path.display()
    )]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// The trace file exists but cannot be read.
    #[error("cannot read the trace file {}: {source}", path.display())]
    Read {
        /// The trace file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The text given as a trace id is not one.
    #[error(
        "`{input}` is not a trace id ({reason}); give the 32 hex digits (6b01357ef0d58debe69bcc7be896f611), the \
         X-Ray form (1-6b01357e-f0d58debe69bcc7be896f611) or an unambiguous prefix of either"
    )]
    InvalidId {
        /// What the user typed.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No trace in the file has this id.
    #[error("no trace {input} in {}; {}", path.display(), recent_text(recent))]
    UnknownTrace {
        /// What the user typed.
        input: String,
        /// The trace file searched.
        path: PathBuf,
        /// The most recent trace ids in the file, newest first (hex).
        recent: Vec<String>,
    },
    /// Several traces start with the given prefix.
    #[error("{input} matches {} traces: {}; give more digits", matches.len(), shown(matches))]
    AmbiguousTrace {
        /// What the user typed.
        input: String,
        /// The matching trace ids, newest first (hex).
        matches: Vec<String>,
    },
    /// JSON output could not be produced.
    #[error("cannot encode the service map as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

impl TraceError {
    /// True when the user's input is at fault (a malformed, unknown or ambiguous id): exit code 2 territory.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            TraceError::InvalidId { .. }
                | TraceError::UnknownTrace { .. }
                | TraceError::AmbiguousTrace { .. }
        )
    }
}

/// How many matching ids an ambiguity error names.
const SHOWN_MATCHES: usize = 10;

fn shown(matches: &[String]) -> String {
    let mut text = matches
        .iter()
        .take(SHOWN_MATCHES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if matches.len() > SHOWN_MATCHES {
        text.push_str(&format!(" and {} more", matches.len() - SHOWN_MATCHES));
    }
    text
}

fn recent_text(recent: &[String]) -> String {
    if recent.is_empty() {
        "the file holds no traces yet".to_owned()
    } else {
        format!(
            "recent traces: {} (see `sre-agent traces list`)",
            recent.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguity_names_at_most_ten_ids() {
        let matches: Vec<String> = (0..25).map(|i| format!("6b0005{i:026x}")).collect();
        let err = TraceError::AmbiguousTrace {
            input: "6b0005".into(),
            matches,
        };
        let text = err.to_string();
        assert!(text.starts_with("6b0005 matches 25 traces: "), "{text}");
        assert!(text.contains(" and 15 more; give more digits"), "{text}");
        assert_eq!(text.matches("6b0005").count(), 11);
    }
}
