//! Turns free text (a user's question) into a safe FTS5 query: words only, each quoted, OR-ed, so BM25 ranks
//! records that share more (and rarer) words higher, and no FTS5 syntax in the input is ever interpreted.

/// Most words kept from a query.
const MAX_TERMS: usize = 32;

/// Words too common to help ranking.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if",
    "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "some", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "up", "was",
    "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
    "your",
];

/// The FTS5 `MATCH` expression for `text`, or `None` when it has no usable word.
pub(crate) fn match_expression(text: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if word.chars().count() < 2 || STOP_WORDS.contains(&word.as_str()) || terms.contains(&word)
        {
            continue;
        }
        terms.push(word);
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    if terms.is_empty() {
        return None;
    }
    // Terms hold only alphanumerics, so quoting needs no escaping.
    let quoted: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
    Some(quoted.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_become_quoted_or_terms() {
        assert_eq!(
            match_expression("Why are the database-service pods crash looping?").as_deref(),
            Some("\"database\" OR \"service\" OR \"pods\" OR \"crash\" OR \"looping\"")
        );
        assert_eq!(match_expression("why is it?"), None);
        assert_eq!(match_expression(""), None);
    }

    #[test]
    fn fts_syntax_is_neutralised() {
        let expr = match_expression("\"db\" NEAR(x y) col:val * -z ^w AND OR").unwrap();
        assert!(!expr.contains(':') && !expr.contains('*') && !expr.contains('('));
        assert!(
            expr.split(" OR ")
                .all(|t| t.starts_with('"') && t.ends_with('"'))
        );
    }
}
