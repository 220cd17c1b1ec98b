//! The escalation decision: a pure function of the incident severity, the user's preferences and the time.
//!
//! Rules, first match wins:
//! 1. severity below the user's `severity_filter` → nothing (`below_severity_filter`);
//! 2. severity below `escalation.min_severity` → notify the channels only (`notify_only`);
//! 3. no escalation contacts → notify the channels only (`no_contacts`);
//! 4. inside quiet hours (in the user's timezone) and not critical → notify the channels only (`quiet_hours`);
//! 5. the user is the responder (`trigger: if_unresolved`) → schedule paging the contacts at `now + delay`
//!    if the incident is still unresolved then, without escalating yet (`scheduled`);
//! 6. critical → escalate to the contacts (`critical`, or `critical_quiet_hours` when the critical incident
//!    overrides quiet hours);
//! 7. otherwise → escalate to the contacts (`severity_threshold`).
//!
//! An escalation engages the contacts within the delay ([`EscalationDecision::escalate_at`]); channels are
//! notified at once.

use std::{fmt, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{EscalationTrigger, Severity, UserPreferences};

/// Why the decision came out the way it did; a low-cardinality value for the `EscalationType` metric dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationType {
    /// A critical incident escalates.
    Critical,
    /// A critical incident escalates although it is inside quiet hours.
    CriticalQuietHours,
    /// A non-critical incident at or above the user's escalation threshold escalates.
    SeverityThreshold,
    /// The user is the responder: the contacts are paged later only if the incident is still unresolved.
    Scheduled,
    /// Below the threshold: channels only.
    NotifyOnly,
    /// Inside quiet hours and not critical: channels only.
    QuietHours,
    /// The user has no escalation contacts: channels only.
    NoContacts,
    /// Below the user's severity filter: nothing.
    BelowSeverityFilter,
}

impl EscalationType {
    /// The snake_case name (the metric dimension value).
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationType::Critical => "critical",
            EscalationType::CriticalQuietHours => "critical_quiet_hours",
            EscalationType::SeverityThreshold => "severity_threshold",
            EscalationType::Scheduled => "scheduled",
            EscalationType::NotifyOnly => "notify_only",
            EscalationType::QuietHours => "quiet_hours",
            EscalationType::NoContacts => "no_contacts",
            EscalationType::BelowSeverityFilter => "below_severity_filter",
        }
    }
}

impl fmt::Display for EscalationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do about an incident for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationDecision {
    /// True when the incident is escalated now: the contacts are engaged (within `delay`).
    pub escalate: bool,
    pub escalation_type: EscalationType,
    /// Whom to page: now (`escalate`) or later if unresolved (`scheduled`); empty otherwise.
    pub contacts: Vec<String>,
    /// Where to post now; empty when the severity is filtered out.
    pub channels: Vec<String>,
    /// How long until the contacts are paged; zero when nobody is.
    pub delay: Duration,
    /// `now + delay` when the contacts are or may be paged.
    pub escalate_at: Option<DateTime<Utc>>,
    /// One sentence for the report.
    pub reason: String,
}

/// Decides whether and how to escalate an incident of `severity` for a user with `prefs` at `now`.
pub fn decide_escalation(
    severity: Severity,
    prefs: &UserPreferences,
    now: DateTime<Utc>,
) -> EscalationDecision {
    let channels = prefs.notification_channels.clone();
    let hold = |escalation_type, channels: Vec<String>, reason: String| EscalationDecision {
        escalate: false,
        escalation_type,
        contacts: Vec::new(),
        channels,
        delay: Duration::ZERO,
        escalate_at: None,
        reason,
    };
    if severity < prefs.severity_filter {
        return hold(
            EscalationType::BelowSeverityFilter,
            Vec::new(),
            format!(
                "{severity} is below the user's alert filter ({}); no notification",
                prefs.severity_filter
            ),
        );
    }
    if severity < prefs.escalation.min_severity {
        return hold(
            EscalationType::NotifyOnly,
            channels,
            format!(
                "{severity} is below the escalation threshold ({}); notify channels only",
                prefs.escalation.min_severity
            ),
        );
    }
    if prefs.escalation.contacts.is_empty() {
        return hold(
            EscalationType::NoContacts,
            channels,
            "no escalation contacts are configured; notify channels only".into(),
        );
    }
    let quiet = prefs.in_quiet_hours(now);
    let local = now.with_timezone(&prefs.timezone).format("%H:%M %Z");
    if quiet && severity < Severity::Critical {
        return hold(
            EscalationType::QuietHours,
            channels,
            format!(
                "{local} is inside the user's quiet hours and {severity} is not critical; notify channels only"
            ),
        );
    }
    let delay = prefs.escalation_delay();
    let escalate_at = chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| now.checked_add_signed(d));
    let contacts = prefs.escalation.contacts.clone();
    if prefs.escalation.trigger == EscalationTrigger::IfUnresolved {
        let at = escalate_at
            .map(|t| {
                t.with_timezone(&prefs.timezone)
                    .format("%H:%M %Z")
                    .to_string()
            })
            .unwrap_or_default();
        return EscalationDecision {
            escalate: false,
            escalation_type: EscalationType::Scheduled,
            reason: format!(
                "the user is the responder; if {severity} incident is still unresolved at {at} ({} min), escalate to {}",
                prefs.escalation.delay_minutes,
                contacts.join(", ")
            ),
            contacts,
            channels,
            delay,
            escalate_at,
        };
    }
    let escalation_type = match (severity, quiet) {
        (Severity::Critical, true) => EscalationType::CriticalQuietHours,
        (Severity::Critical, false) => EscalationType::Critical,
        _ => EscalationType::SeverityThreshold,
    };
    let reason = match escalation_type {
        EscalationType::CriticalQuietHours => format!(
            "critical incident during quiet hours ({local}); escalate to {} if unresolved after {} min",
            contacts.join(", "),
            prefs.escalation.delay_minutes
        ),
        _ => format!(
            "{severity} meets the escalation threshold ({}); escalate to {} if unresolved after {} min",
            prefs.escalation.min_severity,
            contacts.join(", "),
            prefs.escalation.delay_minutes
        ),
    };
    EscalationDecision {
        escalate: true,
        escalation_type,
        contacts,
        channels,
        delay,
        escalate_at,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Tz;

    use super::*;
    use crate::{EscalationPolicy, QuietHours};

    fn prefs(filter: Severity, min: Severity) -> UserPreferences {
        UserPreferences {
            timezone: Tz::Europe__Berlin,
            severity_filter: filter,
            notification_channels: vec!["#ops".into()],
            escalation: EscalationPolicy {
                contacts: vec!["lead@example.com".into()],
                delay_minutes: 10,
                min_severity: min,
                trigger: EscalationTrigger::OnSeverity,
            },
            quiet_hours: Some(QuietHours {
                start: chrono::NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            }),
            ..UserPreferences::default()
        }
    }

    #[test]
    fn rules_apply_in_order() {
        // 12:00 UTC is 13:00 or 14:00 in Berlin: outside quiet hours; 22:30 UTC is inside.
        let day = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        let night = Utc.with_ymd_and_hms(2026, 1, 15, 22, 30, 0).unwrap();
        let p = prefs(Severity::Low, Severity::High);

        let d = decide_escalation(Severity::Info, &p, day);
        assert_eq!(d.escalation_type, EscalationType::BelowSeverityFilter);
        assert!(!d.escalate && d.channels.is_empty());

        let d = decide_escalation(Severity::Medium, &p, day);
        assert_eq!(d.escalation_type, EscalationType::NotifyOnly);
        assert_eq!(d.channels, ["#ops"]);

        let d = decide_escalation(Severity::High, &p, day);
        assert_eq!(d.escalation_type, EscalationType::SeverityThreshold);
        assert!(d.escalate);
        assert_eq!(d.delay, Duration::from_secs(600));
        assert_eq!(d.escalate_at, Some(day + chrono::Duration::minutes(10)));

        let d = decide_escalation(Severity::High, &p, night);
        assert_eq!(d.escalation_type, EscalationType::QuietHours);
        assert!(!d.escalate && d.contacts.is_empty());

        let d = decide_escalation(Severity::Critical, &p, night);
        assert_eq!(d.escalation_type, EscalationType::CriticalQuietHours);
        assert!(d.escalate && d.contacts == ["lead@example.com"]);

        let mut no_contacts = p.clone();
        no_contacts.escalation.contacts.clear();
        let d = decide_escalation(Severity::Critical, &no_contacts, day);
        assert_eq!(d.escalation_type, EscalationType::NoContacts);
        assert!(!d.escalate);
    }

    #[test]
    fn quiet_hours_follow_the_users_timezone_across_dst() {
        let p = prefs(Severity::Info, Severity::High);
        // 21:30 UTC is 22:30 in Berlin in winter (quiet) and 23:30 in summer (quiet);
        // 20:30 UTC is 21:30 in winter (not quiet) but 22:30 in summer (quiet).
        let winter = Utc.with_ymd_and_hms(2026, 1, 15, 20, 30, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 15, 20, 30, 0).unwrap();
        assert!(!p.in_quiet_hours(winter));
        assert!(p.in_quiet_hours(summer));
    }
}
