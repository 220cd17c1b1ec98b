//! [`AllowedHosts`]: which `Host` headers a backend answers (DNS-rebinding protection). The default accepts
//! loopback names only, wherever the listener is bound; serving other clients takes an explicit list.

use crate::error::ConfigError;

/// The loopback names accepted by default (any port).
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Which `Host` header values a backend accepts; a request with any other gets 403.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedHosts {
    /// `localhost`, `127.0.0.1` and `::1`, on any port.
    #[default]
    Loopback,
    /// Exactly these hosts: a name or address matches any port, `host:port` only that port.
    List(Vec<String>),
    /// Every host. Only behind something that checks `Host` itself (a gateway, a service mesh).
    Any,
}

impl AllowedHosts {
    /// Parses the values of a repeated `--allowed-host` option: none means [`AllowedHosts::Loopback`], `*` means
    /// [`AllowedHosts::Any`], anything else must be a host name, an IP address (IPv6 in brackets with a port) or
    /// `host:port`.
    pub fn parse<I, S>(values: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut hosts = Vec::new();
        let mut any = false;
        for value in values {
            let value = value.as_ref().trim();
            if value == "*" {
                any = true;
            } else if is_authority(value) {
                hosts.push(value.to_ascii_lowercase());
            } else {
                return Err(ConfigError::AllowedHost {
                    value: value.to_owned(),
                });
            }
        }
        Ok(if any {
            AllowedHosts::Any
        } else if hosts.is_empty() {
            AllowedHosts::Loopback
        } else {
            AllowedHosts::List(hosts)
        })
    }

    /// The list rmcp checks against; empty means every host.
    pub(super) fn to_rmcp(&self) -> Vec<String> {
        match self {
            AllowedHosts::Loopback => LOOPBACK_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
            AllowedHosts::List(hosts) => hosts.clone(),
            AllowedHosts::Any => Vec::new(),
        }
    }
}

/// A host name, an IP address or `host:port`, nothing else (no scheme, path, user info or wildcard).
fn is_authority(value: &str) -> bool {
    if value.is_empty() || value.contains(['/', '@', '*', '?', '#']) {
        return false;
    }
    if value.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    match value.parse::<http::uri::Authority>() {
        Ok(authority) => {
            let host = authority.host();
            let has_port = authority.as_str().len() > host.len();
            !host.is_empty()
                && (host.starts_with('[')
                    || host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                && (!has_port || authority.port_u16().is_some())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_entries_keep_the_loopback_default() {
        let none: [&str; 0] = [];
        assert_eq!(AllowedHosts::parse(none), Ok(AllowedHosts::Loopback));
        assert_eq!(
            AllowedHosts::Loopback.to_rmcp(),
            ["localhost", "127.0.0.1", "::1"]
        );
    }

    #[test]
    fn entries_are_hosts_addresses_or_authorities() {
        let parsed = AllowedHosts::parse([
            "Backends.Internal",
            "10.0.0.5:8011",
            "::1",
            "[fd00::5]:8012",
        ])
        .unwrap();
        assert_eq!(
            parsed,
            AllowedHosts::List(vec![
                "backends.internal".into(),
                "10.0.0.5:8011".into(),
                "::1".into(),
                "[fd00::5]:8012".into()
            ])
        );
        assert_eq!(
            AllowedHosts::parse(["a.example", "*"]),
            Ok(AllowedHosts::Any)
        );
        assert!(AllowedHosts::Any.to_rmcp().is_empty());
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for bad in [
            "http://a.example",
            "a.example/mcp",
            "*.example",
            "",
            "a b",
            "host:99999",
            "user@host",
        ] {
            let err = AllowedHosts::parse([bad]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid allowed host {bad:?}: expected a host name, an IP address or host:port \
                     (e.g. \"backends.internal\", \"10.0.0.5:8011\"), or \"*\" for any host"
                ),
                "{bad}"
            );
        }
    }
}
