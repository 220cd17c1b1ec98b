//! Serving the backends over streamable HTTP (stateless, JSON responses) at `/mcp`: one backend on a listener
//! ([`serve`]), all four in-process ([`BackendSet`]), or a chosen set as a standalone service
//! ([`serve_standalone`]), in the caller's tokio runtime.
//!
//! Every backend sits behind the same gate ([`HttpOptions`]): an optional credential ([`Auth`]), a `Host`
//! allow-list ([`AllowedHosts`], loopback names by default) and a request-body limit; a body that is not a
//! JSON-RPC message is answered with a JSON-RPC error and the server keeps serving.

mod allowed_hosts;
mod auth;
mod request;
mod signal;
mod standalone;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::dataset::Dataset;
use crate::domain::Domain;
use crate::error::{ConfigError, ServeError};
use crate::server::{K8sServer, LogsServer, MetricsServer, RunbooksServer};

pub use allowed_hosts::{AllowedHosts, LOOPBACK_HOSTS};
pub use auth::{API_KEY_HEADER, Auth, Secret};
pub use signal::shutdown_on_signal;
pub use standalone::{DEFAULT_PORT_BASE, ServeOptions, Standalone, serve_standalone};

/// HTTP path of the MCP endpoint of every backend.
pub const MCP_PATH: &str = "/mcp";

/// The default request-body limit: 1 MiB, far above any MCP request the tools accept.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long [`BackendSet::shutdown`] waits for open connections to finish before aborting a server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every backend of a process enforces at the HTTP level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The credential clients must present; `None` serves without authentication.
    pub auth: Option<Auth>,
    /// Which `Host` headers are answered; loopback names by default.
    pub allowed_hosts: AllowedHosts,
    /// Largest request body accepted, in bytes; a larger one gets 413.
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    /// No authentication, loopback hosts only, 1 MiB bodies.
    fn default() -> Self {
        Self {
            auth: None,
            allowed_hosts: AllowedHosts::Loopback,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Binds the listening socket of `domain` at `addr`, naming both when that fails.
pub async fn bind(domain: Domain, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            domain,
            addr,
            source,
        })
}

/// Serves the `domain` backend over `dataset` on `listener` until `shutdown` is cancelled; then it stops
/// accepting connections, lets requests in flight finish, and returns.
pub async fn serve(
    domain: Domain,
    dataset: Arc<Dataset>,
    listener: TcpListener,
    http: HttpOptions,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::LocalAddr { domain, source })?;
    // MCP handling is cancelled only once the HTTP server has drained, so requests in flight still finish.
    let sessions = CancellationToken::new();
    let app = router(domain, dataset, &http, sessions.clone())?;
    tracing::info!(
        backend = domain.service_name(),
        url = %format!("http://{addr}{MCP_PATH}"),
        auth = http.auth.as_ref().map_or("none", Auth::header_name),
        "MCP backend listening"
    );
    if !addr.ip().is_loopback() && http.allowed_hosts == AllowedHosts::Loopback {
        tracing::warn!(
            backend = domain.service_name(),
            %addr,
            "the backend listens beyond loopback but answers only Host localhost, 127.0.0.1 and ::1; \
             allow the names clients use to reach it"
        );
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    sessions.cancel();
    tracing::info!(backend = domain.service_name(), %addr, "MCP backend stopped");
    served.map_err(|source| ServeError::Serve {
        domain,
        addr,
        source,
    })
}

/// The HTTP router of one backend: its MCP service at [`MCP_PATH`] behind the gate `http` describes.
///
/// `sessions` ends the MCP handling; it does not stop the HTTP server.
pub fn router(
    domain: Domain,
    dataset: Arc<Dataset>,
    http: &HttpOptions,
    sessions: CancellationToken,
) -> Result<axum::Router, ConfigError> {
    if http.max_body_bytes == 0 {
        return Err(ConfigError::BodyLimit);
    }
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(sessions)
        .with_max_request_body_bytes(http.max_body_bytes)
        .with_allowed_hosts(http.allowed_hosts.to_rmcp());
    let mcp = match domain {
        Domain::K8s => mcp_router(K8sServer::new(dataset), config),
        Domain::Logs => mcp_router(LogsServer::new(dataset), config),
        Domain::Metrics => mcp_router(MetricsServer::new(dataset), config),
        Domain::Runbooks => mcp_router(RunbooksServer::new(dataset), config),
    };
    let gate = Arc::new(request::Gate {
        domain,
        auth: http.auth.clone(),
        max_body_bytes: http.max_body_bytes,
    });
    Ok(mcp.layer(axum::middleware::from_fn_with_state(gate, request::gate)))
}

/// The four backends running in this process, each on its own listener.
#[derive(Debug)]
pub struct BackendSet {
    endpoints: Endpoints,
    shutdown: CancellationToken,
    tasks: Vec<(Domain, JoinHandle<Result<(), ServeError>>)>,
}

impl BackendSet {
    /// Starts all four backends over `dataset` on `127.0.0.1` with ephemeral ports, without authentication.
    pub async fn start_in_process(dataset: Arc<Dataset>) -> Result<Self, ServeError> {
        Self::start(dataset, &HttpOptions::default(), |_| {
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        })
        .await
    }

    /// Starts all four backends over `dataset` behind `http`, each bound where `addr_of` says (e.g. `0.0.0.0`
    /// on [`Domain::default_port`]). If one cannot bind, those already started are stopped.
    pub async fn start(
        dataset: Arc<Dataset>,
        http: &HttpOptions,
        addr_of: impl Fn(Domain) -> SocketAddr,
    ) -> Result<Self, ServeError> {
        let shutdown = CancellationToken::new();
        // Dropping the guard on an early return cancels the backends started so far.
        let guard = shutdown.clone().drop_guard();
        let mut started = Started {
            dataset: &dataset,
            http,
            shutdown: &shutdown,
            tasks: Vec::with_capacity(Domain::ALL.len()),
        };
        let endpoints = Endpoints {
            k8s: started.spawn(Domain::K8s, addr_of(Domain::K8s)).await?,
            logs: started.spawn(Domain::Logs, addr_of(Domain::Logs)).await?,
            metrics: started
                .spawn(Domain::Metrics, addr_of(Domain::Metrics))
                .await?,
            runbooks: started
                .spawn(Domain::Runbooks, addr_of(Domain::Runbooks))
                .await?,
        };
        let tasks = started.tasks;
        guard.disarm();
        Ok(Self {
            endpoints,
            shutdown,
            tasks,
        })
    }

    /// The socket address `domain` listens on.
    pub fn addr(&self, domain: Domain) -> SocketAddr {
        self.endpoints.get(domain)
    }

    /// The MCP endpoint of `domain`: `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self, domain: Domain) -> String {
        format!("http://{}{MCP_PATH}", self.addr(domain))
    }

    /// Every endpoint, in [`Domain::ALL`] order.
    pub fn urls(&self) -> Vec<(Domain, String)> {
        Domain::ALL.into_iter().map(|d| (d, self.url(d))).collect()
    }

    /// Stops accepting requests, lets open ones finish (for up to five seconds) and waits for the servers.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for (domain, mut task) in std::mem::take(&mut self.tasks) {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => tracing::warn!(%error, "MCP backend stopped with an error"),
                Ok(Err(error)) => {
                    tracing::warn!(backend = domain.service_name(), %error, "MCP backend task failed")
                }
                Err(_) => {
                    tracing::warn!(
                        backend = domain.service_name(),
                        "MCP backend did not stop in time; aborting it"
                    );
                    task.abort();
                }
            }
        }
    }
}

impl Drop for BackendSet {
    /// A set dropped without [`BackendSet::shutdown`] still stops its servers (without waiting for them).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Where each backend listens.
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    k8s: SocketAddr,
    logs: SocketAddr,
    metrics: SocketAddr,
    runbooks: SocketAddr,
}

impl Endpoints {
    fn get(&self, domain: Domain) -> SocketAddr {
        match domain {
            Domain::K8s => self.k8s,
            Domain::Logs => self.logs,
            Domain::Metrics => self.metrics,
            Domain::Runbooks => self.runbooks,
        }
    }
}

/// The backends spawned so far while starting a [`BackendSet`].
struct Started<'a> {
    dataset: &'a Arc<Dataset>,
    http: &'a HttpOptions,
    shutdown: &'a CancellationToken,
    tasks: Vec<(Domain, JoinHandle<Result<(), ServeError>>)>,
}

impl Started<'_> {
    /// Binds `domain` at `addr` and spawns its server; returns the bound address.
    async fn spawn(&mut self, domain: Domain, addr: SocketAddr) -> Result<SocketAddr, ServeError> {
        let listener = bind(domain, addr).await?;
        let bound = listener
            .local_addr()
            .map_err(|source| ServeError::LocalAddr { domain, source })?;
        let dataset = Arc::clone(self.dataset);
        let task = tokio::spawn(serve(
            domain,
            dataset,
            listener,
            self.http.clone(),
            self.shutdown.child_token(),
        ));
        self.tasks.push((domain, task));
        Ok(bound)
    }
}

fn mcp_router<S>(server: S, config: StreamableHttpServerConfig) -> axum::Router
where
    S: ServerHandler + Clone,
{
    let service: StreamableHttpService<S, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    axum::Router::new().nest_service(MCP_PATH, service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tests::dataset;

    #[tokio::test]
    async fn bind_failure_names_backend_and_address() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(Domain::Logs, addr).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot bind the logs backend to {addr}: ")),
            "{err}"
        );
        assert!(
            err.ends_with("; free the port or choose another address"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_failed_start_reports_the_backend_and_stops_the_others() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let taken_addr = taken.local_addr().unwrap();
        let k8s_addr = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .unwrap();
        let free = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let addr_of = |d| match d {
            Domain::K8s => k8s_addr,
            Domain::Metrics => taken_addr,
            _ => free,
        };
        let err = BackendSet::start(Arc::new(dataset()), &HttpOptions::default(), addr_of)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot bind the metrics backend to {taken_addr}")),
            "{err}"
        );
        // The k8s backend had started; the failed start cancels it and its listener closes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(k8s_addr).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "k8s backend still listening"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn in_process_set_has_four_loopback_endpoints_and_stops() {
        let set = BackendSet::start_in_process(Arc::new(dataset()))
            .await
            .unwrap();
        let urls = set.urls();
        assert_eq!(urls.len(), 4);
        let mut ports: Vec<u16> = Domain::ALL.iter().map(|d| set.addr(*d).port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 4);
        for (domain, url) in &urls {
            assert!(
                url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
                "{domain}: {url}"
            );
        }
        let addr = set.addr(Domain::K8s);
        set.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "listener is closed after shutdown"
        );
    }
}
