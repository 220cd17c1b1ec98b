//! User preferences (the `user_preferences` strategy): how a user wants reports written, whom to escalate to and
//! when, where to be notified, and the YAML file (`config/users.yaml`) that seeds them.

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{RecordError, Severity, UserId, error::PreferencesFileError};

/// Most escalation contacts or notification channels one user may list.
pub const MAX_CONTACTS: usize = 16;
/// Longest contact or channel name.
pub const MAX_CONTACT_CHARS: usize = 256;
/// Longest escalation delay (one day).
pub const MAX_ESCALATION_DELAY_MINUTES: u32 = 24 * 60;
/// Largest preferences file accepted.
pub const MAX_PREFERENCES_FILE_BYTES: u64 = 1024 * 1024;

/// How reports and summaries are written for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommunicationStyle {
    /// Commands, metrics, entity names and evidence.
    #[default]
    Technical,
    /// Business impact, status and decisions; little tooling detail.
    Executive,
}

impl CommunicationStyle {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommunicationStyle::Technical => "technical",
            CommunicationStyle::Executive => "executive",
        }
    }
}

/// The shape of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// Every agent's findings with their evidence, runbook steps and gaps.
    #[default]
    Detailed,
    /// The executive summary and next steps only.
    Summary,
}

impl ReportFormat {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Detailed => "detailed",
            ReportFormat::Summary => "summary",
        }
    }
}

/// When an incident at or above the threshold is escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationTrigger {
    /// Escalate as soon as the investigation rates the incident: the contacts are engaged (within the delay).
    #[default]
    OnSeverity,
    /// The user is the responder: the contacts are only paged if the incident is still unresolved after the
    /// delay, so the investigation schedules the escalation instead of triggering it.
    IfUnresolved,
}

impl EscalationTrigger {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationTrigger::OnSeverity => "on_severity",
            EscalationTrigger::IfUnresolved => "if_unresolved",
        }
    }
}

/// Whom to escalate to, after how long, and from which severity on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationPolicy {
    /// People or rotations to escalate to (e-mail addresses, pager handles).
    pub contacts: Vec<String>,
    /// How long until the contacts are paged.
    pub delay_minutes: u32,
    /// Lowest incident severity that escalates to the contacts; below it only the channels are notified.
    pub min_severity: Severity,
    /// Whether such an incident escalates at once or only if it stays unresolved.
    pub trigger: EscalationTrigger,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        Self {
            contacts: Vec::new(),
            delay_minutes: 30,
            min_severity: Severity::High,
            trigger: EscalationTrigger::OnSeverity,
        }
    }
}

/// A daily window, in the user's timezone, during which only critical incidents escalate. `start` and `end` are
/// `HH:MM`; a window with `start > end` wraps midnight (`22:00`–`07:00`). `start` is inside, `end` is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[serde(with = "hh_mm")]
    pub start: NaiveTime,
    #[serde(with = "hh_mm")]
    pub end: NaiveTime,
}

impl QuietHours {
    /// True when the local wall-clock time `local` falls in the window.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }
}

/// One user's preferences. Every field has a neutral default, so a partial entry is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserPreferences {
    pub communication_style: CommunicationStyle,
    pub report_format: ReportFormat,
    /// IANA timezone of the user (`UTC`, `America/New_York`); quiet hours and report times use it.
    pub timezone: Tz,
    /// Lowest severity the user wants to hear about at all (`critical` = critical alerts only).
    pub severity_filter: Severity,
    /// Lead with business impact (affected customers, revenue, SLAs) rather than technical detail.
    pub business_impact_focus: bool,
    /// Where notifications go (`#channel`, addresses).
    pub notification_channels: Vec<String>,
    pub escalation: EscalationPolicy,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for UserPreferences {
    fn default() -> Self {
        Self {
            communication_style: CommunicationStyle::default(),
            report_format: ReportFormat::default(),
            timezone: Tz::UTC,
            severity_filter: Severity::Info,
            business_impact_focus: false,
            notification_channels: Vec::new(),
            escalation: EscalationPolicy::default(),
            quiet_hours: None,
        }
    }
}

impl UserPreferences {
    /// Checks the limits: contact and channel names non-empty, at most [`MAX_CONTACTS`] of each, a delay of at
    /// most one day, a non-empty quiet-hours window.
    pub fn validate(&self) -> Result<(), RecordError> {
        check_names("escalation.contacts", &self.escalation.contacts)?;
        check_names("notification_channels", &self.notification_channels)?;
        if self.escalation.delay_minutes > MAX_ESCALATION_DELAY_MINUTES {
            return Err(RecordError::Invalid {
                field: "escalation.delay_minutes",
                message: format!(
                    "{} minutes is more than one day ({MAX_ESCALATION_DELAY_MINUTES})",
                    self.escalation.delay_minutes
                ),
            });
        }
        if let Some(quiet) = &self.quiet_hours
            && quiet.start == quiet.end
        {
            return Err(RecordError::Invalid {
                field: "quiet_hours",
                message: "start and end are equal; remove quiet_hours or give a real window".into(),
            });
        }
        Ok(())
    }

    /// The escalation delay.
    pub fn escalation_delay(&self) -> Duration {
        Duration::from_secs(u64::from(self.escalation.delay_minutes) * 60)
    }

    /// True when `now` falls in the user's quiet hours, read in the user's timezone.
    pub fn in_quiet_hours(&self, now: DateTime<Utc>) -> bool {
        self.quiet_hours
            .is_some_and(|q| q.contains(now.with_timezone(&self.timezone).time()))
    }

    /// One line for a model prompt or a report header.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} communication, {} reports, timezone {}",
            self.communication_style.as_str(),
            self.report_format.as_str(),
            self.timezone.name()
        );
        if self.business_impact_focus {
            line.push_str(", focus on business impact");
        }
        if self.severity_filter > Severity::Info {
            line.push_str(&format!(", alerts from {} up", self.severity_filter));
        }
        if !self.escalation.contacts.is_empty() {
            line.push_str(&format!(
                ", escalate {}+ to {} after {} min",
                self.escalation.min_severity,
                self.escalation.contacts.join(", "),
                self.escalation.delay_minutes
            ));
        }
        if !self.notification_channels.is_empty() {
            line.push_str(&format!(
                ", notify {}",
                self.notification_channels.join(", ")
            ));
        }
        if let Some(q) = &self.quiet_hours {
            line.push_str(&format!(
                ", quiet hours {}–{}",
                q.start.format("%H:%M"),
                q.end.format("%H:%M")
            ));
        }
        line
    }

    pub(crate) fn search_text(&self) -> String {
        format!(
            "preferences {} {} {} {} {}",
            self.communication_style.as_str(),
            self.report_format.as_str(),
            self.timezone.name(),
            self.escalation.contacts.join(" "),
            self.notification_channels.join(" ")
        )
    }
}

/// The preferences file: `users:` maps each user id to its [`UserPreferences`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    #[serde(default)]
    pub users: BTreeMap<UserId, UserPreferences>,
}

impl UsersFile {
    /// Parses and validates YAML text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, PreferencesFileError> {
        let file: UsersFile =
            serde_norway::from_str(text).map_err(|e| PreferencesFileError::Parse {
                path: origin.to_owned(),
                message: e.to_string(),
            })?;
        for (user, prefs) in &file.users {
            prefs
                .validate()
                .map_err(|source| PreferencesFileError::Invalid {
                    path: origin.to_owned(),
                    user: user.to_string(),
                    source,
                })?;
        }
        Ok(file)
    }

    /// Reads (without blocking the runtime), parses and validates the file at `path`, which may hold at most
    /// [`MAX_PREFERENCES_FILE_BYTES`].
    pub async fn load(path: &Path) -> Result<Self, PreferencesFileError> {
        let read_error = |source| PreferencesFileError::Read {
            path: path.to_owned(),
            source,
        };
        let len = tokio::fs::metadata(path).await.map_err(read_error)?.len();
        if len > MAX_PREFERENCES_FILE_BYTES {
            return Err(PreferencesFileError::Parse {
                path: path.to_owned(),
                message: format!(
                    "the file is {len} bytes; the limit is {MAX_PREFERENCES_FILE_BYTES}"
                ),
            });
        }
        let text = tokio::fs::read_to_string(path).await.map_err(read_error)?;
        Self::parse(&text, path)
    }
}

impl fmt::Display for UserPreferences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn check_names(field: &'static str, names: &[String]) -> Result<(), RecordError> {
    if names.len() > MAX_CONTACTS {
        return Err(RecordError::TooMany {
            field,
            len: names.len(),
            max: MAX_CONTACTS,
        });
    }
    for name in names {
        if name.trim().is_empty() {
            return Err(RecordError::Empty { field });
        }
        let len = name.chars().count();
        if len > MAX_CONTACT_CHARS {
            return Err(RecordError::TooLong {
                field,
                len,
                max: MAX_CONTACT_CHARS,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(RecordError::Invalid {
                field,
                message: format!("{:?} contains a control character", name.escape_debug()),
            });
        }
    }
    Ok(())
}

/// `HH:MM` (24-hour) for quiet-hours bounds.
mod hh_mm {
    use super::*;

    pub(super) fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a time of day; use HH:MM (24-hour), e.g. \"22:00\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let night = QuietHours {
            start: at(22, 0),
            end: at(7, 0),
        };
        assert!(night.contains(at(22, 0)) && night.contains(at(3, 0)));
        assert!(!night.contains(at(7, 0)) && !night.contains(at(12, 0)));
        let lunch = QuietHours {
            start: at(12, 0),
            end: at(13, 0),
        };
        assert!(lunch.contains(at(12, 30)) && !lunch.contains(at(13, 0)));
    }

    #[test]
    fn partial_entries_take_defaults_and_typos_are_errors() {
        let file = UsersFile::parse(
            "users:\n  bob:\n    communication_style: executive\n    quiet_hours: {start: \"22:00\", end: \"06:30\"}\n",
            Path::new("inline.yaml"),
        )
        .unwrap();
        let bob = &file.users[&UserId::parse("bob").unwrap()];
        assert_eq!(bob.communication_style, CommunicationStyle::Executive);
        assert_eq!(bob.timezone, Tz::UTC);
        assert_eq!(bob.quiet_hours.unwrap().end, at(6, 30));

        let typo = UsersFile::parse(
            "users:\n  bob:\n    comunication_style: executive\n",
            Path::new("typo.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            typo.contains("typo.yaml") && typo.contains("comunication_style"),
            "{typo}"
        );

        let bad_tz = UsersFile::parse(
            "users:\n  bob:\n    timezone: Mars/Olympus\n",
            Path::new("tz.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(bad_tz.contains("tz.yaml"), "{bad_tz}");

        let bad_user = UsersFile::parse("users:\n  ../bob: {}\n", Path::new("u.yaml"))
            .unwrap_err()
            .to_string();
        assert!(bad_user.contains("user id"), "{bad_user}");

        let bad_time = UsersFile::parse(
            "users:\n  bob:\n    quiet_hours: {start: \"25:00\", end: \"06:00\"}\n",
            Path::new("t.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(bad_time.contains("HH:MM"), "{bad_time}");

        let empty_window = UsersFile::parse(
            "users:\n  bob:\n    quiet_hours: {start: \"06:00\", end: \"06:00\"}\n",
            Path::new("w.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            empty_window.contains("bob") && empty_window.contains("equal"),
            "{empty_window}"
        );

        assert!(UsersFile::parse(": : :\n\t- [", Path::new("x.yaml")).is_err());
    }

    #[test]
    fn preferences_round_trip_as_json() {
        let prefs = UserPreferences {
            timezone: Tz::America__New_York,
            quiet_hours: Some(QuietHours {
                start: at(22, 0),
                end: at(7, 0),
            }),
            escalation: EscalationPolicy {
                contacts: vec!["carol.director@company.com".into()],
                delay_minutes: 20,
                min_severity: Severity::Critical,
                trigger: EscalationTrigger::OnSeverity,
            },
            ..UserPreferences::default()
        };
        let json = serde_json::to_string(&prefs).unwrap();
        assert!(json.contains("\"America/New_York\"") && json.contains("\"22:00\""));
        let back: UserPreferences = serde_json::from_str(&json).unwrap();
        assert_eq!(back, prefs);
    }
}
