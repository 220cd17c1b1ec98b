//! Understanding a question: which symptoms it describes, which namespace and time window it means, and
//! the words worth searching for.

use std::{collections::BTreeSet, time::Duration};

use regex::Regex;
use std::sync::LazyLock;

/// Kinds of trouble a question can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Symptom {
    Crash,
    Latency,
    Errors,
    Memory,
    Cpu,
    Disk,
    Network,
    Outage,
    Deployment,
    Config,
    Health,
    Traffic,
    Certificate,
}

/// Specialist areas a question names outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mention {
    Kubernetes,
    Logs,
    Metrics,
    Runbooks,
}

/// A parsed question.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub symptoms: BTreeSet<Symptom>,
    pub mentions: BTreeSet<Mention>,
    /// Namespace the question names, if any.
    pub namespace: Option<String>,
    /// Time window the question names ("last 30 minutes"), if any.
    pub window: Option<Duration>,
    /// The question asks why, or how to fix or handle something.
    pub wants_remedy: bool,
    /// The question asks for a diagnosis: a cause, an impact, a relation or a decision.
    pub wants_diagnosis: bool,
    /// Content words, lowercased, without stop words, in order.
    pub terms: Vec<String>,
    /// Remembered dependencies of the components the question names (from the context's "Known
    /// infrastructure: A depends on B" lines): `(named, related)` pairs, as written.
    pub remembered: Vec<(String, String)>,
}

/// (symptom, word stems that signal it). A stem matches a word that starts with it.
const SYMPTOM_WORDS: &[(Symptom, &[&str])] = &[
    (
        Symptom::Crash,
        &[
            "crash",
            "restart",
            "crashloop",
            "crashloopbackoff",
            "backoff",
            "dying",
            "died",
            "flapping",
            "killed",
            "evict",
        ],
    ),
    (
        Symptom::Latency,
        &[
            "latenc", "slow", "response", "degrad", "lag", "sluggish", "p95", "p99", "timeout",
            "timing",
        ],
    ),
    (
        Symptom::Errors,
        &[
            "error",
            "fail",
            "exception",
            "5xx",
            "500",
            "502",
            "503",
            "504",
            "broken",
            "reject",
        ],
    ),
    (
        Symptom::Memory,
        &["memory", "oom", "oomkill", "leak", "heap", "ram"],
    ),
    (Symptom::Cpu, &["cpu", "throttl", "processor", "load"]),
    (
        Symptom::Disk,
        &["disk", "storage", "volume", "space", "inode", "filesystem"],
    ),
    (
        Symptom::Network,
        &[
            "network",
            "connect",
            "dns",
            "unreachable",
            "packet",
            "socket",
        ],
    ),
    (
        Symptom::Outage,
        &[
            "down",
            "outage",
            "unavailable",
            "availability",
            "offline",
            "unreachable",
            "incident",
        ],
    ),
    (
        Symptom::Deployment,
        &[
            "deploy", "rollout", "roll", "release", "version", "rollback", "upgrade", "image",
        ],
    ),
    (
        Symptom::Config,
        &[
            "config",
            "configmap",
            "secret",
            "setting",
            "environment",
            "permission",
        ],
    ),
    (
        Symptom::Health,
        &["health", "status", "check", "overview", "state"],
    ),
    (
        Symptom::Traffic,
        &[
            "traffic",
            "throughput",
            "request",
            "load",
            "spike",
            "qps",
            "rps",
        ],
    ),
    (Symptom::Certificate, &["cert", "tls", "ssl", "expir"]),
];

const MENTION_WORDS: &[(Mention, &[&str])] = &[
    (
        Mention::Kubernetes,
        &[
            "pod",
            "kubernetes",
            "k8s",
            "cluster",
            "node",
            "deployment",
            "container",
            "namespace",
            "replica",
            "kubectl",
        ],
    ),
    (
        Mention::Logs,
        &["log", "stack", "trace", "exception", "message"],
    ),
    (
        Mention::Metrics,
        &[
            "metric",
            "performance",
            "dashboard",
            "graph",
            "percentile",
            "utili",
            "trend",
            "rate",
        ],
    ),
    (
        Mention::Runbooks,
        &[
            "runbook",
            "playbook",
            "procedure",
            "escalat",
            "remediat",
            "fix",
            "resolve",
            "mitigat",
            "on-call",
            "oncall",
        ],
    ),
];

const REMEDY_WORDS: &[&str] = &[
    "why",
    "fix",
    "resolve",
    "remediat",
    "mitigat",
    "restore",
    "recover",
    "what should",
    "how do",
    "how to",
    "runbook",
    "playbook",
    "root cause",
    "investigate",
];

/// Stems of words that ask for a diagnosis rather than a status.
const DIAGNOSIS_WORDS: &[&str] = &[
    "why", "caus", "affect", "impact", "relat", "should", "change", "wrong", "blame", "behind",
];

/// Namespaces worth recognising when named without the word "namespace".
const KNOWN_NAMESPACES: &[&str] = &[
    "production",
    "staging",
    "development",
    "default",
    "kube-system",
    "monitoring",
];

const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "why",
    "what",
    "which",
    "who",
    "how",
    "when",
    "where",
    "do",
    "does",
    "did",
    "in",
    "on",
    "at",
    "of",
    "for",
    "to",
    "from",
    "by",
    "with",
    "and",
    "or",
    "but",
    "my",
    "our",
    "we",
    "i",
    "you",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "there",
    "have",
    "has",
    "had",
    "last",
    "past",
    "hour",
    "hours",
    "minute",
    "minutes",
    "day",
    "days",
    "today",
    "now",
    "please",
    "can",
    "could",
    "should",
    "would",
    "any",
    "all",
    "some",
    "so",
    "very",
    "too",
    "up",
    "out",
    "about",
    "into",
    "over",
    "since",
    "after",
    "before",
    "x",
    "times",
    "getting",
    "keep",
    "keeps",
    "seem",
    "seems",
    "going",
    "check",
    "show",
    "me",
    "tell",
    "us",
    "happening",
    "happened",
    "issue",
    "issues",
    "problem",
    "problems",
    "investigate",
    "look",
    "find",
];

static NAMESPACE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bnamespace[\s:=]+`?([a-z0-9][a-z0-9-]*)").expect("constant regex")
});
static NAMESPACE_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([a-z0-9][a-z0-9-]*)\s+namespace\b").expect("constant regex"));
static DEPENDENCY_FACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9][A-Za-z0-9_.:-]*) depends on ([A-Za-z0-9][A-Za-z0-9_.:-]*)")
        .expect("constant regex")
});
static WINDOW_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:last|past|previous|within)\s+(\d+)?\s*(minute|min|hour|hr|day|week)s?\b")
        .expect("constant regex")
});
static WORD_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]|[a-z0-9]").expect("constant regex"));

impl Question {
    pub fn parse(text: &str) -> Self {
        let lower = text.to_lowercase();
        let words: Vec<String> = WORD_RE
            .find_iter(&lower)
            .map(|m| m.as_str().to_owned())
            .collect();
        let has_stem = |stems: &[&str]| {
            words
                .iter()
                .any(|w| stems.iter().any(|s| matches_stem(w, s)))
        };

        let symptoms = SYMPTOM_WORDS
            .iter()
            .filter(|(_, stems)| has_stem(stems))
            .map(|(s, _)| *s)
            .collect();
        let mentions = MENTION_WORDS
            .iter()
            .filter(|(_, stems)| has_stem(stems))
            .map(|(m, _)| *m)
            .collect();
        let wants_remedy = REMEDY_WORDS.iter().any(|w| lower.contains(w));
        let wants_diagnosis = has_stem(DIAGNOSIS_WORDS);
        // "the travel namespace started failing": the word before names it more reliably than the one after.
        let namespace = NAMESPACE_BEFORE
            .captures_iter(&lower)
            .chain(NAMESPACE_AFTER.captures_iter(&lower))
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str().to_owned())
            .find(|ns| !STOP_WORDS.contains(&ns.as_str()))
            .or_else(|| {
                KNOWN_NAMESPACES
                    .iter()
                    .find(|ns| words.iter().any(|w| w == *ns))
                    .map(|ns| (*ns).to_owned())
            });
        let window = WINDOW_RE.captures(&lower).and_then(|c| {
            let n: u64 = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(1);
            let unit = c.get(2)?.as_str();
            let secs = match unit {
                "minute" | "min" => 60,
                "hour" | "hr" => 3600,
                "day" => 86_400,
                _ => 604_800,
            };
            Some(Duration::from_secs(n.clamp(1, 10_000) * secs))
        });
        let mut terms: Vec<String> = Vec::new();
        for w in words {
            let w = w.trim_matches('.').to_owned();
            if w.len() < 2
                || STOP_WORDS.contains(&w.as_str())
                || w.chars().all(|c| c.is_ascii_digit())
            {
                continue;
            }
            if !terms.contains(&w) {
                terms.push(w);
            }
        }
        Self {
            symptoms,
            mentions,
            namespace,
            window,
            wants_remedy,
            wants_diagnosis,
            terms,
            remembered: Vec::new(),
        }
    }

    /// The question with what memory knows about the components it names: for every remembered
    /// dependency "A depends on B" where the question names A or B, the other side is worth checking too.
    pub fn with_memory(mut self, context: &[String]) -> Self {
        let named: Vec<String> = self
            .subject_terms()
            .into_iter()
            .map(super::entity::component)
            .collect();
        let names = |name: &str| {
            let c = super::entity::component(name);
            named
                .iter()
                .any(|n| *n == c || c.split('-').any(|part| part == n))
        };
        for line in context {
            let Some(c) = line
                .strip_prefix("Known infrastructure: ")
                .and_then(|rest| DEPENDENCY_FACT.captures(rest))
            else {
                continue;
            };
            let (Some(a), Some(b)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let (a, b) = (a.as_str(), b.as_str());
            let pair = if names(a) {
                (a.to_owned(), b.to_owned())
            } else if names(b) {
                (b.to_owned(), a.to_owned())
            } else {
                continue;
            };
            if !self.remembered.contains(&pair) {
                self.remembered.push(pair);
            }
        }
        self
    }

    pub fn has(&self, symptom: Symptom) -> bool {
        self.symptoms.contains(&symptom)
    }

    pub fn mentions(&self, mention: Mention) -> bool {
        self.mentions.contains(&mention)
    }

    /// The window to look back over: the question's, else `default`.
    pub fn window_or(&self, default: Duration) -> Duration {
        self.window.unwrap_or(default)
    }

    /// Terms that may name a component: not symptom or area words ("database", "checkout-api").
    pub fn subject_terms(&self) -> Vec<&str> {
        let generic = |w: &str| {
            SYMPTOM_WORDS
                .iter()
                .flat_map(|(_, s)| s.iter())
                .any(|s| matches_stem(w, s))
                || MENTION_WORDS
                    .iter()
                    .flat_map(|(_, s)| s.iter())
                    .any(|s| matches_stem(w, s))
                || KNOWN_NAMESPACES.contains(&w)
                || GENERIC_WORDS.iter().any(|g| matches_stem(w, g))
        };
        self.terms
            .iter()
            .map(String::as_str)
            .filter(|w| !generic(w))
            .collect()
    }
}

/// Words that describe rather than name.
const GENERIC_WORDS: &[&str] = &[
    "service",
    "servic",
    "app",
    "application",
    "system",
    "server",
    "api",
    "loop",
    "high",
    "low",
    "increas",
    "decreas",
    "spik",
    "drop",
    "sudden",
    "unusual",
    "abnormal",
    "bad",
    "worse",
    "again",
    "user",
    "customer",
    "prod",
    "time",
    "3x",
    "2x",
    "10x",
    "new",
    "recent",
    "large",
    "many",
    "lot",
    "often",
    "frequent",
    "intermittent",
];

/// Endings that keep a word in the family of its stem ("fail" → "failing", "failure"; not "check" → "checkout").
const SUFFIXES: &[&str] = &[
    "", "s", "e", "es", "ed", "d", "ing", "er", "ers", "y", "ies", "ion", "ions", "ation",
    "ations", "ure", "ures", "ity", "ivity", "ize", "ise", "ization", "isation", "ment", "ments",
    "ly", "al", "ency", "ence", "ent", "ic", "loop", "looping", "ping", "ped",
];

/// True when `word` is `stem` plus a common ending.
fn matches_stem(word: &str, stem: &str) -> bool {
    word.strip_prefix(stem)
        .is_some_and(|rest| SUFFIXES.contains(&rest))
}

/// A humantime-style duration string (`"90m"`, `"2h"`, `"1d"`).
pub(crate) fn duration_arg(d: Duration) -> String {
    let secs = d.as_secs().max(60);
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_question_is_understood() {
        let q = Question::parse("Why are the database pods crash looping in production?");
        assert!(q.has(Symptom::Crash));
        assert!(q.mentions(Mention::Kubernetes));
        assert!(q.wants_remedy);
        assert_eq!(q.namespace.as_deref(), Some("production"));
        assert_eq!(q.window, None);
        assert_eq!(q.subject_terms(), vec!["database"]);
    }

    #[test]
    fn latency_question_with_window() {
        let q = Question::parse("API response times have degraded 3x in the last hour");
        assert!(q.has(Symptom::Latency));
        assert!(!q.wants_remedy);
        assert_eq!(q.window, Some(Duration::from_secs(3600)));
        let q = Question::parse("errors in the past 30 minutes in namespace payments");
        assert_eq!(q.window, Some(Duration::from_secs(1800)));
        assert_eq!(q.namespace.as_deref(), Some("payments"));
        let q = Question::parse("Half the services in the travel namespace started failing");
        assert_eq!(q.namespace.as_deref(), Some("travel"));
        assert!(q.has(Symptom::Errors));
    }

    #[test]
    fn health_check_names_no_incident() {
        let q = Question::parse("Check cluster health");
        assert!(q.has(Symptom::Health));
        assert!(q.mentions(Mention::Kubernetes));
        assert!(!q.wants_remedy);
        assert!(q.subject_terms().is_empty());
    }

    #[test]
    fn remembered_dependencies_of_named_components_are_kept() {
        let context = vec![
            "User alice prefers: technical communication".to_owned(),
            "Known infrastructure: web-service depends on database-service (dependency, confidence 0.80, from logs-agent)".to_owned(),
            "Known infrastructure: api-service depends on cache (dependency, confidence 0.80, from logs-agent)".to_owned(),
        ];
        let q = Question::parse("Why is web slow?").with_memory(&context);
        assert_eq!(
            q.remembered,
            vec![("web-service".to_owned(), "database-service".to_owned())]
        );
        let q = Question::parse("Is the database healthy?").with_memory(&context);
        assert_eq!(
            q.remembered,
            vec![("database-service".to_owned(), "web-service".to_owned())]
        );
        assert!(
            Question::parse("Check cluster health")
                .with_memory(&context)
                .remembered
                .is_empty()
        );
    }

    #[test]
    fn stems_match_word_families_only() {
        assert!(matches_stem("failing", "fail") && matches_stem("failures", "fail"));
        assert!(matches_stem("crashlooping", "crash") && matches_stem("latency", "latenc"));
        assert!(!matches_stem("checkout", "check") && !matches_stem("loader", "lo"));
    }

    #[test]
    fn durations_format_for_tools() {
        assert_eq!(duration_arg(Duration::from_secs(3600)), "1h");
        assert_eq!(duration_arg(Duration::from_secs(5400)), "90m");
        assert_eq!(duration_arg(Duration::from_secs(86_400 * 2)), "2d");
        assert_eq!(duration_arg(Duration::from_secs(5)), "1m");
    }
}
