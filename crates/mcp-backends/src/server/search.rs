//! Keyword scoring of the runbook tools: a query's words (lowercased, stemmed, stop words dropped) are
//! counted when they occur in a document's fields.

use std::collections::BTreeSet;

/// Words that carry no meaning in a search.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "at", "be", "by", "do", "does", "for", "from", "how", "in", "is",
    "it", "my", "no", "not", "of", "on", "or", "our", "the", "this", "that", "to", "what", "why",
    "with",
];

/// A query word this long or longer also matches document words it begins (`crash` → `crashloopbackoff`).
const PREFIX_MATCH_MIN: usize = 5;

/// The distinct search words of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    words: BTreeSet<String>,
}

impl Query {
    /// The query words of `text`; `None` when it has none (empty, or only stop words).
    pub fn parse(text: &str) -> Option<Self> {
        let words: BTreeSet<String> = words(text).collect();
        (!words.is_empty()).then_some(Self { words })
    }

    /// How many query words occur in `fields`.
    pub fn score<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> u32 {
        u32::try_from(self.hits(fields)).unwrap_or(u32::MAX)
    }

    /// Whether every query word occurs in `fields`.
    pub fn all_in<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        self.hits(fields) == self.words.len()
    }

    fn hits<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> usize {
        let document: BTreeSet<String> = fields.into_iter().flat_map(words).collect();
        self.words
            .iter()
            .filter(|word| document.iter().any(|candidate| matches(word, candidate)))
            .count()
    }
}

/// Lowercased, stemmed words of `text` without stop words.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
}

/// Strips common English suffixes so `restarting`, `restarted` and `restarts` meet at `restart`.
fn stem(word: &str) -> String {
    let len = word.chars().count();
    if len > 4
        && let Some(root) = word.strip_suffix("ies")
    {
        return format!("{root}y");
    }
    for (suffix, min_len) in [("ing", 6), ("ed", 5)] {
        if len >= min_len
            && let Some(root) = word.strip_suffix(suffix)
        {
            return root.to_owned();
        }
    }
    match word.strip_suffix('s') {
        Some(root) if len > 3 && !root.ends_with('s') => root.to_owned(),
        _ => word.to_owned(),
    }
}

fn matches(query_word: &str, document_word: &str) -> bool {
    query_word == document_word
        || (query_word.chars().count() >= PREFIX_MATCH_MIN && document_word.starts_with(query_word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemming_meets_at_the_root() {
        for word in ["restarting", "restarted", "restarts", "restart"] {
            assert_eq!(stem(word), "restart", "{word}");
        }
        assert_eq!(stem("dependencies"), "dependency");
        assert_eq!(stem("process"), "process");
        assert_eq!(stem("pods"), "pod");
    }

    #[test]
    fn score_counts_distinct_query_words() {
        let query = Query::parse("Why is the database pod crashing? Database!").unwrap();
        let score = query.score(["Database pod in CrashLoopBackOff", "postgres"]);
        assert_eq!(
            score, 3,
            "database, pod and crash (prefix of crashloopbackoff)"
        );
        assert_eq!(query.score(["High latency"]), 0);
        assert!(Query::parse("the of ?").is_none());
    }

    #[test]
    fn all_in_requires_every_word() {
        let query = Query::parse("connection pool").unwrap();
        assert!(query.all_in(["Database connection pool exhausted"]));
        assert!(!query.all_in(["Database connection refused"]));
    }
}
