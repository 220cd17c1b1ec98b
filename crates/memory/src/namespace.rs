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
    /// How a user wants to be told and escalated to: `/sre/users/{user_id}/preferences`.
    UserPreferences,
    /// Dependencies, patterns, configuration facts and baselines: `/sre/infrastructure/{user_id}/{session_id}`.
    InfrastructureKnowledge,
    /// One summary per investigation: `/sre/investigations/{user_id}/{session_id}`.
    InvestigationHistory,
}

impl Strategy {
    /// Every strategy, in retrieval order.
    pub const ALL: [Strategy; 3] = [
        Strategy::UserPreferences,
        Strategy::InfrastructureKnowledge,
        Strategy::InvestigationHistory,
    ];

    /// The snake_case name used in records, spans and metric dimensions.
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

    /// True when records of this strategy belong to one session (knowledge, history); preferences do not.
    pub fn is_session_scoped(self) -> bool {
        !matches!(self, Strategy::UserPreferences)
    }

    /// Everything of this strategy that belongs to `user`, across sessions: `/sre/infrastructure/{user}/`,
    /// `/sre/investigations/{user}/`, or the preferences namespace itself. The trailing `/` keeps `alice`
    /// from matching `alice2`.
    pub fn user_prefix(self, user: &UserId) -> String {
        match self {
            Strategy::UserPreferences => format!("/sre/users/{user}/preferences"),
            Strategy::InfrastructureKnowledge => format!("/sre/infrastructure/{user}/"),
            Strategy::InvestigationHistory => format!("/sre/investigations/{user}/"),
        }
    }

    /// The parent of every namespace of this strategy (`/sre/users/`, `/sre/infrastructure/`, ...).
    pub fn root_prefix(self) -> &'static str {
        match self {
            Strategy::UserPreferences => "/sre/users/",
            Strategy::InfrastructureKnowledge => "/sre/infrastructure/",
            Strategy::InvestigationHistory => "/sre/investigations/",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;

    /// Accepts the snake_case names and the short forms `preferences`, `knowledge`, `investigations`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "user_preferences" | "preferences" => Ok(Strategy::UserPreferences),
            "infrastructure_knowledge" | "knowledge" | "infrastructure" => {
                Ok(Strategy::InfrastructureKnowledge)
            }
            "investigation_history" | "investigations" | "history" => {
                Ok(Strategy::InvestigationHistory)
            }
            other => Err(format!(
                "unknown memory strategy {other:?}; expected preferences, knowledge or investigations"
            )),
        }
    }
}

/// A concrete namespace: a strategy, its user, and the session for session-scoped strategies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    strategy: Strategy,
    user: UserId,
    session: Option<SessionId>,
}

impl Namespace {
    /// The namespace of `strategy` for `user`; `session` is required by the session-scoped strategies and
    /// ignored by preferences.
    pub fn new(strategy: Strategy, user: UserId, session: Option<SessionId>) -> Option<Self> {
        match (strategy.is_session_scoped(), session) {
            (false, _) => Some(Self {
                strategy,
                user,
                session: None,
            }),
            (true, Some(session)) => Some(Self {
                strategy,
                user,
                session: Some(session),
            }),
            (true, None) => None,
        }
    }

    /// `/sre/users/{user}/preferences`
    pub fn preferences(user: UserId) -> Self {
        Self {
            strategy: Strategy::UserPreferences,
            user,
            session: None,
        }
    }

    /// `/sre/infrastructure/{user}/{session}`
    pub fn knowledge(user: UserId, session: SessionId) -> Self {
        Self {
            strategy: Strategy::InfrastructureKnowledge,
            user,
            session: Some(session),
        }
    }

    /// `/sre/investigations/{user}/{session}`
    pub fn investigations(user: UserId, session: SessionId) -> Self {
        Self {
            strategy: Strategy::InvestigationHistory,
            user,
            session: Some(session),
        }
    }

    /// Parses a namespace path; `None` unless it is exactly one of the three layouts with valid ids.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/sre/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["users", user, "preferences"] => Some(Self::preferences(UserId::parse(user).ok()?)),
            ["infrastructure", user, session] => Some(Self::knowledge(
                UserId::parse(user).ok()?,
                SessionId::parse(session).ok()?,
            )),
            ["investigations", user, session] => Some(Self::investigations(
                UserId::parse(user).ok()?,
                SessionId::parse(session).ok()?,
            )),
            _ => None,
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The user the namespace belongs to.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The session, for session-scoped strategies.
    pub fn session(&self) -> Option<&SessionId> {
        self.session.as_ref()
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.strategy, &self.session) {
            (Strategy::UserPreferences, _) => write!(f, "/sre/users/{}/preferences", self.user),
            (Strategy::InfrastructureKnowledge, Some(s)) => {
                write!(f, "/sre/infrastructure/{}/{s}", self.user)
            }
            (Strategy::InvestigationHistory, Some(s)) => {
                write!(f, "/sre/investigations/{}/{s}", self.user)
            }
            // Unreachable by construction; render the cross-session prefix rather than panic.
            (strategy, None) => f.write_str(&strategy.user_prefix(&self.user)),
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

            /// The id as given.
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
    fn namespaces_parse_back_and_reject_foreign_layouts() {
        let user = UserId::parse("alice").unwrap();
        let session = SessionId::parse("s-1").unwrap();
        for strategy in Strategy::ALL {
            let path = strategy.namespace(&user, &session);
            let parsed = Namespace::parse(&path).unwrap();
            assert_eq!(parsed.strategy(), strategy);
            assert_eq!(parsed.user(), &user);
            assert_eq!(parsed.to_string(), path);
            assert!(path.starts_with(&strategy.user_prefix(&user)));
            assert!(path.starts_with(strategy.root_prefix()));
        }
        for bad in [
            "/sre/users/alice/preferences/x",
            "/sre/infrastructure/alice",
            "/sre/infrastructure/../s",
            "/sre/users/a b/preferences",
            "sre/users/alice/preferences",
            "/sre/other/alice/s",
        ] {
            assert!(Namespace::parse(bad).is_none(), "{bad} parsed");
        }
        assert!(
            !"/sre/infrastructure/alice2/s"
                .starts_with(&Strategy::InfrastructureKnowledge.user_prefix(&user))
        );
        assert!(Namespace::new(Strategy::InvestigationHistory, user, None).is_none());
        assert_eq!(
            "knowledge".parse::<Strategy>(),
            Ok(Strategy::InfrastructureKnowledge)
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
