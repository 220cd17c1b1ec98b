//! Strategies and their namespaces (`/sre/users/{user_id}/preferences`, ...), built only from validated ids
//! so that no id can escape its namespace (no `/`, `..` or control characters).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::IdError;

/// Longest accepted user or session id.
pub const MAX_ID_LEN: usize = 128;

/// The three memory strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    UserPreferences,
    InfrastructureKnowledge,
    InvestigationHistory,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::UserPreferences,
        Strategy::InfrastructureKnowledge,
        Strategy::InvestigationHistory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::UserPreferences => "user_preferences",
            Strategy::InfrastructureKnowledge => "infrastructure_knowledge",
            Strategy::InvestigationHistory => "investigation_history",
        }
    }

    /// The namespace of this strategy for a user (and session, for the session-scoped strategies).
    pub fn namespace(self, user: &UserId, session: &SessionId) -> String {
        match self {
            Strategy::UserPreferences => format!("/sre/users/{user}/preferences"),
            Strategy::InfrastructureKnowledge => format!("/sre/infrastructure/{user}/{session}"),
            Strategy::InvestigationHistory => format!("/sre/investigations/{user}/{session}"),
        }
    }
}

/// A validated user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// A validated session id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

macro_rules! validated_id {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// Validates `value`: 1..=128 characters from letters, digits, `.`, `_`, `-`, `@`, and not `.`/`..`.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                validate($what, value).map(|()| Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.0
            }
        }
    };
}

validated_id!(UserId, "user id");
validated_id!(SessionId, "session id");

fn validate(what: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { what });
    }
    let len = value.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            len,
            max: MAX_ID_LEN,
        });
    }
    if value == "." || value == ".." {
        return Err(IdError::Forbidden {
            what,
            value: value.to_owned(),
            found: "a path segment".into(),
        });
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        let found = if bad.is_control() {
            format!("control character U+{:04X}", u32::from(bad))
        } else {
            format!("{bad:?}")
        };
        return Err(IdError::Forbidden {
            what,
            value: value.escape_debug().to_string(),
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_reference_layout() {
        let user = UserId::parse("Alice").unwrap();
        let session = SessionId::parse("s-1").unwrap();
        assert_eq!(
            Strategy::UserPreferences.namespace(&user, &session),
            "/sre/users/Alice/preferences"
        );
        assert_eq!(
            Strategy::InfrastructureKnowledge.namespace(&user, &session),
            "/sre/infrastructure/Alice/s-1"
        );
        assert_eq!(
            Strategy::InvestigationHistory.namespace(&user, &session),
            "/sre/investigations/Alice/s-1"
        );
    }

    #[test]
    fn hostile_ids_are_rejected() {
        for bad in ["", "..", ".", "a/b", "../etc", "bob\n", "x\u{0}y", "a b"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            UserId::parse(&"a".repeat(129))
                .unwrap_err()
                .to_string()
                .contains("limit is 128")
        );
        assert!(UserId::parse("carol.director@company.com").is_ok());
        let err = SessionId::parse("a/b").unwrap_err().to_string();
        assert!(err.contains("session id") && err.contains("'/'"), "{err}");
    }
}
