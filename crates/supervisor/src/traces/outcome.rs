//! How a call ended, classified the way X-Ray does: ok, error (the caller's fault, like HTTP 4xx) or fault
//! (the callee's or the network's, like HTTP 5xx), from the span's `error.type`, status and HTTP status code.

use serde::Serialize;

/// The outcome of one span or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// It failed because of the request: bad parameters, an unknown tool, missing authorisation, a tool
    /// that answered with an error, throttling.
    Error,
    /// It failed because of the callee or the path to it: refused connections, timeouts, server errors,
    /// open circuit breakers, and every failure not known to be the caller's.
    Fault,
}

/// `error.type` values that mean the caller's request was at fault; every other failure is a fault.
pub const CLIENT_ERROR_TYPES: [&str; 11] = [
    "invalid_params",
    "invalid_request",
    "tool_error",
    "tool_not_found",
    "method_not_found",
    "unauthorized",
    "forbidden",
    "not_found",
    "throttled",
    "rejected",
    "cancelled",
];

impl Outcome {
    /// The class of a low-cardinality `error.type`.
    pub fn of_error_type(error_type: &str) -> Self {
        if CLIENT_ERROR_TYPES.contains(&error_type) {
            Outcome::Error
        } else {
            Outcome::Fault
        }
    }

    /// The class of an HTTP response status code (`None` for success and informational codes).
    pub fn of_http_status(code: i64) -> Option<Self> {
        match code {
            400..=499 => Some(Outcome::Error),
            500..=599 => Some(Outcome::Fault),
            _ => None,
        }
    }

    /// `ok`, `error` or `fault`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Fault => "fault",
        }
    }

    /// True for errors and faults.
    pub fn is_failure(self) -> bool {
        self != Outcome::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_mistakes_are_errors_and_everything_else_faults() {
        for t in [
            "invalid_params",
            "tool_error",
            "tool_not_found",
            "unauthorized",
        ] {
            assert_eq!(Outcome::of_error_type(t), Outcome::Error, "{t}");
        }
        for t in [
            "connection_refused",
            "unreachable",
            "timeout",
            "server_error",
            "circuit_open",
            "agent_crashed",
            "something_new",
        ] {
            assert_eq!(Outcome::of_error_type(t), Outcome::Fault, "{t}");
        }
        assert_eq!(Outcome::of_http_status(404), Some(Outcome::Error));
        assert_eq!(Outcome::of_http_status(503), Some(Outcome::Fault));
        assert_eq!(Outcome::of_http_status(200), None);
        assert!(Outcome::Fault > Outcome::Error && Outcome::Error > Outcome::Ok);
    }
}
