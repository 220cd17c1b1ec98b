//! OAuth 2.0 client-credentials tokens for remote tool gateways (AgentCore Gateway style): fetched on first
//! use, cached, and refreshed shortly before they expire.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

/// The client-credentials grant of RFC 6749 §4.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
}

/// Lifetime assumed when the token endpoint does not say (`expires_in` is optional in RFC 6749).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A cached access token source.
#[derive(Debug)]
pub struct TokenSource {
    credentials: ClientCredentials,
    http: reqwest::Client,
    current: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

impl TokenSource {
    pub fn new(credentials: ClientCredentials, http: reqwest::Client) -> Self {
        Self {
            credentials,
            http,
            current: Mutex::new(None),
        }
    }

    /// A valid access token: the cached one, or a new one when it is about to expire. Concurrent callers
    /// share one fetch.
    pub async fn token(&self) -> Result<String, String> {
        let mut current = self.current.lock().await;
        if let Some((token, refresh_at)) = current.as_ref()
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        // Refresh a fifth of the lifetime (at most a minute) before expiry.
        let margin = (lifetime / 5).min(Duration::from_secs(60));
        *current = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(margin),
        ));
        Ok(token)
    }

    async fn fetch(&self) -> Result<(String, Duration), String> {
        let c = &self.credentials;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = c.scope.as_deref() {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(&c.token_url)
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("token endpoint {} unreachable: {e}", c.token_url))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("reading the token response from {}: {e}", c.token_url))?;
        if !status.is_success() {
            let detail = sre_telemetry::redact::truncate_chars(body.trim(), 200);
            return Err(format!(
                "token endpoint {} answered {status}: {detail}",
                c.token_url
            ));
        }
        let token: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            format!(
                "token endpoint {} sent an unreadable token: {e}",
                c.token_url
            )
        })?;
        if let Some(kind) = token
            .token_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(format!(
                "token endpoint {} issued a {kind} token; only bearer tokens are supported",
                c.token_url
            ));
        }
        let lifetime = token
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((token.access_token, lifetime))
    }
}
