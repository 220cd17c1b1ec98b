//! Backends as a standalone service ([`serve_standalone`]): the chosen domains on `host`, `port_base` +
//! 0/1/2/3 (k8s 8011, logs 8012, metrics 8013, runbooks 8014 by default), serving one scenario until shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{HttpOptions, MCP_PATH, bind, serve};
use crate::dataset::Dataset;
use crate::domain::Domain;
use crate::error::{ConfigError, ServeError};
use crate::scenario::DatasetSource;

/// The port of the k8s backend by default; logs, metrics and runbooks follow it.
pub const DEFAULT_PORT_BASE: u16 = 8011;

/// How long a standalone service waits for requests in flight after shutdown before it aborts them.
const STANDALONE_GRACE: Duration = Duration::from_secs(10);

/// What `sre-agent backends serve` serves, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The backends to serve, each at most once.
    pub domains: Vec<Domain>,
    /// The address to listen on; `127.0.0.1` by default, `0.0.0.0` to serve other machines.
    pub host: IpAddr,
    /// The k8s backend's port; logs, metrics and runbooks take the next three. `0` gives every backend an
    /// ephemeral port.
    pub port_base: u16,
    /// Credential, allowed hosts and body limit.
    pub http: HttpOptions,
    /// The scenario to serve.
    pub dataset: DatasetSource,
}

impl Default for ServeOptions {
    /// All four backends on `127.0.0.1:8011-8014`, no authentication, the default bundled scenario.
    fn default() -> Self {
        Self {
            domains: Domain::ALL.to_vec(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_base: DEFAULT_PORT_BASE,
            http: HttpOptions::default(),
            dataset: DatasetSource::default(),
        }
    }
}

impl ServeOptions {
    /// Where `domain` listens: `port_base` plus its position in k8s, logs, metrics, runbooks.
    pub fn addr(&self, domain: Domain) -> Result<SocketAddr, ConfigError> {
        if self.port_base == 0 {
            return Ok(SocketAddr::new(self.host, 0));
        }
        let offset = Domain::ALL.iter().position(|d| *d == domain).unwrap_or(0);
        u16::try_from(offset)
            .ok()
            .and_then(|offset| self.port_base.checked_add(offset))
            .map(|port| SocketAddr::new(self.host, port))
            .ok_or(ConfigError::PortRange {
                port_base: self.port_base,
                domain,
            })
    }

    /// Checks the options that do not need the network: the domain list, ports, body limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.domains.is_empty() {
            return Err(ConfigError::NoDomain);
        }
        for (i, domain) in self.domains.iter().enumerate() {
            if self.domains[..i].contains(domain) {
                return Err(ConfigError::DuplicateDomain { domain: *domain });
            }
            self.addr(*domain)?;
        }
        if self.http.max_body_bytes == 0 {
            return Err(ConfigError::BodyLimit);
        }
        Ok(())
    }
}

/// Backends bound to their ports with their scenario loaded, not yet serving: [`Standalone::urls`] says where
/// they will answer, [`Standalone::run`] serves until shutdown.
#[derive(Debug)]
pub struct Standalone {
    dataset: Arc<Dataset>,
    http: HttpOptions,
    listeners: Vec<(Domain, SocketAddr, TcpListener)>,
}

impl Standalone {
    /// Validates `options`, loads the scenario and binds every chosen backend; nothing is bound when any step
    /// fails.
    pub async fn bind(options: ServeOptions) -> Result<Self, ServeError> {
        options.validate()?;
        let dataset = Arc::new(options.dataset.load(chrono::Utc::now())?);
        let mut listeners = Vec::with_capacity(options.domains.len());
        for domain in &options.domains {
            let listener = bind(*domain, options.addr(*domain)?).await?;
            let addr = listener
                .local_addr()
                .map_err(|source| ServeError::LocalAddr {
                    domain: *domain,
                    source,
                })?;
            listeners.push((*domain, addr, listener));
        }
        let scenario = dataset.scenario();
        tracing::info!(
            scenario = %scenario.name,
            title = %scenario.title,
            backends = listeners.len(),
            "MCP backends bound"
        );
        Ok(Self {
            dataset,
            http: options.http,
            listeners,
        })
    }

    /// The scenario being served.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The bound address of `domain`, if it is served.
    pub fn addr(&self, domain: Domain) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(d, _, _)| *d == domain)
            .map(|(_, addr, _)| *addr)
    }

    /// The MCP endpoint of every served backend (`http://127.0.0.1:8011/mcp`), in the order chosen.
    pub fn urls(&self) -> Vec<(Domain, String)> {
        self.listeners
            .iter()
            .map(|(domain, addr, _)| (*domain, format!("http://{addr}{MCP_PATH}")))
            .collect()
    }

    /// Serves until `shutdown` is cancelled, then lets requests in flight finish (for up to ten seconds) and
    /// returns. If one backend fails, the others are stopped the same way and its error is returned.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let stop = shutdown.child_token();
        let mut tasks = JoinSet::new();
        let mut domains = HashMap::new();
        for (domain, _, listener) in self.listeners {
            let served = serve(
                domain,
                Arc::clone(&self.dataset),
                listener,
                self.http.clone(),
                stop.child_token(),
            );
            let handle = tasks.spawn(served);
            domains.insert(handle.id(), domain);
        }
        let mut failure = None;
        tokio::select! {
            () = stop.cancelled() => {}
            Some(joined) = tasks.join_next_with_id() => {
                // A backend ended before shutdown: it failed. Stop the others.
                failure = outcome(joined, &domains).err();
                stop.cancel();
            }
        }
        let deadline = tokio::time::Instant::now() + STANDALONE_GRACE;
        while let Ok(Some(joined)) =
            tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await
        {
            if let Err(error) = outcome(joined, &domains) {
                failure.get_or_insert(error);
            }
        }
        if !tasks.is_empty() {
            tracing::warn!(
                remaining = tasks.len(),
                "MCP backends did not finish within {STANDALONE_GRACE:?} of shutdown; aborting them"
            );
            tasks.abort_all();
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Validates `options`, binds the chosen backends and serves them until `shutdown` is cancelled (see
/// [`Standalone::run`]). Each backend logs its URL when it starts listening.
pub async fn serve_standalone(
    options: ServeOptions,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    Standalone::bind(options).await?.run(shutdown).await
}

type Joined = Result<(tokio::task::Id, Result<(), ServeError>), tokio::task::JoinError>;

fn outcome(joined: Joined, domains: &HashMap<tokio::task::Id, Domain>) -> Result<(), ServeError> {
    match joined {
        Ok((_, served)) => served,
        Err(error) => Err(ServeError::Task {
            domain: domains.get(&error.id()).copied().unwrap_or(Domain::K8s),
            message: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_base_in_domain_order() {
        let options = ServeOptions::default();
        for domain in Domain::ALL {
            assert_eq!(
                options.addr(domain).unwrap(),
                SocketAddr::from((Ipv4Addr::LOCALHOST, domain.default_port()))
            );
        }
        let shifted = ServeOptions {
            port_base: 9000,
            ..ServeOptions::default()
        };
        assert_eq!(shifted.addr(Domain::Runbooks).unwrap().port(), 9003);
        let ephemeral = ServeOptions {
            port_base: 0,
            ..ServeOptions::default()
        };
        assert_eq!(ephemeral.addr(Domain::Metrics).unwrap().port(), 0);
    }

    #[test]
    fn options_that_cannot_serve_are_refused_by_name() {
        let too_high = ServeOptions {
            port_base: 65534,
            ..ServeOptions::default()
        };
        assert_eq!(
            too_high.validate().unwrap_err().to_string(),
            "port base 65534 puts the metrics backend beyond port 65535; choose a port base of at most 65532, or 0 for ephemeral ports"
        );
        let only_k8s_high = ServeOptions {
            port_base: 65535,
            domains: vec![Domain::K8s],
            ..ServeOptions::default()
        };
        assert_eq!(only_k8s_high.validate(), Ok(()));
        let none = ServeOptions {
            domains: vec![],
            ..ServeOptions::default()
        };
        assert_eq!(
            none.validate().unwrap_err().to_string(),
            "no backend selected; choose at least one of k8s, logs, metrics, runbooks"
        );
        let twice = ServeOptions {
            domains: vec![Domain::Logs, Domain::K8s, Domain::Logs],
            ..ServeOptions::default()
        };
        assert_eq!(
            twice.validate().unwrap_err().to_string(),
            "the logs backend is selected twice"
        );
        let mut no_body = ServeOptions::default();
        no_body.http.max_body_bytes = 0;
        assert_eq!(
            no_body.validate().unwrap_err().to_string(),
            "the request body limit must be at least 1 byte"
        );
    }
}
