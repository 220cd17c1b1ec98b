//! [`Auth`]: the credential a client must present to a backend, either an API key in `X-API-Key` (as the
//! reference backends used) or an OAuth-style bearer token in `Authorization: Bearer …` (as AgentCore Gateway
//! sends). A request without it, or with a wrong one, is answered 401 before it reaches MCP.

use std::fmt;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::request::{UNAUTHORIZED, jsonrpc_error};
use crate::error::ConfigError;

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Longest accepted API key or bearer token, in bytes.
const MAX_SECRET_LEN: usize = 4096;

/// What a client must present on every request.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `X-API-Key: <key>`.
    ApiKey(Secret),
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

/// An API key or token; its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Why a request was refused; the text is sent to the client, so it never contains the presented value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No credential at all.
    Missing,
    /// `Authorization` uses another scheme than `Bearer`.
    WrongScheme,
    /// A credential that does not match.
    Invalid,
}

impl Auth {
    /// API-key authentication with `key`, which must be 1 to 4096 visible ASCII characters.
    pub fn api_key(key: impl Into<String>) -> Result<Self, ConfigError> {
        Secret::new("API key", key.into()).map(Auth::ApiKey)
    }

    /// Bearer-token authentication with `token`, which must be 1 to 4096 visible ASCII characters.
    pub fn bearer(token: impl Into<String>) -> Result<Self, ConfigError> {
        Secret::new("bearer token", token.into()).map(Auth::Bearer)
    }

    /// The header a client puts its credential in, as clients spell it.
    pub fn header_name(&self) -> &'static str {
        match self {
            Auth::ApiKey(_) => "X-API-Key",
            Auth::Bearer(_) => "Authorization",
        }
    }

    /// Checks the credential of a request.
    pub(super) fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match self {
            Auth::ApiKey(key) => {
                let presented = headers.get(API_KEY_HEADER).ok_or(Refusal::Missing)?;
                key.matches(presented.as_bytes())
            }
            Auth::Bearer(token) => {
                let value = headers.get(header::AUTHORIZATION).ok_or(Refusal::Missing)?;
                let bytes = value.as_bytes();
                let scheme_end = bytes
                    .iter()
                    .position(|b| *b == b' ')
                    .ok_or(Refusal::WrongScheme)?;
                let (scheme, rest) = bytes.split_at(scheme_end);
                if !scheme.eq_ignore_ascii_case(b"bearer") {
                    return Err(Refusal::WrongScheme);
                }
                token.matches(rest.trim_ascii())
            }
        }
    }

    /// The 401 answer to a refused request: a JSON-RPC error naming what is missing or wrong, and a
    /// `WWW-Authenticate` challenge.
    pub(super) fn refuse(&self, refusal: Refusal) -> Response {
        let message = match (self, refusal) {
            (Auth::ApiKey(_), Refusal::Missing | Refusal::WrongScheme) => {
                "unauthorized: this backend requires an API key in the X-API-Key header"
            }
            (Auth::ApiKey(_), Refusal::Invalid) => {
                "unauthorized: the API key in the X-API-Key header is not valid"
            }
            (Auth::Bearer(_), Refusal::Missing) => {
                "unauthorized: this backend requires an Authorization: Bearer <token> header"
            }
            (Auth::Bearer(_), Refusal::WrongScheme) => {
                "unauthorized: the Authorization header must use the Bearer scheme"
            }
            (Auth::Bearer(_), Refusal::Invalid) => "unauthorized: the bearer token is not valid",
        };
        let challenge = match (self, refusal) {
            (Auth::ApiKey(_), _) => "ApiKey header=\"X-API-Key\"",
            (Auth::Bearer(_), Refusal::Invalid) => {
                "Bearer realm=\"sre-agent\", error=\"invalid_token\""
            }
            (Auth::Bearer(_), _) => "Bearer realm=\"sre-agent\"",
        };
        let mut response = jsonrpc_error(
            StatusCode::UNAUTHORIZED,
            serde_json::Value::Null,
            UNAUTHORIZED,
            message,
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        response
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Secret {
    fn new(what: &'static str, value: String) -> Result<Self, ConfigError> {
        let found = if value.is_empty() {
            Some("an empty value".to_owned())
        } else if value.len() > MAX_SECRET_LEN {
            Some(format!("{} bytes", value.len()))
        } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
            Some("spaces, control or non-ASCII characters".to_owned())
        } else {
            None
        };
        match found {
            Some(found) => Err(ConfigError::Secret { what, found }),
            None => Ok(Self(value)),
        }
    }

    /// Compares in time independent of where the first difference is, so timing does not reveal a prefix.
    fn matches(&self, presented: &[u8]) -> Result<(), Refusal> {
        let expected = self.0.as_bytes();
        let differences = expected
            .iter()
            .zip(presented)
            .fold(expected.len() ^ presented.len(), |acc, (a, b)| {
                acc | usize::from(a ^ b)
            });
        if differences == 0 {
            Ok(())
        } else {
            Err(Refusal::Invalid)
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn api_key_must_match_exactly() {
        let auth = Auth::api_key("s3cret-key").unwrap();
        assert_eq!(auth.check(&headers(&[("x-api-key", "s3cret-key")])), Ok(()));
        assert_eq!(auth.check(&headers(&[])), Err(Refusal::Missing));
        for wrong in ["s3cret-ke", "s3cret-key2", "S3cret-key", ""] {
            assert_eq!(
                auth.check(&headers(&[("x-api-key", wrong)])),
                Err(Refusal::Invalid),
                "{wrong:?}"
            );
        }
        assert_eq!(
            auth.check(&headers(&[("authorization", "Bearer s3cret-key")])),
            Err(Refusal::Missing),
            "a bearer header is not an API key"
        );
    }

    #[test]
    fn bearer_accepts_any_case_of_the_scheme() {
        let auth = Auth::bearer("tok.en-1").unwrap();
        for good in ["Bearer tok.en-1", "bearer tok.en-1", "BEARER  tok.en-1 "] {
            assert_eq!(
                auth.check(&headers(&[("authorization", good)])),
                Ok(()),
                "{good:?}"
            );
        }
        assert_eq!(
            auth.check(&headers(&[("authorization", "Basic dXNlcjpwYXNz")])),
            Err(Refusal::WrongScheme)
        );
        assert_eq!(
            auth.check(&headers(&[("authorization", "tok.en-1")])),
            Err(Refusal::WrongScheme)
        );
        assert_eq!(
            auth.check(&headers(&[("authorization", "Bearer other")])),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            auth.check(&headers(&[("x-api-key", "tok.en-1")])),
            Err(Refusal::Missing)
        );
    }

    #[test]
    fn secrets_must_fit_in_a_header_and_never_print() {
        assert_eq!(
            Auth::api_key("").unwrap_err().to_string(),
            "invalid API key: expected 1 to 4096 visible ASCII characters without spaces, found an empty value"
        );
        assert_eq!(
            Auth::bearer("two words").unwrap_err().to_string(),
            "invalid bearer token: expected 1 to 4096 visible ASCII characters without spaces, found spaces, control or non-ASCII characters"
        );
        assert_eq!(
            Auth::bearer("x".repeat(4097)).unwrap_err().to_string(),
            "invalid bearer token: expected 1 to 4096 visible ASCII characters without spaces, found 4097 bytes"
        );
        let auth = Auth::api_key("hunter2").unwrap();
        assert_eq!(format!("{auth:?}"), "ApiKey(<redacted>)");
    }
}
